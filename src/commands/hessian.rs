//! `llv hessian` (Hessian spectrum: top eigenvalues, smallest eigenvalue,
//! trace, spectral density, curvature map) and `llv sharpness` (ε-sharpness,
//! random-perturbation sharpness, local entropy) of a checkpoint on a fixed
//! data subset, with the model in eval mode.

use super::eval::Split;
use super::{check_model_fits, figures, load_classification, out_dir, unknown_model, write_atomic, CliError};
use clap::{Args, ValueEnum};
use datasets::ClassificationSet;
use indicatif::{ProgressBar, ProgressStyle};
use landscape::hessian::{self, Density, ModelHessian, Operator};
use landscape::render::{self, FigureOptions, Grid2};
use landscape::sharpness::{self, EntropyConfig, EpsConfig, LossFunction, ModelLoss};
use landscape::{Direction, DirectionOptions, Range};
use nn::{checkpoint, zoo, Kind, Module, ModuleExt, Named};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The checkpoint, data subset and output shared by both commands.
#[derive(Args, Debug, Clone)]
pub struct ProbeArgs {
    /// Zoo model the checkpoint belongs to (see `llv models`).
    #[arg(long)]
    pub model: String,
    /// Checkpoint: a safetensors file with the model's PyTorch names.
    #[arg(long)]
    pub weights: PathBuf,
    /// Data set (see `llv data --help`).
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Which split the fixed subset comes from.
    #[arg(long, value_enum, default_value = "train")]
    pub split: Split,
    /// The subset: the first N examples of the split.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub limit: usize,
    /// Examples per forward/backward pass (memory vs. speed; the loss is the batch-size-weighted mean either way).
    #[arg(long, value_name = "B", default_value_t = 500)]
    pub batch_size: usize,
    /// Seed of the random vectors and directions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Overwrite a non-empty --out.
    #[arg(long)]
    pub force: bool,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// Eigensolver of `llv hessian`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Lanczos with full reorthogonalization (k largest, algebraic).
    Lanczos,
    /// Power iteration with deflation (k largest in magnitude; the simple reference).
    Power,
}

/// Arguments of `llv hessian`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  llv hessian --model lenet --weights runs/lenet/final.safetensors --top-k 5 --trace --out hess
  llv hessian --model lenet --weights final.safetensors --limit 1000 --density --min --out hess
  llv hessian --model lenet --weights final.safetensors --limit 200 --curvature-map \\
      --directions surf/directions.safetensors --x -1:1:11 --y -1:1:11 --out curv

Writes OUT/hessian.json: top_eigenvalues (descending), smallest_eigenvalue (--min),
trace, trace_stderr, trace_samples (--trace), loss, hvp_count, seconds and the plan;
OUT/hessian-directions.safetensors: the top one or two eigenvectors as a directions
file for `llv surface --directions`; with --density also density.csv, density_nodes.csv
and density.png; with --curvature-map curvature.csv and curvature.png.
The Hessian is that of the mean cross-entropy over the first --limit examples of
--split, with the model in eval mode (batch norm uses its running statistics).")]
pub struct HessianArgs {
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Number of largest eigenvalues (and eigenvectors).
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub top_k: usize,
    /// Eigensolver for the top eigenvalues.
    #[arg(long, value_enum, default_value = "lanczos")]
    pub method: Method,
    /// Lanczos iterations (default max(3K, 20)), or the most power iterations per eigenvalue (default 100).
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,
    /// Relative change of the Rayleigh quotient that stops power iteration.
    #[arg(long, default_value_t = 1e-4)]
    pub tol: f64,
    /// Also the smallest (most negative) eigenvalue, by Lanczos on λmax·I − H.
    #[arg(long)]
    pub min: bool,
    /// Also the trace, by Hutchinson's estimator with Rademacher vectors.
    #[arg(long)]
    pub trace: bool,
    /// Number of Rademacher vectors for --trace.
    #[arg(long, value_name = "S", default_value_t = 100)]
    pub trace_samples: usize,
    /// Also the eigenvalue density by stochastic Lanczos quadrature (density.csv, density.png).
    #[arg(long)]
    pub density: bool,
    /// Random starts of the density.
    #[arg(long, value_name = "R", default_value_t = 4)]
    pub density_runs: usize,
    /// Lanczos steps per start of the density.
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub density_steps: usize,
    /// Gaussian width of the density (default: 1% of the spectrum's span).
    #[arg(long)]
    pub density_sigma: Option<f64>,
    /// Also |λmin/λmax| at every point of the plane of --directions (Li et al., Fig. 7).
    #[arg(long)]
    pub curvature_map: bool,
    /// Directions file of the plane (directions.safetensors of `llv surface`).
    #[arg(long)]
    pub directions: Option<PathBuf>,
    /// x grid START:END:NUM of the curvature map.
    #[arg(long, default_value = "-1:1:11", allow_hyphen_values = true)]
    pub x: String,
    /// y grid START:END:NUM of the curvature map.
    #[arg(long, default_value = "-1:1:11", allow_hyphen_values = true)]
    pub y: String,
    /// Figure size WxH.
    #[arg(long, default_value = "800x600")]
    pub size: String,
}

/// Which sharpness metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Metric {
    /// ε-sharpness (Keskar et al. 2017) by projected sign-gradient ascent in the box |δᵢ| ≤ ε(|wᵢ| + 1).
    Eps,
    /// Loss increase over random filter-normalized directions of a given radius.
    Random,
    /// Local-entropy estimate of Entropy-SGD (SGLD around the weights).
    Entropy,
}

/// Arguments of `llv sharpness`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  llv sharpness --model lenet --weights runs/lenet/final.safetensors --metric eps --out sharp
  llv sharpness --model lenet --weights final.safetensors --metric eps,random,entropy --limit 500 --out sharp
  llv sharpness --model lenet --weights final.safetensors --metric random --radius 0.5 --samples 20 --out sharp

Writes OUT/sharpness.json with the loss at the weights and, per metric:
  eps:     sharpness = 100·(max_loss − loss)/(1 + loss), max_loss over the box
           |δᵢ| ≤ ε(|wᵢ| + 1), found by --steps of projected sign-gradient ascent
  random:  mean, std, stderr and max of L(w + r·d) − L(w) over --samples
           filter-normalized directions d (biases and BN fixed), r = --radius
  entropy: SGLD x′ ← x′ − η′(∇f(x′) − γ(x − x′)) + √η′·ε·N(0, I) from x′ = x;
           mean_loss = mean f(x′) after --burn-in, distance = ‖x − μ‖ (μ the mean x′),
           gradient_norm = γ‖x − μ‖ (the local-entropy gradient)
See the docs of landscape::sharpness for the exact definitions.")]
pub struct SharpnessArgs {
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Metrics to compute, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "eps")]
    pub metric: Vec<Metric>,
    /// ε: relative box size of the eps metric.
    #[arg(long, default_value_t = 1e-3)]
    pub epsilon: f64,
    /// Ascent steps of the eps metric.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub steps: usize,
    /// First ascent step, as a fraction of the box half-width (decays linearly to 0).
    #[arg(long, default_value_t = 0.5)]
    pub step_size: f64,
    /// Searches of the eps metric (the first from the weights, the others from random points of the box).
    #[arg(long, default_value_t = 1)]
    pub restarts: usize,
    /// Radius r of the random metric (directions are filter-normalized, so r is relative to the weights).
    #[arg(long, default_value_t = 0.1)]
    pub radius: f64,
    /// Number of random directions.
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub samples: usize,
    /// Scope γ of the entropy metric.
    #[arg(long, default_value_t = 0.03)]
    pub gamma: f64,
    /// Langevin step size η′ of the entropy metric.
    #[arg(long, default_value_t = 0.1)]
    pub langevin_lr: f64,
    /// Thermal noise ε of the entropy metric (each step adds √η′·ε·N(0, I)).
    #[arg(long, default_value_t = 1e-4)]
    pub noise: f64,
    /// Langevin steps of the entropy metric.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub langevin_steps: usize,
    /// Langevin steps discarded before averaging (default: half of --langevin-steps).
    #[arg(long, value_name = "N")]
    pub burn_in: Option<usize>,
}

/// A model loaded from a checkpoint, with its fixed data subset.
struct Probe {
    model: Box<dyn Module>,
    state: Vec<Named>,
    set: ClassificationSet,
    plan: Value,
}

fn load(a: &ProbeArgs) -> Result<Probe, CliError> {
    if a.batch_size == 0 {
        return Err(CliError::new("--batch-size must be at least 1"));
    }
    if a.limit == 0 {
        return Err(CliError::new("--limit must be at least 1"));
    }
    if zoo::input_kind(&a.model).is_none() {
        return Err(unknown_model(&a.model));
    }
    if !a.weights.is_file() {
        return Err(CliError::new(format!("--weights {}: no such file", a.weights.display())));
    }
    let (data, cfg) = load_classification(&a.data)?;
    check_model_fits(&a.model, &data, &a.data)?;
    let mut model = zoo::build(&a.model, &cfg, 0).map_err(|e| CliError::new(format!("--model: {e}")))?;
    checkpoint::load(&mut *model, &a.weights).map_err(|e| CliError::new(format!("--weights: {e}")))?;
    model.set_training(false);
    let (split, name) = match a.split {
        Split::Train => (&data.train, "train"),
        Split::Test => (&data.test, "test"),
    };
    let set = split.first(a.limit);
    if set.is_empty() {
        return Err(CliError::new(format!("--data {}: the {name} split is empty", a.data)));
    }
    let state = nn::ModuleExt::state(&mut *model);
    let parameters: usize = state.iter().filter(|n| n.kind == Kind::Parameter).map(|n| n.tensor.numel()).sum();
    let plan = json!({
        "model": a.model, "weights": a.weights.display().to_string(), "weights_fingerprint": figures::fingerprint(&state),
        "data": a.data, "split": name, "limit": a.limit, "examples": set.len(), "batch_size": a.batch_size,
        "seed": a.seed, "parameters": parameters,
    });
    Ok(Probe { model, state, set, plan })
}

fn bar(quiet: bool, total: usize, unit: &str) -> Option<ProgressBar> {
    (!quiet && total > 0).then(|| {
        let b = ProgressBar::new(total as u64);
        b.set_style(
            ProgressStyle::with_template(&format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit}, ETA {{eta}}"))
                .expect("template")
                .progress_chars("=> "),
        );
        b
    })
}

/// An operator that ticks a progress bar at every product.
struct Ticking<'a, 'b> {
    op: &'a mut ModelHessian<'b>,
    bar: Option<&'a ProgressBar>,
}

impl Operator for Ticking<'_, '_> {
    fn dim(&self) -> usize {
        self.op.dim()
    }
    fn apply(&mut self, v: &[f64]) -> Vec<f64> {
        let out = self.op.apply(v);
        if let Some(b) = self.bar {
            b.inc(1);
        }
        out
    }
}

/// A loss function that ticks a progress bar at every evaluation.
struct TickingLoss<'a, 'b> {
    f: &'a mut ModelLoss<'b>,
    bar: Option<&'a ProgressBar>,
}

impl TickingLoss<'_, '_> {
    fn tick(&self) {
        if let Some(b) = self.bar {
            b.inc(1);
        }
    }
}

impl LossFunction for TickingLoss<'_, '_> {
    fn dim(&self) -> usize {
        self.f.dim()
    }
    fn loss(&mut self, w: &[f64]) -> f64 {
        let l = self.f.loss(w);
        self.tick();
        l
    }
    fn loss_grad(&mut self, w: &[f64]) -> (f64, Vec<f64>) {
        let r = self.f.loss_grad(w);
        self.tick();
        r
    }
}

fn set_msg(bar: Option<&ProgressBar>, msg: &str) {
    if let Some(b) = bar {
        b.set_message(msg.to_string());
    }
}

/// A flat parameter vector as a direction over `state` (zero on buffers and counters).
pub(crate) fn to_direction(v: &[f64], state: &[Named]) -> Direction {
    let mut d = Direction::zeros(state);
    let mut at = 0;
    for (n, t) in state.iter().zip(d.tensors.iter_mut()) {
        if n.kind == Kind::Parameter {
            let len = n.tensor.numel();
            *t = autodiff::Tensor::from_vec(v[at..at + len].iter().map(|&x| x as f32).collect(), n.tensor.shape());
            at += len;
        }
    }
    d
}

/// Fixes an eigenvector's sign: its largest-magnitude entry positive.
pub(crate) fn canonical_sign(v: &mut [f64]) {
    let big = v.iter().copied().fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
    if big < 0.0 {
        v.iter_mut().for_each(|x| *x = -*x);
    }
}

fn save_png(img: &render::RgbImage, path: &Path) -> Result<(), CliError> {
    render::save_png(img, path).map_err(|e| CliError::new(format!("{}: {e}", path.display())))
}

fn write_json(path: &Path, v: &Value) -> Result<(), CliError> {
    let mut text = serde_json::to_string_pretty(v).expect("JSON");
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

fn parse_range(flag: &str, s: &str) -> Result<Range, CliError> {
    s.parse::<Range>().map_err(|e| CliError::new(if e.starts_with("--") { e } else { format!("{flag}: {e}") }))
}

/// The density figure: log density axis, floored 8 decades below the peak
/// so the empty stretches between eigenvalue clusters do not squash it.
fn density_figure(d: &Density, title: &str, size: (u32, u32)) -> render::RgbImage {
    let peak = d.density.iter().copied().fold(0.0, f64::max);
    let floor = peak * 1e-8;
    let y: Vec<f64> = d.density.iter().map(|&v| v.max(floor)).collect();
    let opts = FigureOptions::new(title, "eigenvalue", "density (log scale)").with_size(size.0, size.1);
    render::density_plot(&opts, &d.grid, &y, true)
}

/// Runs `llv hessian`.
pub fn run_hessian(a: HessianArgs) -> Result<(), CliError> {
    if a.top_k == 0 {
        return Err(CliError::new("--top-k must be at least 1"));
    }
    if a.steps == Some(0) {
        return Err(CliError::new("--steps must be at least 1"));
    }
    if a.trace && a.trace_samples < 2 {
        return Err(CliError::new("--trace-samples must be at least 2 (the standard error needs two)"));
    }
    if a.density && (a.density_runs == 0 || a.density_steps < 2) {
        return Err(CliError::new("--density-runs must be at least 1 and --density-steps at least 2"));
    }
    if let Some(s) = a.density_sigma {
        if !(s.is_finite() && s > 0.0) {
            return Err(CliError::new(format!("--density-sigma {s}: must be a positive number")));
        }
    }
    if !(a.tol.is_finite() && a.tol > 0.0) {
        return Err(CliError::new(format!("--tol {}: must be a positive number", a.tol)));
    }
    let size = figures::parse_size(&a.size)?;
    let grid = if a.curvature_map {
        let dirs =
            a.directions.as_ref().ok_or_else(|| CliError::new("--curvature-map needs --directions (a directions.safetensors file)"))?;
        Some((dirs.clone(), parse_range("--x", &a.x)?, parse_range("--y", &a.y)?))
    } else {
        if a.directions.is_some() {
            return Err(CliError::new("--directions is only used with --curvature-map"));
        }
        None
    };
    let mut p = load(&a.probe)?;
    let state = p.state.clone();
    let planes = match &grid {
        Some((path, x, y)) => Some((figures::load_directions(path, &state, true)?, *x, *y)),
        None => None,
    };
    out_dir::prepare(&a.probe.out, a.probe.force)?;

    let started = Instant::now();
    let mut op = ModelHessian::new(&mut *p.model, &p.set, a.probe.batch_size).map_err(|e| CliError::new(e.to_string()))?;
    let dim = op.dim();
    if a.top_k > dim {
        return Err(CliError::new(format!("--top-k {}: the model has only {dim} parameters", a.top_k)));
    }
    let steps = match a.method {
        Method::Lanczos => a.steps.unwrap_or((3 * a.top_k).max(20)).max(a.top_k).min(dim),
        Method::Power => a.steps.unwrap_or(100),
    };
    let top_products = match a.method {
        Method::Lanczos => steps,
        Method::Power => steps * a.top_k,
    };
    let total = top_products
        + if a.min { steps.min(dim) } else { 0 }
        + if a.trace { a.trace_samples } else { 0 }
        + if a.density { a.density_runs * a.density_steps.min(dim) } else { 0 };
    let pb = bar(a.probe.quiet, total, "Hessian-vector products");
    let mut timings = serde_json::Map::new();
    let mut result = serde_json::Map::new();
    result.insert("plan".into(), {
        let mut plan = p.plan.clone();
        plan["method"] = json!(format!("{:?}", a.method).to_lowercase());
        plan["steps"] = json!(steps);
        plan
    });

    let mut tk = Ticking { op: &mut op, bar: pb.as_ref() };
    set_msg(pb.as_ref(), "top eigenvalues");
    let t0 = Instant::now();
    let (mut top, mut vecs) = match a.method {
        Method::Lanczos => hessian::top_eigen_lanczos(&mut tk, a.top_k, steps, a.probe.seed),
        Method::Power => hessian::top_eigen_power(&mut tk, a.top_k, steps, a.tol, a.probe.seed),
    };
    if a.method == Method::Power {
        // Power iteration finds them by magnitude; report them in descending algebraic order.
        let mut pairs: Vec<(f64, Vec<f64>)> = top.into_iter().zip(vecs).collect();
        pairs.sort_by(|x, y| y.0.total_cmp(&x.0));
        (top, vecs) = pairs.into_iter().unzip();
    }
    vecs.iter_mut().for_each(|v| canonical_sign(v));
    timings.insert("top_eigenvalues".into(), json!(t0.elapsed().as_secs_f64()));
    result.insert("top_eigenvalues".into(), json!(top));

    if a.min {
        set_msg(pb.as_ref(), "smallest eigenvalue");
        let t0 = Instant::now();
        let lmin = hessian::smallest_eigenvalue_shifted(&mut tk, top[0], steps.min(dim), a.probe.seed.wrapping_add(1));
        timings.insert("smallest_eigenvalue".into(), json!(t0.elapsed().as_secs_f64()));
        result.insert("smallest_eigenvalue".into(), json!(lmin));
        result.insert("abs_ratio_min_max".into(), json!((lmin / top[0]).abs()));
    }
    if a.trace {
        set_msg(pb.as_ref(), "trace");
        let t0 = Instant::now();
        let t = hessian::hutchinson_trace(&mut tk, a.trace_samples, a.probe.seed.wrapping_add(2));
        timings.insert("trace".into(), json!(t0.elapsed().as_secs_f64()));
        result.insert("trace".into(), json!(t.trace));
        result.insert("trace_stderr".into(), json!(t.stderr));
        result.insert("trace_samples".into(), json!(t.samples));
    }
    let mut written = Vec::new();
    if a.density {
        set_msg(pb.as_ref(), "spectral density");
        let t0 = Instant::now();
        let nodes = hessian::slq_nodes(&mut tk, a.density_runs, a.density_steps, a.probe.seed.wrapping_add(3));
        let (lo, hi) = nodes.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), n| (l.min(n.0), h.max(n.0)));
        let sigma = a.density_sigma.unwrap_or_else(|| (0.01 * (hi - lo)).max(1e-6 * hi.abs().max(lo.abs())).max(1e-12));
        let d = Density::from_nodes(nodes, sigma, 1000);
        timings.insert("density".into(), json!(t0.elapsed().as_secs_f64()));
        let mut csv = String::from("eigenvalue,density\n");
        for (x, y) in d.grid.iter().zip(&d.density) {
            csv.push_str(&format!("{x},{y}\n"));
        }
        let csv_path = a.probe.out.join("density.csv");
        write_atomic(&csv_path, csv.as_bytes())?;
        let mut nodes_csv = String::from("run,eigenvalue,weight\n");
        let per_run = d.nodes.len() / a.density_runs.max(1);
        for (i, (t, w)) in d.nodes.iter().enumerate() {
            nodes_csv.push_str(&format!("{},{t},{w}\n", i / per_run.max(1)));
        }
        let nodes_path = a.probe.out.join("density_nodes.csv");
        write_atomic(&nodes_path, nodes_csv.as_bytes())?;
        let png = a.probe.out.join("density.png");
        let title = format!("{}: Hessian eigenvalue density ({} examples)", a.probe.model, p.set.len());
        save_png(&density_figure(&d, &title, size), &png)?;
        result.insert(
            "density".into(),
            json!({"runs": a.density_runs, "steps": a.density_steps, "sigma": sigma, "points": d.grid.len(),
                   "csv": "density.csv", "nodes_csv": "density_nodes.csv", "figure": "density.png"}),
        );
        written.extend([csv_path, nodes_path, png]);
    }
    if let Some(b) = &pb {
        b.finish_and_clear();
    }
    let center_products = op.products;
    let dirs_path = a.probe.out.join("hessian-directions.safetensors");
    let dx = to_direction(&vecs[0], &state);
    let dy = vecs.get(1).map(|v| to_direction(v, &state));
    figures::save_directions(&dirs_path, &dx, dy.as_ref())?;
    written.push(dirs_path);
    drop(op);

    let mut products = center_products;
    if let Some(((dx, dy), xr, yr)) = planes {
        let dy = dy.expect("load_directions gives y for a plane");
        let (xs, ys) = (xr.values(), yr.values());
        let csteps = a.steps.unwrap_or(20).min(dim);
        let pb = bar(a.probe.quiet, xs.len() * ys.len(), "points");
        set_msg(pb.as_ref(), "curvature map");
        let t0 = Instant::now();
        let mut rows = String::from("x,y,loss,lambda_max,lambda_min,abs_ratio\n");
        let (mut loss_z, mut ratio_z) = (Vec::new(), Vec::new());
        for &y in &ys {
            for &x in &xs {
                let point = landscape::direction::point(&state, &[(&dx, x), (&dy, y)]);
                p.model.set_state(&point);
                let loss = nn::eval::evaluate(&mut *p.model, &p.set, a.probe.batch_size).loss;
                let mut op = ModelHessian::new(&mut *p.model, &p.set, a.probe.batch_size).map_err(|e| CliError::new(e.to_string()))?;
                let (lmax, _) = hessian::top_eigen_lanczos(&mut op, 1, csteps, a.probe.seed);
                let lmin = hessian::smallest_eigenvalue_shifted(&mut op, lmax[0], csteps, a.probe.seed.wrapping_add(1));
                products += op.products;
                let ratio = (lmin / lmax[0]).abs();
                rows.push_str(&format!("{x},{y},{loss},{},{lmin},{ratio}\n", lmax[0]));
                loss_z.push(loss);
                ratio_z.push(ratio);
                if let Some(b) = &pb {
                    b.inc(1);
                }
            }
        }
        if let Some(b) = &pb {
            b.finish_and_clear();
        }
        p.model.set_state(&state.iter().map(|n| n.tensor.clone()).collect::<Vec<_>>());
        timings.insert("curvature_map".into(), json!(t0.elapsed().as_secs_f64()));
        let csv = a.probe.out.join("curvature.csv");
        write_atomic(&csv, rows.as_bytes())?;
        // Each panel gets the full --size: the plots keep a square frame, so half-width panels would waste the height.
        let half = size;
        let lg = Grid2 { x: xs.clone(), y: ys.clone(), z: loss_z };
        let rg = Grid2 { x: xs.clone(), y: ys.clone(), z: ratio_z };
        let o = FigureOptions::new("loss", "x", "y").with_size(half.0, half.1).with_z_label("loss");
        let left = render::contour_plot(&o, &lg, None, true, None);
        let mut o = FigureOptions::new("|λmin / λmax|", "x", "y").with_size(half.0, half.1);
        o.z_scale = render::ZScale::Linear;
        let right = render::heatmap(&o, &rg, None, "|λmin / λmax|");
        let png = a.probe.out.join("curvature.png");
        save_png(&render::side_by_side(&[left, right], &format!("{}: curvature over the plane", a.probe.model)), &png)?;
        result.insert(
            "curvature_map".into(),
            json!({"directions": grid.as_ref().map(|g| g.0.display().to_string()), "x": a.x, "y": a.y, "steps": csteps,
                   "csv": "curvature.csv", "figure": "curvature.png"}),
        );
        written.extend([csv, png]);
    }

    let loss = nn::eval::evaluate(&mut *p.model, &p.set, a.probe.batch_size).loss;
    result.insert("loss".into(), json!(loss));
    result.insert("hvp_count".into(), json!(products));
    let seconds = started.elapsed().as_secs_f64();
    result.insert("seconds".into(), json!(seconds));
    result.insert("seconds_per_hvp".into(), json!(if products > 0 { seconds / products as f64 } else { f64::NAN }));
    result.insert("timings".into(), Value::Object(timings));
    let path = a.probe.out.join("hessian.json");
    write_json(&path, &Value::Object(result.clone()))?;

    let mut text = format!("top eigenvalues: {}\n", top.iter().map(|v| format!("{v:.6}")).collect::<Vec<_>>().join(", "));
    if let Some(v) = result.get("smallest_eigenvalue") {
        text += &format!("smallest eigenvalue: {:.6}\n", v.as_f64().unwrap_or(f64::NAN));
    }
    if let (Some(t), Some(s)) = (result.get("trace"), result.get("trace_stderr")) {
        text += &format!("trace: {:.4} ± {:.4}\n", t.as_f64().unwrap_or(f64::NAN), s.as_f64().unwrap_or(f64::NAN));
    }
    text += &format!("{products} Hessian-vector products in {seconds:.2} s\n");
    text += &format!("wrote {}{}\n", path.display(), figures::list(&written));
    super::print(&text);
    Ok(())
}

/// Runs `llv sharpness`.
pub fn run_sharpness(a: SharpnessArgs) -> Result<(), CliError> {
    let positive = |flag: &str, v: f64| -> Result<(), CliError> {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(CliError::new(format!("{flag} {v}: must be a positive number")))
        }
    };
    let mut metrics = a.metric.clone();
    metrics.dedup();
    if metrics.contains(&Metric::Eps) {
        positive("--epsilon", a.epsilon)?;
        positive("--step-size", a.step_size)?;
        if a.steps == 0 || a.restarts == 0 {
            return Err(CliError::new("--steps and --restarts must be at least 1"));
        }
    }
    if metrics.contains(&Metric::Random) {
        positive("--radius", a.radius)?;
        if a.samples == 0 {
            return Err(CliError::new("--samples must be at least 1"));
        }
    }
    let burn_in = a.burn_in.unwrap_or(a.langevin_steps / 2);
    if metrics.contains(&Metric::Entropy) {
        positive("--gamma", a.gamma)?;
        positive("--langevin-lr", a.langevin_lr)?;
        if !(a.noise.is_finite() && a.noise >= 0.0) {
            return Err(CliError::new(format!("--noise {}: must be a number >= 0", a.noise)));
        }
        if a.langevin_steps == 0 || burn_in >= a.langevin_steps {
            return Err(CliError::new(format!(
                "--burn-in {burn_in} must be smaller than --langevin-steps {} (which must be at least 1)",
                a.langevin_steps
            )));
        }
    }
    let mut p = load(&a.probe)?;
    out_dir::prepare(&a.probe.out, a.probe.force)?;
    let started = Instant::now();
    let state = p.state.clone();
    let mut f = ModelLoss::new(&mut *p.model, &p.set, a.probe.batch_size).map_err(|e| CliError::new(e.to_string()))?;
    let w = f.point();
    let total: usize = metrics
        .iter()
        .map(|m| match m {
            Metric::Eps => 1 + a.restarts * (a.steps + 1),
            Metric::Random => 1 + a.samples,
            Metric::Entropy => 1 + a.langevin_steps + (a.langevin_steps - burn_in),
        })
        .sum();
    let pb = bar(a.probe.quiet, total, "loss evaluations");
    let mut result = serde_json::Map::new();
    result.insert("plan".into(), p.plan.clone());
    let mut summary = String::new();
    let mut base = f64::NAN;
    for m in &metrics {
        let mut tf = TickingLoss { f: &mut f, bar: pb.as_ref() };
        let t0 = Instant::now();
        match m {
            Metric::Eps => {
                set_msg(pb.as_ref(), "ε-sharpness");
                let cfg =
                    EpsConfig { epsilon: a.epsilon, steps: a.steps, step_size: a.step_size, restarts: a.restarts, seed: a.probe.seed };
                let r = sharpness::eps_sharpness(&mut tf, &w, &cfg);
                base = r.loss;
                summary += &format!("ε-sharpness (ε = {}): {:.6} (loss {:.6} → {:.6})\n", a.epsilon, r.sharpness, r.loss, r.max_loss);
                result.insert(
                    "eps".into(),
                    json!({"epsilon": a.epsilon, "steps": a.steps, "step_size": a.step_size, "restarts": a.restarts,
                           "sharpness": r.sharpness, "loss": r.loss, "max_loss": r.max_loss,
                           "box_fraction": r.box_fraction, "at_bound": r.at_bound,
                           "seconds": t0.elapsed().as_secs_f64()}),
                );
            }
            Metric::Random => {
                set_msg(pb.as_ref(), "random perturbations");
                let dirs = (0..a.samples)
                    .map(|i| {
                        Direction::random(&state, DirectionOptions::default(), a.probe.seed.wrapping_add(i as u64))
                            .map(|d| sharpness::flat_parameters(&d, &state))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| CliError::new(e.to_string()))?;
                let r = sharpness::random_perturbation(&mut tf, &w, &dirs, a.radius);
                base = r.loss;
                summary += &format!("random (r = {}): mean increase {:.6} ± {:.6} (std {:.6})\n", a.radius, r.mean, r.stderr, r.std);
                result.insert(
                    "random".into(),
                    json!({"radius": a.radius, "samples": a.samples, "normalization": "filter, biases and batch norm fixed",
                           "loss": r.loss, "mean": r.mean, "std": r.std, "stderr": r.stderr, "max": r.max,
                           "increases": r.increases, "seconds": t0.elapsed().as_secs_f64()}),
                );
            }
            Metric::Entropy => {
                set_msg(pb.as_ref(), "local entropy (SGLD)");
                let cfg = EntropyConfig {
                    gamma: a.gamma,
                    lr: a.langevin_lr,
                    noise: a.noise,
                    steps: a.langevin_steps,
                    burn_in,
                    seed: a.probe.seed,
                };
                let r = sharpness::local_entropy(&mut tf, &w, &cfg);
                base = r.loss;
                summary += &format!(
                    "local entropy (γ = {}): mean loss {:.6} ({:+.6}), ‖x − μ‖ {:.6}, γ‖x − μ‖ {:.6}\n",
                    a.gamma, r.mean_loss, r.loss_change, r.distance, r.gradient_norm
                );
                result.insert(
                    "entropy".into(),
                    json!({"gamma": a.gamma, "langevin_lr": a.langevin_lr, "noise": a.noise, "steps": a.langevin_steps,
                           "burn_in": burn_in, "samples": r.samples, "loss": r.loss, "mean_loss": r.mean_loss,
                           "loss_std": r.loss_std, "loss_change": r.loss_change, "distance": r.distance,
                           "gradient_norm": r.gradient_norm, "seconds": t0.elapsed().as_secs_f64()}),
                );
            }
        }
    }
    if let Some(b) = &pb {
        b.finish_and_clear();
    }
    result.insert("loss".into(), json!(base));
    result.insert("loss_evaluations".into(), json!(f.evaluations));
    result.insert("gradient_evaluations".into(), json!(f.gradients));
    result.insert("seconds".into(), json!(started.elapsed().as_secs_f64()));
    drop(f);
    let path = a.probe.out.join("sharpness.json");
    write_json(&path, &Value::Object(result))?;
    summary += &format!("wrote {}\n", path.display());
    super::print(&summary);
    Ok(())
}
