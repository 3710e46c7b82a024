//! Hessian tools against the exact Hessian of a tiny MLP, built column by
//! column from Hessian-vector products and diagonalized densely (Jacobi).

use autodiff::Tensor;
use datasets::{blobs, BlobsParams};
use landscape::hessian::{hutchinson_trace, smallest_eigenvalue, top_eigen_lanczos, top_eigen_power, ModelHessian, Operator};
use landscape::linalg::symmetric_eigen;
use nn::{Kind, Module};

/// 2 → 5 → 3 tanh network.
struct Tiny {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
}

impl Module for Tiny {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        x.matmul_t(&self.w1, false, true).add(&self.b1).tanh().matmul_t(&self.w2, false, true)
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        f(&format!("{prefix}fc1.weight"), &mut self.w1, Kind::Parameter);
        f(&format!("{prefix}fc1.bias"), &mut self.b1, Kind::Parameter);
        f(&format!("{prefix}fc2.weight"), &mut self.w2, Kind::Parameter);
    }
    fn set_training(&mut self, _: bool) {}
}

/// The exact Hessian (dense, symmetrized) and its spectrum.
fn exact(op: &mut ModelHessian) -> (Vec<f64>, f64, Vec<f64>) {
    let n = op.dim();
    let mut h = vec![0.0; n * n];
    for j in 0..n {
        let mut e = vec![0.0; n];
        e[j] = 1.0;
        let col = op.apply(&e);
        for i in 0..n {
            h[i * n + j] = col[i];
        }
    }
    let asym = (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| (h[i * n + j] - h[j * n + i]).abs()).fold(0.0, f64::max);
    assert!(asym < 1e-5, "HVP columns are not symmetric: {asym}");
    let sym: Vec<f64> = (0..n * n).map(|k| 0.5 * (h[k] + h[(k % n) * n + k / n])).collect();
    let trace = (0..n).map(|i| sym[i * n + i]).sum();
    (symmetric_eigen(&sym, n).0, trace, sym)
}

#[test]
fn lanczos_power_and_hutchinson_match_the_exact_hessian() {
    let data = blobs(&BlobsParams { n: 200, classes: 3, ..Default::default() }).unwrap();
    let mut model =
        Tiny { w1: Tensor::randn(&[5, 2], 1).mul_scalar(0.7), b1: Tensor::randn(&[5], 2).mul_scalar(0.3), w2: Tensor::randn(&[3, 5], 3) };
    let mut op = ModelHessian::new(&mut model, &data.train, 64).unwrap();
    let (spectrum, trace, _) = exact(&mut op);
    let n = op.dim();
    assert_eq!(n, 5 * 2 + 5 + 15);

    let (top, _) = top_eigen_lanczos(&mut op, 3, n, 11);
    for k in 0..3 {
        let rel = (top[k] - spectrum[k]).abs() / spectrum[0].abs();
        assert!(rel < 1e-5, "Lanczos eigenvalue {k}: {} vs exact {} (rel {rel:e})", top[k], spectrum[k]);
    }
    // Power iteration with deflation finds eigenvalues by magnitude.
    let mut by_magnitude = spectrum.clone();
    by_magnitude.sort_by(|a, b| b.abs().total_cmp(&a.abs()));
    let (p, _) = top_eigen_power(&mut op, 2, 3000, 1e-9, 12);
    for k in 0..2 {
        let rel = (p[k] - by_magnitude[k]).abs() / by_magnitude[0].abs();
        assert!(rel < 5e-3, "power eigenvalue {k}: {} vs exact {} (rel {rel:e})", p[k], by_magnitude[k]);
    }

    let lmin = smallest_eigenvalue(&mut op, n, 13);
    assert!((lmin - spectrum[n - 1]).abs() < 1e-4 * spectrum[0].abs(), "λmin {lmin} vs {}", spectrum[n - 1]);

    let t = hutchinson_trace(&mut op, 200, 14);
    assert!((t.trace - trace).abs() <= 3.0 * t.stderr, "Hutchinson {} ± {} vs exact {trace}", t.trace, t.stderr);
    assert!(t.stderr > 0.0);
}
