//! The per-parameter optimizer: most update rules (SGD, Adam, Lion) turn a
//! parameter, its gradient and a few buffers shaped like it into a new
//! value, independently of the other parameters. Such a rule implements
//! [`Rule`] (its slots and one `update`); the [`PerParam`] adaptor makes
//! it an [`Optimizer`] and a [`GradientStep`]: zero-initialised state on
//! the first step, an integer step count, state save and load, the
//! learning rate, the "no weight decay on 1-d tensors" group and
//! application in parallel over the parameters.

use crate::hyper::ConfigError;
use crate::optimizer::{GradientStep, Objective, Optimizer, StepReport};
use crate::state::OptimizerState;
use autodiff::kernels::PARALLEL_MIN;
use autodiff::Tensor;
use rayon::prelude::*;

/// What [`Rule::update`] knows about the step besides the tensors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepInfo {
    /// This step's number, 1 on the first step (Adam's bias correction,
    /// SGD's first momentum).
    pub step: u64,
    /// Whether weight decay applies to this parameter (see
    /// [`crate::hyper::DECAY_1D`]).
    pub decay: bool,
}

/// An update rule applied to each parameter tensor on its own. The rule is
/// its own configuration (hyperparameters as fields).
pub trait Rule: Clone + Send + Sync + 'static {
    /// Registered name, e.g. `"sgd"`.
    fn name(&self) -> &'static str;
    /// Names of the buffers kept per parameter, each shaped like the
    /// parameter and zero before the first step (`&[]` for none).
    fn slots(&self) -> &'static [&'static str];
    /// The learning rate, which schedules scale.
    fn lr(&self) -> f32;
    /// Sets the learning rate.
    fn set_lr(&mut self, lr: f32);
    /// Checks the hyperparameters; errors name the key.
    fn validate(&self) -> Result<(), ConfigError>;
    /// The new value of one parameter from its value `param`, gradient
    /// `grad` and buffers `state` (one per slot, in the order of
    /// [`Rule::slots`], updated in place).
    fn update(&self, param: &[f32], grad: &[f32], state: &mut [Vec<f32>], info: StepInfo) -> Vec<f32>;
}

/// A [`Rule`] as an optimizer.
#[derive(Clone, Debug)]
pub struct PerParam<R: Rule> {
    /// The rule and its hyperparameters.
    pub cfg: R,
    /// Whether weight decay applies to tensors of at most one dimension.
    pub decay_1d: bool,
    /// Steps taken.
    step: u64,
    /// `state[i][s]`: slot `s` of parameter `i` (empty before the first step).
    state: Vec<Vec<Vec<f32>>>,
    /// Shape of each parameter, for saving the state as tensors.
    shapes: Vec<Vec<usize>>,
}

impl<R: Rule> PerParam<R> {
    /// The optimizer of rule `cfg`, unchecked (see [`PerParam::try_new`]).
    pub fn new(cfg: R) -> Self {
        PerParam { cfg, decay_1d: true, step: 0, state: Vec::new(), shapes: Vec::new() }
    }

    /// The optimizer of rule `cfg`, or the error naming the key at fault.
    pub fn try_new(cfg: R) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(PerParam::new(cfg))
    }

    /// With weight decay on 1-d tensors or not (see [`crate::hyper::DECAY_1D`]).
    pub fn with_decay_1d(mut self, on: bool) -> Self {
        self.decay_1d = on;
        self
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }
}

impl<R: Rule> Optimizer for PerParam<R> {
    fn name(&self) -> &'static str {
        self.cfg.name()
    }

    fn step(&mut self, params: &mut [Tensor], obj: &mut dyn Objective) -> StepReport {
        let (loss, grads) = obj.loss_grad(params, true);
        self.apply(params, &grads);
        StepReport { loss, learning_rate: self.learning_rate(), batches: 1, metrics: Vec::new() }
    }

    fn learning_rate(&self) -> f32 {
        self.cfg.lr()
    }

    fn set_learning_rate(&mut self, lr: f32) {
        self.cfg.set_lr(lr);
    }

    fn state(&self) -> OptimizerState {
        let slots = self.cfg.slots().iter().enumerate().map(|(s, name)| {
            let ts = self.state.iter().zip(&self.shapes).map(|(st, shape)| Tensor::from_vec(st[s].clone(), shape)).collect();
            (name.to_string(), ts)
        });
        OptimizerState { slots: slots.collect(), counters: vec![("step".to_string(), self.step)] }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<(), String> {
        let name = self.cfg.name();
        let slots: Vec<&[Tensor]> = self.cfg.slots().iter().map(|s| state.slot(s)).collect();
        let n = slots.first().map_or(0, |ts| ts.len());
        if let Some((s, ts)) = self.cfg.slots().iter().zip(&slots).find(|(_, ts)| ts.len() != n) {
            return Err(format!("{name}: slot {s} holds {} tensors, slot {} {n}", ts.len(), self.cfg.slots()[0]));
        }
        if let Some((k, _)) = state.slots.iter().find(|(k, ts)| !ts.is_empty() && !self.cfg.slots().contains(&k.as_str())) {
            return Err(format!("{name} keeps no slot {k}"));
        }
        let step = state.counter("step");
        if n == 0 && !self.cfg.slots().is_empty() && step > 0 {
            return Err(format!("{name}: {step} steps taken but no state saved"));
        }
        self.shapes = (0..n).map(|i| slots[0][i].shape().to_vec()).collect();
        self.state = (0..n).map(|i| slots.iter().map(|ts| ts[i].to_vec()).collect()).collect();
        if let Some(i) = (0..n).find(|&i| slots.iter().any(|ts| ts[i].shape() != self.shapes[i])) {
            return Err(format!("{name}: the slots of parameter {i} differ in shape"));
        }
        self.step = step;
        Ok(())
    }
}

impl<R: Rule> GradientStep for PerParam<R> {
    fn apply(&mut self, params: &mut [Tensor], grads: &[Tensor]) {
        let name = self.cfg.name();
        assert_eq!(params.len(), grads.len(), "{name}: {} parameters but {} gradients", params.len(), grads.len());
        let slots = self.cfg.slots().len();
        if self.state.is_empty() {
            self.state = params.iter().map(|p| (0..slots).map(|_| vec![0.0; p.numel()]).collect()).collect();
            self.shapes = params.iter().map(|p| p.shape().to_vec()).collect();
        }
        assert_eq!(self.state.len(), params.len(), "{name}: state for {} parameters, got {}", self.state.len(), params.len());
        self.step += 1;
        let (rule, step, decay_1d) = (&self.cfg, self.step, self.decay_1d);
        let one = |((p, g), st): ((&mut Tensor, &Tensor), &mut Vec<Vec<f32>>)| {
            assert_eq!(p.shape(), g.shape(), "{name}: parameter {:?} with gradient {:?}", p.shape(), g.shape());
            assert!(st.iter().all(|b| b.len() == p.numel()), "{name}: state does not match parameter {:?}", p.shape());
            let info = StepInfo { step, decay: decay_1d || p.ndim() > 1 };
            *p = Tensor::from_vec(rule.update(p.data(), g.data(), st, info), p.shape());
        };
        // Across parameters in parallel when there is enough work; a rule may
        // also split one large tensor itself (SGD does).
        if params.iter().map(|p| p.numel()).sum::<usize>() >= PARALLEL_MIN {
            params.par_iter_mut().zip(grads).zip(self.state.par_iter_mut()).for_each(one);
        } else {
            params.iter_mut().zip(grads).zip(self.state.iter_mut()).for_each(one);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{GradientStep, Sgd, SgdConfig};
    use autodiff::Tensor;

    /// With `decay_1d` off, weight decay skips tensors of at most one
    /// dimension (biases, norm parameters) and still applies to the rest.
    #[test]
    fn decay_1d_selects_the_parameters_that_decay() {
        let cfg = SgdConfig { lr: 0.5, momentum: 0.0, weight_decay: 0.1, ..Default::default() };
        for (on, bias_after) in [(true, 0.95f32), (false, 1.0)] {
            let mut opt = Sgd::new(cfg.clone()).with_decay_1d(on);
            let mut p = vec![Tensor::ones(&[2, 2]), Tensor::ones(&[2])];
            opt.apply(&mut p, &[Tensor::zeros(&[2, 2]), Tensor::zeros(&[2])]);
            assert_eq!(p[0].to_vec(), vec![0.95; 4]);
            assert_eq!(p[1].to_vec(), vec![bias_after; 2]);
        }
    }
}
