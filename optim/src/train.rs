//! The training loop shared by the library and `llv train`: minibatches
//! from a `datasets` loader, an [`Optimizer`] stepping through a
//! [`BatchObjective`], a learning-rate [`Schedule`], per-epoch evaluation,
//! and hooks for checkpoints, logs and progress.

use crate::optimizer::{model_loss, model_loss_grad, Objective, Optimizer, StepReport};
use crate::schedule::Schedule;
use autodiff::Tensor;
use datasets::{Batch, ClassificationSet, DataLoader, Epoch};
use nn::{Module, ModuleExt};
use std::time::Instant;

/// Settings of a training run.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Examples per minibatch.
    pub batch_size: usize,
    /// Seed of the shuffling (and of nothing else: the model and optimizer
    /// have their own).
    pub seed: u64,
    /// Batch size for evaluation passes.
    pub eval_batch_size: usize,
    /// First epoch to run (1-based); > 1 when resuming.
    pub start_epoch: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig { epochs: 10, batch_size: 64, seed: 1, eval_batch_size: 500, start_epoch: 1 }
    }
}

/// What one epoch achieved.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's minibatches (during training).
    pub train_loss: f64,
    /// Training accuracy over the epoch's minibatches (during training).
    pub train_accuracy: f64,
    /// Test loss after the epoch (eval mode).
    pub test_loss: f64,
    /// Test accuracy after the epoch (eval mode).
    pub test_accuracy: f64,
    /// Mean effective learning rate over the epoch's steps.
    pub learning_rate: f64,
    /// Optimizer steps taken this epoch.
    pub steps: usize,
    /// Wall-clock seconds of the epoch (training and evaluation).
    pub seconds: f64,
}

/// Why training stopped early.
#[derive(Debug)]
pub enum TrainError {
    /// The loss became NaN or infinite.
    NonFinite {
        /// Epoch (from 1).
        epoch: usize,
        /// Step within the epoch (from 1).
        step: usize,
        /// The offending loss value.
        loss: f32,
    },
    /// A hook (checkpoint writer, log) failed.
    Hook(String),
    /// The data could not be batched.
    Data(datasets::DataError),
    /// A stop was requested ([`nn::interrupt`], e.g. by SIGINT): the epoch
    /// in progress is abandoned, so resuming from the last checkpoint
    /// repeats it exactly.
    Interrupted {
        /// The abandoned epoch (from 1).
        epoch: usize,
    },
}

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainError::Interrupted { epoch } => {
                write!(f, "stopped during epoch {epoch}; the checkpoints hold every epoch before it: continue with --resume")
            }
            TrainError::NonFinite { epoch, step, loss } => {
                write!(f, "the training loss became {loss} at epoch {epoch}, step {step}; try a smaller learning rate")
            }
            TrainError::Hook(e) => write!(f, "{e}"),
            TrainError::Data(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TrainError {}

/// Callbacks of the training loop.
pub trait TrainHooks {
    /// After every optimizer step.
    fn on_step(&mut self, _epoch: usize, _step: usize, _steps_per_epoch: usize, _report: &StepReport) {}
    /// After every epoch (model holds the epoch's final weights).
    fn on_epoch(&mut self, _model: &mut dyn Module, _opt: &dyn Optimizer, _metrics: &EpochMetrics) -> Result<(), String> {
        Ok(())
    }
}

/// Hooks that do nothing.
pub struct NoHooks;
impl TrainHooks for NoHooks {}

/// Turns a data batch into an input tensor.
pub fn batch_tensor(b: &Batch) -> Tensor {
    Tensor::from_vec(b.inputs.clone(), &b.shape)
}

/// The [`Objective`] of classification training: cross-entropy of a model
/// on the current minibatch of an epoch. Tracks the loss and accuracy of
/// the passes that update buffers (one per step: the "main" pass).
pub struct BatchObjective<'m, 'd> {
    model: &'m mut dyn Module,
    epoch: Epoch<'d, ClassificationSet>,
    input: Option<Tensor>,
    targets: Vec<usize>,
    /// Examples seen by main passes.
    pub seen: usize,
    /// Correct predictions of main passes.
    pub correct: usize,
    /// Sum of per-example losses of main passes.
    pub loss_sum: f64,
}

impl<'m, 'd> BatchObjective<'m, 'd> {
    /// An objective walking one epoch of `epoch`'s batches.
    pub fn new(model: &'m mut dyn Module, epoch: Epoch<'d, ClassificationSet>) -> Self {
        BatchObjective { model, epoch, input: None, targets: Vec::new(), seen: 0, correct: 0, loss_sum: 0.0 }
    }

    fn input(&self) -> &Tensor {
        self.input.as_ref().expect("objective used before next_batch")
    }
}

impl Objective for BatchObjective<'_, '_> {
    fn loss_grad(&mut self, params: &[Tensor], update_buffers: bool) -> (f32, Vec<Tensor>) {
        let x = self.input().clone();
        let targets = &self.targets;
        let mut logits = None;
        let (loss, g) = model_loss_grad(self.model, params, update_buffers, |m| {
            let out = m.forward(&x);
            let l = out.cross_entropy(targets);
            logits = Some(out);
            l
        });
        let value = loss.item();
        if update_buffers {
            let pred = logits.expect("forward ran").argmax(1);
            self.correct += pred.iter().zip(&self.targets).filter(|(p, t)| p == t).count();
            self.seen += self.targets.len();
            self.loss_sum += value as f64 * self.targets.len() as f64;
        }
        (value, g)
    }

    fn loss(&mut self, params: &[Tensor]) -> f32 {
        let x = self.input().clone();
        let targets = &self.targets;
        model_loss(self.model, params, |m| m.forward(&x).cross_entropy(targets))
    }

    fn next_batch(&mut self) -> bool {
        match self.epoch.next() {
            Some(b) => {
                self.input = Some(batch_tensor(&b));
                self.targets = b.targets;
                true
            }
            None => false,
        }
    }
}

/// Trains `model` on `train` with `opt`, evaluating on `test` after each
/// epoch. The learning rate at global batch `k` of `K` is
/// `base · schedule.factor(k, K)`, where `base` is the optimizer's rate on
/// entry and batches count every minibatch consumed (so Entropy-SGD's
/// inner steps advance the schedule too).
pub fn train(
    model: &mut dyn Module,
    train: &ClassificationSet,
    test: &ClassificationSet,
    opt: &mut dyn Optimizer,
    schedule: &Schedule,
    cfg: &TrainConfig,
    hooks: &mut dyn TrainHooks,
) -> Result<Vec<EpochMetrics>, TrainError> {
    let loader = DataLoader::new(train, cfg.batch_size).map_err(TrainError::Data)?.shuffled(cfg.seed);
    let per_epoch = loader.num_batches();
    let total = per_epoch * cfg.epochs;
    let base_lr = opt.learning_rate();
    let mut params = model.parameters();
    let mut history = Vec::new();
    for epoch in cfg.start_epoch..=cfg.epochs {
        let start = Instant::now();
        let mut consumed = (epoch - 1) * per_epoch;
        let (mut steps, mut lr_sum) = (0usize, 0.0f64);
        let mut obj = BatchObjective::new(model, loader.epoch(epoch as u64));
        while obj.next_batch() {
            opt.set_learning_rate(base_lr * schedule.factor(consumed, total));
            let report = opt.step(&mut params, &mut obj);
            steps += 1;
            consumed += report.batches.max(1);
            lr_sum += report.learning_rate as f64;
            if !report.loss.is_finite() {
                return Err(TrainError::NonFinite { epoch, step: steps, loss: report.loss });
            }
            hooks.on_step(epoch, steps, per_epoch, &report);
            if nn::interrupt::stop_requested() {
                opt.set_learning_rate(base_lr);
                return Err(TrainError::Interrupted { epoch });
            }
        }
        let (train_loss, train_acc) = (obj.loss_sum / obj.seen.max(1) as f64, obj.correct as f64 / obj.seen.max(1) as f64);
        drop(obj);
        model.set_parameters(&params);
        let eval = nn::evaluate(model, test, cfg.eval_batch_size.max(1));
        let (test_loss, test_accuracy) = (eval.loss, eval.accuracy);
        let m = EpochMetrics {
            epoch,
            train_loss,
            train_accuracy: train_acc,
            test_loss,
            test_accuracy,
            learning_rate: lr_sum / steps.max(1) as f64,
            steps,
            seconds: start.elapsed().as_secs_f64(),
        };
        hooks.on_epoch(model, opt, &m).map_err(TrainError::Hook)?;
        history.push(m);
    }
    opt.set_learning_rate(base_lr);
    Ok(history)
}
