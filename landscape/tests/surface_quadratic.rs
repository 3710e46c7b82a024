//! A surface over a model whose loss is a known quadratic of its
//! parameters reproduces the analytic values, and depends neither on the
//! thread count nor on the schedule (points in parallel or in sequence).

use autodiff::Tensor;
use datasets::ClassificationSet;
use landscape::{compute_with, ClassifierEvaluator, Direction, EvalSet, PointOrder, Range, Schedule, SurfaceJob};
use nn::{Kind, Module, ModuleExt};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// Logits `[0, log(e^Q − 1)]` for every example, with
/// `Q(θ) = c + Σ hᵢ θᵢ²`: the cross-entropy for target 0 is exactly
/// `log(1 + e^Q − 1) = Q`.
struct Quadratic {
    theta: Tensor,
    h: Tensor,
    c: f32,
}

impl Module for Quadratic {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let n = x.shape()[0];
        let q = self.theta.square().mul(&self.h).sum_all().add_scalar(self.c);
        let b = q.exp().add_scalar(-1.0).log().reshape(&[1, 1]);
        Tensor::concat(&[Tensor::zeros(&[1, 1]), b], 1).broadcast_to(&[n, 2])
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        f(&format!("{prefix}theta"), &mut self.theta, Kind::Parameter);
    }
    fn set_training(&mut self, _: bool) {}
}

fn model() -> Quadratic {
    Quadratic { theta: Tensor::from_vec(vec![0.3, -0.2, 0.1], &[1, 3]), h: Tensor::from_vec(vec![1.0, 2.0, 0.5], &[1, 3]), c: 0.7 }
}

fn run(threads: usize, schedule: Option<Schedule>) -> Vec<(usize, f64, f64, Vec<f64>)> {
    let mut m = model();
    let center = m.state();
    let data = ClassificationSet::from_f32(vec![0.0; 4], vec![1], vec![0; 4], 2).unwrap();
    let dx = Direction { names: vec!["theta".into()], tensors: vec![Tensor::from_vec(vec![1.0, 0.0, 0.5], &[1, 3])] };
    let dy = Direction { names: vec!["theta".into()], tensors: vec![Tensor::from_vec(vec![0.0, 1.0, -0.5], &[1, 3])] };
    let evaluator = ClassifierEvaluator { sets: vec![EvalSet { name: "train".into(), set: &data }], batch_size: 3 };
    let job = SurfaceJob {
        center: &center,
        x_dir: &dx,
        y_dir: Some(&dy),
        x: Range { start: -1.0, end: 1.0, num: 5 },
        y: Some(Range { start: -0.5, end: 0.5, num: 3 }),
        evaluator: &evaluator,
        shard: None,
    };
    let out = Mutex::new(Vec::new());
    let factory = || Box::new(model()) as Box<dyn Module>;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let sink = |i, x, y, v: &[f64]| {
            out.lock().unwrap().push((i, x, y, v.to_vec()));
            Ok(())
        };
        compute_with(&job, &factory, &job.pending(&BTreeSet::new(), PointOrder::CoarseToFine), &sink, schedule)
    })
    .unwrap();
    let mut v = out.into_inner().unwrap();
    v.sort_by_key(|p| p.0);
    v
}

#[test]
fn quadratic_surface_matches_the_formula() {
    let points = run(2, None);
    assert_eq!(points.len(), 15);
    for (_, x, y, v) in &points {
        let theta = [0.3 + x, -0.2 + y, 0.1 + 0.5 * x - 0.5 * y];
        let q = 0.7 + theta[0].powi(2) + 2.0 * theta[1].powi(2) + 0.5 * theta[2].powi(2);
        assert!((v[0] - q).abs() < 1e-5 * q, "at ({x}, {y}): loss {} vs analytic {q}", v[0]);
        // Class 0 wins when 0 > log(e^Q − 1), i.e. Q < ln 2.
        let want = if q < std::f64::consts::LN_2 { 1.0 } else { 0.0 };
        assert_eq!(v[1], want, "accuracy at ({x}, {y}) with Q = {q}");
    }
}

#[test]
fn same_values_at_one_and_two_threads_and_either_schedule() {
    let a = run(1, None);
    for b in [run(2, None), run(2, Some(Schedule::Points)), run(2, Some(Schedule::Kernels))] {
        assert_eq!(a.len(), b.len());
        for (p, q) in a.iter().zip(&b) {
            assert_eq!(p.0, q.0);
            assert!(p.3.iter().zip(&q.3).all(|(x, y)| x.to_bits() == y.to_bits()), "point {} differs", p.0);
        }
    }
}
