//! Sharpness of a checkpoint on a fixed data subset (`llv sharpness`):
//! any of ε-sharpness, random-perturbation loss increase and the
//! local-entropy estimate ([`crate::sharpness`]), written to
//! `out/sharpness.json`.

use crate::direction::{Direction, DirectionOptions};
use crate::error::{at_least, positive, LandscapeError, Result};
use crate::export::write_json;
use crate::model_data::{Probe, ProbeConfig};
use crate::out_dir;
use crate::progress::Progress;
use crate::sharpness::{self, EntropyConfig, EpsConfig, LossFunction, ModelLoss};
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::time::Instant;

/// Settings of the random-perturbation metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomConfig {
    /// Radius r (directions are filter-normalized, so r is relative to the weights).
    pub radius: f64,
    /// Number of directions (seeds `seed, seed + 1, …`).
    pub samples: usize,
    /// Seed of the first direction.
    pub seed: u64,
}

/// One sharpness metric with its settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SharpnessMetric {
    /// ε-sharpness (Keskar et al. 2017).
    Eps(EpsConfig),
    /// Loss increase over random filter-normalized directions.
    Random(RandomConfig),
    /// Local entropy (Entropy-SGD's SGLD estimate).
    Entropy(EntropyConfig),
}

/// What to measure about a checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct SharpnessRequest {
    /// Checkpoint, data subset, batch size.
    pub probe: ProbeConfig,
    /// Seed recorded in the report (the metrics carry their own).
    pub seed: u64,
    /// The metrics, computed in this order.
    pub metrics: Vec<SharpnessMetric>,
    /// Replace a non-empty `out`.
    pub force: bool,
    /// Output folder.
    pub out: PathBuf,
}

/// What a sharpness run measured.
#[derive(Clone, Debug)]
pub struct SharpnessOutcome {
    /// One line per metric, for people.
    pub summary: Vec<String>,
    /// `sharpness.json`.
    pub report: PathBuf,
}

impl SharpnessMetric {
    /// Checks the settings; errors name the field.
    pub fn validate(&self) -> Result<()> {
        match self {
            SharpnessMetric::Eps(c) => {
                positive("epsilon", c.epsilon)?;
                positive("step_size", c.step_size)?;
                at_least("steps", c.steps, 1)?;
                at_least("restarts", c.restarts, 1)?;
            }
            SharpnessMetric::Random(c) => {
                positive("radius", c.radius)?;
                at_least("samples", c.samples, 1)?;
            }
            SharpnessMetric::Entropy(c) => {
                positive("gamma", c.gamma)?;
                positive("langevin_lr", c.lr)?;
                if !(c.noise.is_finite() && c.noise >= 0.0) {
                    return Err(LandscapeError::config("noise", format!("{}: must be a number >= 0", c.noise)));
                }
                at_least("langevin_steps", c.steps, 1)?;
                if c.burn_in >= c.steps {
                    return Err(LandscapeError::config(
                        "burn_in",
                        format!("{} must be smaller than the {} Langevin steps", c.burn_in, c.steps),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Loss evaluations (value or gradient) the metric makes.
    pub fn evaluations(&self) -> usize {
        match self {
            SharpnessMetric::Eps(c) => 1 + c.restarts * (c.steps + 1),
            SharpnessMetric::Random(c) => 1 + c.samples,
            SharpnessMetric::Entropy(c) => 1 + c.steps + (c.steps - c.burn_in),
        }
    }
}

/// A loss function that ticks `progress` at every evaluation.
struct Ticking<'a, 'b> {
    f: &'a mut ModelLoss<'b>,
    progress: &'a dyn Progress,
}

impl LossFunction for Ticking<'_, '_> {
    fn dim(&self) -> usize {
        self.f.dim()
    }
    fn loss(&mut self, w: &[f64]) -> f64 {
        let l = self.f.loss(w);
        self.progress.tick();
        l
    }
    fn loss_grad(&mut self, w: &[f64]) -> (f64, Vec<f64>) {
        let r = self.f.loss_grad(w);
        self.progress.tick();
        r
    }
}

/// Runs a sharpness request into `req.out`.
pub fn run(req: &SharpnessRequest, progress: &dyn Progress) -> Result<SharpnessOutcome> {
    for m in &req.metrics {
        m.validate()?;
    }
    let mut p = Probe::load(&req.probe)?;
    let _lock = out_dir::open(&req.out, false, req.force)?;
    let started = Instant::now();
    let state = p.state.clone();
    let mut plan = p.describe();
    plan["seed"] = json!(req.seed);
    let mut f = ModelLoss::on(&mut *p.model, &p.set, req.probe.eval.batch_size)?;
    let w = f.point();
    progress.start(req.metrics.iter().map(SharpnessMetric::evaluations).sum(), "loss evaluations");
    let mut result = Map::new();
    result.insert("plan".into(), plan);
    let mut summary = Vec::new();
    let mut base = f64::NAN;
    for m in &req.metrics {
        let mut tf = Ticking { f: &mut f, progress };
        let t0 = Instant::now();
        match m {
            SharpnessMetric::Eps(cfg) => {
                progress.phase("ε-sharpness");
                let r = sharpness::eps_sharpness(&mut tf, &w, cfg);
                base = r.loss;
                summary.push(format!("ε-sharpness (ε = {}): {:.6} (loss {:.6} → {:.6})", cfg.epsilon, r.sharpness, r.loss, r.max_loss));
                result.insert(
                    "eps".into(),
                    json!({"epsilon": cfg.epsilon, "steps": cfg.steps, "step_size": cfg.step_size, "restarts": cfg.restarts,
                           "sharpness": r.sharpness, "loss": r.loss, "max_loss": r.max_loss,
                           "box_fraction": r.box_fraction, "at_bound": r.at_bound,
                           "seconds": t0.elapsed().as_secs_f64()}),
                );
            }
            SharpnessMetric::Random(cfg) => {
                progress.phase("random perturbations");
                let dirs = (0..cfg.samples)
                    .map(|i| {
                        Direction::random(&state, DirectionOptions::default(), cfg.seed.wrapping_add(i as u64))
                            .map(|d| sharpness::flat_parameters(&d, &state))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let r = sharpness::random_perturbation(&mut tf, &w, &dirs, cfg.radius);
                base = r.loss;
                summary.push(format!("random (r = {}): mean increase {:.6} ± {:.6} (std {:.6})", cfg.radius, r.mean, r.stderr, r.std));
                result.insert(
                    "random".into(),
                    json!({"radius": cfg.radius, "samples": cfg.samples, "normalization": "filter, biases and batch norm fixed",
                           "loss": r.loss, "mean": r.mean, "std": r.std, "stderr": r.stderr, "max": r.max,
                           "increases": r.increases, "seconds": t0.elapsed().as_secs_f64()}),
                );
            }
            SharpnessMetric::Entropy(cfg) => {
                progress.phase("local entropy (SGLD)");
                let r = sharpness::local_entropy(&mut tf, &w, cfg);
                base = r.loss;
                summary.push(format!(
                    "local entropy (γ = {}): mean loss {:.6} ({:+.6}), ‖x − μ‖ {:.6}, γ‖x − μ‖ {:.6}",
                    cfg.gamma, r.mean_loss, r.loss_change, r.distance, r.gradient_norm
                ));
                result.insert(
                    "entropy".into(),
                    json!({"gamma": cfg.gamma, "langevin_lr": cfg.lr, "noise": cfg.noise, "steps": cfg.steps,
                           "burn_in": cfg.burn_in, "samples": r.samples, "loss": r.loss, "mean_loss": r.mean_loss,
                           "loss_std": r.loss_std, "loss_change": r.loss_change, "distance": r.distance,
                           "gradient_norm": r.gradient_norm, "seconds": t0.elapsed().as_secs_f64()}),
                );
            }
        }
    }
    progress.finish();
    result.insert("loss".into(), json!(base));
    result.insert("loss_evaluations".into(), json!(f.evaluations));
    result.insert("gradient_evaluations".into(), json!(f.gradients));
    result.insert("seconds".into(), json!(started.elapsed().as_secs_f64()));
    drop(f);
    let report = req.out.join("sharpness.json");
    write_json(&report, &Value::Object(result))?;
    Ok(SharpnessOutcome { summary, report })
}
