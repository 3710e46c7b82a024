//! SAM: where the second gradient is taken, what the base update is
//! applied to, and what a step costs.

use autodiff::Tensor;
use optim::{Adam, AdamConfig, FnObjective, GradientStep, Objective, Optimizer, Sam, SamConfig, Sgd, SgdConfig};

/// An objective that records every point it is asked about and whether
/// the pass may update buffers.
struct Recording<O> {
    inner: O,
    calls: Vec<(Vec<f32>, Option<bool>)>,
}

impl<O: Objective> Objective for Recording<O> {
    fn loss_grad(&mut self, params: &[Tensor], update_buffers: bool) -> (f32, Vec<Tensor>) {
        self.calls.push((params.iter().flat_map(|p| p.to_vec()).collect(), Some(update_buffers)));
        self.inner.loss_grad(params, update_buffers)
    }
    fn loss(&mut self, params: &[Tensor]) -> f32 {
        self.calls.push((params.iter().flat_map(|p| p.to_vec()).collect(), None));
        self.inner.loss(params)
    }
    fn next_batch(&mut self) -> bool {
        self.inner.next_batch()
    }
}

/// L = ½θᵀHθ with H = diag(1, 10).
fn quadratic(p: &[Tensor]) -> Tensor {
    p[0].square().mul(&Tensor::from_vec(vec![0.5, 5.0], &[2])).sum_all()
}

fn plain_sgd(lr: f32) -> Sgd {
    Sgd::new(SgdConfig { lr, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false })
}

/// On the quadratic from θ = (1, 1): the first pass is at θ (and may
/// update buffers), the second at θ + ρ·g/‖g‖ with g = Hθ = (1, 10) (and
/// may not); the update is θ − lr·H(θ + e), the gradient at the perturbed
/// point applied to the original weights. The gradient at the perturbed
/// point is also checked against central finite differences of L.
#[test]
fn second_gradient_is_taken_at_the_perturbed_point() {
    let (rho, lr) = (0.05f64, 0.1f64);
    let mut sam = Sam::new(SamConfig { rho: rho as f32 }, plain_sgd(lr as f32));
    let mut obj = Recording { inner: FnObjective::new(quadratic), calls: Vec::new() };
    let mut params = vec![Tensor::from_vec(vec![1.0, 1.0], &[2])];
    let r = sam.step(&mut params, &mut obj);

    let norm = 101f64.sqrt();
    let e = [rho / norm, 10.0 * rho / norm];
    let w_adv = [1.0 + e[0], 1.0 + e[1]];
    assert_eq!(obj.calls.len(), 2);
    assert_eq!(obj.calls[0], (vec![1.0, 1.0], Some(true)));
    assert_eq!(obj.calls[1].1, Some(false));
    for (got, want) in obj.calls[1].0.iter().zip(w_adv) {
        assert!((*got as f64 - want).abs() < 1e-7, "perturbed point {:?} vs {w_adv:?}", obj.calls[1].0);
    }
    // Finite differences of L at the perturbed point give the gradient SAM used.
    let l = |w: [f64; 2]| 0.5 * w[0] * w[0] + 5.0 * w[1] * w[1];
    let h = 1e-6;
    let fd = [
        (l([w_adv[0] + h, w_adv[1]]) - l([w_adv[0] - h, w_adv[1]])) / (2.0 * h),
        (l([w_adv[0], w_adv[1] + h]) - l([w_adv[0], w_adv[1] - h])) / (2.0 * h),
    ];
    let p = params[0].to_vec();
    for i in 0..2 {
        let want = 1.0 - lr * fd[i];
        assert!((p[i] as f64 - want).abs() < 1e-6, "θ[{i}] = {} vs {want}", p[i]);
    }
    // Not the plain gradient step (1 − 0.1, 1 − 1.0).
    assert!((p[1] as f64 - 0.0).abs() > 1e-3);
    assert_eq!(r.loss, 5.5);
    let sharp = r.metrics.iter().find(|(k, _)| *k == "sharpness").unwrap().1;
    assert!((sharp - (l(w_adv) - 5.5)).abs() < 1e-5, "sharpness {sharp}");
}

/// Every step is two forward and two backward passes on one batch.
#[test]
fn each_step_is_two_forwards_and_two_backwards() {
    let mut sam = Sam::new(SamConfig::default(), plain_sgd(0.05));
    let mut obj = FnObjective::new(quadratic);
    let mut params = vec![Tensor::from_vec(vec![1.0, 1.0], &[2])];
    for k in 1..=5 {
        let r = sam.step(&mut params, &mut obj);
        assert_eq!(r.batches, 1);
        assert_eq!((obj.forwards, obj.backwards, obj.batches), (2 * k, 2 * k, 0));
    }
}

/// The base's update (here AdamW, with its state and decoupled decay,
/// picked at run time through a boxed base) is applied to the original
/// weights with the perturbed gradient: a reference AdamW fed that
/// gradient at the original weights gives the same weights bit for bit.
#[test]
fn the_base_update_is_applied_to_the_original_weights() {
    let cfg = AdamConfig { lr: 1e-2, weight_decay: 0.05, ..AdamConfig::adamw() };
    let base: Box<dyn GradientStep> = Box::new(Adam::new(cfg.clone()));
    let mut sam: Sam<Box<dyn GradientStep>> = Sam::new(SamConfig { rho: 0.1 }, base);
    let mut reference = Adam::new(cfg);
    let f = |p: &[Tensor]| p[0].tanh().mul(&p[1]).sum_all().add(&p[0].square().sum_all().mul_scalar(0.5));
    let mut obj = FnObjective::new(f);
    let mut params = vec![Tensor::from_vec(vec![0.5, -1.0, 2.0], &[3]), Tensor::from_vec(vec![0.3, -0.7, 1.1], &[3])];
    for _ in 0..5 {
        // The SAM gradient, computed here independently.
        let leaves: Vec<Tensor> = params.iter().map(|p| p.detach().requires_grad_()).collect();
        let g = autodiff::grad(&[f(&leaves)], &leaves, false);
        let norm = g.iter().flat_map(|t| t.to_vec()).map(|v| (v as f64).powi(2)).sum::<f64>().sqrt();
        let scale = (0.1 / (norm + 1e-12)) as f32;
        let adv: Vec<Tensor> = params.iter().zip(&g).map(|(p, g)| p.add(&g.mul_scalar(scale)).requires_grad_()).collect();
        let g_adv = autodiff::grad(&[f(&adv)], &adv, false);
        let mut expected = params.clone();
        reference.apply(&mut expected, &g_adv);

        sam.step(&mut params, &mut obj);
        for (a, b) in params.iter().zip(&expected) {
            assert_eq!(a.to_vec(), b.to_vec());
        }
    }
    assert_eq!(sam.name(), "sam");
    let (s, r) = (sam.state(), reference.state());
    assert_eq!(s.counters, r.counters);
    for (a, b) in s.slots.iter().zip(&r.slots) {
        assert_eq!(a.0, b.0);
        assert!(a.1.iter().zip(&b.1).all(|(x, y)| x.data() == y.data()));
    }
}

/// ρ = 0 is the base optimizer (at twice the cost); the learning rate is
/// the base's.
#[test]
fn zero_radius_is_the_base() {
    let base = || Sgd::new(SgdConfig { lr: 0.05, momentum: 0.9, dampening: 0.0, weight_decay: 1e-3, nesterov: true });
    let mut sam = Sam::new(SamConfig { rho: 0.0 }, base());
    let mut sgd = base();
    let (mut a, mut b) = (vec![Tensor::from_vec(vec![1.0, -1.0], &[2])], vec![Tensor::from_vec(vec![1.0, -1.0], &[2])]);
    for _ in 0..5 {
        sam.step(&mut a, &mut FnObjective::new(quadratic));
        sgd.step(&mut b, &mut FnObjective::new(quadratic));
        assert_eq!(a[0].to_vec(), b[0].to_vec());
    }
    sam.set_learning_rate(0.2);
    assert_eq!((sam.learning_rate(), sam.base.learning_rate()), (0.2, 0.2));
    assert_eq!(SamConfig::default().rho, 0.05);
}
