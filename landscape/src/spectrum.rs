//! The Hessian spectrum of a checkpoint on a fixed data subset (`llv
//! hessian`): top eigenvalues (Lanczos or power iteration), the smallest
//! eigenvalue, Hutchinson's trace, the spectral density by stochastic
//! Lanczos quadrature and a curvature map, written to `out/hessian.json`
//! with CSV files, figures and the top eigenvectors as a directions file.

use crate::curvature::{curvature_map, CurvatureMapConfig};
use crate::direction::Direction;
use crate::directions_file::DirectionsFile;
use crate::error::{at_least, positive, LandscapeError, Result};
use crate::export::{write_atomic, write_json};
use crate::figures::save_png;
use crate::hessian::{self, canonical_sign, Density, ModelHessian, Operator, TraceEstimate};
use crate::model_data::{Probe, ProbeConfig};
use crate::out_dir;
use crate::progress::Progress;
use crate::render::{self, FigureOptions, RgbImage};
use crate::surface::Range;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::time::Instant;

/// Eigensolver of the top eigenvalues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eigensolver {
    /// Lanczos with full reorthogonalization (k largest, algebraic).
    Lanczos,
    /// Power iteration with deflation (k largest in magnitude).
    Power,
}

/// Settings of the spectral density.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DensityConfig {
    /// Random starts.
    pub runs: usize,
    /// Lanczos steps per start.
    pub steps: usize,
    /// Gaussian width (default: 1% of the spectrum's span).
    pub sigma: Option<f64>,
}

/// The plane of a curvature map.
#[derive(Clone, Debug, PartialEq)]
pub struct CurvaturePlane {
    /// Directions file of the plane.
    pub directions: PathBuf,
    /// x grid.
    pub x: Range,
    /// y grid.
    pub y: Range,
}

/// What to compute about a checkpoint's Hessian.
#[derive(Clone, Debug, PartialEq)]
pub struct SpectrumRequest {
    /// Checkpoint, data subset, batch size.
    pub probe: ProbeConfig,
    /// Seed of the random starts.
    pub seed: u64,
    /// Number of largest eigenvalues.
    pub top_k: usize,
    /// Their solver.
    pub method: Eigensolver,
    /// Lanczos steps (default max(3k, 20)) or most power iterations per eigenvalue (default 100).
    pub steps: Option<usize>,
    /// Relative change of the Rayleigh quotient that stops power iteration.
    pub tol: f64,
    /// Also the smallest eigenvalue.
    pub min: bool,
    /// Also the trace, from this many Rademacher vectors.
    pub trace_samples: Option<usize>,
    /// Also the spectral density.
    pub density: Option<DensityConfig>,
    /// Also the curvature map of a plane.
    pub curvature_map: Option<CurvaturePlane>,
    /// Replace a non-empty `out`.
    pub force: bool,
    /// Figure size in pixels.
    pub size: (u32, u32),
    /// Output folder.
    pub out: PathBuf,
}

/// What a spectrum run found and wrote.
#[derive(Clone, Debug)]
pub struct SpectrumOutcome {
    /// Top eigenvalues, descending.
    pub top: Vec<f64>,
    /// The smallest eigenvalue.
    pub smallest: Option<f64>,
    /// The trace estimate.
    pub trace: Option<TraceEstimate>,
    /// Hessian-vector products in all.
    pub products: usize,
    /// Wall time.
    pub seconds: f64,
    /// `hessian.json`.
    pub report: PathBuf,
    /// The other files written.
    pub written: Vec<PathBuf>,
}

impl SpectrumRequest {
    /// Checks the settings; errors name the field.
    pub fn validate(&self) -> Result<()> {
        at_least("top_k", self.top_k, 1)?;
        if let Some(steps) = self.steps {
            at_least("steps", steps, 1)?;
        }
        if self.trace_samples.is_some_and(|s| s < 2) {
            return Err(LandscapeError::config("trace_samples", "must be at least 2 (the standard error needs two)"));
        }
        if let Some(d) = &self.density {
            at_least("density_runs", d.runs, 1)?;
            at_least("density_steps", d.steps, 2)?;
            if let Some(s) = d.sigma {
                positive("density_sigma", s)?;
            }
        }
        if let Some(c) = &self.curvature_map {
            c.x.check("x")?;
            c.y.check("y")?;
        }
        crate::figures::check_size(self.size)?;
        positive("tol", self.tol)
    }
}

/// An operator that ticks `progress` at every product.
struct Ticking<'a> {
    op: &'a mut dyn Operator,
    progress: &'a dyn Progress,
}

impl Operator for Ticking<'_> {
    fn dim(&self) -> usize {
        self.op.dim()
    }
    fn apply(&mut self, v: &[f64]) -> Vec<f64> {
        let out = self.op.apply(v);
        self.progress.tick();
        out
    }
}

/// The density figure: log density axis, floored 8 decades below the peak
/// so the empty stretches between eigenvalue clusters do not squash it.
pub fn density_figure(d: &Density, title: &str, size: (u32, u32)) -> RgbImage {
    let peak = d.density.iter().copied().fold(0.0, f64::max);
    let floor = peak * 1e-8;
    let y: Vec<f64> = d.density.iter().map(|&v| v.max(floor)).collect();
    let opts = FigureOptions::new(title, "eigenvalue", "density (log scale)").with_size(size.0, size.1);
    render::density_plot(&opts, &d.grid, &y, true)
}

/// Runs a spectrum request into `req.out` (see the module docs).
pub fn run(req: &SpectrumRequest, progress: &dyn Progress) -> Result<SpectrumOutcome> {
    req.validate()?;
    let mut p = Probe::load(&req.probe)?;
    let state = p.state.clone();
    let plane = match &req.curvature_map {
        Some(c) => Some(DirectionsFile::load(&c.directions, &state, true)?),
        None => None,
    };
    let _lock = out_dir::open(&req.out, false, req.force)?;
    let out = &req.out;
    let seed = req.seed;
    let started = Instant::now();
    let mut plan = p.describe();
    let model_name = req.probe.eval.model.clone();
    let examples = p.set.len();
    let batch = req.probe.eval.batch_size;
    let mut op = ModelHessian::on(&mut *p.model, &p.set, batch)?;
    let dim = op.dim();
    if req.top_k > dim {
        return Err(LandscapeError::config("top_k", format!("{}: the model has only {dim} parameters", req.top_k)));
    }
    let steps = match req.method {
        Eigensolver::Lanczos => req.steps.unwrap_or((3 * req.top_k).max(20)).max(req.top_k).min(dim),
        Eigensolver::Power => req.steps.unwrap_or(100),
    };
    let top_products = match req.method {
        Eigensolver::Lanczos => steps,
        Eigensolver::Power => steps * req.top_k,
    };
    let total = top_products
        + if req.min { steps.min(dim) } else { 0 }
        + req.trace_samples.unwrap_or(0)
        + req.density.map_or(0, |d| d.runs * d.steps.min(dim));
    progress.start(total, "Hessian-vector products");
    let mut timings = Map::new();
    let mut result = Map::new();
    plan["seed"] = json!(seed);
    plan["method"] = json!(format!("{:?}", req.method).to_lowercase());
    plan["steps"] = json!(steps);
    result.insert("plan".into(), plan);

    let mut tk = Ticking { op: &mut op, progress };
    progress.phase("top eigenvalues");
    let t0 = Instant::now();
    let (mut top, mut vecs) = match req.method {
        Eigensolver::Lanczos => hessian::top_eigen_lanczos(&mut tk, req.top_k, steps, seed),
        Eigensolver::Power => hessian::top_eigen_power(&mut tk, req.top_k, steps, req.tol, seed),
    };
    if req.method == Eigensolver::Power {
        // Power iteration finds them by magnitude; report them in descending algebraic order.
        let mut pairs: Vec<(f64, Vec<f64>)> = top.into_iter().zip(vecs).collect();
        pairs.sort_by(|x, y| y.0.total_cmp(&x.0));
        (top, vecs) = pairs.into_iter().unzip();
    }
    vecs.iter_mut().for_each(|v| canonical_sign(v));
    timings.insert("top_eigenvalues".into(), json!(t0.elapsed().as_secs_f64()));
    result.insert("top_eigenvalues".into(), json!(top));

    let mut smallest = None;
    if req.min {
        progress.phase("smallest eigenvalue");
        let t0 = Instant::now();
        let lmin = hessian::smallest_eigenvalue_shifted(&mut tk, top[0], steps.min(dim), seed.wrapping_add(1));
        timings.insert("smallest_eigenvalue".into(), json!(t0.elapsed().as_secs_f64()));
        result.insert("smallest_eigenvalue".into(), json!(lmin));
        result.insert("abs_ratio_min_max".into(), json!((lmin / top[0]).abs()));
        smallest = Some(lmin);
    }
    let mut trace = None;
    if let Some(samples) = req.trace_samples {
        progress.phase("trace");
        let t0 = Instant::now();
        let t = hessian::hutchinson_trace(&mut tk, samples, seed.wrapping_add(2));
        timings.insert("trace".into(), json!(t0.elapsed().as_secs_f64()));
        result.insert("trace".into(), json!(t.trace));
        result.insert("trace_stderr".into(), json!(t.stderr));
        result.insert("trace_samples".into(), json!(t.samples));
        trace = Some(t);
    }
    let mut written = Vec::new();
    if let Some(dc) = req.density {
        progress.phase("spectral density");
        let t0 = Instant::now();
        let nodes = hessian::slq_nodes(&mut tk, dc.runs, dc.steps, seed.wrapping_add(3));
        let (lo, hi) = nodes.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), n| (l.min(n.0), h.max(n.0)));
        let sigma = dc.sigma.unwrap_or_else(|| (0.01 * (hi - lo)).max(1e-6 * hi.abs().max(lo.abs())).max(1e-12));
        let d = Density::from_nodes(nodes, sigma, 1000);
        timings.insert("density".into(), json!(t0.elapsed().as_secs_f64()));
        let mut csv = String::from("eigenvalue,density\n");
        for (x, y) in d.grid.iter().zip(&d.density) {
            csv.push_str(&format!("{x},{y}\n"));
        }
        let csv_path = out.join("density.csv");
        write_atomic(&csv_path, csv.as_bytes())?;
        let mut nodes_csv = String::from("run,eigenvalue,weight\n");
        let per_run = d.nodes.len() / dc.runs.max(1);
        for (i, (t, w)) in d.nodes.iter().enumerate() {
            nodes_csv.push_str(&format!("{},{t},{w}\n", i / per_run.max(1)));
        }
        let nodes_path = out.join("density_nodes.csv");
        write_atomic(&nodes_path, nodes_csv.as_bytes())?;
        let png = out.join("density.png");
        let title = format!("{model_name}: Hessian eigenvalue density ({examples} examples)");
        save_png(&density_figure(&d, &title, req.size), &png)?;
        result.insert(
            "density".into(),
            json!({"runs": dc.runs, "steps": dc.steps, "sigma": sigma, "points": d.grid.len(),
                   "csv": "density.csv", "nodes_csv": "density_nodes.csv", "figure": "density.png"}),
        );
        written.extend([csv_path, nodes_path, png]);
    }
    progress.finish();
    let mut products = op.products;
    drop(op);
    let dirs_path = out.join("hessian-directions.safetensors");
    let eigen = DirectionsFile {
        x: Direction::from_flat_parameters(&vecs[0], &state),
        y: vecs.get(1).map(|v| Direction::from_flat_parameters(v, &state)),
    };
    eigen.save(&dirs_path)?;
    written.push(dirs_path);

    if let (Some(plane), Some(c)) = (&plane, &req.curvature_map) {
        let cfg = CurvatureMapConfig { x: c.x, y: c.y, steps: req.steps.unwrap_or(20).min(dim), seed };
        progress.start(c.x.num * c.y.num, "points");
        progress.phase("curvature map");
        let t0 = Instant::now();
        let map = curvature_map(&mut p, plane, &cfg, progress)?;
        progress.finish();
        products += map.products;
        timings.insert("curvature_map".into(), json!(t0.elapsed().as_secs_f64()));
        let csv = out.join("curvature.csv");
        write_atomic(&csv, map.csv().as_bytes())?;
        let png = out.join("curvature.png");
        save_png(&map.figure(&format!("{model_name}: curvature over the plane"), req.size), &png)?;
        result.insert(
            "curvature_map".into(),
            json!({"directions": c.directions.display().to_string(), "x": c.x.to_string(), "y": c.y.to_string(),
                   "steps": cfg.steps, "csv": "curvature.csv", "figure": "curvature.png"}),
        );
        written.extend([csv, png]);
    }

    let loss = p.evaluate().loss();
    result.insert("loss".into(), json!(loss));
    result.insert("hvp_count".into(), json!(products));
    let seconds = started.elapsed().as_secs_f64();
    result.insert("seconds".into(), json!(seconds));
    result.insert("seconds_per_hvp".into(), json!(if products > 0 { seconds / products as f64 } else { f64::NAN }));
    result.insert("timings".into(), Value::Object(timings));
    let report = out.join("hessian.json");
    write_json(&report, &Value::Object(result))?;
    Ok(SpectrumOutcome { top, smallest, trace, products, seconds, report, written })
}
