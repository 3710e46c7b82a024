//! What a landscape tool evaluates a model on: the examples of a
//! classification split, or the fixed next-character windows of a text
//! split ([`datasets::LmWindows`]). Both give a mean loss and an accuracy,
//! and both cut into the batches a Hessian or a sharpness metric averages
//! over, each batch weighted by its number of predictions (examples, or
//! tokens of the windows).

use autodiff::Tensor;
use datasets::{ClassificationSet, DataLoader, LmWindows};
use nn::Module;

/// The evaluation examples of one split.
#[derive(Clone, Debug)]
pub enum Examples {
    /// Labelled examples of a classification data set.
    Classes(ClassificationSet),
    /// Next-character windows of a text corpus (zero state per window).
    Windows(LmWindows),
}

impl Examples {
    /// Number of examples, or of windows.
    pub fn len(&self) -> usize {
        match self {
            Examples::Classes(s) => s.len(),
            Examples::Windows(w) => w.count,
        }
    }

    /// No examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of predictions the mean loss averages over: examples, or
    /// tokens (`windows · seq_len`).
    pub fn predictions(&self) -> usize {
        match self {
            Examples::Classes(s) => s.len(),
            Examples::Windows(w) => w.tokens(),
        }
    }

    /// Mean cross-entropy (per example, or per character) and top-1
    /// accuracy of `model` in eval mode, `batch_size` examples or windows per
    /// forward pass.
    pub fn evaluate(&self, model: &mut dyn Module, batch_size: usize) -> (f64, f64) {
        match self {
            Examples::Classes(s) => {
                let r = nn::evaluate(model, s, batch_size.max(1));
                (r.loss, r.accuracy)
            }
            Examples::Windows(w) => {
                let r = nn::evaluate_lm(model, w, batch_size.max(1));
                (r.loss, r.accuracy)
            }
        }
    }

    /// The examples as loss batches of `batch_size`.
    pub fn loss_batches(&self, batch_size: usize) -> crate::Result<LossBatches> {
        match self {
            Examples::Classes(s) => LossBatches::classification(s, batch_size),
            Examples::Windows(w) => LossBatches::windows(w, batch_size),
        }
    }
}

/// Inputs and targets of fixed batches, with the total number of targets:
/// the data of a mean loss `Σ_b (n_b / n) · loss_b`.
pub struct LossBatches {
    /// `(inputs, targets)` per batch; a window batch's targets are all its
    /// positions, row-major.
    pub batches: Vec<(Tensor, Vec<usize>)>,
    /// Number of targets over all batches.
    pub total: usize,
}

impl LossBatches {
    /// The examples of `set`, `batch_size` at a time, in order.
    pub fn classification(set: &ClassificationSet, batch_size: usize) -> crate::Result<LossBatches> {
        if set.is_empty() {
            return Err(crate::LandscapeError::Invalid("the data subset is empty".into()));
        }
        let loader = DataLoader::new(set, batch_size).map_err(|e| crate::LandscapeError::Invalid(e.to_string()))?;
        let batches: Vec<(Tensor, Vec<usize>)> = loader.epoch(0).map(|b| (Tensor::from_vec(b.inputs, &b.shape), b.targets)).collect();
        Ok(LossBatches { batches, total: set.len() })
    }

    /// The windows of `windows`, `batch_size` windows at a time, in order.
    pub fn windows(windows: &LmWindows, batch_size: usize) -> crate::Result<LossBatches> {
        if batch_size == 0 {
            return Err(crate::LandscapeError::Invalid("batch size 0".into()));
        }
        let batches = windows.batches(batch_size).map(|b| (nn::eval_lm::lm_input(&b), b.targets)).collect();
        Ok(LossBatches { batches, total: windows.tokens() })
    }

    /// Weight of a batch with `targets` targets in the mean.
    pub fn weight(&self, targets: &[usize]) -> f64 {
        targets.len() as f64 / self.total as f64
    }
}

/// Mean cross-entropy of `model` on one batch: logits `[n, classes]`, or
/// a language model's `[batch, seq_len, vocab]` flattened to one row per
/// position. Differentiable to second order.
pub fn batch_loss(model: &mut dyn Module, inputs: &Tensor, targets: &[usize]) -> Tensor {
    flat_logits(model, inputs).cross_entropy(targets)
}

/// Per-target cross-entropies of `model` on one batch (see [`batch_loss`]).
pub fn batch_losses(model: &mut dyn Module, inputs: &Tensor, targets: &[usize]) -> Tensor {
    flat_logits(model, inputs).cross_entropy_per_example(targets)
}

fn flat_logits(model: &mut dyn Module, inputs: &Tensor) -> Tensor {
    let logits = model.forward(inputs);
    if logits.ndim() == 3 {
        let (b, t, v) = (logits.dim(0), logits.dim(1), logits.dim(2));
        logits.reshape(&[b * t, v])
    } else {
        logits
    }
}
