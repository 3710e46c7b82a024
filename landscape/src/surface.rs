//! Surfaces: metrics on a 1-D or 2-D grid of points `center + x·d₁ + y·d₂`.
//!
//! Three pieces stay separate so each can be swapped: *which points, in
//! which order* (the caller passes the list: [`SurfaceJob::pending`] gives
//! this job's shard in a [`PointOrder`], coarse to fine for new runs; an MPI
//! rank's chunk is another list), *how one point is evaluated* (an
//! [`Evaluator`]), and *where results go* (a [`PointSink`], e.g. a results
//! file). Points run in parallel or one after another by their size
//! ([`Schedule`]).

use crate::direction::{point, Direction};
use crate::error::Result;
use crate::evaluator::Evaluator;
use crate::grid_order::PointOrder;
use nn::{Module, ModuleExt, Named};
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A grid axis: `num` evenly spaced values from `start` to `end` inclusive,
/// written `START:END:NUM` (e.g. `-1:1:51`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// First value.
    pub start: f64,
    /// Last value.
    pub end: f64,
    /// Number of values (≥ 1).
    pub num: usize,
}

impl Range {
    /// The most points one axis may have: each point is an evaluation over
    /// the data, and the grid's values are held in memory.
    pub const MAX_POINTS: usize = 100_000;

    /// Checks the range: finite ends, `start ≤ end` (equal only for one
    /// point), `1 ≤ num ≤ MAX_POINTS`. Errors name the field `field`.
    pub fn check(&self, field: &'static str) -> Result<()> {
        self.problem().map_or(Ok(()), |p| Err(crate::LandscapeError::config(field, p)))
    }

    fn problem(&self) -> Option<String> {
        let (start, end, n) = (self.start, self.end, self.num);
        if !(start.is_finite() && end.is_finite()) {
            Some(format!("range {self}: START and END must be numbers"))
        } else if n == 0 {
            Some(format!("range {self} is empty: NUM must be at least 1"))
        } else if n > Range::MAX_POINTS {
            Some(format!("range {self}: NUM {n} is more than {} points", Range::MAX_POINTS))
        } else if end < start {
            Some(format!("range {self} is inverted: END {end} is below START {start}"))
        } else if n > 1 && end == start {
            Some(format!("range {self} has {n} points but START equals END"))
        } else {
            None
        }
    }

    /// The grid values.
    pub fn values(&self) -> Vec<f64> {
        if self.num == 1 {
            return vec![self.start];
        }
        (0..self.num).map(|i| self.start + (self.end - self.start) * i as f64 / (self.num - 1) as f64).collect()
    }
}

impl std::fmt::Display for Range {
    /// `START:END:NUM`, which parses back to the same range.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.start, self.end, self.num)
    }
}

impl FromStr for Range {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Range, String> {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 3 {
            return Err(format!("range {s:?}: expected START:END:NUM, e.g. -1:1:51"));
        }
        let num =
            |v: &str| v.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| format!("range {s:?}: {v:?} is not a number"));
        let (start, end) = (num(parts[0])?, num(parts[1])?);
        let n: usize = parts[2].trim().parse().map_err(|_| format!("range {s:?}: NUM {:?} is not a whole number", parts[2]))?;
        let r = Range { start, end, num: n };
        r.problem().map_or(Ok(r), Err)
    }
}

/// A part of the grid for one machine: the points at positions `p` of the
/// run's [`PointOrder`] with `p % count == index`, so in coarse-to-fine
/// order every shard holds a share of every level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl std::fmt::Display for Shard {
    /// `k/N`, numbered from 1 like on the command line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;
    /// Parses `k/N` with `1 ≤ k ≤ N` (shards are numbered from 1 on the
    /// command line).
    fn from_str(s: &str) -> std::result::Result<Shard, String> {
        let (k, n) = s.split_once('/').ok_or_else(|| format!("--shard {s:?}: expected k/N, e.g. 1/4"))?;
        let (k, n): (usize, usize) = (
            k.parse().map_err(|_| format!("--shard {s:?}: k is not a number"))?,
            n.parse().map_err(|_| format!("--shard {s:?}: N is not a number"))?,
        );
        if n == 0 || k == 0 || k > n {
            return Err(format!("--shard {s:?}: need 1 <= k <= N"));
        }
        Ok(Shard { index: k - 1, count: n })
    }
}

/// What to compute.
pub struct SurfaceJob<'a> {
    /// The center's full state (parameters, buffers, counters).
    pub center: &'a [Named],
    /// The x direction.
    pub x_dir: &'a Direction,
    /// The y direction (2-D surfaces).
    pub y_dir: Option<&'a Direction>,
    /// x grid.
    pub x: Range,
    /// y grid (2-D surfaces).
    pub y: Option<Range>,
    /// How each point is evaluated.
    pub evaluator: &'a dyn Evaluator,
    /// Only this part of the grid.
    pub shard: Option<Shard>,
}

impl SurfaceJob<'_> {
    /// Metric names in value order (the evaluator's).
    pub fn metric_names(&self) -> Vec<String> {
        self.evaluator.metric_names()
    }

    /// Number of grid points.
    pub fn num_points(&self) -> usize {
        self.x.num * self.y.map_or(1, |y| y.num)
    }

    /// Coordinates of point `i` (row-major: x varies fastest).
    pub fn coords(&self, i: usize) -> (f64, f64) {
        let xs = self.x.values();
        let x = xs[i % self.x.num];
        let y = self.y.map_or(0.0, |r| r.values()[i / self.x.num]);
        (x, y)
    }

    /// Points of this job's shard not in `done`, in `order`.
    pub fn pending(&self, done: &BTreeSet<usize>, order: PointOrder) -> Vec<usize> {
        let all = order.points(self.x.num, self.y.map_or(1, |y| y.num));
        let in_shard = |pos: usize| self.shard.is_none_or(|s| pos % s.count == s.index);
        all.into_iter().enumerate().filter(|&(pos, i)| in_shard(pos) && !done.contains(&i)).map(|(_, i)| i).collect()
    }
}

/// Receives each finished point: `(index, x, y, values)`.
pub type PointSink<'a> = dyn Fn(usize, f64, f64, &[f64]) -> Result<()> + Sync + 'a;

/// Grid points cheaper than this many FLOPs run in parallel, one per worker
/// (their kernels are too small to keep every thread busy); costlier ones
/// run one after another with every thread inside their kernels (one
/// model and one set of activations in memory, points finishing in order).
pub const POINT_PARALLEL_MAX_FLOPS: u64 = 4_000_000_000;

/// How the pending points of a surface share the threads (see
/// [`POINT_PARALLEL_MAX_FLOPS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Points in parallel, one model per worker.
    Points,
    /// Points one after another, parallel kernels.
    Kernels,
}

impl Schedule {
    /// The schedule for points of `flops_per_point` on `threads` workers.
    pub fn for_size(flops_per_point: u64, threads: usize) -> Schedule {
        if threads > 1 && flops_per_point < POINT_PARALLEL_MAX_FLOPS {
            Schedule::Points
        } else {
            Schedule::Kernels
        }
    }
}

/// Evaluates `points` of `job` (indices into its grid, started in the given
/// order), calling `sink(i, x, y, values)` as each finishes. The first point
/// runs alone and its FLOPs (counted by the kernels) choose the
/// [`Schedule`] of the others; models come from `factory` (one per worker
/// when points run in parallel). Values follow [`SurfaceJob::metric_names`].
/// Each point's values do not depend on the thread count, the schedule or
/// the order points finish in.
pub fn compute(job: &SurfaceJob, factory: &(dyn Fn() -> Box<dyn Module> + Sync), points: &[usize], sink: &PointSink) -> Result<()> {
    compute_with(job, factory, points, sink, None)
}

/// [`compute`] with the schedule given (`None`: chosen by the first point).
pub fn compute_with(
    job: &SurfaceJob,
    factory: &(dyn Fn() -> Box<dyn Module> + Sync),
    points: &[usize],
    sink: &PointSink,
    schedule: Option<Schedule>,
) -> Result<()> {
    let Some((&first, rest)) = points.split_first() else {
        return Ok(());
    };
    let mut model = factory();
    let before = autodiff::kernels::gemm::flop_count();
    evaluate_point(job, model.as_mut(), first, sink)?;
    let flops = autodiff::kernels::gemm::flop_count() - before;
    match schedule.unwrap_or_else(|| Schedule::for_size(flops, rayon::current_num_threads())) {
        Schedule::Kernels => rest.iter().try_for_each(|&i| evaluate_point(job, model.as_mut(), i, sink)),
        Schedule::Points => in_order_on_workers(rest, factory, &|model, i| evaluate_point(job, model, i, sink)),
    }
}

/// Runs `work` on every point of `points` on all rayon workers (one model
/// each), handing points out in list order so they also finish nearly in
/// it (at most one per worker in flight): a coarse-to-fine run completes its
/// levels one after another. Stops handing out points after an error.
fn in_order_on_workers(
    points: &[usize],
    factory: &(dyn Fn() -> Box<dyn Module> + Sync),
    work: &(dyn Fn(&mut dyn Module, usize) -> Result<()> + Sync),
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let workers = rayon::current_num_threads().min(points.len());
    (0..workers).into_par_iter().try_for_each(|_| {
        let mut model = factory();
        while !failed.load(Ordering::Relaxed) {
            let Some(&i) = points.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
            if let Err(e) = work(model.as_mut(), i) {
                failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(())
    })
}

/// Sets `model` to point `i` of `job`, evaluates it and hands the values to
/// `sink`.
fn evaluate_point(job: &SurfaceJob, model: &mut dyn Module, i: usize, sink: &PointSink) -> Result<()> {
    if nn::interrupt::stop_requested() {
        return Err(crate::LandscapeError::Interrupted);
    }
    let (x, y) = job.coords(i);
    let mut dirs = vec![(job.x_dir, x)];
    if let Some(d) = job.y_dir {
        dirs.push((d, y));
    }
    model.set_state(&point(job.center, &dirs));
    sink(i, x, y, &job.evaluator.evaluate(model))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_by_size() {
        assert_eq!(Schedule::for_size(POINT_PARALLEL_MAX_FLOPS - 1, 2), Schedule::Points);
        assert_eq!(Schedule::for_size(POINT_PARALLEL_MAX_FLOPS, 2), Schedule::Kernels);
        assert_eq!(Schedule::for_size(0, 1), Schedule::Kernels);
    }

    #[test]
    fn ranges_parse_and_reject_bad_input() {
        let r: Range = "-1:1:5".parse().unwrap();
        assert_eq!(r.values(), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert!("1:-1:5".parse::<Range>().unwrap_err().contains("inverted"));
        assert!("-1:1:0".parse::<Range>().unwrap_err().contains("empty"));
        assert!("-1:1".parse::<Range>().unwrap_err().contains("START:END:NUM"));
        assert!("a:1:3".parse::<Range>().unwrap_err().contains("not a number"));
        assert_eq!("0:0:1".parse::<Range>().unwrap().values(), vec![0.0]);
        // Found by fuzz/ (specs): the values of 5e9 points were allocated.
        assert!("-1:51:5129193729".parse::<Range>().unwrap_err().contains("more than 100000 points"));
        assert_eq!("2/3".parse::<Shard>().unwrap(), Shard { index: 1, count: 3 });
        assert!("0/3".parse::<Shard>().is_err() && "4/3".parse::<Shard>().is_err());
    }
}
