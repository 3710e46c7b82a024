//! `char-lstm`: Embedding(vocab, 64) → LSTM(64, 256, 2 layers) → Linear(256,
//! vocab) (zoo.py's `CharLSTM`): `embed`, `lstm`, `head`.

use crate::layers::{Embedding, Linear, Lstm};
use crate::{Kind, Module};
use autodiff::Tensor;
use rand::Rng;

/// A character-level language model: token ids `[batch, seq]` (as f32) to
/// logits `[batch, seq, vocab]`.
pub struct CharLstm {
    /// `[vocab, 64]`.
    pub embed: Embedding,
    /// 2 layers, hidden 256.
    pub lstm: Lstm,
    /// `256 → vocab`.
    pub head: Linear,
}

impl CharLstm {
    /// Embedding size 64, hidden 256, 2 layers (zoo.py's defaults).
    pub fn new(vocab: usize, rng: &mut impl Rng) -> CharLstm {
        CharLstm::with_sizes(vocab, 64, 256, 2, rng)
    }

    /// Any sizes (e.g. small ones for tests).
    pub fn with_sizes(vocab: usize, embed: usize, hidden: usize, layers: usize, rng: &mut impl Rng) -> CharLstm {
        let embed_l = Embedding::new(vocab, embed, rng);
        let lstm = Lstm::new(embed, hidden, layers, rng);
        let head = Linear::new(hidden, vocab, true, rng);
        CharLstm { embed: embed_l, lstm, head }
    }
}

impl Module for CharLstm {
    fn forward(&mut self, tokens: &Tensor) -> Tensor {
        assert_eq!(tokens.ndim(), 2, "char-lstm: tokens {:?} must be [batch, seq]", tokens.shape());
        let e = self.embed.forward(tokens);
        let h = self.lstm.forward(&e);
        self.head.forward(&h)
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        self.embed.visit_mut(&format!("{prefix}embed."), f);
        self.lstm.visit_mut(&format!("{prefix}lstm."), f);
        self.head.visit_mut(&format!("{prefix}head."), f);
    }

    fn set_training(&mut self, _training: bool) {}
}
