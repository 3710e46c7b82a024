//! [`MaxPool2d`]: PyTorch's `nn.MaxPool2d`.

use crate::{Kind, Module};
use autodiff::Tensor;

/// Max pooling over `[n, c, h, w]` with a square window.
#[derive(Clone, Copy, Debug)]
pub struct MaxPool2d {
    /// Window side.
    pub kernel: usize,
    /// Step between windows (PyTorch's default: the kernel).
    pub stride: usize,
    /// Padding on each side (never wins the max).
    pub padding: usize,
    /// Round the output size up (a last, partial window).
    pub ceil_mode: bool,
}

impl MaxPool2d {
    /// `kernel × kernel` windows with stride `stride`, no padding, floor mode.
    pub fn new(kernel: usize, stride: usize) -> MaxPool2d {
        MaxPool2d { kernel, stride, padding: 0, ceil_mode: false }
    }

    /// The same with ceil mode (a last partial window is kept).
    pub fn ceil_mode(mut self, ceil: bool) -> MaxPool2d {
        self.ceil_mode = ceil;
        self
    }
}

impl Module for MaxPool2d {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        x.max_pool2d((k, k), (s, s), (p, p), self.ceil_mode)
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
        // 3x3 input 1..9: floor mode keeps one 2x2 window (max 5);
        // ceil mode keeps the partial ones too: 5, 6, 8, 9.
        let x = Tensor::from_vec((1..=9).map(|v| v as f32).collect(), &[1, 1, 3, 3]);
        assert_eq!(MaxPool2d::new(2, 2).forward(&x).to_vec(), vec![5.0]);
        let y = MaxPool2d::new(2, 2).ceil_mode(true).forward(&x);
        assert_eq!(y.shape(), [1, 1, 2, 2]);
        assert_eq!(y.to_vec(), vec![5.0, 6.0, 8.0, 9.0]);
    }

    #[test]
    fn gradients() {
        // Distinct, well separated values: no ties within eps.
        let v: Vec<f32> = (0..32).map(|i| ((i * 13) % 32) as f32 * 0.1 - 1.6).collect();
        let x = Tensor::from_vec(v, &[1, 2, 4, 4]);
        let f = |t: &[Tensor]| MaxPool2d::new(2, 2).ceil_mode(true).forward(&t[0]);
        check_gradients(f, std::slice::from_ref(&x), &GradCheck::default()).unwrap();
        check_second_order(f, &[x], &GradCheck::default()).unwrap();
    }
}
