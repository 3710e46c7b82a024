//! Loss and accuracy along the straight line between two checkpoints
//! (Goodfellow et al. 2015): `from + α·(to − from)`, computed into
//! `out/surface.jsonl` (resumable) with its default figures.

use crate::direction::Direction;
use crate::error::{LandscapeError, Result};
use crate::figures;
use crate::fingerprint::state_fingerprint;
use crate::model_data::{EvalConfig, ModelData};
use crate::out_dir;
use crate::plan::{Around, Plan};
use crate::progress::Progress;
use crate::run::SurfaceRun;
use crate::surface::{Range, SurfaceJob};
use std::path::PathBuf;

/// A line between two checkpoints.
#[derive(Clone, Debug, PartialEq)]
pub struct InterpolationRequest {
    /// Model, data and evaluation.
    pub eval: EvalConfig,
    /// Weights at α = 0.
    pub from: PathBuf,
    /// Weights at α = 1.
    pub to: PathBuf,
    /// The α grid.
    pub range: Range,
    /// Continue an interrupted run in `out`.
    pub resume: bool,
    /// Replace a non-empty `out`.
    pub force: bool,
    /// Figure size in pixels.
    pub size: (u32, u32),
    /// Output folder.
    pub out: PathBuf,
}

/// What an interpolation wrote.
#[derive(Clone, Debug)]
pub struct InterpolationOutcome {
    /// The results file.
    pub results: PathBuf,
    /// Figures and exports.
    pub written: Vec<PathBuf>,
}

/// Runs an interpolation: prepares `out` (unless resuming), computes the
/// line into `out/surface.jsonl` and writes its figures. Identical
/// checkpoints are an error naming `to`.
pub fn run(req: &InterpolationRequest, progress: &dyn Progress) -> Result<InterpolationOutcome> {
    req.eval.validate()?;
    req.range.check("range")?;
    figures::check_size(req.size)?;
    let _lock = out_dir::open(&req.out, req.resume, req.force)?;
    let data = ModelData::load(&req.eval)?;
    let from = data.load_state(&req.from, "from")?;
    let to = data.load_state(&req.to, "to")?;
    let d = Direction::between(&from, &to).map_err(|e| LandscapeError::config("to", format!("{}: {e}", req.to.display())))?;
    let evaluator = data.evaluator();
    let run = SurfaceRun {
        job: SurfaceJob { center: &from, x_dir: &d, y_dir: None, x: req.range, y: None, evaluator: &*evaluator, shard: None },
        plan: Plan::new(&req.eval, req.range, None, Around::Line { from: state_fingerprint(&from), to: state_fingerprint(&to) }),
        results: req.out.join("surface.jsonl"),
        resume: req.resume,
        redraw: None,
    };
    let results = run.execute(&|| data.build(), progress)?;
    let written = figures::default_figures(&results, &req.out, req.size)?;
    Ok(InterpolationOutcome { results: run.results, written })
}
