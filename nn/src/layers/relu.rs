//! [`ReLU`]: `max(x, 0)`, PyTorch's `nn.ReLU`.

use crate::{Kind, Module};
use autodiff::Tensor;

/// Rectified linear unit, elementwise.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReLU;

impl Module for ReLU {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        x.relu()
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
        assert_eq!(ReLU.forward(&Tensor::from_vec(vec![-2.0, 0.0, 3.0], &[3])).to_vec(), vec![0.0, 0.0, 3.0]);
    }

    #[test]
    fn gradients() {
        // Away from the kink at 0.
        let x = Tensor::from_vec(vec![-1.0, -0.3, 0.2, 0.7, 1.5, -2.0], &[2, 3]);
        let f = |t: &[Tensor]| ReLU.forward(&t[0]);
        check_gradients(f, std::slice::from_ref(&x), &GradCheck::default()).unwrap();
        check_second_order(f, &[x], &GradCheck::default()).unwrap();
    }
}
