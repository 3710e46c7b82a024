//! `Sgd` and `Adam` against PyTorch's `torch.optim` on a small MLP.
//!
//! The trajectories were recorded by `fixtures/make_optim_fixtures.py`
//! (see its docstring for the problem and how to regenerate them) into
//! `fixtures/optim_reference.rs`; these tests need no Python. Each case
//! runs 20 steps and compares the 20 losses and every parameter after
//! steps 1, 10 and 20 to 1e-5 relative to the largest magnitude of the
//! tensor.

#[path = "fixtures/optim_reference.rs"]
mod optim_reference;

use autodiff::Tensor;
use optim::{Adam, AdamConfig, FnObjective, Optimizer, Sgd, SgdConfig};
use optim_reference::{Case, CASES, INIT, TARGETS};

/// `scale·(2·frac(i·c1 + i²·c2 + seed·c3) − 1)` in f64, rounded to f32:
/// the generator's formula, operation for operation.
fn formula(n: usize, seed: u64, scale: f64) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let v = i as f64 * 0.7548776662466927 + (i * i) as f64 * 0.0137174211248285 + seed as f64 * 0.5698402909980532;
            (scale * (2.0 * (v - v.floor()) - 1.0)) as f32
        })
        .collect()
}

/// The input x and the parameters [w1, b1, w2, b2].
fn problem() -> (Tensor, Vec<Tensor>) {
    let specs: [(u64, f64, &[usize]); 5] = [(1, 1.0, &[8, 5]), (2, 0.5, &[6, 5]), (3, 0.1, &[6]), (4, 0.5, &[3, 6]), (5, 0.1, &[3])];
    let mut ts: Vec<Tensor> =
        specs.iter().map(|(seed, scale, shape)| Tensor::from_vec(formula(shape.iter().product(), *seed, *scale), shape)).collect();
    let x = ts.remove(0);
    (x, ts)
}

fn parse(s: &str) -> Vec<f32> {
    s.split_whitespace().map(|v| v.parse().unwrap_or_else(|e| panic!("bad fixture value {v}: {e}"))).collect()
}

/// Mean cross-entropy of relu(x·W1ᵀ + b1)·W2ᵀ + b2.
fn mlp_loss(x: &Tensor, p: &[Tensor]) -> Tensor {
    x.matmul_t(&p[0], false, true).add(&p[1]).relu().matmul_t(&p[2], false, true).add(&p[3]).cross_entropy(&TARGETS)
}

fn optimizer(c: &Case) -> Box<dyn Optimizer> {
    match c.kind {
        "sgd" => Box::new(Sgd::new(SgdConfig {
            lr: c.lr,
            momentum: c.momentum,
            dampening: c.dampening,
            weight_decay: c.weight_decay,
            nesterov: c.nesterov,
        })),
        "adam" | "adamw" => Box::new(Adam::new(AdamConfig {
            lr: c.lr,
            weight_decay: c.weight_decay,
            decoupled: c.kind == "adamw",
            ..AdamConfig::default()
        })),
        k => panic!("unknown optimizer kind {k}"),
    }
}

/// Largest |got − want| over the tensor, relative to its largest |want|.
fn rel_err(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().map(|v| v.abs() as f64).fold(0.0, f64::max).max(1e-12);
    got.iter().zip(want).map(|(&g, &w)| (g as f64 - w as f64).abs()).fold(0.0, f64::max) / scale
}

/// Rust's f64 arithmetic reproduces Python's: the formula gives the
/// generator's initial tensors bit for bit.
#[test]
fn the_formula_matches_python_bit_for_bit() {
    let (x, params) = problem();
    for (i, t) in std::iter::once(&x).chain(&params).enumerate() {
        assert_eq!(t.to_vec(), parse(INIT[i]), "tensor {i}");
    }
}

/// Every case: losses and snapshots within 1e-5 (relative, per tensor).
#[test]
fn sgd_and_adam_follow_pytorch() {
    let mut report = Vec::new();
    for case in CASES {
        let (x, mut params) = problem();
        let mut opt = optimizer(case);
        let mut obj = FnObjective::new(|p: &[Tensor]| mlp_loss(&x, p));
        let want_losses = parse(case.losses);
        assert_eq!(want_losses.len(), 20, "{}", case.name);
        let mut worst = 0.0f64;
        for step in 1..=20 {
            let r = opt.step(&mut params, &mut obj);
            let e = rel_err(&[r.loss], &[want_losses[step - 1]]);
            assert!(e < 1e-5, "{}: loss of step {step}: {} vs {} (rel. error {e:.2e})", case.name, r.loss, want_losses[step - 1]);
            worst = worst.max(e);
            if let Some((_, snap)) = case.snapshots.iter().find(|(s, _)| *s == step) {
                for (i, (p, want)) in params.iter().zip(snap).enumerate() {
                    let e = rel_err(p.data(), &parse(want));
                    assert!(e < 1e-5, "{}: parameter {i} after step {step}: rel. error {e:.2e}", case.name);
                    worst = worst.max(e);
                }
            }
        }
        assert_eq!(case.snapshots.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [1, 10, 20]);
        report.push(format!("{}: {worst:.1e}", case.name));
    }
    assert_eq!(report.len(), 7);
    println!("worst relative errors: {}", report.join(", "));
}
