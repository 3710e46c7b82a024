//! [`AvgPool2d`]: PyTorch's `nn.AvgPool2d`.

use crate::{Kind, Module};
use autodiff::Tensor;

/// Average pooling over `[n, c, h, w]` with a square window. Padded
/// positions count in the divisor (PyTorch's `count_include_pad=True`).
#[derive(Clone, Copy, Debug)]
pub struct AvgPool2d {
    /// Window side.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Zero padding on each side.
    pub padding: usize,
}

impl AvgPool2d {
    /// `kernel × kernel` windows with stride `stride`, no padding.
    pub fn new(kernel: usize, stride: usize) -> AvgPool2d {
        AvgPool2d { kernel, stride, padding: 0 }
    }
}

impl Module for AvgPool2d {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        x.avg_pool2d((k, k), (s, s), (p, p), false, true)
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
        // 4x4 input 0..15, 2x2 windows: means of {0,1,4,5}=2.5, {2,3,6,7}=4.5, 10.5, 12.5.
        let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]);
        assert_eq!(AvgPool2d::new(2, 2).forward(&x).to_vec(), vec![2.5, 4.5, 10.5, 12.5]);
        // Padding 1, kernel 2, stride 2 on 2x2 [1,2,3,4]: each window holds one value, divisor 4.
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]);
        let mut p = AvgPool2d { kernel: 2, stride: 2, padding: 1 };
        assert_eq!(p.forward(&x).to_vec(), vec![0.25, 0.5, 0.75, 1.0]);
    }

    #[test]
    fn gradients() {
        let x = Tensor::rand_uniform(&[2, 1, 4, 4], -1.0, 1.0, 9);
        let f = |t: &[Tensor]| AvgPool2d::new(2, 2).forward(&t[0]);
        check_gradients(f, std::slice::from_ref(&x), &GradCheck::default()).unwrap();
        check_second_order(f, &[x], &GradCheck::default()).unwrap();
    }
}
