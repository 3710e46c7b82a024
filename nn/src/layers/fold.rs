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
    let (w, b) = folded(conv, bn);
    let (s, p) = (conv.stride, conv.padding);
    x.conv2d_fused(&w, Some(&b), residual, relu, (s, s), (p, p), (1, 1))
}

/// `relu(bn2(conv2(relu(bn1(conv1(x))))) + residual)`, a residual block's
/// body: with both batch norms folded and both convolutions of stride 1,
/// one [`Tensor::conv2d_pair_fused`] (the intermediate map then goes
/// straight into the second convolution's padded input); otherwise two
/// [`conv_bn_act`].
pub fn conv_bn_pair(
    (conv1, bn1): (&mut Conv2d, &mut BatchNorm<2>),
    (conv2, bn2): (&mut Conv2d, &mut BatchNorm<2>),
    x: &Tensor,
    residual: Option<&Tensor>,
) -> Tensor {
    let folds = !bn1.is_training() && !bn2.is_training() && !autodiff::is_grad_enabled();
    if !folds || conv1.stride != 1 || conv2.stride != 1 || conv1.padding != conv2.padding {
        let out = conv_bn_act(conv1, bn1, x, None, true);
        return conv_bn_act(conv2, bn2, &out, residual, true);
    }
    let ((w1, b1), (w2, b2)) = (folded(conv1, bn1), folded(conv2, bn2));
    let p = conv1.padding;
    x.conv2d_pair_fused((&w1, Some(&b1)), (&w2, Some(&b2)), residual, (p, p))
}

/// The weights and bias of `bn(conv(·))` as one convolution (eval mode).
fn folded(conv: &Conv2d, bn: &BatchNorm<2>) -> (Tensor, Tensor) {
    let (scale, shift) = bn.eval_affine();
    let c = scale.numel();
    let w = conv.weight.mul(&scale.reshape(&[c, 1, 1, 1]));
    let b = match &conv.bias {
        Some(b) => b.mul(&scale).add(&shift),
        None => shift,
    };
    (w, b)
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

    /// A residual block's body folded into one fused pair equals two folded
    /// convolutions bit for bit, and the plain layers (with a graph) to
    /// rounding.
    #[test]
    fn folded_pair_equals_two_folded_convolutions() {
        let rng = &mut StdRng::seed_from_u64(11);
        let mut layer = |seed: u64| {
            let conv = Conv2d::new(16, 16, 3, 1, 1, false, rng);
            let mut bn = BatchNorm2d::new(16);
            bn.weight = Tensor::rand_uniform(&[16], 0.5, 1.5, seed);
            bn.running_mean = Tensor::rand_uniform(&[16], -0.5, 0.5, seed + 1);
            bn.running_var = Tensor::rand_uniform(&[16], 0.5, 2.0, seed + 2);
            bn.set_training(false);
            (conv, bn)
        };
        let ((mut c1, mut n1), (mut c2, mut n2)) = (layer(20), layer(30));
        let x = Tensor::rand_uniform(&[2, 16, 8, 32], -1.0, 1.0, 12);
        let (pair, two) = {
            let _g = autodiff::no_grad();
            let mid = conv_bn_act(&mut c1, &mut n1, &x, None, true);
            (conv_bn_pair((&mut c1, &mut n1), (&mut c2, &mut n2), &x, Some(&x)), conv_bn_act(&mut c2, &mut n2, &mid, Some(&x), true))
        };
        assert_eq!(pair.to_vec(), two.to_vec());
        let plain = conv_bn_pair((&mut c1, &mut n1), (&mut c2, &mut n2), &x, Some(&x));
        let err = plain.data().iter().zip(pair.data()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-4, "folded pair differs from the layers by {err}");
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
