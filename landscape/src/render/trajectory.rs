//! Trajectories: an optimisation path drawn over loss contours, with a marker at
//! each checkpoint (square at the start, star at the end) and its caption placed
//! where it does not collide with other captions or markers.

use super::axes::Axes;
use super::axes::Axis;
use super::canvas::{Canvas, Color, Dash, Marker, Rect, INK, WHITE};
use super::contour::contour_impl;
use super::text::{draw_with_halo, HAlign, Label, VAlign};
use super::{FigureOptions, Grid2, RgbImage, Trajectory};

/// Colour of the path.
pub const PATH: Color = [0xd6, 0x27, 0x28];

/// Widen axes so the whole trajectory is visible (with a 5 % margin when widened);
/// `replace` uses the trajectory alone (no grid).
pub(crate) fn overlay_axes(x: Axis, y: Axis, t: Option<&Trajectory>, replace: bool) -> (Axis, Axis) {
    let Some(t) = t else { return (x, y) };
    let pts: Vec<(f64, f64)> = t.x.iter().zip(&t.y).map(|(&a, &b)| (a, b)).filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
    if pts.is_empty() {
        return (x, y);
    }
    let widen = |a: Axis, vals: Vec<f64>| {
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if replace {
            return Axis::fit(vals, false, 0.08, None);
        }
        if lo >= a.lo && hi <= a.hi {
            return a;
        }
        let (l, h) = (lo.min(a.lo), hi.max(a.hi));
        let p = (h - l) * 0.05;
        Axis { lo: if lo < a.lo { l - p } else { l }, hi: if hi > a.hi { h + p } else { h }, log: false }
    };
    (widen(x, pts.iter().map(|p| p.0).collect()), widen(y, pts.iter().map(|p| p.1).collect()))
}

/// Small squares along the path (every few pixels) and around its checkpoints: where
/// contour labels should not go.
pub(crate) fn path_rects(ax: &Axes, t: &Trajectory) -> Vec<Rect> {
    let n = t.x.len().min(t.y.len());
    let pts: Vec<(f64, f64)> =
        (0..n).filter(|&i| t.x[i].is_finite() && t.y[i].is_finite()).map(|i| (ax.px(t.x[i]), ax.py(t.y[i]))).collect();
    let r = 6.0 * ax.st.scale;
    let mut out: Vec<Rect> = pts.iter().map(|p| Rect::new(p.0 - 2.0 * r, p.1 - 2.0 * r, p.0 + 2.0 * r, p.1 + 2.0 * r)).collect();
    for w in pts.windows(2) {
        let len = ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt();
        let steps = (len / r).ceil().min(2000.0) as usize;
        for k in 0..=steps {
            let t = k as f64 / steps.max(1) as f64;
            let (x, y) = (w[0].0 + (w[1].0 - w[0].0) * t, w[0].1 + (w[1].1 - w[0].1) * t);
            out.push(Rect::new(x - r, y - r, x + r, y + r));
        }
    }
    out
}

/// Draw the path, checkpoint markers and captions inside the axes frame; captions avoid `avoid`.
pub(crate) fn draw_overlay(c: &mut Canvas, ax: &Axes, t: &Trajectory, avoid: &[Rect]) {
    let st = &ax.st;
    let n = t.x.len().min(t.y.len());
    let pts: Vec<(f64, f64)> = (0..n)
        .map(|i| if t.x[i].is_finite() && t.y[i].is_finite() { (ax.px(t.x[i]), ax.py(t.y[i])) } else { (f64::NAN, f64::NAN) })
        .collect();
    c.set_clip(Some(ax.frame));
    c.polyline(&pts, st.line_w * 2.4, WHITE, 0.8, Dash::Solid);
    c.polyline(&pts, st.line_w, PATH, 1.0, Dash::Solid);
    let r = 3.2 * st.scale;
    let finite: Vec<usize> = (0..n).filter(|&i| pts[i].0.is_finite()).collect();
    let (first, last) = (finite.first().copied(), finite.last().copied());
    let mut taken: Vec<Rect> = finite.iter().map(|&i| Rect::new(pts[i].0 - r, pts[i].1 - r, pts[i].0 + r, pts[i].1 + r)).collect();
    taken.extend_from_slice(avoid);
    // Captions keep off the path itself.
    let fin: Vec<(f64, f64)> = finite.iter().map(|&i| pts[i]).collect();
    for w in fin.windows(2) {
        let len = ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt();
        let steps = (len / 4.0).ceil().min(2000.0) as usize;
        for k in 0..=steps {
            let f = k as f64 / steps.max(1) as f64;
            let (x, y) = (w[0].0 + (w[1].0 - w[0].0) * f, w[0].1 + (w[1].1 - w[0].1) * f);
            taken.push(Rect::new(x - 1.5, y - 1.5, x + 1.5, y + 1.5));
        }
    }
    for &i in &finite {
        let (x, y) = pts[i];
        let kind = if Some(i) == last && n > 1 {
            Marker::Star
        } else if Some(i) == first {
            Marker::Square
        } else {
            Marker::Circle
        };
        let size = if kind == Marker::Star { r * 2.2 } else { r };
        if kind == Marker::Star {
            c.marker(x, y, size + 1.5, kind, WHITE);
        }
        c.marker(x, y, size, kind, if kind == Marker::Star { [0xdc, 0x14, 0x3c] } else { PATH });
    }
    // Captions: the first and last always, others when they find a free spot.
    let px = st.tick * 0.85;
    let inner = ax.frame.grow(-2.0);
    let mut order: Vec<usize> = finite.clone();
    if let Some(l) = last {
        order.retain(|&i| i != l);
        order.insert(0, l);
    }
    if let Some(f0) = first {
        order.retain(|&i| i != f0);
        order.insert(0, f0);
    }
    let d = r + 4.0;
    let offsets = [
        (d, -d, HAlign::Left, VAlign::Bottom),
        (d, d, HAlign::Left, VAlign::Top),
        (-d, -d, HAlign::Right, VAlign::Bottom),
        (-d, d, HAlign::Right, VAlign::Top),
        (0.0, -d * 1.3, HAlign::Center, VAlign::Bottom),
        (0.0, d * 1.3, HAlign::Center, VAlign::Top),
        (d * 1.3, 0.0, HAlign::Left, VAlign::Center),
        (-d * 1.3, 0.0, HAlign::Right, VAlign::Center),
    ];
    let mut labels: Vec<(Label, f64, f64)> = Vec::new();
    for (rank, &i) in order.iter().enumerate() {
        let Some(text) = t.labels.get(i).filter(|s| !s.is_empty()) else { continue };
        let (x, y) = pts[i];
        let mut chosen = None;
        for &(dx, dy, h, v) in &offsets {
            let l = Label::new(text, px, INK, h, v);
            let b = l.bounds(x + dx, y + dy);
            let free = inner.contains_rect(&b) && !taken.iter().any(|tk| tk.intersects(&b.grow(2.0)));
            if free {
                chosen = Some((l, x + dx, y + dy, b));
                break;
            }
        }
        if chosen.is_none() && rank < 2 {
            // The start and the end are always captioned: take the first spot inside the frame.
            for &(dx, dy, h, v) in &offsets {
                let l = Label::new(text, px, INK, h, v);
                let b = l.bounds(x + dx, y + dy);
                if inner.contains_rect(&b) {
                    chosen = Some((l, x + dx, y + dy, b));
                    break;
                }
            }
        }
        if let Some((l, lx, ly, b)) = chosen {
            taken.push(b);
            labels.push((l, lx, ly));
        }
    }
    for (l, x, y) in &labels {
        draw_with_halo(c, l, *x, *y, WHITE);
    }
    c.set_clip(None);
}

/// An optimisation path over the contours of `grid` (drawn a little lighter so the
/// path stands out), with a marker and a caption at each checkpoint. The axes widen
/// to show the whole path; captions that would overlap others are left out (the
/// first and last are always drawn).
pub fn trajectory_plot(opts: &FigureOptions, grid: &Grid2, traj: &Trajectory) -> RgbImage {
    contour_impl(opts, grid, None, true, Some(traj), true).0
}
