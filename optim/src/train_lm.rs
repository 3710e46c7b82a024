//! The language-model training loop: next-token cross-entropy on
//! contiguous truncated-BPTT windows of a token stream, any [`Optimizer`]
//! stepping through an [`LmObjective`], a learning-rate [`Schedule`], and
//! a validation loss after every epoch.
//!
//! ## Semantics
//! * **Batches.** The training tokens are cut by [`BpttBatches`] into
//!   `batch_size` parallel streams walked in windows of `seq_len` tokens
//!   (targets are the inputs shifted by one). Windows are taken **in
//!   order**, no shuffling: global minibatch `k` (counted from 0 over the
//!   whole run) is window `k mod num_windows`, so the data wraps around to
//!   the start after a full pass.
//! * **Epochs.** An epoch is `steps_per_epoch` consumed minibatches
//!   (default: one pass, `num_windows`). For SGD, Adam, PAL and SAM that is
//!   one optimizer step per minibatch; Entropy-SGD's inner steps each
//!   consume one, as in classification. Because the data position is a
//!   function of the epoch only, a run resumed at an epoch boundary
//!   continues exactly.
//! * **State.** Every window starts from a **zero** recurrent state and is
//!   back-propagated in full (no state is carried between windows). This is
//!   what a plain `Module::forward` does and what the PyTorch reference
//!   (`optim/tests/fixtures/lstm/torch_char_lstm.py`) mirrors.
//! * **Loss.** Logits `[b, t, vocab]` are reshaped to `[b·t, vocab]`; the
//!   loss is the mean cross-entropy over all `b·t` positions.
//! * **Clipping.** With `clip = Some(c)`, every gradient the objective
//!   hands to the optimizer is rescaled by `c / (‖g‖ + 1e-6)` when that is
//!   below 1 (`‖g‖` the global norm over all parameters), exactly
//!   PyTorch's `clip_grad_norm_`.
//! * **Validation.** After every epoch, in eval mode with no graph: the
//!   validation tokens cut as `BpttBatches(eval_batch_size, seq_len)`, zero
//!   state per window, mean cross-entropy over all positions of all windows.

use crate::optimizer::{model_loss, model_loss_grad, Objective, Optimizer, StepReport};
use crate::schedule::Schedule;
use crate::train::{NoHooks, TrainError};
use autodiff::Tensor;
use datasets::BpttBatches;
use nn::{Module, ModuleExt};
use std::time::Instant;

/// Settings of a language-model training run.
#[derive(Clone, Debug)]
pub struct LmConfig {
    /// Number of epochs (each `steps_per_epoch` minibatches).
    pub epochs: usize,
    /// Parallel streams per minibatch (rows).
    pub batch_size: usize,
    /// Window length in tokens (columns), i.e. the BPTT length.
    pub seq_len: usize,
    /// Minibatches per epoch; `None` = one pass over the training windows.
    pub steps_per_epoch: Option<usize>,
    /// Clip gradients to this global norm (PyTorch's `clip_grad_norm_`).
    pub clip: Option<f32>,
    /// Parallel streams of the validation windows.
    pub eval_batch_size: usize,
    /// First epoch to run (1-based); > 1 when resuming.
    pub start_epoch: usize,
}

impl Default for LmConfig {
    fn default() -> Self {
        LmConfig { epochs: 1, batch_size: 32, seq_len: 64, steps_per_epoch: None, clip: None, eval_batch_size: 32, start_epoch: 1 }
    }
}

/// What one language-model epoch achieved.
#[derive(Clone, Debug, PartialEq)]
pub struct LmEpochMetrics {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss (nats per token) of the epoch's main passes,
    /// measured during training.
    pub train_loss: f64,
    /// Validation loss (nats per token) after the epoch, in eval mode.
    pub val_loss: f64,
    /// Mean effective learning rate over the epoch's steps.
    pub learning_rate: f64,
    /// Optimizer steps taken this epoch.
    pub steps: usize,
    /// Wall-clock seconds of the epoch (training and validation).
    pub seconds: f64,
}

impl LmEpochMetrics {
    /// Validation perplexity, `exp(val_loss)`.
    pub fn val_perplexity(&self) -> f64 {
        self.val_loss.exp()
    }

    /// Validation bits per character (token), `val_loss / ln 2`.
    pub fn val_bits_per_token(&self) -> f64 {
        self.val_loss / std::f64::consts::LN_2
    }
}

/// Callbacks of the language-model training loop.
pub trait LmHooks {
    /// After every optimizer step (`steps_per_epoch` counts minibatches).
    fn on_step(&mut self, _epoch: usize, _step: usize, _steps_per_epoch: usize, _report: &StepReport) {}
    /// After every epoch (the model holds the epoch's final weights).
    fn on_epoch(&mut self, _model: &mut dyn Module, _opt: &dyn Optimizer, _metrics: &LmEpochMetrics) -> Result<(), String> {
        Ok(())
    }
}

impl LmHooks for NoHooks {}

/// Token ids of a batch as the f32 tensor `[batch, seq_len]` a language
/// model's `forward` takes (`nn::eval_lm::lm_input`, under the name this
/// crate has used).
pub use nn::eval_lm::lm_input as token_tensor;

/// Mean next-token cross-entropy of `model` on token ids `x` (`[b, t]`)
/// with targets `targets` (`b·t`, row-major): logits `[b, t, v]` are
/// reshaped to `[b·t, v]`. Records a graph if recording is on.
pub fn lm_loss(model: &mut dyn Module, x: &Tensor, targets: &[usize]) -> Tensor {
    let logits = model.forward(x);
    assert_eq!(logits.ndim(), 3, "lm_loss: logits {:?} must be [batch, seq, vocab]", logits.shape());
    let (b, t, v) = (logits.dim(0), logits.dim(1), logits.dim(2));
    logits.reshape(&[b * t, v]).cross_entropy(targets)
}

/// Rescales `grads` in place to global norm at most `max_norm`, as
/// PyTorch's `clip_grad_norm_` (factor `max_norm / (‖g‖ + 1e-6)` when
/// below 1). Returns the norm before clipping.
pub fn clip_grad_norm(grads: &mut [Tensor], max_norm: f32) -> f64 {
    let norm = crate::optimizer::global_norm(grads);
    let coef = max_norm as f64 / (norm + 1e-6);
    if coef < 1.0 {
        let _g = autodiff::no_grad();
        for g in grads.iter_mut() {
            *g = g.mul_scalar(coef as f32);
        }
    }
    norm
}

/// The [`Objective`] of language-model training: mean next-token
/// cross-entropy of a model on the current BPTT window, zero initial
/// state, optional gradient clipping. It serves `count` minibatches
/// starting at global minibatch `first` (window `k mod num_batches`), and
/// tracks the loss of the passes that update buffers (one per step).
pub struct LmObjective<'m, 'd> {
    model: &'m mut dyn Module,
    windows: BpttBatches<'d>,
    next: usize,
    end: usize,
    clip: Option<f32>,
    input: Option<Tensor>,
    targets: Vec<usize>,
    /// Main passes (those with `update_buffers`) so far.
    pub passes: usize,
    /// Sum of the main passes' losses.
    pub loss_sum: f64,
    /// Main passes whose gradient was clipped.
    pub clipped: usize,
}

impl<'m, 'd> LmObjective<'m, 'd> {
    /// An objective over `windows`, serving global minibatches
    /// `first .. first + count`.
    pub fn new(model: &'m mut dyn Module, windows: BpttBatches<'d>, first: usize, count: usize, clip: Option<f32>) -> Self {
        LmObjective {
            model,
            windows,
            next: first,
            end: first + count,
            clip,
            input: None,
            targets: Vec::new(),
            passes: 0,
            loss_sum: 0.0,
            clipped: 0,
        }
    }

    fn input(&self) -> &Tensor {
        self.input.as_ref().expect("objective used before next_batch")
    }
}

impl Objective for LmObjective<'_, '_> {
    fn loss_grad(&mut self, params: &[Tensor], update_buffers: bool) -> (f32, Vec<Tensor>) {
        let x = self.input().clone();
        let targets = &self.targets;
        let (loss, mut g) = model_loss_grad(self.model, params, update_buffers, |m| lm_loss(m, &x, targets));
        let value = loss.item();
        drop(loss);
        let clipped = self.clip.is_some_and(|c| clip_grad_norm(&mut g, c) + 1e-6 > c as f64);
        if update_buffers {
            self.passes += 1;
            self.loss_sum += value as f64;
            self.clipped += clipped as usize;
        }
        (value, g)
    }

    fn loss(&mut self, params: &[Tensor]) -> f32 {
        let x = self.input().clone();
        let targets = &self.targets;
        model_loss(self.model, params, |m| lm_loss(m, &x, targets))
    }

    fn next_batch(&mut self) -> bool {
        if self.next >= self.end {
            return false;
        }
        let b = self.windows.batch(self.next % self.windows.num_batches()).expect("index reduced modulo the window count");
        self.next += 1;
        self.input = Some(token_tensor(&b));
        self.targets = b.targets;
        true
    }
}

/// Mean next-token cross-entropy of `model` over all positions of the
/// windows of `windows` (zero state per window), in eval mode with no
/// graph. `model` is left in eval mode.
pub fn evaluate_lm(model: &mut dyn Module, windows: &BpttBatches<'_>) -> f64 {
    let _g = autodiff::no_grad();
    model.set_training(false);
    let (mut sum, mut n) = (0.0f64, 0usize);
    for b in windows.iter() {
        let count = b.targets.len();
        sum += nn::lm_loss(model, &b).item() as f64 * count as f64;
        n += count;
    }
    sum / n.max(1) as f64
}

/// Trains language model `model` on the token stream `train`, reporting
/// the validation loss on `valid` after each epoch (see the module docs
/// for the batching, state, clipping and epoch semantics). The learning
/// rate at global minibatch `k` of `K = epochs · steps_per_epoch` is
/// `base · schedule.factor(k, K)`, `base` being the optimizer's rate on
/// entry. Errors: too few tokens for one window (training or validation),
/// a non-finite loss (naming the step), a failing hook.
pub fn train_lm(
    model: &mut dyn Module,
    train: &[usize],
    valid: &[usize],
    opt: &mut dyn Optimizer,
    schedule: &Schedule,
    cfg: &LmConfig,
    hooks: &mut dyn LmHooks,
) -> Result<Vec<LmEpochMetrics>, TrainError> {
    let windows = BpttBatches::new(train, cfg.batch_size, cfg.seq_len).map_err(TrainError::Data)?;
    let valid_windows = BpttBatches::new(valid, cfg.eval_batch_size, cfg.seq_len).map_err(TrainError::Data)?;
    let per_epoch = cfg.steps_per_epoch.unwrap_or_else(|| windows.num_batches()).max(1);
    let total = per_epoch * cfg.epochs;
    let base_lr = opt.learning_rate();
    let mut params = model.parameters();
    let mut history = Vec::new();
    for epoch in cfg.start_epoch.max(1)..=cfg.epochs {
        let start = Instant::now();
        let first = (epoch - 1) * per_epoch;
        let mut consumed = first;
        let (mut steps, mut lr_sum) = (0usize, 0.0f64);
        let mut obj = LmObjective::new(model, windows.clone(), first, per_epoch, cfg.clip);
        while obj.next_batch() {
            opt.set_learning_rate(base_lr * schedule.factor(consumed, total));
            let report = opt.step(&mut params, &mut obj);
            steps += 1;
            consumed += report.batches.max(1);
            lr_sum += report.learning_rate as f64;
            if !report.loss.is_finite() {
                opt.set_learning_rate(base_lr);
                return Err(TrainError::NonFinite { epoch, step: steps, loss: report.loss });
            }
            hooks.on_step(epoch, steps, per_epoch, &report);
            if nn::interrupt::stop_requested() {
                opt.set_learning_rate(base_lr);
                return Err(TrainError::Interrupted { epoch });
            }
        }
        let train_loss = obj.loss_sum / obj.passes.max(1) as f64;
        drop(obj);
        model.set_parameters(&params);
        let val_loss = evaluate_lm(model, &valid_windows);
        model.set_training(true);
        let m = LmEpochMetrics {
            epoch,
            train_loss,
            val_loss,
            learning_rate: lr_sum / steps.max(1) as f64,
            steps,
            seconds: start.elapsed().as_secs_f64(),
        };
        if let Err(e) = hooks.on_epoch(model, opt, &m) {
            opt.set_learning_rate(base_lr);
            return Err(TrainError::Hook(e));
        }
        history.push(m);
    }
    opt.set_learning_rate(base_lr);
    Ok(history)
}
