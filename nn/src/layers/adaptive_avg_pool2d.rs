//! [`AdaptiveAvgPool2d`]: PyTorch's `nn.AdaptiveAvgPool2d`.

use crate::{Kind, Module};
use autodiff::Tensor;

/// Average pooling to a fixed output size (`(1, 1)`: global average
/// pooling, as at the end of a ResNet).
#[derive(Clone, Copy, Debug)]
pub struct AdaptiveAvgPool2d {
    /// Output `(height, width)`.
    pub output: (usize, usize),
}

impl AdaptiveAvgPool2d {
    /// Pools to `output` = `(height, width)`.
    pub fn new(output: (usize, usize)) -> AdaptiveAvgPool2d {
        AdaptiveAvgPool2d { output }
    }
}

impl Module for AdaptiveAvgPool2d {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        x.adaptive_avg_pool2d(self.output)
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
        let x = Tensor::from_vec((0..9).map(|v| v as f32).collect(), &[1, 1, 3, 3]);
        assert_eq!(AdaptiveAvgPool2d::new((1, 1)).forward(&x).to_vec(), vec![4.0]);
        // 3 -> 2: windows rows/cols {0,1} and {1,2}: means of {0,1,3,4}=2, {1,2,4,5}=3, {3,4,6,7}=5, {4,5,7,8}=6.
        assert_eq!(AdaptiveAvgPool2d::new((2, 2)).forward(&x).to_vec(), vec![2.0, 3.0, 5.0, 6.0]);
    }

    #[test]
    fn gradients() {
        let x = Tensor::rand_uniform(&[2, 2, 3, 3], -1.0, 1.0, 10);
        let f = |t: &[Tensor]| AdaptiveAvgPool2d::new((2, 2)).forward(&t[0]);
        check_gradients(f, std::slice::from_ref(&x), &GradCheck::default()).unwrap();
        check_second_order(f, &[x], &GradCheck::default()).unwrap();
    }
}
