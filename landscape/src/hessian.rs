//! Hessian spectra from Hessian-vector products: Lanczos with full
//! reorthogonalization (top-k eigenpairs), power iteration with deflation
//! (the simple reference), the smallest eigenvalue by a shift, Hutchinson's
//! trace estimator, and the spectral density by stochastic Lanczos
//! quadrature.
//!
//! Everything works on flat `f64` vectors through an [`Operator`]; for a
//! model, [`ModelHessian`] applies the exact HVP of the mean loss over a fixed
//! data subset (the average of per-batch HVPs weighted by batch size), with
//! the model in eval mode.

use crate::examples::{batch_loss, Examples, LossBatches};
use crate::linalg::symmetric_eigen;
use autodiff::Tensor;
use datasets::ClassificationSet;
use nn::{Module, ModuleExt};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// A symmetric linear operator `v ↦ Hv` on `dim`-vectors.
pub trait Operator {
    /// Dimension.
    fn dim(&self) -> usize;
    /// `H v`.
    fn apply(&mut self, v: &[f64]) -> Vec<f64>;
}

/// An operator from a closure (tests, shifted operators).
pub struct FnOperator<F: FnMut(&[f64]) -> Vec<f64>> {
    /// Dimension.
    pub dim: usize,
    /// The product.
    pub f: F,
}

impl<F: FnMut(&[f64]) -> Vec<f64>> Operator for FnOperator<F> {
    fn dim(&self) -> usize {
        self.dim
    }
    fn apply(&mut self, v: &[f64]) -> Vec<f64> {
        (self.f)(v)
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn normalize(v: &mut [f64]) -> f64 {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    n
}

fn gaussian(dim: usize, rng: &mut StdRng) -> Vec<f64> {
    (0..dim).map(|_| StandardNormal.sample(rng)).collect()
}

/// The result of `m` Lanczos steps: the tridiagonal matrix (`alpha` on the
/// diagonal, `beta` off it) and the orthonormal basis.
pub struct Lanczos {
    /// Diagonal of T.
    pub alpha: Vec<f64>,
    /// Off-diagonal of T (length `alpha.len() - 1`).
    pub beta: Vec<f64>,
    /// Lanczos vectors (rows), orthonormal.
    pub basis: Vec<Vec<f64>>,
}

impl Lanczos {
    /// Ritz values (descending) and their eigenvectors of T.
    pub fn ritz(&self) -> (Vec<f64>, Vec<Vec<f64>>) {
        let m = self.alpha.len();
        let mut t = vec![0.0; m * m];
        for i in 0..m {
            t[i * m + i] = self.alpha[i];
            if i + 1 < m {
                t[i * m + i + 1] = self.beta[i];
                t[(i + 1) * m + i] = self.beta[i];
            }
        }
        symmetric_eigen(&t, m)
    }
}

/// Runs up to `steps` Lanczos iterations from `start`, reorthogonalizing
/// every new vector against all previous ones (twice, for safety in f64).
/// Stops early on an invariant subspace.
pub fn lanczos(op: &mut dyn Operator, start: &[f64], steps: usize) -> Lanczos {
    let n = op.dim();
    let steps = steps.min(n).max(1);
    let mut q = start.to_vec();
    normalize(&mut q);
    let (mut alpha, mut beta, mut basis) = (Vec::new(), Vec::new(), vec![q]);
    loop {
        let j = basis.len() - 1;
        let mut w = op.apply(&basis[j]);
        let a = dot(&w, &basis[j]);
        alpha.push(a);
        if alpha.len() == steps {
            break;
        }
        for _ in 0..2 {
            for b in &basis {
                let c = dot(&w, b);
                w.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
            }
        }
        let nb = normalize(&mut w);
        let scale = alpha.iter().map(|a| a.abs()).fold(0.0, f64::max).max(1e-300);
        if nb <= 1e-10 * scale {
            break;
        }
        beta.push(nb);
        basis.push(w);
    }
    basis.truncate(alpha.len());
    Lanczos { alpha, beta, basis }
}

/// The `k` largest (algebraic) eigenvalues, descending, and unit
/// eigenvectors, by Lanczos with full reorthogonalization over `steps`
/// iterations (≥ k; more steps, more accuracy; `dim` steps is exact).
pub fn top_eigen_lanczos(op: &mut dyn Operator, k: usize, steps: usize, seed: u64) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = op.dim();
    let start = gaussian(n, &mut StdRng::seed_from_u64(seed));
    let l = lanczos(op, &start, steps.max(k));
    let (vals, vecs) = l.ritz();
    let k = k.min(vals.len());
    let vectors = (0..k)
        .map(|i| {
            let mut v = vec![0.0; n];
            for (c, b) in vecs[i].iter().zip(&l.basis) {
                v.iter_mut().zip(b).for_each(|(x, y)| *x += c * y);
            }
            normalize(&mut v);
            v
        })
        .collect();
    (vals[..k].to_vec(), vectors)
}

/// Fixes an eigenvector's sign: its largest-magnitude entry positive (so
/// runs with different seeds give the same vector).
pub fn canonical_sign(v: &mut [f64]) {
    let big = v.iter().copied().fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
    if big < 0.0 {
        v.iter_mut().for_each(|x| *x = -*x);
    }
}

/// The `k` eigenvalues of largest magnitude by power iteration with
/// deflation (the simple reference): stops each when the Rayleigh quotient
/// changes by less than `tol` relative, or after `iters` products.
pub fn top_eigen_power(op: &mut dyn Operator, k: usize, iters: usize, tol: f64, seed: u64) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = op.dim();
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut vals, mut vecs): (Vec<f64>, Vec<Vec<f64>>) = (Vec::new(), Vec::new());
    for _ in 0..k.min(n) {
        let mut v = gaussian(n, &mut rng);
        normalize(&mut v);
        let mut lambda = 0.0;
        for it in 0..iters {
            let mut w = op.apply(&v);
            // Deflate: (H − Σ λᵢ uᵢuᵢᵀ) v.
            for (l, u) in vals.iter().zip(&vecs) {
                let c = l * dot(u, &v);
                w.iter_mut().zip(u).for_each(|(x, y)| *x -= c * y);
            }
            let new = dot(&w, &v);
            normalize(&mut w);
            v = w;
            let done = it > 0 && (new - lambda).abs() <= tol * new.abs().max(1e-300);
            lambda = new;
            if done {
                break;
            }
        }
        vals.push(lambda);
        vecs.push(v);
    }
    (vals, vecs)
}

/// The smallest (most negative) eigenvalue: with σ = λmax, the largest
/// eigenvalue μ of `σI − H` gives `λmin = σ − μ`.
pub fn smallest_eigenvalue(op: &mut dyn Operator, steps: usize, seed: u64) -> f64 {
    let (top, _) = top_eigen_lanczos(op, 1, steps, seed);
    smallest_eigenvalue_shifted(op, top[0], steps, seed + 1)
}

/// The smallest eigenvalue by the shift `σ` (usually λmax, already known):
/// the largest eigenvalue μ of `σI − H`, by `steps` Lanczos steps from a
/// start drawn with `seed`, gives `λmin = σ − μ`.
pub fn smallest_eigenvalue_shifted(op: &mut dyn Operator, sigma: f64, steps: usize, seed: u64) -> f64 {
    let dim = op.dim();
    let mut shifted = FnOperator { dim, f: |v: &[f64]| op.apply(v).iter().zip(v).map(|(h, x)| sigma * x - h).collect() };
    let (mu, _) = top_eigen_lanczos(&mut shifted, 1, steps, seed);
    sigma - mu[0]
}

/// A trace estimate with its standard error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceEstimate {
    /// Mean of `vᵀHv` over the samples.
    pub trace: f64,
    /// Standard error of that mean.
    pub stderr: f64,
    /// Number of Rademacher vectors.
    pub samples: usize,
}

/// Hutchinson's estimator `E[vᵀHv]` with Rademacher `v`, `samples` ≥ 2.
pub fn hutchinson_trace(op: &mut dyn Operator, samples: usize, seed: u64) -> TraceEstimate {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = op.dim();
    let est: Vec<f64> = (0..samples.max(2))
        .map(|_| {
            let v: Vec<f64> = (0..n).map(|_| if rng.gen::<bool>() { 1.0 } else { -1.0 }).collect();
            dot(&v, &op.apply(&v))
        })
        .collect();
    let m = est.len() as f64;
    let mean = est.iter().sum::<f64>() / m;
    let var = est.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (m - 1.0);
    TraceEstimate { trace: mean, stderr: (var / m).sqrt(), samples: est.len() }
}

/// An eigenvalue density on a grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Density {
    /// Grid of eigenvalues.
    pub grid: Vec<f64>,
    /// Density at each grid point (integrates to 1 over the grid).
    pub density: Vec<f64>,
    /// The quadrature nodes (Ritz values) of every run, with weights.
    pub nodes: Vec<(f64, f64)>,
}

/// Spectral density by stochastic Lanczos quadrature: `runs` random starts,
/// `steps` Lanczos steps each; nodes are Ritz values θ with weights
/// τ² (squared first components of T's eigenvectors) / runs; the density
/// is their sum of Gaussians of width `sigma` on `points` grid values
/// spanning the nodes (± 5σ), normalized to integrate to 1.
pub fn spectral_density(op: &mut dyn Operator, runs: usize, steps: usize, sigma: f64, points: usize, seed: u64) -> Density {
    Density::from_nodes(slq_nodes(op, runs, steps, seed), sigma, points)
}

/// The quadrature nodes of stochastic Lanczos quadrature (the first half of
/// [`spectral_density`]): for each of `runs` Gaussian starts, `steps`
/// Lanczos steps; every Ritz value θ with weight τ²/runs (τ the first
/// component of its eigenvector of T). The weights sum to 1.
pub fn slq_nodes(op: &mut dyn Operator, runs: usize, steps: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = op.dim();
    let mut nodes = Vec::new();
    for _ in 0..runs.max(1) {
        let start = gaussian(n, &mut rng);
        let (theta, vecs) = lanczos(op, &start, steps).ritz();
        for (t, v) in theta.iter().zip(&vecs) {
            nodes.push((*t, v[0] * v[0] / runs.max(1) as f64));
        }
    }
    nodes
}

impl Density {
    /// Smooths quadrature nodes `(θ, weight)` (the second half of
    /// [`spectral_density`]): Gaussians of width `sigma` on `points` grid
    /// values spanning the nodes (± 5σ), normalized so the trapezoid
    /// integral is exactly 1.
    pub fn from_nodes(nodes: Vec<(f64, f64)>, sigma: f64, points: usize) -> Density {
        let lo = nodes.iter().map(|n| n.0).fold(f64::INFINITY, f64::min) - 5.0 * sigma;
        let hi = nodes.iter().map(|n| n.0).fold(f64::NEG_INFINITY, f64::max) + 5.0 * sigma;
        let points = points.max(2);
        let grid: Vec<f64> = (0..points).map(|i| lo + (hi - lo) * i as f64 / (points - 1) as f64).collect();
        let norm = 1.0 / (sigma * (2.0 * std::f64::consts::PI).sqrt());
        let mut density: Vec<f64> =
            grid.iter().map(|&x| nodes.iter().map(|&(t, w)| w * norm * (-(x - t).powi(2) / (2.0 * sigma * sigma)).exp()).sum()).collect();
        // Normalize the trapezoid integral to exactly 1.
        let h = (hi - lo) / (points - 1) as f64;
        let integral: f64 = density.windows(2).map(|w| 0.5 * (w[0] + w[1]) * h).sum();
        if integral > 0.0 {
            density.iter_mut().for_each(|d| *d /= integral);
        }
        Density { grid, density, nodes }
    }
}

/// The exact Hessian of a model's mean cross-entropy over a fixed data
/// subset, as an [`Operator`] on the flattened parameters (state order).
/// The model runs in eval mode (batch norm with running statistics, the
/// usual loss-landscape setting).
pub struct ModelHessian<'a> {
    model: &'a mut dyn Module,
    params: Vec<Tensor>,
    data: LossBatches,
    /// Number of Hessian-vector products computed.
    pub products: usize,
}

impl<'a> ModelHessian<'a> {
    /// The Hessian at the model's current parameters over `set`, evaluated
    /// in batches of `batch_size`.
    pub fn new(model: &'a mut dyn Module, set: &ClassificationSet, batch_size: usize) -> crate::Result<ModelHessian<'a>> {
        Ok(ModelHessian::over(model, LossBatches::classification(set, batch_size)?))
    }

    /// The Hessian at the model's current parameters over `examples`
    /// (classification examples, or language-model windows: then the mean
    /// cross-entropy per character, per-batch products weighted by tokens).
    pub fn on(model: &'a mut dyn Module, examples: &Examples, batch_size: usize) -> crate::Result<ModelHessian<'a>> {
        Ok(ModelHessian::over(model, examples.loss_batches(batch_size)?))
    }

    /// The Hessian of the mean loss over `data`.
    pub fn over(model: &'a mut dyn Module, data: LossBatches) -> ModelHessian<'a> {
        model.set_training(false);
        let params = model.parameters();
        ModelHessian { model, params, data, products: 0 }
    }

    /// The parameters, in state order (the layout of the flat vectors).
    pub fn parameters(&self) -> &[Tensor] {
        &self.params
    }

    /// Splits a flat vector into parameter-shaped tensors.
    pub fn unflatten(&self, v: &[f64]) -> Vec<Tensor> {
        let mut at = 0;
        self.params
            .iter()
            .map(|p| {
                let t = Tensor::from_vec(v[at..at + p.numel()].iter().map(|&x| x as f32).collect(), p.shape());
                at += p.numel();
                t
            })
            .collect()
    }
}

impl Operator for ModelHessian<'_> {
    fn dim(&self) -> usize {
        self.params.iter().map(|p| p.numel()).sum()
    }

    fn apply(&mut self, v: &[f64]) -> Vec<f64> {
        let vt = self.unflatten(v);
        let mut out = vec![0.0f64; v.len()];
        for (x, y) in &self.data.batches {
            let weight = self.data.weight(y);
            let model = &mut *self.model;
            let (_, hv) = autodiff::hvp(
                |p| {
                    model.set_parameters(p);
                    batch_loss(model, x, y)
                },
                &self.params,
                &vt,
            );
            let mut at = 0;
            for t in &hv {
                for (o, &h) in out[at..at + t.numel()].iter_mut().zip(t.data()) {
                    *o += weight * h as f64;
                }
                at += t.numel();
            }
        }
        self.model.set_parameters(&self.params);
        self.products += 1;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// diag(values) as an operator.
    fn diag(values: Vec<f64>) -> FnOperator<impl FnMut(&[f64]) -> Vec<f64>> {
        FnOperator { dim: values.len(), f: move |v: &[f64]| v.iter().zip(&values).map(|(x, d)| x * d).collect() }
    }

    #[test]
    fn lanczos_power_and_shift_on_a_diagonal() {
        let vals: Vec<f64> = (0..40).map(|i| (i as f64 - 10.0) * 0.5).collect(); // -5 .. 14.5
        let (top, vecs) = top_eigen_lanczos(&mut diag(vals.clone()), 3, 40, 1);
        assert!((top[0] - 14.5).abs() < 1e-9 && (top[1] - 14.0).abs() < 1e-9 && (top[2] - 13.5).abs() < 1e-9, "{top:?}");
        assert!(vecs[0][39].abs() > 1.0 - 1e-9);
        let (p, _) = top_eigen_power(&mut diag(vec![10.0, 3.0, 1.0, 0.5]), 2, 2000, 1e-12, 2);
        assert!((p[0] - 10.0).abs() < 1e-6 && (p[1] - 3.0).abs() < 1e-6, "{p:?}");
        let lmin = smallest_eigenvalue(&mut diag(vals), 40, 3);
        assert!((lmin + 5.0).abs() < 1e-8, "{lmin}");
    }

    #[test]
    fn density_integrates_to_one_and_finds_two_clusters() {
        let mut vals: Vec<f64> = (0..60).map(|i| 1.0 + 0.01 * i as f64).collect();
        vals.extend((0..40).map(|i| 10.0 + 0.01 * i as f64));
        let d = spectral_density(&mut diag(vals), 8, 30, 0.3, 400, 5);
        let h = d.grid[1] - d.grid[0];
        let integral: f64 = d.density.windows(2).map(|w| 0.5 * (w[0] + w[1]) * h).sum();
        assert!((integral - 1.0).abs() < 1e-9);
        // Mass near each cluster ~ 0.6 and 0.4.
        let mass =
            |lo: f64, hi: f64| -> f64 { d.grid.iter().zip(&d.density).filter(|(x, _)| **x >= lo && **x <= hi).map(|(_, y)| y * h).sum() };
        let (m1, m2) = (mass(0.0, 3.0), mass(8.0, 12.0));
        assert!((m1 - 0.6).abs() < 0.1 && (m2 - 0.4).abs() < 0.1, "cluster masses {m1}, {m2}");
        assert!(mass(4.5, 7.0) < 0.02, "no mass between the clusters");
    }

    #[test]
    fn hutchinson_is_unbiased_on_a_diagonal() {
        let vals: Vec<f64> = (0..30).map(|i| i as f64).collect();
        let t = hutchinson_trace(&mut diag(vals), 10, 1);
        // For a diagonal matrix vᵀDv = trace exactly, whatever the signs.
        assert!((t.trace - 435.0).abs() < 1e-9 && t.stderr < 1e-9);
    }
}
