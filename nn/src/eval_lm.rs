//! Evaluation of a language model on fixed next-token windows
//! ([`datasets::LmWindows`]): mean cross-entropy per character, top-1
//! next-character accuracy and perplexity, plus the differentiable loss of
//! one batch of windows that Hessian and surface code evaluate.
//!
//! A model takes token ids `[batch, seq_len]` (as f32, the zoo's
//! `char-lstm` convention) and returns logits `[batch, seq_len, vocab]`.
//! Every window starts from a **zero** recurrent state (each `forward`
//! starts fresh and windows are independent rows), as in training; see
//! [`datasets::text_windows`] for the windowing rule.

use crate::Module;
use autodiff::Tensor;
use datasets::{LmWindows, TokenBatch};

/// Loss, accuracy and perplexity of a language model over a window set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LmEvalResult {
    /// Mean next-token cross-entropy per character (nats), over all
    /// positions of all windows.
    pub loss: f64,
    /// Fraction of positions whose largest logit is the next character
    /// (first maximum on ties).
    pub accuracy: f64,
    /// `exp(loss)`.
    pub perplexity: f64,
    /// Windows evaluated.
    pub windows: usize,
    /// Positions (predicted characters) evaluated: `windows · seq_len`.
    pub tokens: usize,
}

impl LmEvalResult {
    /// Bits per character, `loss / ln 2`.
    pub fn bits_per_char(&self) -> f64 {
        self.loss / std::f64::consts::LN_2
    }
}

/// Token ids of `batch` as the f32 tensor `[batch, seq_len]` a language
/// model's `forward` takes.
pub fn lm_input(batch: &TokenBatch) -> Tensor {
    Tensor::from_vec(batch.inputs.iter().map(|&t| t as f32).collect(), &[batch.batch, batch.seq_len])
}

/// Logits of `model` on `batch` reshaped to `[batch·seq_len, vocab]`
/// (row `b·seq_len + t` predicts `batch.targets[b·seq_len + t]`).
fn flat_logits<M: Module + ?Sized>(model: &mut M, batch: &TokenBatch) -> Tensor {
    let logits = model.forward(&lm_input(batch));
    assert!(
        logits.ndim() == 3 && logits.dim(0) == batch.batch && logits.dim(1) == batch.seq_len,
        "language model: logits {:?} must be [batch {}, seq {}, vocab]",
        logits.shape(),
        batch.batch,
        batch.seq_len
    );
    let v = logits.dim(2);
    logits.reshape(&[batch.batch * batch.seq_len, v])
}

/// Mean next-token cross-entropy of `model` over every position of
/// `batch` (zero state per row). Differentiable (to second order) when a
/// graph is recorded: the loss Hessian-vector products and surfaces use.
/// The model's training mode is left as it is.
pub fn lm_loss<M: Module + ?Sized>(model: &mut M, batch: &TokenBatch) -> Tensor {
    flat_logits(model, batch).cross_entropy(&batch.targets)
}

/// Evaluates `model` on every window of `windows`, in order, `batch`
/// windows per forward pass: switches it to eval mode (left so), runs
/// under [`autodiff::no_grad`], sums per-position cross-entropies in f64.
/// The result does not depend on `batch` beyond float rounding, since
/// windows are independent. Panics if `batch == 0` or the logits are not
/// `[batch, seq_len, vocab]`.
pub fn evaluate_lm<M: Module + ?Sized>(model: &mut M, windows: &LmWindows, batch: usize) -> LmEvalResult {
    assert!(batch > 0, "evaluate_lm: batch size must be positive");
    model.set_training(false);
    let _guard = autodiff::no_grad();
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    for b in windows.batches(batch) {
        let logits = flat_logits(model, &b);
        let per = logits.cross_entropy_per_example(&b.targets);
        loss_sum += per.data().iter().map(|&v| v as f64).sum::<f64>();
        correct += logits.argmax(1).iter().zip(&b.targets).filter(|(p, t)| p == t).count();
    }
    let n = windows.tokens();
    let loss = loss_sum / n as f64;
    LmEvalResult { loss, accuracy: correct as f64 / n as f64, perplexity: loss.exp(), windows: windows.count, tokens: n }
}
