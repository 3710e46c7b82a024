//! [`Embedding`]: a lookup table of token vectors, PyTorch's `nn.Embedding`.

use super::visit_one;
use crate::{Kind, Module};
use autodiff::Tensor;
use rand::Rng;

/// Maps token ids to rows of `weight` (`[vocab, dim]`). Input: ids as an
/// f32 tensor of any shape (e.g. `[batch, seq]`, exact below 2²⁴); output:
/// that shape plus `[dim]`.
#[derive(Clone, Debug)]
pub struct Embedding {
    /// `[vocab, dim]`.
    pub weight: Tensor,
}

impl Embedding {
    /// PyTorch's default initialization: `N(0, 1)` entries from `rng`.
    pub fn new(vocab: usize, dim: usize, rng: &mut impl Rng) -> Embedding {
        Embedding { weight: Tensor::randn_with(&[vocab, dim], rng) }
    }

    /// Number of tokens in the table.
    pub fn vocab(&self) -> usize {
        self.weight.dim(0)
    }

    /// Turns f32 ids into indices. Panics on an id that is not an integer
    /// in `0..vocab` (the data pipeline produces the ids).
    pub fn ids(&self, x: &Tensor) -> Vec<usize> {
        let vocab = self.vocab();
        x.data()
            .iter()
            .map(|&v| {
                assert!(v >= 0.0 && v.fract() == 0.0 && (v as usize) < vocab, "Embedding: token id {v} is not an integer in 0..{vocab}");
                v as usize
            })
            .collect()
    }
}

impl Module for Embedding {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let ids = self.ids(x);
        self.weight.embedding(&ids, x.shape())
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        visit_one(prefix, "weight", &mut self.weight, Kind::Parameter, f);
    }

    fn set_training(&mut self, _training: bool) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use autodiff::gradcheck::{check_gradients, check_second_order, GradCheck};
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn forward_by_hand() {
        let mut e = Embedding { weight: Tensor::from_vec((0..6).map(|v| v as f32).collect(), &[3, 2]) };
        let y = e.forward(&Tensor::from_vec(vec![2.0, 0.0, 2.0, 1.0], &[2, 2]));
        assert_eq!(y.shape(), [2, 2, 2]);
        assert_eq!(y.to_vec(), vec![4.0, 5.0, 0.0, 1.0, 4.0, 5.0, 2.0, 3.0]);
    }

    #[test]
    fn init_is_standard_normal() {
        let e = Embedding::new(100, 50, &mut StdRng::seed_from_u64(3));
        let d = e.weight.data();
        let mean = d.iter().sum::<f32>() / d.len() as f32;
        let var = d.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / d.len() as f32;
        assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.05, "mean {mean}, var {var}");
    }

    #[test]
    #[should_panic(expected = "token id 3")]
    fn rejects_out_of_range_ids() {
        let mut e = Embedding { weight: Tensor::zeros(&[3, 2]) };
        e.forward(&Tensor::from_vec(vec![3.0], &[1]));
    }

    #[test]
    fn gradients() {
        let w = Tensor::rand_uniform(&[4, 3], -1.0, 1.0, 14);
        let ids = Tensor::from_vec(vec![1.0, 3.0, 1.0, 0.0], &[2, 2]);
        let f = |t: &[Tensor]| Embedding { weight: t[0].clone() }.forward(&ids);
        check_gradients(f, std::slice::from_ref(&w), &GradCheck::default()).unwrap();
        check_second_order(f, &[w], &GradCheck::default()).unwrap();
    }
}
