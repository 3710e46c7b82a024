//! The `Optimizer` trait and the `Objective` an optimizer calls back into.
//!
//! An optimizer step is not just "apply this gradient": PAL measures the
//! loss a second time along a line, Entropy-SGD runs an inner Langevin loop
//! on fresh minibatches, SAM takes a gradient at a perturbed point. So a
//! step receives the parameters and an [`Objective`] it may query as often
//! as it needs; the training loop, the tests and the landscape tools each
//! supply their own objective.
//!
//! Optimizers that only turn a gradient into an update, one parameter at
//! a time, implement the smaller [`crate::Rule`] instead and get this trait
//! from the [`crate::PerParam`] adaptor; `docs/extending.md` walks through
//! adding one.

use crate::state::OptimizerState;
use autodiff::Tensor;
use nn::{Module, ModuleExt};

/// What an optimizer may ask of the model during a step. All calls use the
/// current minibatch (and the same randomness) until `next_batch`.
pub trait Objective {
    /// Loss and gradients at `params` (training-mode forward + backward).
    /// Batch-norm running statistics are updated only if `update_buffers`.
    fn loss_grad(&mut self, params: &[Tensor], update_buffers: bool) -> (f32, Vec<Tensor>);
    /// Loss only at `params` (training-mode forward, no graph); never
    /// updates buffers.
    fn loss(&mut self, params: &[Tensor]) -> f32;
    /// Moves to a fresh minibatch; `false` when none is left this epoch.
    fn next_batch(&mut self) -> bool;
}

/// What one step did, for logs and plots.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepReport {
    /// Loss at the parameters the step started from, on its first batch.
    pub loss: f32,
    /// The step's effective learning rate (for PAL, `s / ‖d‖`).
    pub learning_rate: f32,
    /// Minibatches the step consumed (1, or more for Entropy-SGD).
    pub batches: usize,
    /// Optimizer-specific measurements, e.g. PAL's `l0`, `l_mu`, `a`, `b`, `s`.
    pub metrics: Vec<(&'static str, f64)>,
}

/// An optimizer: updates parameters, calling back into the objective.
pub trait Optimizer: Send {
    /// Short name, e.g. `"sgd"`.
    fn name(&self) -> &'static str;
    /// One step: replaces `params` by updated tensors.
    fn step(&mut self, params: &mut [Tensor], obj: &mut dyn Objective) -> StepReport;
    /// The base learning rate (what schedules scale).
    fn learning_rate(&self) -> f32;
    /// Sets the base learning rate (called by schedules every step).
    fn set_learning_rate(&mut self, lr: f32);
    /// Internal state (momentum buffers, moments, counters), for
    /// checkpoints; required, so that no optimizer resumes with silently
    /// zeroed state.
    fn state(&self) -> OptimizerState;
    /// Restores what [`Optimizer::state`] returned. Errors name the slot.
    fn load_state(&mut self, state: &OptimizerState) -> Result<(), String>;
}

/// The "apply a given gradient" half of an optimizer, so wrappers (SAM)
/// can reuse any base update rule.
pub trait GradientStep: Optimizer {
    /// Updates `params` with gradients `grads` (one per parameter).
    fn apply(&mut self, params: &mut [Tensor], grads: &[Tensor]);
}

/// An objective from a closure `params -> scalar loss`, with no batches
/// and no buffers: for tests and analytic functions. Counts its calls.
pub struct FnObjective<F: FnMut(&[Tensor]) -> Tensor> {
    f: F,
    /// Number of forward passes so far.
    pub forwards: usize,
    /// Number of backward passes so far.
    pub backwards: usize,
    /// Number of `next_batch` calls so far.
    pub batches: usize,
}

impl<F: FnMut(&[Tensor]) -> Tensor> FnObjective<F> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        FnObjective { f, forwards: 0, backwards: 0, batches: 0 }
    }
}

impl<F: FnMut(&[Tensor]) -> Tensor> Objective for FnObjective<F> {
    fn loss_grad(&mut self, params: &[Tensor], _update_buffers: bool) -> (f32, Vec<Tensor>) {
        let leaves: Vec<Tensor> = params.iter().map(|p| p.detach().requires_grad_()).collect();
        let loss = (self.f)(&leaves);
        self.forwards += 1;
        self.backwards += 1;
        let g = autodiff::grad(std::slice::from_ref(&loss), &leaves, false);
        (loss.item(), g)
    }
    fn loss(&mut self, params: &[Tensor]) -> f32 {
        let _g = autodiff::no_grad();
        self.forwards += 1;
        (self.f)(params).item()
    }
    fn next_batch(&mut self) -> bool {
        self.batches += 1;
        true
    }
}

/// `a + c·b` elementwise, outside any graph.
pub fn axpy(a: &Tensor, c: f32, b: &Tensor) -> Tensor {
    let _g = autodiff::no_grad();
    a.add(&b.mul_scalar(c))
}

/// Euclidean norm over a list of tensors (accumulated in f64).
pub fn global_norm(ts: &[Tensor]) -> f64 {
    ts.iter().flat_map(|t| t.data().iter()).map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt()
}

/// Inner product over two lists of tensors (accumulated in f64).
pub fn dot(a: &[Tensor], b: &[Tensor]) -> f64 {
    a.iter().zip(b).flat_map(|(x, y)| x.data().iter().zip(y.data())).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// A training-mode pass of `loss(model)` at `params`, differentiated: the
/// parameters are set to fresh leaves, the loss is built and its gradients
/// taken (without recording). Batch-norm buffers keep this pass's update
/// only if `update_buffers`. Returns the loss tensor and the gradients.
/// What model-backed [`Objective`]s share.
pub fn model_loss_grad(
    model: &mut dyn Module,
    params: &[Tensor],
    update_buffers: bool,
    loss: impl FnOnce(&mut dyn Module) -> Tensor,
) -> (Tensor, Vec<Tensor>) {
    let saved = (!update_buffers).then(|| model.buffers());
    let leaves: Vec<Tensor> = params.iter().map(|p| p.detach().requires_grad_()).collect();
    model.set_parameters(&leaves);
    model.set_training(true);
    let l = loss(model);
    let g = autodiff::grad(std::slice::from_ref(&l), &leaves, false);
    if let Some(saved) = saved {
        model.set_buffers(&saved);
    }
    (l, g)
}

/// A training-mode loss at `params` with no graph; buffers are left as
/// they were (PAL's second pass).
pub fn model_loss(model: &mut dyn Module, params: &[Tensor], loss: impl FnOnce(&mut dyn Module) -> Tensor) -> f32 {
    let _g = autodiff::no_grad();
    let saved = model.buffers();
    model.set_parameters(params);
    model.set_training(true);
    let value = loss(model).item();
    model.set_buffers(&saved);
    value
}
