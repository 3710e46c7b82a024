//! `llv trajectory`: the training path on the PCA plane of its checkpoints
//! (Li et al. 2018), over the loss surface of that plane.

use super::surface::{run_job, EvalArgs, Setup};
use super::{figures, out_dir, CliError};
use clap::Args;
use landscape::{pca_plane, random_walk_baseline, Ignore, Range, SurfaceJob};
use nn::ModuleExt;
use nn::Named;
use serde_json::json;
use std::path::{Path, PathBuf};

/// Arguments of `llv trajectory`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  llv train --model lenet --optimizer sgd --out runs/sgd
  llv trajectory --model lenet --checkpoints runs/sgd --limit 1000 --out runs/sgd/pca")]
pub struct TrajectoryArgs {
    #[command(flatten)]
    pub eval: EvalArgs,
    /// A training run folder (its checkpoints/epoch-NNN.safetensors and final.safetensors) or a folder of checkpoints.
    #[arg(long)]
    pub checkpoints: PathBuf,
    /// Grid points per axis of the plane.
    #[arg(long, default_value_t = 21)]
    pub grid: usize,
    /// One-dimensional tensors (biases, BN): biasbn leaves them out of the PCA, none keeps them.
    #[arg(long, default_value = "biasbn")]
    pub ignore: String,
    /// Seed of the random-walk baseline.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Continue an interrupted run in --out.
    #[arg(long)]
    pub resume: bool,
    /// Overwrite a non-empty --out.
    #[arg(long)]
    pub force: bool,
    /// Figure size WxH.
    #[arg(long, default_value = "800x600")]
    pub size: String,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// The epoch checkpoints of a run folder, in epoch order, and the final weights.
fn find_checkpoints(dir: &Path) -> Result<(Vec<(usize, PathBuf)>, PathBuf), CliError> {
    let ckdir = if dir.join("checkpoints").is_dir() { dir.join("checkpoints") } else { dir.to_path_buf() };
    let entries = std::fs::read_dir(&ckdir).map_err(|e| CliError::new(format!("--checkpoints {}: {e}", ckdir.display())))?;
    let mut found: Vec<(usize, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let epoch = name.strip_prefix("epoch-")?.strip_suffix(".safetensors")?.parse().ok()?;
            Some((epoch, e.path()))
        })
        .collect();
    found.sort();
    if found.len() < 3 {
        return Err(CliError::new(format!(
            "--checkpoints {}: found {} epoch-NNN.safetensors files; a PCA plane needs at least 3",
            ckdir.display(),
            found.len()
        )));
    }
    let fin = dir.join("final.safetensors");
    let fin = if fin.exists() { fin } else { found.last().expect("non-empty").1.clone() };
    Ok((found, fin))
}

/// Runs `llv trajectory`.
pub fn run(a: TrajectoryArgs) -> Result<(), CliError> {
    let size = figures::parse_size(&a.size)?;
    let ignore: Ignore = a.ignore.parse().map_err(CliError::new)?;
    if a.grid < 2 {
        return Err(CliError::new("--grid must be at least 2"));
    }
    let (ckpts, fin) = find_checkpoints(&a.checkpoints)?;
    if !a.resume {
        out_dir::prepare(&a.out, a.force)?;
    }
    let setup = Setup::new(&a.eval)?;
    let final_state = setup.load_state(&fin, "--checkpoints")?;
    let states: Vec<Vec<Named>> = ckpts.iter().map(|(_, p)| setup.load_state(p, "--checkpoints")).collect::<Result<_, _>>()?;
    let plane = pca_plane(&states, &final_state, ignore).map_err(|e| CliError::new(format!("--checkpoints: {e}")))?;
    let dim: usize = final_state.iter().filter(|n| n.kind == nn::Kind::Parameter).map(|n| n.tensor.numel()).sum();
    let walk = random_walk_baseline(states.len(), dim.min(20_000), a.seed).map_err(|e| CliError::new(e.to_string()))?;

    // The true loss of every checkpoint, for the labels.
    let mut path = Vec::new();
    let factory = setup.factory();
    for ((epoch, _), (state, &(x, y))) in ckpts.iter().zip(states.iter().zip(&plane.projections)) {
        let mut m = factory();
        m.set_state(&state.iter().map(|n| n.tensor.clone()).collect::<Vec<_>>());
        let r = nn::evaluate(&mut *m, &setup.sets[0].1, a.eval.batch_size.max(1));
        path.push(json!({"epoch": epoch, "x": x, "y": y, "loss": r.loss, "label": format!("ep {epoch}: {:.3}", r.loss)}));
    }
    // A square window around the path with a margin.
    let (xs, ys): (Vec<f64>, Vec<f64>) = plane.projections.iter().copied().unzip();
    let span = |v: &[f64]| {
        let (lo, hi) = v.iter().fold((0.0f64, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
        let pad = 0.2 * (hi - lo).max(1e-6);
        (lo - pad, hi + pad)
    };
    let ((x0, x1), (y0, y1)) = (span(&xs), span(&ys));
    let xr = Range { start: x0, end: x1, num: a.grid };
    let yr = Range { start: y0, end: y1, num: a.grid };
    let fmt = |r: &Range| format!("{}:{}:{}", r.start, r.end, r.num);
    let job = SurfaceJob {
        center: &final_state,
        x_dir: &plane.directions[0],
        y_dir: Some(&plane.directions[1]),
        x: xr,
        y: Some(yr),
        sets: setup.eval_sets(),
        batch_size: a.eval.batch_size,
        shard: None,
    };
    let plan = json!({
        "kind": "trajectory", "model": a.eval.model, "data": a.eval.data, "split": a.eval.split, "limit": a.eval.limit,
        "center": figures::fingerprint(&final_state), "directions": figures::direction_fingerprint(&plane.directions[0], Some(&plane.directions[1])),
        "x": fmt(&xr), "y": fmt(&yr), "norm": "pca", "ignore": a.ignore,
        "explained": plane.explained, "random_walk_explained": walk, "path": path,
    });
    figures::save_directions(&a.out.join("directions.safetensors"), &plane.directions[0], Some(&plane.directions[1]))?;
    let results = run_job(&job, &setup, plan, &a.out, a.resume, false)?;
    let mut written = figures::default_figures(&results, &a.out, size)?;
    let img = figures::draw(&results, figures::Kind::Trajectory, None, size, false, (30.0, -60.0))?;
    let p = a.out.join("trajectory.png");
    landscape::render::save_png(&img, &p).map_err(|e| CliError::new(format!("{}: {e}", p.display())))?;
    written.insert(0, p);
    println!(
        "PCA plane of {} checkpoints: PC1 {:.1}%, PC2 {:.1}% of the variance (a random walk of as many steps: {:.1}%, {:.1}%)",
        states.len(),
        100.0 * plane.explained[0],
        100.0 * plane.explained[1],
        100.0 * walk[0],
        100.0 * walk[1]
    );
    println!("wrote {}{}", a.out.join("surface.jsonl").display(), figures::list(&written));
    Ok(())
}
