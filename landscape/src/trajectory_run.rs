//! The training path of a run on the PCA plane of its checkpoints, over
//! that plane's loss surface (Li et al. 2018, §7): finds the checkpoints,
//! computes the plane ([`crate::trajectory::pca_plane`]) and a random-walk
//! baseline, the loss of every checkpoint, and the surface on a square
//! window around the path, into `out/surface.jsonl` with `trajectory.png`
//! and the default figures.

use crate::direction::Ignore;
use crate::directions_file::DirectionsFile;
use crate::error::{at_least, LandscapeError, Result};
use crate::figures::{self, FigureKind, FigureRequest};
use crate::fingerprint::state_fingerprint;
use crate::model_data::{EvalConfig, ModelData};
use crate::out_dir;
use crate::plan::{Around, PathPoint, Plan, TrajectoryPlane};
use crate::progress::Progress;
use crate::run::SurfaceRun;
use crate::surface::{Range, SurfaceJob};
use crate::trajectory::{pca_plane, random_walk_baseline};
use nn::{ModuleExt, Named};
use std::path::{Path, PathBuf};

/// A trajectory request.
#[derive(Clone, Debug, PartialEq)]
pub struct TrajectoryRequest {
    /// Model, data and evaluation (the path's losses use the first set).
    pub eval: EvalConfig,
    /// A training run folder (its `checkpoints/epoch-NNN.safetensors` and
    /// `final.safetensors`) or a folder of epoch checkpoints.
    pub checkpoints: PathBuf,
    /// Grid points per axis of the plane (at least 2).
    pub grid: usize,
    /// One-dimensional tensors left out of the PCA.
    pub ignore: Ignore,
    /// Seed of the random-walk baseline.
    pub seed: u64,
    /// Continue an interrupted run in `out`.
    pub resume: bool,
    /// Replace a non-empty `out`.
    pub force: bool,
    /// Figure size in pixels.
    pub size: (u32, u32),
    /// Output folder.
    pub out: PathBuf,
}

/// What a trajectory run found and wrote.
#[derive(Clone, Debug)]
pub struct TrajectoryOutcome {
    /// Number of epoch checkpoints.
    pub checkpoints: usize,
    /// Variance explained by the two components.
    pub explained: [f64; 2],
    /// The same for a random walk of as many steps.
    pub random_walk_explained: [f64; 2],
    /// The results file.
    pub results: PathBuf,
    /// Figures and exports, `trajectory.png` first.
    pub written: Vec<PathBuf>,
}

/// The epoch checkpoints of a run folder, in epoch order, and the final
/// weights (`final.safetensors`, else the last epoch). Errors name the
/// field `checkpoints`.
pub fn find_checkpoints(dir: &Path) -> Result<(Vec<(usize, PathBuf)>, PathBuf)> {
    let ckdir = if dir.join("checkpoints").is_dir() { dir.join("checkpoints") } else { dir.to_path_buf() };
    let entries = std::fs::read_dir(&ckdir).map_err(|e| LandscapeError::config("checkpoints", format!("{}: {e}", ckdir.display())))?;
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
        return Err(LandscapeError::config(
            "checkpoints",
            format!("{}: found {} epoch-NNN.safetensors files; a PCA plane needs at least 3", ckdir.display(), found.len()),
        ));
    }
    let fin = dir.join("final.safetensors");
    let fin = if fin.exists() { fin } else { found.last().expect("non-empty").1.clone() };
    Ok((found, fin))
}

/// A square-ish window around the projected path, with a 20% margin.
fn window(points: &[(f64, f64)], num: usize) -> (Range, Range) {
    let span = |v: &mut dyn Iterator<Item = f64>| {
        let (lo, hi) = v.fold((0.0f64, 0.0f64), |(a, b), x| (a.min(x), b.max(x)));
        let pad = 0.2 * (hi - lo).max(1e-6);
        Range { start: lo - pad, end: hi + pad, num }
    };
    (span(&mut points.iter().map(|p| p.0)), span(&mut points.iter().map(|p| p.1)))
}

/// Runs a trajectory request.
pub fn run(req: &TrajectoryRequest, progress: &dyn Progress) -> Result<TrajectoryOutcome> {
    req.eval.validate()?;
    figures::check_size(req.size)?;
    at_least("grid", req.grid, 2)?;
    let (ckpts, fin) = find_checkpoints(&req.checkpoints)?;
    let _lock = out_dir::open(&req.out, req.resume, req.force)?;
    let data = ModelData::load(&req.eval)?;
    let final_state = data.load_state(&fin, "checkpoints")?;
    let states: Vec<Vec<Named>> = ckpts.iter().map(|(_, p)| data.load_state(p, "checkpoints")).collect::<Result<_>>()?;
    let plane = pca_plane(&states, &final_state, req.ignore).map_err(|e| LandscapeError::config("checkpoints", e.to_string()))?;
    let dim: usize = final_state.iter().filter(|n| n.kind == nn::Kind::Parameter).map(|n| n.tensor.numel()).sum();
    let walk = random_walk_baseline(states.len(), dim.min(20_000), req.seed)?;

    // The true loss of every checkpoint, for the labels.
    let mut model = data.build();
    let path = ckpts
        .iter()
        .zip(states.iter().zip(&plane.projections))
        .map(|((epoch, _), (state, &(x, y)))| {
            model.set_state(&state.iter().map(|n| n.tensor.clone()).collect::<Vec<_>>());
            let loss = data.sets[0].1.evaluate(&mut *model, req.eval.batch_size).0;
            PathPoint { epoch: *epoch, x, y, loss, label: format!("ep {epoch}: {loss:.3}") }
        })
        .collect();
    let (xr, yr) = window(&plane.projections, req.grid);
    let dirs = DirectionsFile { x: plane.directions[0].clone(), y: Some(plane.directions[1].clone()) };
    dirs.save(&req.out.join("directions.safetensors"))?;
    let evaluator = data.evaluator();
    let run = SurfaceRun {
        job: SurfaceJob {
            center: &final_state,
            x_dir: &dirs.x,
            y_dir: dirs.y.as_ref(),
            x: xr,
            y: Some(yr),
            evaluator: &*evaluator,
            shard: None,
        },
        plan: Plan::new(
            &req.eval,
            xr,
            Some(yr),
            Around::Trajectory(TrajectoryPlane {
                center: state_fingerprint(&final_state),
                directions: dirs.fingerprint(),
                ignore: req.ignore,
                explained: plane.explained,
                random_walk_explained: walk,
                path,
            }),
        ),
        results: req.out.join("surface.jsonl"),
        resume: req.resume,
        redraw: None,
    };
    let results = run.execute(&|| data.build(), progress)?;
    let mut written = figures::default_figures(&results, &req.out, req.size)?;
    let p = req.out.join("trajectory.png");
    figures::save_png(&figures::draw(&results, &FigureRequest::new(FigureKind::Trajectory, req.size))?, &p)?;
    written.insert(0, p);
    Ok(TrajectoryOutcome {
        checkpoints: states.len(),
        explained: plane.explained,
        random_walk_explained: walk,
        results: run.results,
        written,
    })
}
