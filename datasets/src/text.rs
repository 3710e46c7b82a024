//! Character corpora for language models.
//!
//! Tokens are **bytes**: the vocabulary is the sorted set of distinct bytes
//! of the whole text (train and validation), so a multi-byte UTF-8 character
//! becomes several tokens (the embedded Shakespeare is plain ASCII: 76
//! tokens). The last `val_fraction` of the token stream is held out for
//! validation. [`BpttBatches`] cuts a token stream into contiguous windows
//! for truncated back-propagation through time; the fixed evaluation windows
//! of a split are [`crate::LmWindows`].

use crate::error::{DataError, Result};
use std::path::Path;

/// Default fraction of a corpus held out for validation (its last 10%).
pub const DEFAULT_VAL_FRACTION: f64 = 0.1;

/// Byte-level vocabulary: token `i` is the `i`-th smallest distinct byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocab {
    bytes: Vec<u8>,
    /// Token of each byte value (256 entries).
    index: Vec<Option<u16>>,
}

impl Vocab {
    /// The vocabulary of the distinct bytes of `text`.
    pub fn from_text(text: &[u8]) -> Vocab {
        let mut seen = [false; 256];
        for &b in text {
            seen[b as usize] = true;
        }
        let bytes: Vec<u8> = (0..=255u8).filter(|&b| seen[b as usize]).collect();
        let mut index = vec![None; 256];
        for (i, &b) in bytes.iter().enumerate() {
            index[b as usize] = Some(i as u16);
        }
        Vocab { bytes, index }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True for the vocabulary of an empty text.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The byte of each token, in token order (sorted ascending).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Token of `byte`, if it is in the vocabulary.
    pub fn token(&self, byte: u8) -> Option<usize> {
        self.index[byte as usize].map(|t| t as usize)
    }

    /// Byte of `token`, if it is a valid token.
    pub fn byte(&self, token: usize) -> Option<u8> {
        self.bytes.get(token).copied()
    }

    /// Tokens of `text`; `None` if a byte is not in the vocabulary.
    pub fn encode(&self, text: &[u8]) -> Option<Vec<usize>> {
        text.iter().map(|&b| self.token(b)).collect()
    }

    /// Text of `tokens` (invalid tokens become `?`, invalid UTF-8 is replaced).
    pub fn decode(&self, tokens: &[usize]) -> String {
        let bytes: Vec<u8> = tokens.iter().map(|&t| self.byte(t).unwrap_or(b'?')).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// A tokenized character corpus split into training and validation streams.
#[derive(Debug, Clone)]
pub struct TextData {
    /// Short name ("shakespeare", or "text").
    pub name: String,
    /// Where it came from (a path or "embedded shakespeare/plays.txt").
    pub source: String,
    /// The vocabulary of the whole text.
    pub vocab: Vocab,
    /// Training tokens (the head of the text).
    pub train: Vec<usize>,
    /// Validation tokens (the last `val_fraction` of the text).
    pub valid: Vec<usize>,
}

impl TextData {
    /// Tokenize `text` and hold out its last `floor(len * val_fraction)`
    /// bytes for validation. `name`/`source` label it; `source` also names
    /// it in errors. Errors on an empty text, a fraction outside `[0, 1)`,
    /// or fewer than 2 training tokens.
    pub fn from_bytes(name: &str, source: &str, text: &[u8], val_fraction: f64) -> Result<Self> {
        if text.is_empty() {
            return Err(DataError::EmptyText { path: source.into() });
        }
        if !(0.0..1.0).contains(&val_fraction) {
            return Err(DataError::invalid(format!("{source}: validation fraction {val_fraction} is outside [0, 1)")));
        }
        let vocab = Vocab::from_text(text);
        let tokens = vocab.encode(text).expect("every byte is in its own vocabulary");
        let n_val = ((text.len() as f64) * val_fraction).floor() as usize;
        let n_train = text.len() - n_val;
        if n_train < 2 {
            return Err(DataError::invalid(format!("{source}: {n_train} training bytes; need at least 2 for next-token targets")));
        }
        let valid = tokens[n_train..].to_vec();
        let mut train = tokens;
        train.truncate(n_train);
        Ok(TextData { name: name.into(), source: source.into(), vocab, train, valid })
    }

    /// Read a text file (any bytes) and split it as [`TextData::from_bytes`].
    pub fn from_file(path: &Path, val_fraction: f64) -> Result<Self> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| DataError::from_io(&name, "a text file", e))?;
        TextData::from_bytes("text", &name, &bytes, val_fraction)
    }

    /// Truncated-BPTT batches over the training tokens.
    pub fn train_batches(&self, batch: usize, seq_len: usize) -> Result<BpttBatches<'_>> {
        BpttBatches::new(&self.train, batch, seq_len)
    }

    /// Truncated-BPTT batches over the validation tokens.
    pub fn valid_batches(&self, batch: usize, seq_len: usize) -> Result<BpttBatches<'_>> {
        BpttBatches::new(&self.valid, batch, seq_len)
    }
}

/// A batch of token windows; `inputs[b * seq_len + t]` is followed in the
/// text by `targets[b * seq_len + t]` (targets are inputs shifted by one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBatch {
    /// Input tokens, `[batch, seq_len]` row-major.
    pub inputs: Vec<usize>,
    /// Next-token targets, `[batch, seq_len]` row-major.
    pub targets: Vec<usize>,
    /// Number of parallel streams (rows).
    pub batch: usize,
    /// Window length (columns).
    pub seq_len: usize,
}

/// Contiguous sequence batches for truncated BPTT.
///
/// The token stream is cut into `batch` equal parallel streams of
/// `stream_len = len / batch` tokens (the remainder at the end is unused);
/// row `b` of batch `i` covers stream `b`'s tokens
/// `i*seq_len .. (i+1)*seq_len` (targets one further), so row `b` of batch
/// `i + 1` continues exactly where row `b` of batch `i` stopped and a
/// recurrent state can be carried across batches. Only full windows are
/// produced: `num_batches = (stream_len - 1) / seq_len`.
#[derive(Debug, Clone)]
pub struct BpttBatches<'a> {
    tokens: &'a [usize],
    batch: usize,
    seq_len: usize,
    stream_len: usize,
}

impl<'a> BpttBatches<'a> {
    /// Batches of `batch` rows by `seq_len` tokens over `tokens`. Errors if
    /// either is 0 or if there are too few tokens for one batch
    /// (`batch * (seq_len + 1)` needed).
    pub fn new(tokens: &'a [usize], batch: usize, seq_len: usize) -> Result<Self> {
        if batch == 0 || seq_len == 0 {
            return Err(DataError::invalid(format!("batch ({batch}) and sequence length ({seq_len}) must be at least 1")));
        }
        let stream_len = tokens.len() / batch;
        if stream_len < seq_len + 1 {
            return Err(DataError::invalid(format!(
                "{} tokens are too few for {batch} streams of windows of {seq_len} \
                 (need at least {})",
                tokens.len(),
                batch * (seq_len + 1)
            )));
        }
        Ok(BpttBatches { tokens, batch, seq_len, stream_len })
    }

    /// Number of batches (full windows per stream).
    pub fn num_batches(&self) -> usize {
        (self.stream_len - 1) / self.seq_len
    }

    /// Tokens per parallel stream.
    pub fn stream_len(&self) -> usize {
        self.stream_len
    }

    /// Batch `i` (`i < num_batches()`, else `None`).
    pub fn batch(&self, i: usize) -> Option<TokenBatch> {
        if i >= self.num_batches() {
            return None;
        }
        let n = self.batch * self.seq_len;
        let mut inputs = Vec::with_capacity(n);
        let mut targets = Vec::with_capacity(n);
        for b in 0..self.batch {
            let start = b * self.stream_len + i * self.seq_len;
            inputs.extend_from_slice(&self.tokens[start..start + self.seq_len]);
            targets.extend_from_slice(&self.tokens[start + 1..start + 1 + self.seq_len]);
        }
        Some(TokenBatch { inputs, targets, batch: self.batch, seq_len: self.seq_len })
    }

    /// All batches in order.
    pub fn iter(&self) -> impl Iterator<Item = TokenBatch> + '_ {
        (0..self.num_batches()).map(move |i| self.batch(i).expect("in range"))
    }
}
