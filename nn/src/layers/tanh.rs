//! [`Tanh`]: hyperbolic tangent, PyTorch's `nn.Tanh`.

use crate::{Kind, Module};
use autodiff::Tensor;

/// `tanh(x)`, elementwise.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tanh;

impl Module for Tanh {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        x.tanh()
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
        let y = Tanh.forward(&Tensor::from_vec(vec![0.0, 1.0, -2.0], &[3])).to_vec();
        for (a, b) in y.iter().zip([0.0, 0.761_594_2, -0.964_027_6]) {
            assert!((a - b).abs() < 1e-6, "{y:?}");
        }
    }

    #[test]
    fn gradients() {
        let x = Tensor::rand_uniform(&[2, 3], -2.0, 2.0, 11);
        let f = |t: &[Tensor]| Tanh.forward(&t[0]);
        check_gradients(f, std::slice::from_ref(&x), &GradCheck::default()).unwrap();
        check_second_order(f, &[x], &GradCheck::default()).unwrap();
    }
}
