//! Entropy-SGD against closed forms and against SGD.

use autodiff::Tensor;
use optim::{EntropySgd, EntropySgdConfig, FnObjective, GradientStep, Objective, Optimizer, OptimizerState, Sgd, SgdConfig, StepReport};

fn metric(r: &StepReport, name: &str) -> f64 {
    r.metrics.iter().find(|(k, _)| *k == name).unwrap_or_else(|| panic!("no metric {name} in {:?}", r.metrics)).1
}

/// A small non-convex function of two parameter tensors.
fn bumpy(p: &[Tensor]) -> Tensor {
    let a = p[0].tanh().mul(&p[1].sum_all().broadcast_to(&[3])).sum_all();
    a.add(&p[0].square().sum_all().mul_scalar(0.1)).add(&p[1].square().sum_all().mul_scalar(0.3))
}

fn bumpy_params() -> Vec<Tensor> {
    vec![Tensor::from_vec(vec![0.5, -1.0, 2.0], &[3]), Tensor::from_vec(vec![0.3, -0.7], &[2])]
}

/// The noise-free Langevin loop on f(x) = ½h·x² (one coordinate) in
/// closed form. The inner recurrence
/// `x′_{k+1} = x′_k − η′(h·x′_k − γ(x − x′_k)) = r·x′_k + η′γ·x`,
/// `r = 1 − η′(h + γ)`, is linear with fixed point `x* = γx/(h + γ)`, so
/// `x′_k = x* + (x − x*)·r^k`. The average `μ_k = q·μ_{k−1} + α·x′_k`
/// (q = 1 − α, μ_0 = x) unrolls to
/// `μ_L = q^L·x + x*·(1 − q^L) + α(x − x*)·r·(r^L − q^L)/(r − q)`.
/// Returns (x′_L, μ_L).
fn closed_form(x: f64, h: f64, gamma: f64, eta: f64, alpha: f64, l: i32) -> (f64, f64) {
    let r = 1.0 - eta * (h + gamma);
    let q = 1.0 - alpha;
    let xs = gamma * x / (h + gamma);
    let xp = xs + (x - xs) * r.powi(l);
    let mu = q.powi(l) * x + xs * (1.0 - q.powi(l)) + alpha * (x - xs) * r * (r.powi(l) - q.powi(l)) / (r - q);
    (xp, mu)
}

fn half_h_square(h: f32) -> impl FnMut(&[Tensor]) -> Tensor + Clone {
    move |p: &[Tensor]| p[0].square().mul_scalar(0.5 * h).sum_all()
}

fn noiseless(inner_steps: usize, gamma: f32, scoping: f32) -> EntropySgdConfig {
    EntropySgdConfig {
        inner_steps,
        inner_lr: 0.1,
        noise: 0.0,
        gamma,
        scoping,
        lr: 1.0,
        momentum: 0.0,
        nesterov: false,
        ..Default::default()
    }
}

/// With L = 0 there is no Langevin loop (μ = x would make the step zero),
/// and, as in the official code, the outer update is applied to the
/// minibatch gradient instead: Entropy-SGD with L = 0 must then be SGD
/// with Nesterov momentum, bit for bit, step after step (including weight
/// decay), at one forward/backward and one minibatch per step.
#[test]
fn without_inner_steps_it_is_sgd_with_nesterov_momentum() {
    let cfg = EntropySgdConfig { inner_steps: 0, lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 1e-3, ..Default::default() };
    let mut esgd = EntropySgd::new(cfg);
    let mut sgd = Sgd::new(SgdConfig { lr: 0.05, momentum: 0.9, dampening: 0.0, weight_decay: 1e-3, nesterov: true });
    let (mut pe, mut ps) = (bumpy_params(), bumpy_params());
    let (mut oe, mut os) = (FnObjective::new(bumpy), FnObjective::new(bumpy));
    for _ in 0..15 {
        let re = esgd.step(&mut pe, &mut oe);
        let rs = sgd.step(&mut ps, &mut os);
        assert_eq!(re.loss, rs.loss);
        assert_eq!(re.batches, 1);
        for (a, b) in pe.iter().zip(&ps) {
            assert_eq!(a.to_vec(), b.to_vec());
        }
    }
    assert_eq!((oe.forwards, oe.backwards, oe.batches), (15, 15, 0));
    let flat = |s: OptimizerState| s.slots.into_iter().flat_map(|(_, ts)| ts.into_iter().map(|t| t.to_vec())).collect::<Vec<_>>();
    let (s, e) = (sgd.state(), esgd.state());
    assert_eq!(flat(e.strip_prefix("outer_")), flat(s.clone()));
    assert_eq!((e.counter("step"), e.counter("outer_step"), s.counter("step")), (15, 15, 15));
}

/// With L > 0 the outer update is SGD with Nesterov momentum on the
/// "gradient" x − μ: after each step, an SGD optimizer fed x − μ (μ read
/// back from the optimizer) reproduces the new weights bit for bit, with
/// noise on and a non-convex loss.
#[test]
fn the_outer_update_is_sgd_nesterov_on_x_minus_mu() {
    let cfg = EntropySgdConfig { inner_steps: 5, lr: 0.3, momentum: 0.9, nesterov: true, noise: 1e-2, gamma: 0.1, ..Default::default() };
    let mut esgd = EntropySgd::new(cfg);
    let mut sgd = Sgd::new(SgdConfig { lr: 0.3, momentum: 0.9, dampening: 0.0, weight_decay: 0.0, nesterov: true });
    let mut params = bumpy_params();
    let mut obj = FnObjective::new(bumpy);
    for _ in 0..4 {
        let mut expected = params.clone();
        esgd.step(&mut params, &mut obj);
        let grads: Vec<Tensor> = expected.iter().zip(esgd.inner_mean()).map(|(x, m)| x.sub(m)).collect();
        sgd.apply(&mut expected, &grads);
        for (a, b) in params.iter().zip(&expected) {
            assert_eq!(a.to_vec(), b.to_vec());
        }
    }
}

/// f = ½h·x², h = γ = x = 1, η′ = 0.1, no noise: for every L up to 20 the
/// inner iterate is x′_L = ½ + ½·0.8^L and the average μ_L matches the
/// closed form; with η = 1 and no momentum the new weights are μ_L.
#[test]
fn inner_loop_matches_the_closed_form() {
    for l in 1..=20 {
        let mut opt = EntropySgd::new(noiseless(l, 1.0, 0.0));
        let mut params = vec![Tensor::from_vec(vec![1.0], &[1])];
        let mut obj = FnObjective::new(half_h_square(1.0));
        let r = opt.step(&mut params, &mut obj);
        let (xp, mu) = closed_form(1.0, 1.0, 1.0, 0.1, 0.75, l as i32);
        assert!((xp - (0.5 + 0.5 * 0.8f64.powi(l as i32))).abs() < 1e-12);
        let got_xp = opt.inner_iterate()[0].item() as f64;
        let got_mu = opt.inner_mean()[0].item() as f64;
        assert!((got_xp - xp).abs() < 1e-6, "L = {l}: x′ {got_xp} vs {xp}");
        assert!((got_mu - mu).abs() < 1e-6, "L = {l}: μ {got_mu} vs {mu}");
        assert!((params[0].item() as f64 - mu).abs() < 1e-6);
        assert_eq!((r.batches, metric(&r, "inner_steps")), (l, l as f64));
        assert_eq!((obj.forwards, obj.backwards, obj.batches), (l, l, l - 1));
        assert_eq!(r.loss, 0.5, "the reported loss is f(x) on the first batch");
    }
    // The L = 20 values, as a plain f64 simulation of the recurrence gives them.
    let (xp, mu) = closed_form(1.0, 1.0, 1.0, 0.1, 0.75, 20);
    assert!((xp - 0.505_764_607_523_034_2).abs() < 1e-12 && (mu - 0.506_288_662_752_359_6).abs() < 1e-12, "{xp} {mu}");
}

/// γ_t = γ0·(1 + γ1)^t with t the outer step: the reported γ grows, and
/// each step's inner loop really uses it (closed form with γ_t from the
/// current weights); the counter survives a state round trip.
#[test]
fn scoping_grows_gamma_across_steps() {
    let (g0, g1, l) = (0.5f64, 1.0f64, 6);
    let mut opt = EntropySgd::new(noiseless(l, g0 as f32, g1 as f32));
    let mut params = vec![Tensor::from_vec(vec![2.0], &[1])];
    let mut obj = FnObjective::new(half_h_square(1.0));
    for t in 0..4 {
        let x = params[0].item() as f64;
        let gamma = g0 * (1.0 + g1).powi(t);
        assert!((opt.gamma() - gamma).abs() < 1e-12);
        let r = opt.step(&mut params, &mut obj);
        assert!((metric(&r, "gamma") - gamma).abs() < 1e-12, "step {t}: γ {}", metric(&r, "gamma"));
        let (xp, mu) = closed_form(x, 1.0, gamma, 0.1, 0.75, l as i32);
        assert!((opt.inner_iterate()[0].item() as f64 - xp).abs() < 1e-5 * xp.abs().max(1.0), "step {t}");
        assert!((params[0].item() as f64 - mu).abs() < 1e-5 * mu.abs().max(1.0), "step {t}");
    }
    assert_eq!(opt.steps(), 4);
    let mut resumed = EntropySgd::new(noiseless(l, g0 as f32, g1 as f32));
    resumed.load_state(&opt.state()).unwrap();
    assert_eq!(resumed.steps(), 4);
    assert!((resumed.gamma() - g0 * 16.0).abs() < 1e-12);
}

/// An objective with a fixed number of fresh batches left.
struct Limited<O> {
    inner: O,
    left: usize,
}

impl<O: Objective> Objective for Limited<O> {
    fn loss_grad(&mut self, params: &[Tensor], update_buffers: bool) -> (f32, Vec<Tensor>) {
        self.inner.loss_grad(params, update_buffers)
    }
    fn loss(&mut self, params: &[Tensor]) -> f32 {
        self.inner.loss(params)
    }
    fn next_batch(&mut self) -> bool {
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        self.inner.next_batch()
    }
}

/// Each inner step uses its own minibatch (the step's current one, then a
/// `next_batch` before every later one); when the epoch runs out the loop
/// stops early and reports the batches it consumed.
#[test]
fn inner_steps_consume_fresh_batches_and_stop_at_the_end() {
    let mut opt = EntropySgd::new(EntropySgdConfig::default());
    let mut params = bumpy_params();
    let mut obj = Limited { inner: FnObjective::new(bumpy), left: 7 };
    let r = opt.step(&mut params, &mut obj);
    assert_eq!(r.batches, 8);
    assert_eq!(metric(&r, "inner_steps"), 8.0);
    assert_eq!((obj.inner.forwards, obj.inner.backwards, obj.inner.batches), (8, 8, 7));
    let mut obj = FnObjective::new(bumpy);
    let r = opt.step(&mut params, &mut obj);
    assert_eq!(r.batches, 20);
    assert_eq!((obj.forwards, obj.backwards, obj.batches), (20, 20, 19));
}

/// The noise is seeded: the same seed gives the same run, another seed a
/// different one. Its scale is √η′·ε per coordinate (no √2): with f = 0,
/// γ = 0 and L = 1 the move x′ − x is pure noise.
#[test]
fn noise_is_seeded_and_has_scale_sqrt_eta_eps() {
    let run = |seed: u64| {
        let mut opt = EntropySgd::new(EntropySgdConfig { seed, noise: 1e-2, ..Default::default() });
        let mut params = bumpy_params();
        let mut obj = FnObjective::new(bumpy);
        for _ in 0..3 {
            opt.step(&mut params, &mut obj);
        }
        params.iter().flat_map(|p| p.to_vec()).collect::<Vec<f32>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));

    let n = 20_000;
    let cfg = EntropySgdConfig { inner_steps: 1, inner_lr: 0.1, noise: 1.0, gamma: 0.0, seed: 3, ..Default::default() };
    let mut opt = EntropySgd::new(cfg);
    let mut params = vec![Tensor::zeros(&[n])];
    opt.step(&mut params, &mut FnObjective::new(|p: &[Tensor]| p[0].mul_scalar(0.0).sum_all()));
    let v = opt.inner_iterate()[0].to_vec();
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
    let std = (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    assert!(mean.abs() < 0.01, "mean {mean}");
    assert!((std / 0.1f64.sqrt() - 1.0).abs() < 0.03, "std {std}, want √0.1 = 0.316");
}

#[test]
fn defaults_and_validation() {
    let c = EntropySgdConfig::default();
    assert_eq!((c.inner_steps, c.inner_lr, c.noise, c.gamma, c.scoping, c.average, c.lr), (20, 0.1, 1e-4, 1e-4, 1e-3, 0.75, 1.0));
    assert!(c.validate().is_ok());
    assert!(EntropySgdConfig { nesterov: true, momentum: 0.0, ..c.clone() }.validate().is_err());
    assert!(EntropySgdConfig { average: 0.0, ..c.clone() }.validate().is_err());
    assert!(EntropySgdConfig { noise: f32::NAN, ..c }.validate().is_err());
    let mut opt = EntropySgd::new(EntropySgdConfig::default());
    opt.set_learning_rate(0.1);
    assert_eq!(opt.learning_rate(), 0.1);
}

/// `decay_1d = false` exempts tensors of at most one dimension (here all
/// of them) from the weight decay.
#[test]
fn decay_1d_off_exempts_vectors() {
    let cfg = |weight_decay, decay_1d| EntropySgdConfig { inner_steps: 2, noise: 0.0, weight_decay, decay_1d, ..Default::default() };
    let run = |c: EntropySgdConfig| {
        let (mut opt, mut p, mut obj) = (EntropySgd::new(c), bumpy_params(), FnObjective::new(bumpy));
        opt.step(&mut p, &mut obj);
        p.iter().flat_map(|t| t.to_vec()).collect::<Vec<f32>>()
    };
    let off = run(cfg(0.1, false));
    assert_eq!(off, run(cfg(0.0, true)));
    assert_ne!(off, run(cfg(0.1, true)));
}
