//! A surface computed into a results file: creates the file with its plan
//! (or, resuming, checks the plan and skips the points already there),
//! evaluates the pending points with [`crate::surface::compute`], appends
//! each as it finishes, and reads the complete file back.

use crate::error::Result;
use crate::live_figures::{LiveFigures, Redraw};
use crate::plan::Plan;
use crate::progress::Progress;
use crate::results::{Results, ResultsWriter};
use crate::surface::{compute, SurfaceJob};
use nn::Module;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A job, its plan and where its results go.
pub struct SurfaceRun<'a> {
    /// What to compute.
    pub job: SurfaceJob<'a>,
    /// What the results file records (and a resumed run must match).
    pub plan: Plan,
    /// The results file (`surface.jsonl`).
    pub results: PathBuf,
    /// Continue an existing results file instead of creating it.
    pub resume: bool,
    /// Rewrite the default figures during the run ([`crate::live_figures`]).
    pub redraw: Option<Redraw>,
}

impl SurfaceRun<'_> {
    /// Computes the job's pending points (this shard's, not yet in the file)
    /// into the results file, reporting each to `progress`, and returns the
    /// file's complete contents. Models come from `factory`.
    pub fn execute(&self, factory: &(dyn Fn() -> Box<dyn Module> + Sync), progress: &dyn Progress) -> Result<Results> {
        self.plan.validate()?;
        let metrics = self.job.metric_names();
        // A resumed file keeps the order it was started in (its shard's points depend on it).
        let (writer, done, order) = if self.resume && self.results.exists() {
            let (w, r) = ResultsWriter::resume(&self.results, &self.plan, &metrics)?;
            (w, r.points.keys().copied().collect::<BTreeSet<usize>>(), r.plan.order)
        } else {
            (ResultsWriter::create(&self.results, &self.plan, &metrics)?, BTreeSet::new(), self.plan.order)
        };
        let pending = self.job.pending(&done, order);
        if !pending.is_empty() {
            progress.start(pending.len(), "points");
            progress.phase("evaluating");
        }
        let grid = (self.job.x.num, self.job.y.map_or(1, |y| y.num));
        let live = self.redraw.clone().map(|r| LiveFigures::new(r, self.results.clone(), grid, &done));
        compute(&self.job, factory, &pending, &|i, x, y, v| {
            writer.append(i, x, y, v)?;
            progress.tick();
            live.as_ref().map_or(Ok(()), |l| l.point_done(i))
        })?;
        if !pending.is_empty() {
            progress.finish();
        }
        drop(writer);
        Ok(Results::read(&self.results, false)?.0)
    }
}
