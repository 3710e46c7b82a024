//! `llv sharpness`: ε-sharpness, random-perturbation sharpness and local
//! entropy of a checkpoint ([`landscape::sharpness_report::run`]).

use super::args::{ModelDataArgs, ProbeArgs};
use super::output::print;
use super::progress::Bars;
use super::CliError;
use clap::{Args, ValueEnum};
use landscape::sharpness::{EntropyConfig, EpsConfig};
use landscape::sharpness_report::{self, RandomConfig, SharpnessMetric, SharpnessRequest};

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
    pub data: ModelDataArgs,
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

impl SharpnessArgs {
    /// The library request these flags describe.
    fn request(&self) -> SharpnessRequest {
        let seed = self.probe.seed;
        let mut metrics = self.metric.clone();
        metrics.dedup();
        let metrics = metrics
            .into_iter()
            .map(|m| match m {
                Metric::Eps => SharpnessMetric::Eps(EpsConfig {
                    epsilon: self.epsilon,
                    steps: self.steps,
                    step_size: self.step_size,
                    restarts: self.restarts,
                    seed,
                }),
                Metric::Random => SharpnessMetric::Random(RandomConfig { radius: self.radius, samples: self.samples, seed }),
                Metric::Entropy => SharpnessMetric::Entropy(EntropyConfig {
                    gamma: self.gamma,
                    lr: self.langevin_lr,
                    noise: self.noise,
                    steps: self.langevin_steps,
                    burn_in: self.burn_in.unwrap_or(self.langevin_steps / 2),
                    seed,
                }),
            })
            .collect();
        SharpnessRequest { probe: self.probe.config(&self.data), seed, metrics, force: self.probe.force, out: self.probe.out.clone() }
    }
}

/// Runs `llv sharpness`.
pub fn run(a: SharpnessArgs) -> Result<(), CliError> {
    let r = sharpness_report::run(&a.request(), &Bars::new(a.probe.quiet))?;
    let mut text: String = r.summary.iter().map(|l| format!("{l}\n")).collect();
    text += &format!("wrote {}\n", r.report.display());
    print(&text);
    Ok(())
}
