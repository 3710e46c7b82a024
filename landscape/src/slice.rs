//! A surface around a checkpoint (Li et al. 2018): loss and accuracy on a
//! line or plane of directions through the weights — random and
//! normalized, loaded from a directions file, the top Hessian eigenvectors,
//! or toward other checkpoints — computed into `out/surface.jsonl`
//! (resumable, shardable) with its directions file and default figures.
//! `repeats > 1` runs [`crate::repeats`] instead.

use crate::direction::{Direction, DirectionOptions};
use crate::directions_file::DirectionsFile;
use crate::error::{at_least, LandscapeError, Result};
use crate::fingerprint::state_fingerprint;
use crate::hessian::{canonical_sign, top_eigen_lanczos, ModelHessian, Operator};
use crate::live_figures::{PlotEvery, Redraw};
use crate::model_data::{EvalConfig, ModelData};
use crate::plan::{Around, DirectionSource, Plan, Slice};
use crate::progress::Progress;
use crate::run::SurfaceRun;
use crate::surface::{Range, Shard, SurfaceJob};
use crate::{figures, out_dir, repeats};
use nn::{ModuleExt, Named};
use std::path::PathBuf;

/// Where the directions of a surface come from.
#[derive(Clone, Debug, PartialEq)]
pub enum DirectionsChoice {
    /// Random directions (x from the seed, y from seed + 1), normalized by the request's options.
    Random,
    /// Read from a directions file.
    File(PathBuf),
    /// The top one or two Hessian eigenvectors at the center (unit norm), by Lanczos on the first evaluation set.
    Hessian,
    /// `B − center` (and `C − center`): the line or plane through other checkpoints, unnormalized.
    Through(Vec<PathBuf>),
}

/// A surface around a checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct SurfaceRequest {
    /// Model, data and evaluation.
    pub eval: EvalConfig,
    /// The center: a checkpoint of the model.
    pub weights: PathBuf,
    /// The x grid.
    pub x: Range,
    /// The y grid (makes a plane).
    pub y: Option<Range>,
    /// Where the directions come from.
    pub directions: DirectionsChoice,
    /// Normalization and coverage of random directions (recorded in the plan).
    pub options: DirectionOptions,
    /// Make the y direction orthogonal to x (random directions).
    pub orthogonal: bool,
    /// With more than one: that many random 1-D slices and their spread ([`crate::repeats`]).
    pub repeats: usize,
    /// Seed of random directions and of Lanczos.
    pub seed: u64,
    /// Compute only this part of the grid.
    pub shard: Option<Shard>,
    /// Continue an interrupted run in `out`.
    pub resume: bool,
    /// Replace a non-empty `out`.
    pub force: bool,
    /// Figure size in pixels.
    pub size: (u32, u32),
    /// Rewrite the default figures during the run, from the finest complete
    /// level (not for shards or repeats; [`crate::live_figures`]).
    pub plot_every: Option<PlotEvery>,
    /// Output folder.
    pub out: PathBuf,
}

/// What a surface run wrote.
#[derive(Clone, Debug)]
pub enum SurfaceOutcome {
    /// One surface.
    Surface {
        /// The results file.
        results: PathBuf,
        /// Points in it.
        points: usize,
        /// Figures and exports (none for a shard).
        written: Vec<PathBuf>,
    },
    /// Several random slices.
    Repeats(repeats::RepeatsOutcome),
}

impl SurfaceRequest {
    /// A 1-D slice around `weights` along one random filter-normalized
    /// direction, x from −1 to 1 in 51 points, into `out`; set the other
    /// fields for more.
    pub fn new(eval: EvalConfig, weights: PathBuf, out: PathBuf) -> SurfaceRequest {
        SurfaceRequest {
            eval,
            weights,
            x: Range { start: -1.0, end: 1.0, num: 51 },
            y: None,
            directions: DirectionsChoice::Random,
            options: DirectionOptions::default(),
            orthogonal: false,
            repeats: 1,
            seed: 0,
            shard: None,
            resume: false,
            force: false,
            size: (800, 600),
            plot_every: None,
            out,
        }
    }

    /// Checks the combination of fields; errors name the field at fault.
    pub fn validate(&self) -> Result<()> {
        self.eval.validate()?;
        self.x.check("x")?;
        if let Some(y) = &self.y {
            y.check("y")?;
        }
        figures::check_size(self.size)?;
        at_least("repeats", self.repeats, 1)?;
        let random_line = self.y.is_none() && self.directions == DirectionsChoice::Random && self.shard.is_none();
        if self.repeats > 1 && !random_line {
            return Err(LandscapeError::config(
                "repeats",
                "draws several random 1-D directions: it cannot be combined with y, through, directions or shard",
            ));
        }
        if let DirectionsChoice::Through(models) = &self.directions {
            match (models.len(), self.y.is_some()) {
                (2, false) => {
                    return Err(LandscapeError::config("through", "B,C spans a plane: give a y grid too (or B alone for a line)"))
                }
                (1, true) => {
                    return Err(LandscapeError::config("through", "B gives one direction: add a third model (B,C) for a plane, or drop y"))
                }
                (1 | 2, _) => {}
                (n, _) => return Err(LandscapeError::config("through", format!("{n} models: give one (a line) or two (a plane)"))),
            }
        }
        Ok(())
    }
}

/// Runs a surface request: validates it, prepares `out` (unless resuming),
/// loads the model and data, makes or reads the directions (saved to
/// `out/directions.safetensors`), computes `out/surface.jsonl` and, unless
/// sharded, writes the default figures.
pub fn run(req: &SurfaceRequest, progress: &dyn Progress) -> Result<SurfaceOutcome> {
    req.validate()?;
    let _lock = out_dir::open(&req.out, req.resume, req.force)?;
    let data = ModelData::load(&req.eval)?;
    let center = data.load_state(&req.weights, "weights")?;
    if req.repeats > 1 {
        return repeats::run(req, &data, &center, progress).map(SurfaceOutcome::Repeats);
    }
    let dirs_path = req.out.join("directions.safetensors");
    let two_d = req.y.is_some();
    let reuse = req.resume && dirs_path.exists();
    let dirs = match &req.directions {
        DirectionsChoice::Through(models) => {
            let toward = |i: usize| -> Result<Direction> {
                let s = data.load_state(&models[i], "through")?;
                Direction::between(&center, &s).map_err(|e| LandscapeError::config("through", format!("{}: {e}", models[i].display())))
            };
            DirectionsFile { x: toward(0)?, y: if models.len() == 2 { Some(toward(1)?) } else { None } }
        }
        DirectionsChoice::File(p) => DirectionsFile::load(p, &center, two_d)?,
        _ if reuse => DirectionsFile::load(&dirs_path, &center, two_d)?,
        DirectionsChoice::Hessian => hessian_directions(&data, &center, two_d, req.seed, progress)?,
        DirectionsChoice::Random => random_directions(&center, req.options, req.seed, two_d, req.orthogonal)?,
    };
    dirs.x.check_nonzero("the x direction")?;
    if let Some(d) = &dirs.y {
        d.check_nonzero("the y direction")?;
    }
    if !dirs_path.exists() {
        dirs.save(&dirs_path)?;
    }
    let source = match req.directions {
        DirectionsChoice::Through(_) => DirectionSource::Through,
        DirectionsChoice::Hessian => DirectionSource::Hessian,
        _ => DirectionSource::Normalized(req.options.norm),
    };
    let evaluator = data.evaluator();
    let run = SurfaceRun {
        job: SurfaceJob {
            center: &center,
            x_dir: &dirs.x,
            y_dir: dirs.y.as_ref(),
            x: req.x,
            y: req.y,
            evaluator: &*evaluator,
            shard: req.shard,
        },
        plan: Plan::new(
            &req.eval,
            req.x,
            req.y,
            Around::Slice(Slice {
                center: state_fingerprint(&center),
                directions: dirs.fingerprint(),
                source,
                ignore: req.options.ignore,
                dir_type: req.options.dir_type,
                seed: None,
                shard: req.shard,
            }),
        ),
        results: req.out.join("surface.jsonl"),
        resume: req.resume,
        redraw: req.plot_every.filter(|_| req.shard.is_none()).map(|every| Redraw { every, out: req.out.clone(), size: req.size }),
    };
    let results = run.execute(&|| data.build(), progress)?;
    let written = if req.shard.is_some() { Vec::new() } else { figures::default_figures(&results, &req.out, req.size)? };
    Ok(SurfaceOutcome::Surface { results: run.results, points: results.points.len(), written })
}

/// The top one or two Hessian eigenvectors of the mean loss on the first
/// evaluation set at `center`, as directions (unit norm, sign fixed so the
/// largest entry is positive).
fn hessian_directions(data: &ModelData, center: &[Named], two_d: bool, seed: u64, progress: &dyn Progress) -> Result<DirectionsFile> {
    let mut model = data.build();
    model.set_state(&center.iter().map(|n| n.tensor.clone()).collect::<Vec<_>>());
    let set = &data.sets[0].1;
    let mut op = ModelHessian::on(&mut *model, set, 500)?;
    let k = if two_d { 2 } else { 1 };
    let steps = 30.min(op.dim());
    progress.note(&format!("computing the top {k} Hessian eigenvector(s) on {} examples ({steps} Lanczos steps)", set.len()));
    let (vals, mut vecs) = top_eigen_lanczos(&mut op, k, steps, seed);
    vecs.iter_mut().for_each(|v| canonical_sign(v));
    progress.note(&format!("top eigenvalue(s): {vals:?}"));
    let x = Direction::from_flat_parameters(&vecs[0], center);
    let y = vecs.get(1).map(|v| Direction::from_flat_parameters(v, center));
    Ok(DirectionsFile { x, y })
}

/// Random directions for a surface: x from `seed`, y from `seed + 1`.
pub fn random_directions(center: &[Named], opts: DirectionOptions, seed: u64, two_d: bool, orthogonal: bool) -> Result<DirectionsFile> {
    let x = Direction::random(center, opts, seed)?;
    let mut y = if two_d { Some(Direction::random(center, opts, seed.wrapping_add(1))?) } else { None };
    if let (Some(d), true) = (&mut y, orthogonal) {
        d.orthogonalize_against(&x)?;
    }
    Ok(DirectionsFile { x, y })
}
