//! Several random 1-D slices through the same center and their spread:
//! each slice in `out/repeat-NN/` (resumable, seeds `seed, seed + 2, …`),
//! then per metric and grid point the mean, standard deviation, minimum and
//! maximum over the slices (`repeats.csv`) and the mean with its min–max
//! band (`line-repeats.png`).

use crate::directions_file::DirectionsFile;
use crate::error::{LandscapeError, Result};
use crate::export::write_atomic;
use crate::figures::save_png;
use crate::fingerprint::state_fingerprint;
use crate::model_data::ModelData;
use crate::plan::{Around, DirectionSource, Plan, Slice};
use crate::progress::Progress;
use crate::render::{self, FigureOptions, Series};
use crate::results::Results;
use crate::run::SurfaceRun;
use crate::slice::{random_directions, SurfaceRequest};
use crate::surface::SurfaceJob;
use nn::Named;
use std::path::PathBuf;

/// What a repeats run wrote.
#[derive(Clone, Debug)]
pub struct RepeatsOutcome {
    /// The statistics (`repeats.csv`).
    pub csv: PathBuf,
    /// The figure (`line-repeats.png`).
    pub figure: PathBuf,
    /// Number of slices.
    pub repeats: usize,
}

/// Statistics of one metric at one grid point over the slices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one slice).
    pub std: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (at least one).
    pub fn of(values: &[f64]) -> Spread {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
        let (min, max) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        Spread { mean, std, min, max }
    }
}

/// Per metric (in `runs[0]`'s order), the spread at each of the `n` grid points.
pub fn spreads(runs: &[Results], n: usize) -> Vec<(String, Vec<Spread>)> {
    runs[0]
        .metrics
        .iter()
        .map(|m| {
            let cols: Vec<Vec<f64>> = runs.iter().map(|r| r.column(m, n).expect("same metrics")).collect();
            (m.clone(), (0..n).map(|i| Spread::of(&cols.iter().map(|c| c[i]).collect::<Vec<_>>())).collect())
        })
        .collect()
}

/// Runs the `req.repeats` slices of a request around `center` and writes
/// their statistics and figure into `req.out`.
pub fn run(req: &SurfaceRequest, data: &ModelData, center: &[Named], progress: &dyn Progress) -> Result<RepeatsOutcome> {
    let evaluator = data.evaluator();
    let mut all = Vec::new();
    for k in 0..req.repeats {
        let out = req.out.join(format!("repeat-{k:02}"));
        std::fs::create_dir_all(&out).map_err(|e| LandscapeError::io(&out, e))?;
        let seed = req.seed.wrapping_add(2 * k as u64);
        let dirs_path = out.join("directions.safetensors");
        let dirs = if dirs_path.exists() {
            DirectionsFile::load(&dirs_path, center, false)?
        } else {
            let d = random_directions(center, req.options, seed, false, false)?;
            d.save(&dirs_path)?;
            d
        };
        let run = SurfaceRun {
            job: SurfaceJob { center, x_dir: &dirs.x, y_dir: None, x: req.x, y: None, evaluator: &*evaluator, shard: None },
            plan: Plan::new(
                &req.eval,
                req.x,
                None,
                Around::Slice(Slice {
                    center: state_fingerprint(center),
                    directions: dirs.fingerprint(),
                    source: DirectionSource::Normalized(req.options.norm),
                    ignore: req.options.ignore,
                    dir_type: req.options.dir_type,
                    seed: Some(seed),
                    shard: None,
                }),
            ),
            results: out.join("surface.jsonl"),
            resume: req.resume,
            redraw: None,
        };
        progress.note(&format!("direction {} of {}", k + 1, req.repeats));
        all.push(run.execute(&|| data.build(), progress)?);
    }
    let xs = req.x.values();
    let stats = spreads(&all, xs.len());
    let mut csv = String::from("x");
    for (m, _) in &stats {
        csv.push_str(&format!(",{m}_mean,{m}_std,{m}_min,{m}_max"));
    }
    csv.push('\n');
    for (i, xv) in xs.iter().enumerate() {
        csv.push_str(&xv.to_string());
        for (_, st) in &stats {
            let s = st[i];
            csv.push_str(&format!(",{},{},{},{}", s.mean, s.std, s.min, s.max));
        }
        csv.push('\n');
    }
    let csv_path = req.out.join("repeats.csv");
    write_atomic(&csv_path, csv.as_bytes())?;
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for (m, st) in &stats {
        let scale = if m.ends_with("_accuracy") { 100.0 } else { 1.0 };
        let mut s = Series::new(
            &format!("{} (mean of {})", m.replace('_', " "), req.repeats),
            xs.clone(),
            st.iter().map(|t| scale * t.mean).collect(),
        );
        s.band = Some((st.iter().map(|t| scale * t.min).collect(), st.iter().map(|t| scale * t.max).collect()));
        if m.ends_with("_accuracy") {
            right.push(s);
        } else {
            left.push(s);
        }
    }
    let mut fo = FigureOptions::new(
        &format!("{}: {} random filter-normalized directions (band: min to max)", req.eval.model, req.repeats),
        "x (filter-normalized direction)",
        "loss",
    )
    .with_size(req.size.0, req.size.1);
    fo.right_range = Some((0.0, 100.0));
    fo.vlines = vec![(0.0, "center".into())];
    let png = req.out.join("line-repeats.png");
    save_png(&render::line_plot(&fo, &left, "loss", &right, "accuracy (%)", false), &png)?;
    Ok(RepeatsOutcome { csv: csv_path, figure: png, repeats: req.repeats })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_values() {
        let s = Spread::of(&[1.0, 2.0, 6.0]);
        assert_eq!((s.mean, s.min, s.max), (3.0, 1.0, 6.0));
        assert!((s.std - 7.0f64.sqrt()).abs() < 1e-12);
        assert_eq!(Spread::of(&[4.0]).std, 0.0);
    }
}
