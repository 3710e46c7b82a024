//! `llv hessian`: the Hessian spectrum of a checkpoint on a fixed data
//! subset ([`landscape::spectrum::run`]).

use super::args::{parse, parse_size, ModelDataArgs, ProbeArgs};
use super::output::{list, print};
use super::progress::Bars;
use super::CliError;
use clap::{Args, ValueEnum};
use landscape::spectrum::{self, CurvaturePlane, DensityConfig, Eigensolver, SpectrumRequest};
use std::path::PathBuf;

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
    pub data: ModelDataArgs,
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

impl HessianArgs {
    /// The library request these flags describe.
    fn request(&self) -> Result<SpectrumRequest, CliError> {
        let curvature_map = match (self.curvature_map, &self.directions) {
            (true, Some(d)) => Some(CurvaturePlane { directions: d.clone(), x: parse("--x", &self.x)?, y: parse("--y", &self.y)? }),
            (true, None) => return Err(CliError::new("--curvature-map needs --directions (a directions.safetensors file)")),
            (false, Some(_)) => return Err(CliError::new("--directions is only used with --curvature-map")),
            (false, None) => None,
        };
        Ok(SpectrumRequest {
            probe: self.probe.config(&self.data),
            seed: self.probe.seed,
            top_k: self.top_k,
            method: match self.method {
                Method::Lanczos => Eigensolver::Lanczos,
                Method::Power => Eigensolver::Power,
            },
            steps: self.steps,
            tol: self.tol,
            min: self.min,
            trace_samples: self.trace.then_some(self.trace_samples),
            density: self.density.then_some(DensityConfig {
                runs: self.density_runs,
                steps: self.density_steps,
                sigma: self.density_sigma,
            }),
            curvature_map,
            force: self.probe.force,
            size: parse_size(&self.size)?,
            out: self.probe.out.clone(),
        })
    }
}

/// Runs `llv hessian`.
pub fn run(a: HessianArgs) -> Result<(), CliError> {
    let r = spectrum::run(&a.request()?, &Bars::new(a.probe.quiet))?;
    let mut text = format!("top eigenvalues: {}\n", r.top.iter().map(|v| format!("{v:.6}")).collect::<Vec<_>>().join(", "));
    if let Some(v) = r.smallest {
        text += &format!("smallest eigenvalue: {v:.6}\n");
    }
    if let Some(t) = &r.trace {
        text += &format!("trace: {:.4} ± {:.4}\n", t.trace, t.stderr);
    }
    text += &format!("{} Hessian-vector products in {:.2} s\n", r.products, r.seconds);
    text += &format!("wrote {}{}\n", r.report.display(), list(&r.written));
    print(&text);
    Ok(())
}
