//! [`Conv2d`]: 2-D convolution, PyTorch's `nn.Conv2d` (groups = 1).

use super::{uniform, visit_one};
use crate::{Kind, Module};
use autodiff::Tensor;
use rand::Rng;

/// A 2-D convolution over `[n, c_in, h, w]` with a `[c_out, c_in, kh, kw]`
/// weight, square stride and padding, dilation 1.
#[derive(Clone, Debug)]
pub struct Conv2d {
    /// `[c_out, c_in, kh, kw]`.
    pub weight: Tensor,
    /// `[c_out]`, if the layer has a bias.
    pub bias: Option<Tensor>,
    /// Step between windows (both axes).
    pub stride: usize,
    /// Zeros added on each side (both axes).
    pub padding: usize,
}

impl Conv2d {
    /// PyTorch's default initialization with a `kernel × kernel` window:
    /// weight and bias `U(±1/√fan_in)`, `fan_in = c_in·k²`, weight first.
    pub fn new(c_in: usize, c_out: usize, kernel: usize, stride: usize, padding: usize, bias: bool, rng: &mut impl Rng) -> Conv2d {
        let bound = 1.0 / ((c_in * kernel * kernel).max(1) as f32).sqrt();
        let weight = uniform(&[c_out, c_in, kernel, kernel], bound, rng);
        let bias = bias.then(|| uniform(&[c_out], bound, rng));
        Conv2d { weight, bias, stride, padding }
    }

    /// A layer with the given tensors. Panics on inconsistent shapes.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, stride: usize, padding: usize) -> Conv2d {
        assert_eq!(weight.ndim(), 4, "Conv2d: weight must be [c_out, c_in, kh, kw], got {:?}", weight.shape());
        if let Some(b) = &bias {
            assert_eq!(b.shape(), [weight.dim(0)], "Conv2d: bias {:?} for weight {:?}", b.shape(), weight.shape());
        }
        Conv2d { weight, bias, stride, padding }
    }
}

impl Module for Conv2d {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let (s, p) = (self.stride, self.padding);
        x.conv2d(&self.weight, self.bias.as_ref(), (s, s), (p, p), (1, 1))
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        visit_one(prefix, "weight", &mut self.weight, Kind::Parameter, f);
        if let Some(b) = &mut self.bias {
            visit_one(prefix, "bias", b, Kind::Parameter, f);
        }
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
        // 1 channel 3x3 input 1..9, 2x2 kernel of ones, bias 1, padding 0:
        // windows sum to 12, 16, 24, 28 (+1).
        let x = Tensor::from_vec((1..=9).map(|v| v as f32).collect(), &[1, 1, 3, 3]);
        let mut c = Conv2d::from_tensors(Tensor::ones(&[1, 1, 2, 2]), Some(Tensor::ones(&[1])), 1, 0);
        assert_eq!(c.forward(&x).to_vec(), vec![13.0, 17.0, 25.0, 29.0]);
        // stride 2, padding 1: windows [0,0,0,1]=1, [0,0,2,3]=5, [0,4,0,7]=11, [5,6,8,9]=28.
        let mut c = Conv2d::from_tensors(Tensor::ones(&[1, 1, 2, 2]), None, 2, 1);
        let y = c.forward(&x);
        assert_eq!(y.shape(), [1, 1, 2, 2]);
        assert_eq!(y.to_vec(), vec![1.0, 5.0, 11.0, 28.0]);
    }

    #[test]
    fn init_bounds() {
        let c = Conv2d::new(2, 3, 3, 1, 1, true, &mut StdRng::seed_from_u64(1));
        let bound = 1.0 / 18f32.sqrt();
        assert_eq!(c.weight.shape(), [3, 2, 3, 3]);
        assert!(c.weight.data().iter().chain(c.bias.as_ref().unwrap().data()).all(|v| v.abs() <= bound));
    }

    #[test]
    fn gradients() {
        let x = Tensor::rand_uniform(&[2, 2, 4, 4], -1.0, 1.0, 1);
        let w = Tensor::rand_uniform(&[3, 2, 3, 3], -0.5, 0.5, 2);
        let b = Tensor::rand_uniform(&[3], -1.0, 1.0, 3);
        let f = |t: &[Tensor]| Conv2d::from_tensors(t[1].clone(), Some(t[2].clone()), 2, 1).forward(&t[0]);
        let inputs = [x, w, b];
        check_gradients(f, &inputs, &GradCheck::default()).unwrap();
        check_second_order(f, &inputs, &GradCheck::default()).unwrap();
    }
}
