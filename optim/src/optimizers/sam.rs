//! SAM, Sharpness-Aware Minimization (Foret et al., 2020), around any base
//! optimizer that implements [`GradientStep`]:
//!
//! ```text
//! (loss, g) ← loss_grad(w)                      pass 1: updates batch-norm statistics
//! e ← ρ · g / (‖g‖ + 1e-12)                     ascent to the worst point in the ρ-ball
//! (_, g_adv) ← loss_grad(w + e)                 pass 2: same batch, buffers untouched
//! base.apply(w, g_adv)                          the base's update, applied at w (not w + e)
//! ```
//!
//! `‖g‖` is the norm over all parameters together (the paper's, and the
//! reference implementations', non-adaptive SAM); the `1e-12` keeps a zero
//! gradient from dividing by zero (then `e = 0` and SAM is its base).
//! Weight decay, momentum and the learning rate are the base's.
//!
//! The base may be a concrete optimizer (`Sam<Sgd>`) or chosen at run time
//! (`Sam<Box<dyn GradientStep>>`, for which this module implements the
//! traits on the box), e.g. from a command line:
//!
//! ```
//! use optim::{Adam, AdamConfig, GradientStep, Optimizer, Sam, SamConfig, Sgd, SgdConfig};
//! let base_name = "adam"; // picked at run time
//! let base: Box<dyn GradientStep> = match base_name {
//!     "adam" => Box::new(Adam::new(AdamConfig::default())),
//!     _ => Box::new(Sgd::new(SgdConfig::default())),
//! };
//! let opt: Box<dyn Optimizer> = Box::new(Sam::new(SamConfig { rho: 0.05 }, base));
//! assert_eq!((opt.name(), opt.learning_rate()), ("sam", 2e-3));
//! ```
//!
//! Cost per step: two forward and two backward passes.

use crate::hyper::{check, ConfigError, Hyper, Kind, Range};
use crate::optimizer::{axpy, global_norm, GradientStep, Objective, Optimizer, StepReport};
use crate::registry::{Build, Hypers, OptimizerSpec};
use crate::state::OptimizerState;
use autodiff::Tensor;

/// SAM's registration: around any registered base that updates from a
/// gradient (`base=adam`), whose keys it also takes.
pub static SPEC: OptimizerSpec = OptimizerSpec {
    name: "sam",
    about: "SAM, sharpness-aware minimization (Foret et al. 2020), around a base optimizer; two passes per step",
    params: &[
        Hyper { key: "rho", default: "0.05", kind: Kind::Float(Range::NONNEG), help: "neighbourhood radius ρ" },
        Hyper { key: "base", default: "sgd", kind: Kind::Base, help: "base optimizer" },
    ],
    schedule: "cosine",
    build: Build::Wrapper(|h, base| {
        let cfg = SamConfig::from_hypers(h);
        cfg.validate()?;
        Ok(Box::new(Sam::new(cfg, base)))
    }),
};

/// Hyper-parameters of SAM (the base optimizer has its own).
#[derive(Clone, Debug, PartialEq)]
pub struct SamConfig {
    /// Radius ρ of the neighbourhood (default 0.05, the paper's value).
    pub rho: f32,
}

impl Default for SamConfig {
    /// The defaults of [`SPEC`]: ρ = 0.05 (the paper's value).
    fn default() -> Self {
        SamConfig::from_hypers(&Hypers::defaults(&SPEC))
    }
}

impl SamConfig {
    /// The configuration of resolved hyperparameters (the base is built apart).
    pub fn from_hypers(h: &Hypers) -> Self {
        SamConfig { rho: h.f32("rho") }
    }

    /// Checks the range [`SPEC`] declares for ρ.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(SPEC.params, "rho", self.rho as f64)
    }
}

/// SAM around a base optimizer `B`.
pub struct Sam<B: GradientStep> {
    /// Hyper-parameters.
    pub cfg: SamConfig,
    /// The base optimizer whose update SAM applies.
    pub base: B,
}

impl<B: GradientStep> Sam<B> {
    /// SAM with radius `cfg.rho` around `base`. Panics if ρ is negative or
    /// not finite (the CLI checks user input before).
    pub fn new(cfg: SamConfig, base: B) -> Sam<B> {
        if let Err(e) = cfg.validate() {
            panic!("sam: {e}");
        }
        Sam { cfg, base }
    }
}

impl<B: GradientStep> Optimizer for Sam<B> {
    fn name(&self) -> &'static str {
        "sam"
    }

    fn step(&mut self, params: &mut [Tensor], obj: &mut dyn Objective) -> StepReport {
        let (loss, grads) = obj.loss_grad(params, true);
        let norm = global_norm(&grads);
        let scale = (self.cfg.rho as f64 / (norm + 1e-12)) as f32;
        let perturbed: Vec<Tensor> = params.iter().zip(&grads).map(|(p, g)| axpy(p, scale, g)).collect();
        let (loss_adv, grads_adv) = obj.loss_grad(&perturbed, false);
        drop(perturbed);
        self.base.apply(params, &grads_adv);
        let metrics = vec![("grad_norm", norm), ("loss_perturbed", loss_adv as f64), ("sharpness", loss_adv as f64 - loss as f64)];
        StepReport { loss, learning_rate: self.base.learning_rate(), batches: 1, metrics }
    }

    /// The base optimizer's learning rate.
    fn learning_rate(&self) -> f32 {
        self.base.learning_rate()
    }

    /// Sets the base optimizer's learning rate.
    fn set_learning_rate(&mut self, lr: f32) {
        self.base.set_learning_rate(lr);
    }

    /// The base optimizer's state (SAM keeps none of its own).
    fn state(&self) -> OptimizerState {
        self.base.state()
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<(), String> {
        self.base.load_state(state)
    }
}

/// A boxed base chosen at run time is itself an optimizer (forwarding).
impl Optimizer for Box<dyn GradientStep> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn step(&mut self, params: &mut [Tensor], obj: &mut dyn Objective) -> StepReport {
        (**self).step(params, obj)
    }
    fn learning_rate(&self) -> f32 {
        (**self).learning_rate()
    }
    fn set_learning_rate(&mut self, lr: f32) {
        (**self).set_learning_rate(lr)
    }
    fn state(&self) -> OptimizerState {
        (**self).state()
    }
    fn load_state(&mut self, state: &OptimizerState) -> Result<(), String> {
        (**self).load_state(state)
    }
}

/// A boxed base chosen at run time applies gradients (forwarding), so
/// `Sam<Box<dyn GradientStep>>` works.
impl GradientStep for Box<dyn GradientStep> {
    fn apply(&mut self, params: &mut [Tensor], grads: &[Tensor]) {
        (**self).apply(params, grads)
    }
}
