//! Result files: one self-describing JSON-lines file per surface.
//!
//! ```text
//! {"format":"llv-surface","version":1,"plan":{...},"metrics":["test_loss","test_accuracy"]}
//! {"i":0,"x":-1.0,"y":0.0,"values":[2.31,0.11]}
//! {"i":1, ...}
//! ```
//! The first line holds the plan (model, weights and directions
//! fingerprints, grid, data) and the metric names. Every further line is
//! one grid point, appended with a single write as soon as it is computed,
//! in any order (runs compute them coarse to fine, [`crate::grid_order`];
//! the plan's `order` says so, and readers judge complete levels from the
//! points present). Values are written with enough digits to read back
//! bit-identically. A run killed mid-write leaves at most one partial last
//! line: resuming drops it (and recomputes that point) and keeps every
//! complete line; reading it for a figure reports it.

use crate::error::{LandscapeError, Result};
use crate::plan::Plan;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The contents of a results file.
#[derive(Clone, Debug, PartialEq)]
pub struct Results {
    /// The plan (compared on resume and merge).
    pub plan: Plan,
    /// Metric names, in value order.
    pub metrics: Vec<String>,
    /// Points by index: coordinates and values.
    pub points: BTreeMap<usize, (f64, f64, Vec<f64>)>,
}

impl Results {
    /// Reads a results file. With `allow_partial_tail`, a partial last line
    /// (from a killed run) is ignored; otherwise it is an error. Returns the
    /// results and the byte length of the complete lines.
    pub fn read(path: &Path, allow_partial_tail: bool) -> Result<(Results, u64)> {
        let text = std::fs::read_to_string(path).map_err(|e| LandscapeError::io(path, e))?;
        let mut complete = 0u64;
        let mut lines = Vec::new();
        let mut rest = text.as_str();
        while let Some(pos) = rest.find('\n') {
            lines.push(&rest[..pos]);
            complete += pos as u64 + 1;
            rest = &rest[pos + 1..];
        }
        if !rest.is_empty() && !allow_partial_tail {
            return Err(LandscapeError::format(
                path,
                format!("line {} is truncated (the run was interrupted); continue it with --resume", lines.len() + 1),
            ));
        }
        let header = lines.first().ok_or_else(|| LandscapeError::format(path, "empty file: no plan header"))?;
        let header: Value =
            serde_json::from_str(header).map_err(|e| LandscapeError::format(path, format!("line 1 is not a plan header: {e}")))?;
        if header["format"] != "llv-surface" {
            return Err(LandscapeError::format(path, "line 1: not an llv results file (no \"format\": \"llv-surface\")"));
        }
        let metrics: Vec<String> = header["metrics"]
            .as_array()
            .ok_or_else(|| LandscapeError::format(path, "line 1: missing metrics"))?
            .iter()
            .map(|m| m.as_str().unwrap_or_default().to_string())
            .collect();
        let mut points = BTreeMap::new();
        for (k, line) in lines.iter().enumerate().skip(1) {
            let bad = |what: &str| LandscapeError::format(path, format!("line {}: {what}", k + 1));
            let v: Value = serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
            let i = v["i"].as_u64().ok_or_else(|| bad("missing point index \"i\""))? as usize;
            let x = v["x"].as_f64().ok_or_else(|| bad("missing \"x\""))?;
            let y = v["y"].as_f64().ok_or_else(|| bad("missing \"y\""))?;
            let vals: Vec<f64> =
                v["values"].as_array().ok_or_else(|| bad("missing \"values\""))?.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect();
            if vals.len() != metrics.len() {
                return Err(bad(&format!("{} values for {} metrics", vals.len(), metrics.len())));
            }
            points.insert(i, (x, y, vals));
        }
        let plan = Plan::from_json(&header["plan"]).map_err(|e| LandscapeError::format(path, format!("line 1: plan: {e}")))?;
        Ok((Results { plan, metrics, points }, complete))
    }

    /// The value of `metric` at every point index `0..n` (NaN where missing).
    pub fn column(&self, metric: &str, n: usize) -> Option<Vec<f64>> {
        let k = self.metrics.iter().position(|m| m == metric)?;
        Some((0..n).map(|i| self.points.get(&i).map_or(f64::NAN, |p| p.2[k])).collect())
    }
}

/// Appends points to a results file, one line per point, from any thread.
pub struct ResultsWriter {
    path: PathBuf,
    file: Mutex<File>,
}

fn header_line(plan: &Plan, metrics: &[String]) -> String {
    json!({"format": "llv-surface", "version": 1, "plan": plan.to_json(), "metrics": metrics}).to_string()
}

impl ResultsWriter {
    /// Creates a new results file with its header (fails if it exists).
    pub fn create(path: &Path, plan: &Plan, metrics: &[String]) -> Result<ResultsWriter> {
        let mut file = OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| LandscapeError::io(path, e))?;
        writeln!(file, "{}", header_line(plan, metrics)).map_err(|e| LandscapeError::io(path, e))?;
        file.sync_data().map_err(|e| LandscapeError::io(path, e))?;
        Ok(ResultsWriter { path: path.to_path_buf(), file: Mutex::new(file) })
    }

    /// Reopens an interrupted file to continue it: checks the plan, drops a
    /// partial last line, and returns the points already done.
    pub fn resume(path: &Path, plan: &Plan, metrics: &[String]) -> Result<(ResultsWriter, Results)> {
        let (results, complete) = Results::read(path, true)?;
        if let Some(diff) = results.plan.difference(plan) {
            return Err(LandscapeError::PlanMismatch(format!(
                "{} was made with a different plan ({diff}); use a new --out",
                path.display()
            )));
        }
        if results.metrics != metrics {
            return Err(LandscapeError::PlanMismatch(format!(
                "{} has metrics {:?}, this run computes {:?}",
                path.display(),
                results.metrics,
                metrics
            )));
        }
        let file = OpenOptions::new().write(true).open(path).map_err(|e| LandscapeError::io(path, e))?;
        file.set_len(complete).map_err(|e| LandscapeError::io(path, e))?;
        let file = OpenOptions::new().append(true).open(path).map_err(|e| LandscapeError::io(path, e))?;
        Ok((ResultsWriter { path: path.to_path_buf(), file: Mutex::new(file) }, results))
    }

    /// Appends one point (a single `write` of one line, then flush).
    pub fn append(&self, i: usize, x: f64, y: f64, values: &[f64]) -> Result<()> {
        let line = format!("{}\n", json!({"i": i, "x": x, "y": y, "values": values}));
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        f.write_all(line.as_bytes()).and_then(|_| f.flush()).map_err(|e| LandscapeError::io(&self.path, e))
    }

    /// Writes a complete results file atomically (temp file + rename).
    pub fn write_all(path: &Path, results: &Results) -> Result<()> {
        let tmp = path.with_extension("tmp");
        let mut text = header_line(&results.plan, &results.metrics);
        text.push('\n');
        for (i, (x, y, v)) in &results.points {
            text.push_str(&json!({"i": i, "x": x, "y": y, "values": v}).to_string());
            text.push('\n');
        }
        std::fs::write(&tmp, text).map_err(|e| LandscapeError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| LandscapeError::io(path, e))
    }
}

/// Joins shard files into one (its plan has no shard). Refuses plans that
/// differ (except for the shard itself) and points computed twice with
/// different values.
pub fn merge(inputs: &[PathBuf]) -> Result<Results> {
    let mut merged: Option<Results> = None;
    for path in inputs {
        let (mut r, _) = Results::read(path, false)?;
        r.plan = r.plan.without_shard();
        match &mut merged {
            None => merged = Some(r),
            Some(m) => {
                if let Some(diff) = m.plan.difference(&r.plan) {
                    return Err(LandscapeError::PlanMismatch(format!("{} does not match the first file ({diff})", path.display())));
                }
                if m.metrics != r.metrics {
                    return Err(LandscapeError::PlanMismatch(format!("{} has other metrics", path.display())));
                }
                for (i, p) in r.points {
                    if let Some(q) = m.points.get(&i) {
                        if *q != p {
                            return Err(LandscapeError::PlanMismatch(format!("point {i} differs between shards ({})", path.display())));
                        }
                    }
                    m.points.insert(i, p);
                }
            }
        }
    }
    merged.ok_or_else(|| LandscapeError::Invalid("merge: no input files".into()))
}

/// Shards to join into a folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeRequest {
    /// Shard results files, or folders holding `surface.jsonl`.
    pub parts: Vec<PathBuf>,
    /// Output folder.
    pub out: PathBuf,
    /// Replace a non-empty `out`.
    pub force: bool,
    /// Figure size in pixels.
    pub size: (u32, u32),
}

/// What a merge wrote.
#[derive(Clone, Debug)]
pub struct Merged {
    /// The merged results file.
    pub results: PathBuf,
    /// Points it holds.
    pub points: usize,
    /// Points of the whole grid.
    pub grid_points: usize,
    /// Figures and exports (only when no point is missing).
    pub written: Vec<PathBuf>,
}

/// Joins shards ([`merge`]) into `out/surface.jsonl` and, when the grid is
/// complete, writes its default figures.
pub fn merge_into(req: &MergeRequest) -> Result<Merged> {
    crate::figures::check_size(req.size)?;
    let parts: Vec<PathBuf> = req.parts.iter().map(|p| if p.is_dir() { p.join("surface.jsonl") } else { p.clone() }).collect();
    let merged = merge(&parts)?;
    let _lock = crate::out_dir::open(&req.out, false, req.force)?;
    let path = req.out.join("surface.jsonl");
    ResultsWriter::write_all(&path, &merged)?;
    let grid_points = merged.grid_len();
    let complete = merged.points.len() == grid_points;
    let written = if complete { crate::figures::default_figures(&merged, &req.out, req.size)? } else { Vec::new() };
    Ok(Merged { results: path, points: merged.points.len(), grid_points, written })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::slice_plan;
    use crate::plan::{Around, Slice};
    use crate::surface::Shard;

    fn with(plan: &Plan, model: &str, shard: Option<Shard>) -> Plan {
        let mut p = Plan { model: model.into(), ..plan.clone() };
        if let Around::Slice(s) = &mut p.around {
            *s = Slice { shard, ..s.clone() };
        }
        p
    }

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("llv-results-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("surface.jsonl")
    }

    #[test]
    fn write_resume_and_truncation() {
        let path = tmp("resume");
        let plan = with(&slice_plan(), "mlp", None);
        let metrics = vec!["test_loss".to_string()];
        let w = ResultsWriter::create(&path, &plan, &metrics).unwrap();
        w.append(0, -1.0, 0.0, &[0.1f32 as f64]).unwrap();
        w.append(2, 1.0, 0.0, &[1.0 / 3.0]).unwrap();
        drop(w);
        // Simulate a kill in the middle of a line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"i\":1,\"x\":0.0,").unwrap();
        drop(f);
        let err = Results::read(&path, false).unwrap_err().to_string();
        assert!(err.contains("line 4 is truncated"), "{err}");
        let (w, done) = ResultsWriter::resume(&path, &plan, &metrics).unwrap();
        assert_eq!(done.points.keys().copied().collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(done.points[&2].2[0], 1.0 / 3.0, "values read back bit-identically");
        w.append(1, 0.0, 0.0, &[0.5]).unwrap();
        let (r, _) = Results::read(&path, false).unwrap();
        assert_eq!(r.column("test_loss", 3).unwrap(), vec![0.1f32 as f64, 0.5, 1.0 / 3.0]);
        let other = with(&plan, "lenet", None);
        let err = ResultsWriter::resume(&path, &other, &metrics).err().unwrap().to_string();
        assert!(err.contains("model"), "{err}");
        assert!(ResultsWriter::create(&path, &plan, &metrics).is_err(), "never overwrites");
    }

    #[test]
    fn merge_joins_shards_and_refuses_mismatches() {
        let a = tmp("merge-a");
        let b = tmp("merge-b");
        let m = vec!["test_loss".to_string()];
        let base = slice_plan();
        let wa = ResultsWriter::create(&a, &with(&base, "mlp", Some(Shard { index: 0, count: 2 })), &m).unwrap();
        wa.append(0, 0.0, 0.0, &[1.0]).unwrap();
        let wb = ResultsWriter::create(&b, &with(&base, "mlp", Some(Shard { index: 1, count: 2 })), &m).unwrap();
        wb.append(1, 1.0, 0.0, &[2.0]).unwrap();
        let r = merge(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(r.points.len(), 2);
        assert_eq!(r.plan.shard(), None, "the merged plan covers the whole grid");
        let c = tmp("merge-c");
        ResultsWriter::create(&c, &with(&base, "lenet", None), &m).unwrap();
        assert!(merge(&[a, c]).unwrap_err().to_string().contains("model"));
        let empty = tmp("merge-empty");
        std::fs::write(&empty, "").unwrap();
        assert!(merge(&[empty]).unwrap_err().to_string().contains("empty file"));
    }
}
