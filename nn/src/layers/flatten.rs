//! [`Flatten`]: PyTorch's `nn.Flatten` (`start_dim = 1`).

use crate::{Kind, Module};
use autodiff::Tensor;

/// Joins every axis from `start_dim` on into one: `[n, c, h, w]` becomes
/// `[n, c·h·w]` with the default `start_dim = 1`.
#[derive(Clone, Copy, Debug)]
pub struct Flatten {
    /// First axis folded.
    pub start_dim: usize,
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten { start_dim: 1 }
    }
}

impl Module for Flatten {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        x.flatten_from(self.start_dim)
    }

    fn visit_mut(&mut self, _prefix: &str, _f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {}

    fn set_training(&mut self, _training: bool) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use autodiff::gradcheck::{check_gradients, check_second_order, GradCheck};

    #[test]
    fn forward_by_hand() {
        let x = Tensor::from_vec((0..24).map(|v| v as f32).collect(), &[2, 3, 2, 2]);
        let y = Flatten::default().forward(&x);
        assert_eq!(y.shape(), [2, 12]);
        assert_eq!(y.to_vec(), x.to_vec());
    }

    #[test]
    fn gradients() {
        let x = Tensor::rand_uniform(&[2, 2, 2], -1.0, 1.0, 12);
        let f = |t: &[Tensor]| Flatten::default().forward(&t[0]);
        check_gradients(f, std::slice::from_ref(&x), &GradCheck::default()).unwrap();
        check_second_order(f, &[x], &GradCheck::default()).unwrap();
    }
}
