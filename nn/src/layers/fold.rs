//! The no-grad evaluation fast path: a convolution followed by batch norm
//! in eval mode is one convolution with rescaled weights and a bias
//! (DESIGN: "BatchNorm folded into the conv in eval").
//!
//! `BN(conv(x, W) + b) = conv(x, W·s) + (b·s + t)` with `s, t` from
//! [`BatchNorm::eval_affine`]: one pass over the activations instead of
//! five. Used only when the batch norm is in eval mode **and** recording is
//! off ([`autodiff::no_grad`]), so training and every gradient (Hessian
//! products included) run the plain, op-by-op graph. Results agree with
//! the unfolded path to float rounding (checked in the tests below).

use super::{BatchNorm, Conv2d};
use crate::Module;
use autodiff::Tensor;

/// `bn(conv(x))`, folded into one convolution when `bn` is in eval mode
/// and no graph is being recorded; the two layers one after the other
/// otherwise (then `bn` updates its statistics in training mode).
pub fn conv_bn(conv: &mut Conv2d, bn: &mut BatchNorm<2>, x: &Tensor) -> Tensor {
    conv_bn_act(conv, bn, x, None, false)
}

/// `relu(bn(conv(x)) + residual)` (residual and ReLU optional): with the
/// batch norm folded, one convolution whose output is finished as it is
/// written ([`Tensor::conv2d_fused`]); the layers and ops one after the
/// other when [`conv_bn`] would not fold.
pub fn conv_bn_act(conv: &mut Conv2d, bn: &mut BatchNorm<2>, x: &Tensor, residual: Option<&Tensor>, relu: bool) -> Tensor {
    if bn.is_training() || autodiff::is_grad_enabled() {
        let y = bn.forward(&conv.forward(x));
        let y = match residual {
            Some(r) => y.add(r),
            None => y,
        };
        return if relu { y.relu() } else { y };
    }
    let (scale, shift) = bn.eval_affine();
    let c = scale.numel();
    let w = conv.weight.mul(&scale.reshape(&[c, 1, 1, 1]));
    let b = match &conv.bias {
        Some(b) => b.mul(&scale).add(&shift),
        None => shift,
    };
    let (s, p) = (conv.stride, conv.padding);
    x.conv2d_fused(&w, Some(&b), residual, relu, (s, s), (p, p), (1, 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::BatchNorm2d;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn folded_equals_unfolded() {
        let rng = &mut StdRng::seed_from_u64(9);
        for bias in [false, true] {
            let mut conv = Conv2d::new(3, 4, 3, 2, 1, bias, rng);
            let mut bn = BatchNorm2d::new(4);
            bn.weight = Tensor::rand_uniform(&[4], 0.5, 1.5, 1);
            bn.bias = Tensor::rand_uniform(&[4], -0.5, 0.5, 2);
            bn.running_mean = Tensor::rand_uniform(&[4], -0.5, 0.5, 3);
            bn.running_var = Tensor::rand_uniform(&[4], 0.5, 2.0, 4);
            bn.set_training(false);
            let x = Tensor::rand_uniform(&[2, 3, 6, 6], -1.0, 1.0, 5);
            let plain = bn.forward(&conv.forward(&x));
            let folded = {
                let _g = autodiff::no_grad();
                conv_bn(&mut conv, &mut bn, &x)
            };
            assert_eq!(plain.shape(), folded.shape());
            let err = plain.data().iter().zip(folded.data()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(err < 1e-5, "folded differs by {err}");
            // With recording on, the plain graph is used (same values, exactly).
            assert_eq!(conv_bn(&mut conv, &mut bn, &x).to_vec(), plain.to_vec());
            // The block tail: relu(bn(conv(x)) + r), folded and finished in the conv.
            let r = Tensor::rand_uniform(plain.shape(), -1.0, 1.0, 6);
            let tail = plain.add(&r).relu();
            let fused = {
                let _g = autodiff::no_grad();
                conv_bn_act(&mut conv, &mut bn, &x, Some(&r), true)
            };
            let err = tail.data().iter().zip(fused.data()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(err < 1e-5, "fused tail differs by {err}");
            assert_eq!(conv_bn_act(&mut conv, &mut bn, &x, Some(&r), true).to_vec(), tail.to_vec());
        }
    }

    #[test]
    fn training_mode_is_not_folded() {
        let rng = &mut StdRng::seed_from_u64(10);
        let mut conv = Conv2d::new(1, 2, 3, 1, 1, false, rng);
        let mut bn = BatchNorm2d::new(2);
        let _g = autodiff::no_grad();
        conv_bn(&mut conv, &mut bn, &Tensor::rand_uniform(&[2, 1, 4, 4], -1.0, 1.0, 6));
        assert_eq!(bn.num_batches_tracked.item(), 1.0);
        assert_ne!(bn.running_mean.to_vec(), vec![0.0, 0.0]);
    }
}
