//! PAL, the Parabolic Approximation Line search of Mutschler & Zell
//! (2020), as in the authors' PyTorch implementation
//! (`cogsys-tuebingen/PAL`, `PyTorch/pal_optimizer.py`).
//!
//! Each step fits a parabola to the loss along one line and jumps towards
//! its minimum:
//!
//! ```text
//! (l0, g) ← loss_grad(θ)                        forward + backward (updates BN stats)
//! d ← β·d_prev + g                              direction (β = 0: the gradient)
//! u ← −d / ‖d‖                                  the line is θ + t·u, t a distance
//! b ← g·u = −(g·d) / ‖d‖                        slope at t = 0 (−‖g‖ when β = 0)
//! l_μ ← loss(θ + μ·u)                           forward only, same batch, no buffer update
//! a ← (l_μ − l0 − b·μ) / μ²                     curvature of l(t) ≈ a·t² + b·t + l0
//! s ← −b/(2a)·α   if a > 0 and b < 0            the parabola's minimum, stretched by α
//!     μ           if a ≤ 0 and b < 0            concave: take the measuring step
//!     0           if b ≥ 0                      not a descent direction: stay
//! s ← min(s, s_max)
//! θ ← θ + s·u = θ − (s/‖d‖)·d                   (equivalent SGD learning rate s/‖d‖)
//! ```
//!
//! **Conventions** (the official code's): the line runs along the
//! *negative*, *normalised* direction, so `t`, `μ`, `s` and `s_max` are
//! distances in parameter space, `b` is the directional derivative along
//! the unit vector `u` (with `β = 0`, `b = −‖g‖`), and the update is
//! `s` long. The official code's fallback `norm = ε` for a zero direction
//! is kept (`‖d‖ = 0` gives `b = 0`, so the step is 0).
//!
//! **Differences from the official code**:
//! * A NaN or infinite `l0`, `l_μ`, `a` or `b` leaves the parameters where
//!   they were (the official code returns with them at the probe point
//!   `θ + μ·u`) and also leaves the direction buffer `d_prev` unchanged
//!   (so one bad batch does not poison later directions); the report
//!   carries the metric `non_finite = 1` and learning rate 0.
//! * The new parameters are computed from `θ` directly (`θ − (s/‖d‖)·d`),
//!   not by a second move from the probe point, which saves a rounding.
//! * [`Optimizer::set_learning_rate`] sets [`PalConfig::step_scale`], a
//!   factor on the final step (1 by default) so that learning-rate
//!   schedules have a meaning for PAL; the official code has no such knob.
//!
//! Cost per step: two forward passes and one backward pass.

use crate::hyper::{check, ConfigError, Hyper, Kind, Range};
use crate::optimizer::{dot, global_norm, Objective, Optimizer, StepReport};
use crate::registry::{Build, Hypers, OptimizerSpec};
use crate::state::OptimizerState;
use autodiff::Tensor;

/// PAL's registration: the official implementation's defaults.
pub static SPEC: OptimizerSpec = OptimizerSpec {
    name: "pal",
    about: "PAL parabolic line search (Mutschler & Zell 2020); two forward passes per step",
    params: &[
        Hyper {
            key: "lr",
            default: "1",
            kind: Kind::Float(Range::POSITIVE),
            help: "factor on the line-search step (what schedules scale)",
        },
        Hyper { key: "mu", default: "1", kind: Kind::Float(Range::POSITIVE), help: "measuring step μ (a distance)" },
        Hyper { key: "max_step", default: "3.16", kind: Kind::Float(Range::NONNEG), help: "maximal step s_max (a distance)" },
        Hyper { key: "beta", default: "0.4", kind: Kind::Float(Range::NONNEG), help: "direction adaptation β: d ← β·d_prev + g" },
        Hyper {
            key: "alpha", default: "1.6666666", kind: Kind::Float(Range::NONNEG), help: "step adaptation α on the parabola's minimum"
        },
    ],
    schedule: "cosine",
    build: Build::Full(|h| {
        let cfg = PalConfig::from_hypers(h);
        cfg.validate()?;
        Ok(Box::new(Pal::new(cfg)))
    }),
};

/// Hyper-parameters of PAL. The defaults are the official implementation's.
#[derive(Clone, Debug, PartialEq)]
pub struct PalConfig {
    /// Measuring step μ: the distance from θ at which the loss is measured
    /// a second time (default 1; the authors recommend 0.1 to 1).
    pub measuring_step: f32,
    /// Maximal step s_max: the update is at most this long (default 3.16;
    /// the authors recommend 1 to 10).
    pub max_step: f32,
    /// Direction adaptation factor β: `d ← β·d_prev + g` (default 0.4;
    /// 0 uses the plain gradient; the authors recommend 0 or 0.4).
    pub direction_adaptation: f32,
    /// Update step adaptation α: the parabola's minimum is multiplied by α
    /// (default 1/0.6 ≈ 1.667; the authors recommend 1.2 to 1.7).
    pub step_adaptation: f32,
    /// Factor on the final step, after clipping (default 1): what
    /// learning-rate schedules scale through [`Optimizer::set_learning_rate`].
    pub step_scale: f32,
}

impl Default for PalConfig {
    /// The defaults of [`SPEC`]: μ = 1, s_max = 3.16, β = 0.4, α = 1/0.6,
    /// step scale 1 (the official implementation's defaults).
    fn default() -> Self {
        PalConfig::from_hypers(&Hypers::defaults(&SPEC))
    }
}

impl PalConfig {
    /// The configuration of resolved hyperparameters.
    pub fn from_hypers(h: &Hypers) -> Self {
        PalConfig {
            measuring_step: h.f32("mu"),
            max_step: h.f32("max_step"),
            direction_adaptation: h.f32("beta"),
            step_adaptation: h.f32("alpha"),
            step_scale: h.f32("lr"),
        }
    }

    /// Checks the ranges [`SPEC`] declares (the official code's checks,
    /// plus finiteness). The error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let p = SPEC.params;
        check(p, "mu", self.measuring_step as f64)?;
        check(p, "max_step", self.max_step as f64)?;
        check(p, "beta", self.direction_adaptation as f64)?;
        check(p, "alpha", self.step_adaptation as f64)?;
        check(p, "lr", self.step_scale as f64)
    }
}

/// What one PAL step measured (also reported as [`StepReport::metrics`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PalMeasurement {
    /// Loss at θ.
    pub l0: f64,
    /// Loss at the probe point θ + μ·u.
    pub l_mu: f64,
    /// Curvature of the fitted parabola.
    pub a: f64,
    /// Slope of the loss along the line at θ.
    pub b: f64,
    /// Step taken along the line (a distance; after clipping and scaling).
    pub s: f64,
    /// Norm of the search direction d.
    pub direction_norm: f64,
    /// Equivalent SGD learning rate s / ‖d‖.
    pub learning_rate: f64,
    /// Whether a measurement was NaN or infinite (then nothing moved).
    pub non_finite: bool,
}

/// The PAL optimizer: configuration and the direction buffer `d_prev`.
pub struct Pal {
    /// Hyper-parameters.
    pub cfg: PalConfig,
    direction: Vec<Tensor>,
    last: PalMeasurement,
}

impl Pal {
    /// A new optimizer. Panics on invalid hyper-parameters (see
    /// [`PalConfig::validate`]; the CLI checks user input before).
    pub fn new(cfg: PalConfig) -> Pal {
        if let Err(e) = cfg.validate() {
            panic!("{e}");
        }
        Pal { cfg, direction: Vec::new(), last: PalMeasurement::default() }
    }

    /// The measurements of the last step.
    pub fn last_measurement(&self) -> &PalMeasurement {
        &self.last
    }

    /// The step length along the line from the fitted parabola, before
    /// scaling: the case analysis of the paper, then the clip to s_max.
    pub fn step_length(&self, a: f64, b: f64) -> f64 {
        let c = &self.cfg;
        let mu = c.measuring_step as f64;
        let s = if a > 0.0 && b < 0.0 {
            -b / (2.0 * a) * c.step_adaptation as f64
        } else if b < 0.0 {
            mu
        } else {
            0.0
        };
        s.min(c.max_step as f64)
    }
}

impl Optimizer for Pal {
    fn name(&self) -> &'static str {
        "pal"
    }

    fn step(&mut self, params: &mut [Tensor], obj: &mut dyn Objective) -> StepReport {
        let c = self.cfg.clone();
        let (l0, grads) = obj.loss_grad(params, true);
        let beta = c.direction_adaptation;
        // d = β·d_prev + g (d_prev = 0 on the first step, as the official zero-initialised buffer).
        let direction: Vec<Tensor> = if beta != 0.0 && !self.direction.is_empty() {
            assert_eq!(self.direction.len(), grads.len(), "pal: direction for {} parameters, got {}", self.direction.len(), grads.len());
            self.direction.iter().zip(&grads).map(|(d, g)| crate::optimizer::axpy(g, beta, d)).collect()
        } else {
            grads.clone()
        };
        let mut norm = global_norm(&direction);
        if norm == 0.0 {
            norm = 1e-10; // the official epsilon
        }
        let b = -dot(&grads, &direction) / norm;
        let mu = c.measuring_step as f64;
        let probe: Vec<Tensor> = params.iter().zip(&direction).map(|(p, d)| crate::optimizer::axpy(p, (-mu / norm) as f32, d)).collect();
        let l_mu = obj.loss(&probe);
        let (l0f, l_muf) = (l0 as f64, l_mu as f64);
        let a = (l_muf - l0f - b * mu) / (mu * mu);
        let mut m = PalMeasurement { l0: l0f, l_mu: l_muf, a, b, direction_norm: norm, ..Default::default() };
        if ![l0f, l_muf, a, b].iter().all(|v| v.is_finite()) {
            m.non_finite = true;
            self.last = m.clone();
            return report(l0, &m);
        }
        if beta != 0.0 {
            self.direction = direction.clone();
        }
        m.s = self.step_length(a, b) * c.step_scale as f64;
        m.learning_rate = m.s / norm;
        if m.s != 0.0 {
            let lr = m.learning_rate as f32;
            for (p, d) in params.iter_mut().zip(&direction) {
                let new: Vec<f32> = p.data().iter().zip(d.data()).map(|(&p, &d)| p - lr * d).collect();
                *p = Tensor::from_vec(new, p.shape());
            }
        }
        self.last = m.clone();
        report(l0, &m)
    }

    /// The step scale (see [`PalConfig::step_scale`]).
    fn learning_rate(&self) -> f32 {
        self.cfg.step_scale
    }

    /// Sets the step scale (see [`PalConfig::step_scale`]).
    fn set_learning_rate(&mut self, lr: f32) {
        self.cfg.step_scale = lr;
    }

    fn state(&self) -> OptimizerState {
        OptimizerState { slots: vec![("direction".to_string(), self.direction.clone())], counters: Vec::new() }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<(), String> {
        if let Some((k, _)) = state.slots.iter().find(|(k, _)| k != "direction") {
            return Err(format!("pal keeps no slot {k}"));
        }
        self.direction = state.slot("direction").to_vec();
        Ok(())
    }
}

fn report(loss: f32, m: &PalMeasurement) -> StepReport {
    let mut metrics = vec![("l0", m.l0), ("l_mu", m.l_mu), ("a", m.a), ("b", m.b), ("s", m.s), ("direction_norm", m.direction_norm)];
    metrics.push(("lr", m.learning_rate));
    if m.non_finite {
        metrics.push(("non_finite", 1.0));
    }
    StepReport { loss, learning_rate: m.learning_rate as f32, batches: 1, metrics }
}
