//! Gradient checking: compares the engine's derivatives with central finite
//! differences, to first and to second order.
//!
//! Every op is checked by these functions; use them when you add one:
//!
//! ```
//! use autodiff::gradcheck::{check_all, GradCheck};
//! use autodiff::Tensor;
//! let x = Tensor::rand_uniform(&[3, 4], -1.0, 1.0, 7);
//! check_all("tanh", |x| x[0].tanh(), [x], &GradCheck::default());
//! ```
//!
//! **What is compared.** An op's output `y = f(x)` is turned into the scalar
//! `L = Σ r_i y_i + ½ Σ s_i y_i²` with fixed random `r`, `s`. The quadratic
//! term makes the Hessian of `L` depend on the op's Jacobian even for linear
//! ops, so the second-order check exercises every backward rule's own rule.
//! * First order: `∂L/∂x` from [`grad`] against `(L(x+εe) − L(x−εe)) / 2ε`
//!   for every element `e` of every input.
//! * Second order: `Hv` from [`hvp`] (double backward) against
//!   `(∇L(x+εv) − ∇L(x−εv)) / 2ε`, and the symmetry `uᵀHv = vᵀHu`.
//!
//! **Tolerances (the engine is f32).** `L` is summed in f64 from f32
//! outputs, each carrying a relative rounding error of about 6e-8, so for
//! `n` outputs of order one the error of `L` is about `1e-7·√n` and the
//! finite difference inherits `1e-7·√n / 2ε`: with ε = 3e-3 and `n ≤ 100`,
//! about 2e-4. The truncation error `ε²/6·L'''` is about 1.5e-6 times the
//! third derivative. Hence the defaults `atol = 1e-3`, `rtol = 1e-2`,
//! compared per element as `|ad − fd| ≤ atol + rtol·max(|ad|, |fd|)`.
//! Inputs must keep a distance larger than ε from kinks (ReLU at 0, ties in
//! max) or the finite difference straddles them.

use crate::graph::{grad, hvp};
use crate::tensor::Tensor;

/// Settings for a gradient check.
#[derive(Clone, Debug)]
pub struct GradCheck {
    /// Finite-difference step.
    pub eps: f32,
    /// Absolute tolerance per element.
    pub atol: f64,
    /// Relative tolerance per element.
    pub rtol: f64,
    /// Seed of the random weights `r`, `s` and directions `u`, `v`.
    pub seed: u64,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck { eps: 3e-3, atol: 1e-3, rtol: 1e-2, seed: 1234 }
    }
}

fn close(ad: f64, fd: f64, cfg: &GradCheck) -> bool {
    (ad - fd).abs() <= cfg.atol + cfg.rtol * ad.abs().max(fd.abs())
}

/// The scalar `L` the checks differentiate, built from `f`'s output.
struct Scalarized<F> {
    f: F,
    cfg: GradCheck,
}

impl<F: Fn(&[Tensor]) -> Tensor> Scalarized<F> {
    fn weights(&self, shape: &[usize]) -> (Tensor, Tensor) {
        (Tensor::rand_uniform(shape, -1.0, 1.0, self.cfg.seed), Tensor::rand_uniform(shape, 0.5, 1.5, self.cfg.seed + 1))
    }

    /// `L` as a graph (for the engine's derivatives).
    fn loss(&self, x: &[Tensor]) -> Tensor {
        let y = (self.f)(x);
        let (r, s) = self.weights(y.shape());
        y.mul(&r).sum_all().add(&y.square().mul(&s).sum_all().mul_scalar(0.5))
    }

    /// `L` in f64 from the op's f32 output (for finite differences).
    fn value(&self, x: &[Tensor]) -> f64 {
        let _g = crate::no_grad();
        let y = (self.f)(x);
        let (r, s) = self.weights(y.shape());
        y.data().iter().zip(r.data()).zip(s.data()).map(|((&y, &r), &s)| r as f64 * y as f64 + 0.5 * s as f64 * (y as f64).powi(2)).sum()
    }

    fn gradient(&self, x: &[Tensor]) -> Vec<Tensor> {
        let leaves: Vec<Tensor> = x.iter().map(|t| t.requires_grad_()).collect();
        let l = self.loss(&leaves);
        grad(&[l], &leaves, false)
    }
}

fn with_element(x: &Tensor, i: usize, delta: f32) -> Tensor {
    let mut v = x.to_vec();
    v[i] += delta;
    Tensor::from_vec(v, x.shape())
}

fn axpy(x: &[Tensor], a: f32, v: &[Tensor]) -> Vec<Tensor> {
    x.iter().zip(v).map(|(x, v)| Tensor::from_vec(x.data().iter().zip(v.data()).map(|(x, v)| x + a * v).collect(), x.shape())).collect()
}

/// First-order check of `f` at `inputs`: every element of every input.
pub fn check_gradients(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor], cfg: &GradCheck) -> Result<(), String> {
    let s = Scalarized { f, cfg: cfg.clone() };
    let ad = s.gradient(inputs);
    for (k, x) in inputs.iter().enumerate() {
        for i in 0..x.numel() {
            let mut plus = inputs.to_vec();
            plus[k] = with_element(x, i, cfg.eps);
            let mut minus = inputs.to_vec();
            minus[k] = with_element(x, i, -cfg.eps);
            let fd = (s.value(&plus) - s.value(&minus)) / (2.0 * cfg.eps as f64);
            let a = ad[k].data()[i] as f64;
            if !close(a, fd, cfg) {
                return Err(format!("input {k} {:?}, element {i}: autodiff {a:.6e} vs finite difference {fd:.6e}", x.shape()));
            }
        }
    }
    Ok(())
}

/// Second-order check of `f` at `inputs`: `Hv` by double backward against
/// finite differences of gradients, and `uᵀHv = vᵀHu`.
pub fn check_second_order(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor], cfg: &GradCheck) -> Result<(), String> {
    let s = Scalarized { f, cfg: cfg.clone() };
    let dir = |seed: u64| -> Vec<Tensor> { inputs.iter().enumerate().map(|(k, x)| Tensor::randn(x.shape(), seed + k as u64)).collect() };
    let u = dir(cfg.seed + 100);
    let v = dir(cfg.seed + 200);
    let (_, hv) = hvp(|x| s.loss(x), inputs, &v);
    let (_, hu) = hvp(|x| s.loss(x), inputs, &u);
    let gp = s.gradient(&axpy(inputs, cfg.eps, &v));
    let gm = s.gradient(&axpy(inputs, -cfg.eps, &v));
    for k in 0..inputs.len() {
        for i in 0..inputs[k].numel() {
            let fd = (gp[k].data()[i] as f64 - gm[k].data()[i] as f64) / (2.0 * cfg.eps as f64);
            let a = hv[k].data()[i] as f64;
            if !close(a, fd, cfg) {
                return Err(format!(
                    "Hv, input {k} {:?}, element {i}: double backward {a:.6e} vs finite difference {fd:.6e}",
                    inputs[k].shape()
                ));
            }
        }
    }
    let dot = |a: &[Tensor], b: &[Tensor]| -> f64 {
        a.iter().zip(b).flat_map(|(a, b)| a.data().iter().zip(b.data()).map(|(&x, &y)| x as f64 * y as f64)).sum()
    };
    let (uhv, vhu) = (dot(&u, &hv), dot(&v, &hu));
    if !close(uhv, vhu, cfg) {
        return Err(format!("symmetry: u'Hv = {uhv:.6e} but v'Hu = {vhu:.6e}"));
    }
    Ok(())
}

/// Runs both checks and panics with `name` and the first mismatch: the
/// one-liner for op tests.
pub fn check_all(name: &str, f: impl Fn(&[Tensor]) -> Tensor, inputs: impl AsRef<[Tensor]>, cfg: &GradCheck) {
    let inputs = inputs.as_ref();
    if let Err(e) = check_gradients(&f, inputs, cfg) {
        panic!("{name}: first-order check failed: {e}");
    }
    if let Err(e) = check_second_order(&f, inputs, cfg) {
        panic!("{name}: second-order check failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checker must be able to fail: a deliberately wrong rule is caught.
    #[test]
    fn a_wrong_rule_is_caught() {
        use crate::graph::Backward;
        struct WrongSquare;
        impl Backward for WrongSquare {
            fn name(&self) -> &'static str {
                "wrong_square"
            }
            fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
                vec![Some(g.mul(&i[0]))] // should be 2·x·g
            }
        }
        let f = |x: &[Tensor]| {
            let d = x[0].data().iter().map(|v| v * v).collect();
            Tensor::from_op(d, x[0].shape().to_vec(), WrongSquare, vec![x[0].clone()])
        };
        let x = Tensor::rand_uniform(&[4], 0.5, 1.0, 3);
        assert!(check_gradients(f, &[x], &GradCheck::default()).is_err());
    }

    /// A rule computed without recording (so its own derivative is lost) is
    /// caught by the second-order check.
    #[test]
    fn a_rule_that_breaks_the_graph_is_caught() {
        use crate::graph::Backward;
        struct DetachedCube;
        impl Backward for DetachedCube {
            fn name(&self) -> &'static str {
                "detached_cube"
            }
            fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
                let x2 = i[0].square().mul_scalar(3.0).detach();
                vec![Some(g.mul(&x2))]
            }
        }
        let f = |x: &[Tensor]| {
            let d = x[0].data().iter().map(|v| v * v * v).collect();
            Tensor::from_op(d, x[0].shape().to_vec(), DetachedCube, vec![x[0].clone()])
        };
        let x = Tensor::rand_uniform(&[4], 0.5, 1.0, 3);
        assert!(check_gradients(f, std::slice::from_ref(&x), &GradCheck::default()).is_ok());
        assert!(check_second_order(f, &[x], &GradCheck::default()).is_err());
    }
}
