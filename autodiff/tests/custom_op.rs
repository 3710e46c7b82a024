//! An op defined outside the crate, as a user would: softplus,
//! `y = ln(1 + eˣ)`, with the rule `dy/dx = σ(x)` written with tensor ops, so
//! its second derivative `σ(x)(1 − σ(x))` comes for free. `docs/extending.md`
//! walks through this file.

use autodiff::gradcheck::{check_all, check_gradients, check_second_order, GradCheck};
use autodiff::{grad, Backward, Tensor};

/// Softplus's backward rule: the incoming gradient times `σ(x)`.
struct SoftplusBackward;

impl Backward for SoftplusBackward {
    fn name(&self) -> &'static str {
        "softplus"
    }
    fn backward(&self, inputs: &[Tensor], _output: &Tensor, grad: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(grad.mul(&inputs[0].sigmoid()))]
    }
}

/// `ln(1 + eˣ)` elementwise, computed stably as `max(x, 0) + ln(1 + e^-|x|)`.
fn softplus(x: &Tensor) -> Tensor {
    let data = x.data().iter().map(|&v| v.max(0.0) + (-v.abs()).exp().ln_1p()).collect();
    Tensor::from_op(data, x.shape().to_vec(), SoftplusBackward, vec![x.clone()])
}

fn input() -> Tensor {
    Tensor::from_vec(vec![-3.0, -0.7, -0.1, 0.0, 0.2, 0.9, 2.5, 4.0], &[2, 4])
}

#[test]
fn softplus_values() {
    let y = softplus(&input());
    for (&x, &y) in input().data().iter().zip(y.data()) {
        let want = (1.0 + (x as f64).exp()).ln();
        assert!((y as f64 - want).abs() < 1e-6, "softplus({x}) = {y}, want {want}");
    }
}

#[test]
fn softplus_records_only_when_an_input_needs_a_gradient() {
    assert!(!softplus(&input()).requires_grad());
    assert!(softplus(&input().requires_grad_()).requires_grad());
    let _g = autodiff::no_grad();
    assert!(!softplus(&input().requires_grad_()).requires_grad());
}

#[test]
fn softplus_gradients_first_and_second_order() {
    check_all("softplus", |t| softplus(&t[0]), [input()], &GradCheck::default());
}

#[test]
fn second_derivative_is_exact() {
    let x = input().requires_grad_();
    let y = softplus(&x).sum_all();
    let g = grad(&[y], std::slice::from_ref(&x), true);
    let gg = grad(&[g[0].sum_all()], std::slice::from_ref(&x), false);
    for (&x, &h) in x.data().iter().zip(gg[0].data()) {
        let s = 1.0 / (1.0 + (-(x as f64)).exp());
        assert!((h as f64 - s * (1.0 - s)).abs() < 1e-6, "d²/dx² softplus({x}) = {h}, want {}", s * (1.0 - s));
    }
}

/// The checker must catch a wrong rule: `σ(x)` replaced by `σ(2x)`.
#[test]
fn gradcheck_rejects_a_wrong_rule() {
    struct Wrong;
    impl Backward for Wrong {
        fn name(&self) -> &'static str {
            "softplus_wrong"
        }
        fn backward(&self, inputs: &[Tensor], _: &Tensor, grad: &Tensor) -> Vec<Option<Tensor>> {
            vec![Some(grad.mul(&inputs[0].mul_scalar(2.0).sigmoid()))]
        }
    }
    let wrong = |t: &[Tensor]| {
        let data = t[0].data().iter().map(|&v| v.max(0.0) + (-v.abs()).exp().ln_1p()).collect();
        Tensor::from_op(data, t[0].shape().to_vec(), Wrong, vec![t[0].clone()])
    };
    let cfg = GradCheck::default();
    assert!(check_gradients(wrong, &[input()], &cfg).is_err());
    assert!(check_second_order(wrong, &[input()], &cfg).is_err());
}
