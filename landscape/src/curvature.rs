//! The curvature map of a plane (Li et al. 2018, Fig. 7): at every grid
//! point `w + x·d₁ + y·d₂`, the loss and the extreme Hessian eigenvalues,
//! whose ratio |λmin/λmax| shows where the surface is convex (near 0) or
//! saddle-like.

use crate::direction::point;
use crate::directions_file::DirectionsFile;
use crate::error::Result;
use crate::hessian::{smallest_eigenvalue_shifted, top_eigen_lanczos, ModelHessian};
use crate::model_data::Probe;
use crate::progress::Progress;
use crate::render::{self, FigureOptions, Grid2, RgbImage};
use crate::surface::Range;
use nn::ModuleExt;

/// The grid and solver settings of a curvature map.
#[derive(Clone, Debug, PartialEq)]
pub struct CurvatureMapConfig {
    /// The x grid.
    pub x: Range,
    /// The y grid.
    pub y: Range,
    /// Lanczos steps for each of λmax and λmin.
    pub steps: usize,
    /// Seed of the Lanczos starts.
    pub seed: u64,
}

/// One grid point of a curvature map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurvaturePoint {
    /// x coordinate.
    pub x: f64,
    /// y coordinate.
    pub y: f64,
    /// Mean loss on the probe's subset.
    pub loss: f64,
    /// Largest Hessian eigenvalue.
    pub lambda_max: f64,
    /// Smallest Hessian eigenvalue.
    pub lambda_min: f64,
}

impl CurvaturePoint {
    /// |λmin / λmax|.
    pub fn abs_ratio(&self) -> f64 {
        (self.lambda_min / self.lambda_max).abs()
    }
}

/// A computed curvature map.
#[derive(Clone, Debug, PartialEq)]
pub struct CurvatureMap {
    /// Points in row-major order (x fastest).
    pub points: Vec<CurvaturePoint>,
    /// The x grid values.
    pub xs: Vec<f64>,
    /// The y grid values.
    pub ys: Vec<f64>,
    /// Hessian-vector products used.
    pub products: usize,
}

/// Computes the curvature map of `plane` around the probe's checkpoint,
/// ticking `progress` once per point. The probe's model is back at the
/// checkpoint afterwards.
pub fn curvature_map(probe: &mut Probe, plane: &DirectionsFile, cfg: &CurvatureMapConfig, progress: &dyn Progress) -> Result<CurvatureMap> {
    let dy = plane.y.as_ref().ok_or_else(|| crate::LandscapeError::config("directions", "a curvature map needs a plane (x and y)"))?;
    let (xs, ys) = (cfg.x.values(), cfg.y.values());
    let batch = probe.config.eval.batch_size;
    let mut points = Vec::with_capacity(xs.len() * ys.len());
    let mut products = 0;
    let grid: Vec<(f64, f64)> = ys.iter().flat_map(|&y| xs.iter().map(move |&x| (x, y))).collect();
    for (x, y) in grid {
        probe.model.set_state(&point(&probe.state, &[(&plane.x, x), (dy, y)]));
        let loss = probe.set.evaluate(&mut *probe.model, batch).0;
        let mut op = ModelHessian::on(&mut *probe.model, &probe.set, batch)?;
        let (lmax, _) = top_eigen_lanczos(&mut op, 1, cfg.steps, cfg.seed);
        let lambda_min = smallest_eigenvalue_shifted(&mut op, lmax[0], cfg.steps, cfg.seed.wrapping_add(1));
        products += op.products;
        points.push(CurvaturePoint { x, y, loss, lambda_max: lmax[0], lambda_min });
        progress.tick();
    }
    probe.model.set_state(&probe.state.iter().map(|n| n.tensor.clone()).collect::<Vec<_>>());
    Ok(CurvatureMap { points, xs, ys, products })
}

impl CurvatureMap {
    /// `x,y,loss,lambda_max,lambda_min,abs_ratio`, one row per point.
    pub fn csv(&self) -> String {
        let mut rows = String::from("x,y,loss,lambda_max,lambda_min,abs_ratio\n");
        for p in &self.points {
            rows.push_str(&format!("{},{},{},{},{},{}\n", p.x, p.y, p.loss, p.lambda_max, p.lambda_min, p.abs_ratio()));
        }
        rows
    }

    /// Loss contours beside a heat map of |λmin/λmax|, each panel `size`
    /// (the plots keep a square frame, so half-width panels would waste the height).
    pub fn figure(&self, title: &str, size: (u32, u32)) -> RgbImage {
        let grid = |z: Vec<f64>| Grid2 { x: self.xs.clone(), y: self.ys.clone(), z };
        let lg = grid(self.points.iter().map(|p| p.loss).collect());
        let rg = grid(self.points.iter().map(|p| p.abs_ratio()).collect());
        let o = FigureOptions::new("loss", "x", "y").with_size(size.0, size.1).with_z_label("loss");
        let left = render::contour_plot(&o, &lg, None, true, None);
        let mut o = FigureOptions::new("|λmin / λmax|", "x", "y").with_size(size.0, size.1);
        o.z_scale = render::ZScale::Linear;
        let right = render::heatmap(&o, &rg, None, "|λmin / λmax|");
        render::side_by_side(&[left, right], title)
    }
}
