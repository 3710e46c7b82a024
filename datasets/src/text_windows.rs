//! The evaluation set of a language model: fixed, deterministic windows
//! of one split of a character corpus.
//!
//! ## Windowing
//! A split's token stream `tokens[0..n]` is cut into **consecutive,
//! non-overlapping** windows of `L = seq_len` tokens: window `k` has inputs
//! `tokens[kL .. kL+L]` and targets `tokens[kL+1 .. kL+L+1]` (each input
//! is followed in the text by its target). Only full windows count:
//! `floor((n − 1) / L)` of them; a limit keeps the first ones. These are
//! exactly the rows of a one-stream [`BpttBatches`](crate::BpttBatches)
//! (`batch = 1`). (`optim::train_lm`'s per-epoch validation loss first cuts
//! the split into `eval_batch_size` parallel streams, so its windows are
//! these only for one stream; both use a zero state per window.)
//!
//! ## Hidden state
//! Every window starts from a **zero** recurrent state; nothing is carried
//! from one window to the next. This is how training sees its truncated-BPTT
//! windows (`optim::train_lm`), so a window's loss is a function of the
//! weights and that window alone, independent of evaluation order and batch
//! size. The first characters of a window are therefore predicted with
//! little context, as in training.

use crate::error::{DataError, Result};
use crate::text::{TextData, TokenBatch};
use std::fmt;
use std::ops::Range;

/// Which token stream of a [`TextData`] to cut into windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextSplit {
    /// The training tokens (the head of the text).
    Train,
    /// The held-out tokens (the last `val_fraction` of the text); what a
    /// command line's "test" split means for a corpus.
    Valid,
}

impl fmt::Display for TextSplit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TextSplit::Train => "train",
            TextSplit::Valid => "validation",
        })
    }
}

/// Fixed next-token windows of a token stream (see the module docs for the
/// windowing rule and the zero initial state).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LmWindows {
    /// Input tokens, `[count, seq_len]` row-major: row `k` is `tokens[kL .. kL+L]`.
    pub inputs: Vec<usize>,
    /// Target tokens, `[count, seq_len]` row-major: row `k` is `tokens[kL+1 .. kL+L+1]`.
    pub targets: Vec<usize>,
    /// Window length `L` in tokens.
    pub seq_len: usize,
    /// Number of windows.
    pub count: usize,
}

impl LmWindows {
    /// Number of full windows of `seq_len` in a stream of `tokens` tokens:
    /// `floor((tokens − 1) / seq_len)` (0 for an empty stream or `seq_len = 0`).
    pub fn available(tokens: usize, seq_len: usize) -> usize {
        if seq_len == 0 {
            return 0;
        }
        tokens.saturating_sub(1) / seq_len
    }

    /// The first `limit` (all when `None`; at most all) windows of
    /// `seq_len` tokens of `tokens`. `what` names the stream in errors
    /// (e.g. "shakespeare validation split"). Errors: `seq_len = 0`,
    /// `limit = Some(0)`, fewer than `seq_len + 1` tokens.
    pub fn new(tokens: &[usize], seq_len: usize, limit: Option<usize>, what: &str) -> Result<LmWindows> {
        if seq_len == 0 {
            return Err(DataError::invalid(format!("{what}: sequence length 0; a window needs at least 1 token")));
        }
        if limit == Some(0) {
            return Err(DataError::invalid(format!("{what}: a limit of 0 windows leaves nothing to evaluate")));
        }
        let available = LmWindows::available(tokens.len(), seq_len);
        if available == 0 {
            return Err(DataError::TooFewTokens { what: what.to_string(), tokens: tokens.len(), seq_len });
        }
        let count = limit.map_or(available, |l| l.min(available));
        let n = count * seq_len;
        Ok(LmWindows { inputs: tokens[..n].to_vec(), targets: tokens[1..n + 1].to_vec(), seq_len, count })
    }

    /// The windows of `split` of `data` (errors name the corpus's source and
    /// the split; an empty validation split, from a fraction of 0, is one).
    pub fn from_text(data: &TextData, split: TextSplit, seq_len: usize, limit: Option<usize>) -> Result<LmWindows> {
        let tokens = match split {
            TextSplit::Train => &data.train,
            TextSplit::Valid => &data.valid,
        };
        LmWindows::new(tokens, seq_len, limit, &format!("{} ({split} split)", data.source))
    }

    /// Total number of predicted tokens, `count · seq_len`.
    pub fn tokens(&self) -> usize {
        self.count * self.seq_len
    }

    /// Inputs and targets of window `k` (`None` past the last).
    pub fn window(&self, k: usize) -> Option<(&[usize], &[usize])> {
        (k < self.count).then(|| {
            let r = k * self.seq_len..(k + 1) * self.seq_len;
            (&self.inputs[r.clone()], &self.targets[r])
        })
    }

    /// Windows `range` as one batch of `range.len()` rows (a model runs them
    /// in parallel, each from a zero state). Panics if the range is empty or
    /// reaches past `count`.
    pub fn batch(&self, range: Range<usize>) -> TokenBatch {
        assert!(range.start < range.end && range.end <= self.count, "LmWindows::batch: {range:?} outside 0..{}", self.count);
        let r = range.start * self.seq_len..range.end * self.seq_len;
        TokenBatch { inputs: self.inputs[r.clone()].to_vec(), targets: self.targets[r].to_vec(), batch: range.len(), seq_len: self.seq_len }
    }

    /// All windows in order, `batch` per [`TokenBatch`] (the last may have
    /// fewer rows). Panics if `batch == 0`.
    pub fn batches(&self, batch: usize) -> impl Iterator<Item = TokenBatch> + '_ {
        assert!(batch > 0, "LmWindows::batches: batch size must be positive");
        (0..self.count).step_by(batch).map(move |s| self.batch(s..(s + batch).min(self.count)))
    }
}
