//! Activations: relu, leaky_relu, tanh, sigmoid, softmax, log_softmax, and
//! dropout with a seeded mask.

use super::{around_axis, constant, unary};
use crate::graph::{is_grad_enabled, Backward};
use crate::kernels::math;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;
use rand::{rngs::StdRng, Rng, SeedableRng};

struct Relu;
impl Backward for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(relu_grad(&i[0], g))]
    }
}

/// ReLU's backward: `g · [x > 0]`, where `x` is the ReLU's input or, as
/// equivalently, its output.  Without recording, one fused pass (the same
/// products as `g · mask`).
pub(crate) fn relu_grad(x: &Tensor, g: &Tensor) -> Tensor {
    if !is_grad_enabled() && g.shape() == x.shape() {
        let shape = g.shape();
        let data =
            crate::kernels::elementwise::zip_map(x.data(), shape, g.data(), shape, shape, |x, g| g * if x > 0.0 { 1.0 } else { 0.0 });
        return constant(data, shape);
    }
    g.mul(&x.mask_where(|v| v > 0.0))
}

struct LeakyRelu(f32);
impl Backward for LeakyRelu {
    fn name(&self) -> &'static str {
        "leaky_relu"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let s = self.0;
        let slope = constant(i[0].data().iter().map(|&v| if v > 0.0 { 1.0 } else { s }).collect(), i[0].shape());
        vec![Some(g.mul(&slope))]
    }
}

struct Tanh;
impl Backward for Tanh {
    fn name(&self) -> &'static str {
        "tanh"
    }
    fn backward(&self, _: &[Tensor], y: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.mul(&y.square().neg().add_scalar(1.0)))]
    }
}

struct Sigmoid;
impl Backward for Sigmoid {
    fn name(&self) -> &'static str {
        "sigmoid"
    }
    fn backward(&self, _: &[Tensor], y: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.mul(&y.mul(&y.neg().add_scalar(1.0))))]
    }
}

struct LogSoftmax(usize);
impl Backward for LogSoftmax {
    fn name(&self) -> &'static str {
        "log_softmax"
    }
    fn backward(&self, _: &[Tensor], y: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        // y = x - logsumexp(x):  dx = g - softmax(x)·Σg, with softmax = e^y.
        let sum_g = g.sum(&[self.0 as isize], true);
        vec![Some(g.sub(&y.exp().mul(&sum_g)))]
    }
}

impl Tensor {
    /// `max(x, 0)`; its derivative at 0 is 0.
    pub fn relu(&self) -> Tensor {
        unary(self, |v| v.max(0.0), Relu)
    }

    /// `x` for `x > 0`, `slope·x` otherwise.
    pub fn leaky_relu(&self, slope: f32) -> Tensor {
        unary(self, move |v| if v > 0.0 { v } else { slope * v }, LeakyRelu(slope))
    }

    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Tensor {
        unary(self, math::tanh, Tanh)
    }

    /// Logistic sigmoid `1 / (1 + e^-x)`.
    pub fn sigmoid(&self) -> Tensor {
        unary(self, math::sigmoid, Sigmoid)
    }

    /// `x - log Σ e^x` along `axis`, computed stably (max subtracted).
    pub fn log_softmax(&self, axis: isize) -> Tensor {
        let ax = normalize_axis(axis, self.ndim(), "log_softmax");
        let (outer, dim, inner) = around_axis(self.shape(), ax);
        let x = self.data();
        let mut out = vec![0.0f32; x.len()];
        for o in 0..outer {
            for j in 0..inner {
                let at = |d: usize| (o * dim + d) * inner + j;
                let m = (0..dim).map(|d| x[at(d)]).fold(f32::NEG_INFINITY, f32::max);
                let s: f32 = (0..dim).map(|d| (x[at(d)] - m).exp()).sum();
                let lse = m + s.ln();
                for d in 0..dim {
                    out[at(d)] = x[at(d)] - lse;
                }
            }
        }
        Tensor::from_op(out, self.shape().to_vec(), LogSoftmax(ax), vec![self.clone()])
    }

    /// `e^x / Σ e^x` along `axis` (as `exp(log_softmax)`).
    pub fn softmax(&self, axis: isize) -> Tensor {
        self.log_softmax(axis).exp()
    }

    /// Inverted dropout: zeroes each element with probability `p` and scales
    /// the rest by `1 / (1 - p)`. The mask is drawn from `seed`, so a step
    /// can be replayed with the same randomness (PAL needs this).
    pub fn dropout(&self, p: f32, seed: u64) -> Tensor {
        assert!((0.0..1.0).contains(&p), "dropout: probability {p} not in [0, 1)");
        if p == 0.0 {
            return self.clone();
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let keep = 1.0 / (1.0 - p);
        let mask = (0..self.numel()).map(|_| if rng.gen::<f32>() < p { 0.0 } else { keep }).collect();
        self.mul(&constant(mask, self.shape()))
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::{check_all, GradCheck};
    use crate::Tensor;

    #[test]
    fn values() {
        let x = Tensor::from_vec(vec![-2.0, 0.0, 3.0], &[3]);
        assert_eq!(x.relu().to_vec(), vec![0.0, 0.0, 3.0]);
        assert_eq!(x.leaky_relu(0.1).to_vec(), vec![-0.2, 0.0, 3.0]);
        let s = x.softmax(0).to_vec();
        assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((x.sigmoid().to_vec()[1] - 0.5).abs() < 1e-7);
        // Large logits stay finite.
        let big = Tensor::from_vec(vec![1000.0, 0.0], &[2]).log_softmax(0).to_vec();
        assert!(big[0].abs() < 1e-6 && (big[1] + 1000.0).abs() < 1e-3);
        let d = Tensor::ones(&[1000]).dropout(0.25, 9);
        let kept = d.data().iter().filter(|&&v| v > 0.0).count();
        assert!((700..800).contains(&kept), "kept {kept}");
        assert!(d.data().iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
        assert_eq!(Tensor::ones(&[50]).dropout(0.5, 3).to_vec(), Tensor::ones(&[50]).dropout(0.5, 3).to_vec());
    }

    #[test]
    fn gradients() {
        let cfg = GradCheck::default();
        let away = Tensor::from_vec(vec![-0.9, -0.4, 0.3, 0.7, 1.2, -1.5, 0.05, -0.02], &[2, 4]);
        check_all("relu", |x| x[0].relu(), [away.clone()], &cfg);
        check_all("leaky_relu", |x| x[0].leaky_relu(0.2), [away], &cfg);
        let x = Tensor::rand_uniform(&[3, 4], -2.0, 2.0, 51);
        check_all("tanh", |x| x[0].tanh(), [x.clone()], &cfg);
        check_all("sigmoid", |x| x[0].sigmoid(), [x.clone()], &cfg);
        check_all("log_softmax", |x| x[0].log_softmax(-1), [x.clone()], &cfg);
        check_all("log_softmax-axis0", |x| x[0].log_softmax(0), [x.clone()], &cfg);
        check_all("softmax", |x| x[0].softmax(1), [Tensor::rand_uniform(&[2, 3, 2], -2.0, 2.0, 52)], &cfg);
        check_all("dropout", |x| x[0].dropout(0.3, 5), [x], &cfg);
    }

    /// ReLU's unrecorded backward (one fused pass, large enough to run in
    /// parallel) gives the recorded form's bits, signed zeros included.
    #[test]
    fn relu_backward_fast_path_matches_recorded() {
        let n = 1 << 16;
        let mut xv = Tensor::rand_uniform(&[n], -1.0, 1.0, 7).to_vec();
        xv[..4].copy_from_slice(&[0.0, -0.0, f32::MIN_POSITIVE, -1.0]);
        let x = Tensor::from_vec(xv, &[n]).requires_grad_();
        let seed = Tensor::rand_uniform(&[n], -1.0, 1.0, 8);
        let y = x.relu();
        let fast = crate::grad_with_seeds(std::slice::from_ref(&y), std::slice::from_ref(&seed), std::slice::from_ref(&x), false);
        let recorded = crate::grad_with_seeds(&[y], &[seed], &[x], true);
        let (f, r) = (fast[0].data(), recorded[0].data());
        assert!(f.iter().zip(r).all(|(a, b)| a.to_bits() == b.to_bits()));
        let s2 = Tensor::rand_uniform(&[n], -1.0, 1.0, 8).data()[2];
        assert!(f[0] == 0.0 && f[1] == 0.0 && f[2] == s2 && f[3] == 0.0);
    }
}
