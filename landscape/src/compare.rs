//! Figures that compare several results files on one scale: 1-D slices as
//! curves on one figure, 2-D surfaces as panels side by side with shared
//! contour levels and colour range (what `llv demo` draws for a small- and
//! a large-batch solution).

use crate::error::Result;
use crate::figures::FigureKind;
use crate::render::{self, FigureOptions, Grid2, RgbImage, Series};
use crate::results::Results;

/// Curves of several 1-D results on one figure: each run's first loss on
/// the left axis and its matching accuracy (in %) on the right.
pub fn curves(runs: &[(&str, &Results)], opts: &FigureOptions) -> Result<RgbImage> {
    let (mut left, mut right) = (Vec::new(), Vec::new());
    let mut axis = ("loss".to_string(), "accuracy (%)".to_string());
    for (name, r) in runs {
        let (x, _) = r.grid_axes();
        let loss = r.loss_metric();
        let accuracy = loss.replace("_loss", "_accuracy");
        left.push(Series::new(&format!("{name} loss"), x.clone(), r.grid(&loss)?.z));
        right.push(Series::new(&format!("{name} accuracy"), x, r.grid(&accuracy)?.z.iter().map(|v| 100.0 * v).collect()));
        axis = (loss.replace('_', " "), format!("{} (%)", accuracy.replace('_', " ")));
    }
    Ok(render::line_plot(opts, &left, &axis.0, &right, &axis.1, false))
}

/// One value scale for several grids: the finite range of their values and
/// contour levels spaced evenly in log scale inside it (loss surfaces span
/// decades; even spacing would crowd the rim).
#[derive(Clone, Debug, PartialEq)]
pub struct SharedScale {
    /// Smallest finite value.
    pub lo: f64,
    /// Largest finite value.
    pub hi: f64,
    /// Contour levels.
    pub levels: Vec<f64>,
}

impl SharedScale {
    /// The scale of `grids`, with 11 levels.
    pub fn of(grids: &[&Grid2]) -> SharedScale {
        let finite = || grids.iter().flat_map(|g| g.z.iter().copied()).filter(|v| v.is_finite());
        let lo = finite().fold(f64::INFINITY, f64::min);
        let hi = finite().fold(f64::NEG_INFINITY, f64::max);
        let (a, b) = (lo.max(1e-6), hi.max(lo.max(1e-6) * 1.0001));
        let n = 12;
        let levels = (1..n).map(|i| (a.ln() + (b.ln() - a.ln()) * i as f64 / n as f64).exp()).collect();
        SharedScale { lo, hi, levels }
    }
}

/// 2-D grids side by side as one figure of `kind` (contour, filled or
/// surface3d) on their shared scale, each with its own panel options.
pub fn panels(grids: &[(&FigureOptions, &Grid2)], kind: FigureKind, title: &str) -> RgbImage {
    let scale = SharedScale::of(&grids.iter().map(|(_, g)| *g).collect::<Vec<_>>());
    let range = Some((scale.lo, scale.hi));
    let images: Vec<RgbImage> = grids
        .iter()
        .map(|(o, g)| match kind {
            FigureKind::Filled => render::filled_contour_plot(o, g, Some(&scale.levels), range),
            FigureKind::Surface3d => render::surface3d(o, g, 30.0, -60.0, range),
            _ => render::contour_plot(o, g, Some(&scale.levels), true, None),
        })
        .collect();
    render::side_by_side(&images, title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_scale_spans_every_grid_in_log_steps() {
        let a = Grid2 { x: vec![0.0, 1.0], y: vec![0.0], z: vec![0.1, f64::NAN] };
        let b = Grid2 { x: vec![0.0, 1.0], y: vec![0.0], z: vec![10.0, 1.0] };
        let s = SharedScale::of(&[&a, &b]);
        assert_eq!((s.lo, s.hi), (0.1, 10.0));
        assert_eq!(s.levels.len(), 11);
        assert!(s.levels.windows(2).all(|w| (w[1] / w[0] - s.levels[1] / s.levels[0]).abs() < 1e-9), "evenly spaced in log scale");
        assert!(s.levels[0] > 0.1 && s.levels[10] < 10.0);
    }
}
