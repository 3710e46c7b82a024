//! PAL on functions with known answers: the parabola fit, the step cases
//! (minimum, clip, concave, no descent, NaN) and the pass count.

use autodiff::Tensor;
use optim::{FnObjective, Optimizer, Pal, PalConfig, StepReport};

fn metric(r: &StepReport, name: &str) -> f64 {
    r.metrics.iter().find(|(k, _)| *k == name).unwrap_or_else(|| panic!("no metric {name} in {:?}", r.metrics)).1
}

/// L(θ) = θ² (a one-element parameter).
fn square(p: &[Tensor]) -> Tensor {
    p[0].square().sum_all()
}

fn pal(measuring_step: f32, step_adaptation: f32, direction_adaptation: f32, max_step: f32) -> Pal {
    Pal::new(PalConfig { measuring_step, step_adaptation, direction_adaptation, max_step, step_scale: 1.0 })
}

/// L = θ², θ0 = 3, μ = 1, α = 1, β = 0: the line is θ − t·g/‖g‖ = 3 − t,
/// l(t) = (3 − t)², so b = −‖g‖ = −6, a = 1, the minimum is at s = 3 and
/// the step lands exactly on 0 (equivalent SGD learning rate 3/6 = 0.5).
#[test]
fn exact_parabola_lands_on_the_minimum() {
    let mut opt = pal(1.0, 1.0, 0.0, 3.16);
    let mut obj = FnObjective::new(square);
    let mut params = vec![Tensor::from_vec(vec![3.0], &[1])];
    let r = opt.step(&mut params, &mut obj);
    assert_eq!(params[0].to_vec(), vec![0.0]);
    assert_eq!(metric(&r, "l0"), 9.0);
    assert_eq!(metric(&r, "l_mu"), 4.0);
    assert_eq!(metric(&r, "a"), 1.0);
    assert_eq!(metric(&r, "b"), -6.0);
    assert_eq!(metric(&r, "s"), 3.0);
    assert_eq!(metric(&r, "lr"), 0.5);
    assert_eq!(r.learning_rate, 0.5);
    assert_eq!(r.loss, 9.0);
    assert_eq!(r.batches, 1);
    assert_eq!(opt.last_measurement().s, 3.0);
}

/// L = ½θᵀHθ with H = diag(1, 10) from θ0 = (1, 1), α = 1, β = 0: the
/// loss along the unit line u = −g/‖g‖ is an exact parabola with
/// b = −‖g‖ and a = ½uᵀHu = ½(1 + 1000)/101, so s = −b/(2a) = ‖g‖/(2a)
/// and the equivalent learning rate s/‖g‖ = 1/(2a) = 101/1001.
#[test]
fn anisotropic_quadratic_gives_the_exact_line_minimum() {
    let h = Tensor::from_vec(vec![0.5, 5.0], &[2]);
    let mut obj = FnObjective::new(move |p: &[Tensor]| p[0].square().mul(&h).sum_all());
    let mut opt = pal(1.0, 1.0, 0.0, 3.16);
    let mut params = vec![Tensor::from_vec(vec![1.0, 1.0], &[2])];
    let r = opt.step(&mut params, &mut obj);
    let want = 101.0 / 1001.0;
    assert!((metric(&r, "lr") - want).abs() < 1e-6 * want, "lr {} vs {want}", metric(&r, "lr"));
    assert!((metric(&r, "b") + 101f64.sqrt()).abs() < 1e-6);
    assert!((metric(&r, "a") - 1001.0 / 202.0).abs() < 1e-5);
    // θ1 = θ0 − lr·g = (1 − lr, 1 − 10·lr).
    let p = params[0].to_vec();
    assert!((p[0] as f64 - (1.0 - want)).abs() < 1e-6 && (p[1] as f64 - (1.0 - 10.0 * want)).abs() < 1e-5, "{p:?}");
}

/// The default α = 1/0.6 stretches the minimum s = 3 of L = θ² (θ0 = 3)
/// to 5, which the default s_max clips to 3.16.
#[test]
fn long_steps_are_clipped() {
    let mut opt = Pal::new(PalConfig { direction_adaptation: 0.0, ..PalConfig::default() });
    assert!((opt.step_length(1.0, -6.0) - 3.16f32 as f64).abs() < 1e-12);
    assert!((pal(1.0, 1.0 / 0.6, 0.0, 100.0).step_length(1.0, -6.0) - 5.0).abs() < 1e-6, "3·(1/0.6) = 5 (α is an f32)");
    let mut obj = FnObjective::new(square);
    let mut params = vec![Tensor::from_vec(vec![3.0], &[1])];
    let r = opt.step(&mut params, &mut obj);
    assert_eq!(metric(&r, "a"), 1.0);
    assert_eq!(metric(&r, "s"), 3.16f32 as f64);
    assert!((params[0].item() - (3.0 - 3.16)).abs() < 1e-6, "{:?}", params[0]);
}

/// A concave line (L = −θ², θ0 = 1: a = −1, b = −2) takes the measuring
/// step: s = μ.
#[test]
fn concave_lines_take_the_measuring_step() {
    let mut opt = pal(0.5, 1.0 / 0.6, 0.0, 3.16);
    let mut obj = FnObjective::new(|p: &[Tensor]| p[0].square().neg().sum_all());
    let mut params = vec![Tensor::from_vec(vec![1.0], &[1])];
    let r = opt.step(&mut params, &mut obj);
    assert_eq!(metric(&r, "a"), -1.0);
    assert_eq!(metric(&r, "b"), -2.0);
    assert_eq!(metric(&r, "s"), 0.5);
    assert_eq!(params[0].item(), 1.5);
}

/// When the adapted direction points uphill (b ≥ 0) PAL stays put. With
/// β = 0.9, α = 1.5 on L = θ² from 3: step 1 overshoots to 3 − 4.5 = −1.5;
/// step 2 has g = −3, d = 0.9·6 − 3 = 2.4, so b = −g·d/‖d‖ = 3 > 0.
#[test]
fn no_descent_direction_leaves_theta_unchanged() {
    let mut opt = pal(1.0, 1.5, 0.9, 10.0);
    let mut obj = FnObjective::new(square);
    let mut params = vec![Tensor::from_vec(vec![3.0], &[1])];
    let r1 = opt.step(&mut params, &mut obj);
    assert_eq!(metric(&r1, "s"), 4.5);
    assert_eq!(params[0].item(), -1.5);
    let r2 = opt.step(&mut params, &mut obj);
    assert!((metric(&r2, "b") - 3.0).abs() < 1e-6, "b = {}", metric(&r2, "b"));
    assert_eq!(metric(&r2, "s"), 0.0);
    assert_eq!(r2.learning_rate, 0.0);
    assert_eq!(params[0].item(), -1.5);
    // The direction buffer was updated to 2.4 even though nothing moved.
    let st = opt.state();
    assert!((st.slot("direction")[0].item() - 2.4).abs() < 1e-6);
}

/// A NaN at the probe point (L = √θ from 0.25: g = 1, probe at −0.75)
/// restores θ and says so in the report.
#[test]
fn non_finite_measurements_restore_the_parameters() {
    let mut opt = Pal::new(PalConfig::default());
    let mut obj = FnObjective::new(|p: &[Tensor]| p[0].sqrt().sum_all());
    let mut params = vec![Tensor::from_vec(vec![0.25], &[1])];
    let r = opt.step(&mut params, &mut obj);
    assert_eq!(params[0].item(), 0.25);
    assert_eq!(metric(&r, "non_finite"), 1.0);
    assert!(metric(&r, "l_mu").is_nan());
    assert_eq!(r.learning_rate, 0.0);
    assert!(opt.last_measurement().non_finite);
    assert!(opt.state().is_empty(), "the direction buffer is not committed");
    assert_eq!((obj.forwards, obj.backwards), (2, 1));
}

/// Every step costs two forwards (one with a backward), whatever the case.
#[test]
fn each_step_is_two_forwards_and_one_backward() {
    let mut opt = Pal::new(PalConfig::default());
    let h = Tensor::from_vec(vec![0.5, 5.0, 0.05], &[3]);
    let mut obj = FnObjective::new(move |p: &[Tensor]| p[0].square().mul(&h).sum_all().add(&p[1].square().sum_all()));
    let mut params = vec![Tensor::from_vec(vec![1.0, -2.0, 3.0], &[3]), Tensor::from_vec(vec![0.5, 0.25], &[2])];
    let l0 = opt.step(&mut params, &mut obj).loss;
    for k in 2..=10 {
        opt.step(&mut params, &mut obj);
        assert_eq!((obj.forwards, obj.backwards, obj.batches), (2 * k, k, 0));
    }
    let l = opt.step(&mut params, &mut obj).loss;
    assert!(l < 0.1 * l0, "PAL with defaults descends: {l0} -> {l}");
}

/// The direction buffer round-trips through `state` / `load_state`, so a
/// resumed run continues exactly.
#[test]
fn state_round_trip_resumes_exactly() {
    let h = Tensor::from_vec(vec![0.5, 5.0], &[2]);
    let f = move |p: &[Tensor]| p[0].square().mul(&h).sum_all();
    let mut a = Pal::new(PalConfig::default());
    let mut pa = vec![Tensor::from_vec(vec![1.0, 1.0], &[2])];
    let mut obj = FnObjective::new(f.clone());
    for _ in 0..3 {
        a.step(&mut pa, &mut obj);
    }
    let mut b = Pal::new(PalConfig::default());
    b.load_state(&a.state()).unwrap();
    let mut pb = pa.clone();
    a.step(&mut pa, &mut obj);
    b.step(&mut pb, &mut FnObjective::new(f));
    assert_eq!(pa[0].to_vec(), pb[0].to_vec());
}

/// The schedule knob scales the final step.
#[test]
fn step_scale_scales_the_step() {
    let mut opt = pal(1.0, 1.0, 0.0, 3.16);
    opt.set_learning_rate(0.5);
    assert_eq!(opt.learning_rate(), 0.5);
    let mut params = vec![Tensor::from_vec(vec![3.0], &[1])];
    let r = opt.step(&mut params, &mut FnObjective::new(square));
    assert_eq!(metric(&r, "s"), 1.5);
    assert_eq!(params[0].item(), 1.5);
}

#[test]
fn defaults_are_the_official_ones() {
    let c = PalConfig::default();
    assert_eq!((c.measuring_step, c.max_step, c.direction_adaptation, c.step_adaptation), (1.0, 3.16, 0.4, 1.0 / 0.6));
    assert!(PalConfig { measuring_step: 0.0, ..c.clone() }.validate().is_err());
    assert!(PalConfig { direction_adaptation: -1.0, ..c }.validate().is_err());
}
