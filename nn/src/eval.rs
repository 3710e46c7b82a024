//! Evaluation of a classifier on a data set: mean cross-entropy and top-1
//! accuracy, in eval mode, without recording a graph. What `llv eval`
//! runs, and what the zoo's PyTorch fixtures are checked with.

use crate::Module;
use autodiff::Tensor;
use datasets::Dataset;

/// Loss and accuracy over a data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalResult {
    /// Mean cross-entropy over the examples (PyTorch's `F.cross_entropy`).
    pub loss: f64,
    /// Fraction of examples whose largest logit is the target (first maximum on ties).
    pub accuracy: f64,
    /// Number of examples evaluated.
    pub examples: usize,
}

/// Evaluates `model` on every example of `data`, in order, `batch_size`
/// at a time: switches the model to eval mode (BatchNorm uses running
/// statistics, dropout is off; it is left in eval mode), runs under
/// [`autodiff::no_grad`], sums the per-example cross-entropies in f64.
/// An empty data set gives `loss = accuracy = NaN`. Panics if
/// `batch_size == 0` or the model's output is not `[n, num_classes]`.
pub fn evaluate<M: Module + ?Sized, D: Dataset + ?Sized>(model: &mut M, data: &D, batch_size: usize) -> EvalResult {
    assert!(batch_size > 0, "evaluate: batch size must be positive");
    model.set_training(false);
    let _guard = autodiff::no_grad();
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let n = data.len();
    let mut start = 0;
    while start < n {
        let idx: Vec<usize> = (start..(start + batch_size).min(n)).collect();
        let batch = data.gather(&idx);
        let x = Tensor::from_vec(batch.inputs, &batch.shape);
        let logits = model.forward(&x);
        let per = logits.cross_entropy_per_example(&batch.targets);
        loss_sum += per.data().iter().map(|&v| v as f64).sum::<f64>();
        correct += logits.argmax(1).iter().zip(&batch.targets).filter(|(p, t)| p == t).count();
        start += idx.len();
    }
    EvalResult { loss: loss_sum / n as f64, accuracy: correct as f64 / n as f64, examples: n }
}
