//! A results file as the page draws it: axes, one grid of values per
//! metric (null where a point is missing) and, for trajectories, the path.
//!
//! The axes are the plan's ranges joined with the coordinates the points
//! actually hold, so a partially filled grid keeps its full extent and a
//! hand-made, non-uniform grid keeps its own coordinates.

use crate::results::Results;
use crate::surface::Range;
use serde_json::{json, Value};

/// Sorted distinct values of the plan's `range` and of `coords` (values
/// closer than a billionth of the span count as one).
fn axis(range: Option<Range>, coords: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = range.map(|r| r.values()).unwrap_or_default();
    v.extend(coords.filter(|c| c.is_finite()));
    v.sort_by(f64::total_cmp);
    let span = v.last().copied().unwrap_or(0.0) - v.first().copied().unwrap_or(0.0);
    let tol = span.abs() * 1e-9;
    v.dedup_by(|a, b| (*a - *b).abs() <= tol);
    v
}

/// Index of the value of `axis` nearest `c` (`axis` sorted, non-empty).
fn nearest(axis: &[f64], c: f64) -> usize {
    let i = axis.partition_point(|&a| a < c);
    match i {
        0 => 0,
        i if i == axis.len() => i - 1,
        i if (c - axis[i - 1]).abs() <= (axis[i] - c).abs() => i - 1,
        i => i,
    }
}

/// Whether the results span a plane: the plan has a y range, or the points
/// differ in y.
fn is_plane(r: &Results) -> bool {
    if r.plan.y.is_some() {
        return true;
    }
    let mut ys = r.points.values().map(|p| p.1);
    match ys.next() {
        Some(first) => ys.any(|y| y != first),
        None => false,
    }
}

/// The JSON the page's script reads for one results file named `name`.
pub(crate) fn results_json(name: &str, r: &Results) -> Value {
    let plane = is_plane(r);
    let xs = axis(Some(r.plan.x), r.points.values().map(|p| p.0));
    let ys = if plane { axis(r.plan.y, r.points.values().map(|p| p.1)) } else { Vec::new() };
    let (nx, ny) = (xs.len(), ys.len().max(1));
    let mut grids = vec![vec![f64::NAN; nx * ny]; r.metrics.len()];
    for (x, y, vals) in r.points.values() {
        if !x.is_finite() || (plane && !y.is_finite()) {
            continue;
        }
        let cell = if plane { nearest(&ys, *y) * nx } else { 0 } + nearest(&xs, *x);
        for (g, v) in grids.iter_mut().zip(vals) {
            g[cell] = *v;
        }
    }
    // serde_json writes non-finite numbers as null: missing and NaN alike.
    let values: serde_json::Map<String, Value> = r.metrics.iter().zip(&grids).map(|(m, g)| (m.clone(), json!(g))).collect();
    let kind = match r.plan.kind() {
        "surface1d" if plane => "surface2d",
        k => k,
    };
    let (x_label, y_label) = match kind {
        "interpolation" => ("α (0 = from, 1 = to)", ""),
        "trajectory" => ("PC 1", "PC 2"),
        _ => ("x", "y"),
    };
    json!({
        "name": name,
        "kind": kind,
        "model": r.plan.model,
        "dims": if plane { 2 } else { 1 },
        "x": xs,
        "y": ys,
        "x_label": x_label,
        "y_label": y_label,
        "metrics": r.metrics,
        "values": values,
        "points": r.points.len(),
        "cells": nx * if plane { ny } else { 1 },
        "path": if kind == "trajectory" { r.plan.to_json()["path"].clone() } else { Value::Null },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{tests::slice_plan, Plan};
    use std::collections::BTreeMap;

    /// A slice plan with these grids.
    fn plan(x: &str, y: Option<&str>) -> Plan {
        Plan { x: x.parse().unwrap(), y: y.map(|y| y.parse().unwrap()), ..slice_plan() }
    }

    fn results(plan: Plan, points: &[(usize, f64, f64, f64)]) -> Results {
        let points: BTreeMap<_, _> = points.iter().map(|&(i, x, y, v)| (i, (x, y, vec![v, 0.5]))).collect();
        Results { plan, metrics: vec!["test_loss".into(), "test_accuracy".into()], points }
    }

    #[test]
    fn partial_plane_keeps_the_plan_extent_and_marks_missing_points() {
        let r = results(plan("-1:1:3", Some("0:1:2")), &[(0, -1.0, 0.0, 2.0), (4, 0.0, 1.0, 1.5)]);
        let j = results_json("a", &r);
        assert_eq!(j["dims"], 2);
        assert_eq!(j["x"], json!([-1.0, 0.0, 1.0]));
        assert_eq!(j["y"], json!([0.0, 1.0]));
        assert_eq!(j["values"]["test_loss"], json!([2.0, null, null, null, 1.5, null]));
        assert_eq!((j["points"].as_u64(), j["cells"].as_u64()), (Some(2), Some(6)));
    }

    #[test]
    fn non_uniform_points_use_their_own_coordinates() {
        let r = results(plan("0:1:2", None), &[(0, 0.0, 0.0, 1.0), (1, 0.1, 0.0, 2.0), (2, 1.0, 0.0, f64::NAN)]);
        let j = results_json("line", &r);
        assert_eq!(j["dims"], 1);
        assert_eq!(j["x"], json!([0.0, 0.1, 1.0]));
        assert_eq!(j["values"]["test_loss"], json!([1.0, 2.0, null]));
        assert_eq!(nearest(&[0.0, 0.1, 1.0], 0.6), 2);
        assert_eq!(nearest(&[0.0, 0.1, 1.0], -5.0), 0);
    }
}
