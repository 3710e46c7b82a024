//! Figures redrawn while a surface runs: after a level of the coarse-to-fine
//! order completes (or at most every so many minutes, when one has), the
//! default PNGs are rewritten from the results file's finest complete level,
//! so a long run shows a coarse picture early. The redraw happens in the
//! point sink, on the thread that finished the point that completed the
//! level; other points keep running meanwhile.

use crate::error::Result;
use crate::figures;
use crate::grid_order::GridOrder;
use crate::results::Results;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When a running surface rewrites its figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PlotEvery {
    /// Each time a finer level is complete.
    Level,
    /// When a finer level is complete and this many minutes have passed since the last redraw (or the start).
    Minutes(f64),
}

impl std::str::FromStr for PlotEvery {
    type Err = String;
    /// `level`, or a positive number of minutes (e.g. `0.5`).
    fn from_str(s: &str) -> std::result::Result<PlotEvery, String> {
        if s == "level" {
            return Ok(PlotEvery::Level);
        }
        match s.parse::<f64>() {
            Ok(m) if m.is_finite() && m > 0.0 => Ok(PlotEvery::Minutes(m)),
            _ => Err(format!("{s:?}: expected a positive number of minutes or `level`")),
        }
    }
}

/// What to redraw, where and how often.
#[derive(Clone, Debug, PartialEq)]
pub struct Redraw {
    /// When.
    pub every: PlotEvery,
    /// The folder the default figures go to.
    pub out: PathBuf,
    /// Figure size in pixels.
    pub size: (u32, u32),
}

struct State {
    /// Points still missing per level.
    missing: Vec<usize>,
    /// The finest level drawn so far.
    drawn: Option<usize>,
    last: Instant,
}

/// Tracks the finished points of a run and redraws as [`Redraw`] says.
pub struct LiveFigures {
    redraw: Redraw,
    results: PathBuf,
    level_of: Vec<usize>,
    state: Mutex<State>,
    drawing: Mutex<()>,
}

impl LiveFigures {
    /// For a run of an `nx × ny` grid into `results` with `done` already there.
    pub fn new(redraw: Redraw, results: PathBuf, (nx, ny): (usize, usize), done: &BTreeSet<usize>) -> LiveFigures {
        let order = GridOrder::new(nx, ny);
        let level_of = order.level_of_points();
        let mut missing = vec![0; order.num_levels()];
        (0..nx * ny).filter(|i| !done.contains(i)).for_each(|i| missing[level_of[i]] += 1);
        let state = State { missing, drawn: None, last: Instant::now() };
        LiveFigures { redraw, results, level_of, state: Mutex::new(state), drawing: Mutex::new(()) }
    }

    /// Records that point `i` is in the results file; redraws when due.
    /// The last level (the whole grid) is left to the run's final figures.
    pub fn point_done(&self, i: usize) -> Result<()> {
        let due = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.missing[self.level_of[i]] -= 1;
            let complete = s.missing.iter().take_while(|&&m| m == 0).count();
            let finest = complete.checked_sub(1);
            let finer = finest > s.drawn && complete < s.missing.len();
            let waited = match self.redraw.every {
                PlotEvery::Level => true,
                PlotEvery::Minutes(m) => s.last.elapsed() >= Duration::from_secs_f64(m * 60.0),
            };
            if finer && waited {
                s.drawn = finest;
                s.last = Instant::now();
            }
            finer && waited
        };
        if due {
            let _one_at_a_time = self.drawing.lock().unwrap_or_else(|e| e.into_inner());
            let (r, _) = Results::read(&self.results, true)?;
            figures::default_pngs(&r, &self.redraw.out, self.redraw.size)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::slice_plan;
    use crate::results::ResultsWriter;

    #[test]
    fn redraws_when_a_level_completes_and_leaves_the_last_to_the_run() {
        let dir = std::env::temp_dir().join(format!("llv-live-figures-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("surface.jsonl");
        let plan = slice_plan(); // a 5×3 grid
        let w = ResultsWriter::create(&path, &plan, &["test_loss".to_string()]).unwrap();
        let redraw = Redraw { every: PlotEvery::Level, out: dir.clone(), size: (300, 200) };
        let live = LiveFigures::new(redraw, path.clone(), (5, 3), &BTreeSet::new());
        let order = GridOrder::new(5, 3);
        let contour = dir.join("contour.png");
        for (k, &i) in order.order.iter().enumerate() {
            w.append(i, 0.0, 0.0, &[i as f64]).unwrap();
            live.point_done(i).unwrap();
            match k + 1 {
                3 => assert!(!contour.exists(), "drawn before the corners were complete"),
                4 => {
                    assert!(contour.exists(), "not drawn when the corners completed");
                    std::fs::remove_file(&contour).unwrap();
                }
                n if n < order.ends[1] => assert!(!contour.exists(), "redrawn without a finer level"),
                _ => {}
            }
        }
        // 3×3 completed at ends[1]; the whole grid (the last level) is not drawn here.
        assert!(contour.exists());
        std::fs::remove_file(&contour).unwrap();
        // Every 60 minutes: the corners complete at once, but the time has not passed.
        let hourly = LiveFigures::new(
            Redraw { every: PlotEvery::Minutes(60.0), out: dir.clone(), size: (300, 200) },
            path,
            (5, 3),
            &BTreeSet::new(),
        );
        order.order[..4].iter().for_each(|&i| hourly.point_done(i).unwrap());
        assert!(!contour.exists());
    }

    #[test]
    fn plot_every_parses() {
        assert_eq!("level".parse::<PlotEvery>().unwrap(), PlotEvery::Level);
        assert_eq!("0.5".parse::<PlotEvery>().unwrap(), PlotEvery::Minutes(0.5));
        for bad in ["0", "-1", "soon", "inf"] {
            assert!(bad.parse::<PlotEvery>().is_err(), "{bad}");
        }
    }
}
