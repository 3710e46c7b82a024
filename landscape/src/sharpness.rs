//! Sharpness metrics of a minimum: ε-sharpness (Keskar et al. 2017), the
//! mean loss increase under random filter-normalized perturbations, and the
//! local-entropy estimate of Entropy-SGD (Chaudhari et al. 2017).
//!
//! The algorithms work on a [`LossFunction`] of flat `f64` vectors (so they
//! are tested on analytic functions); [`ModelLoss`] is the mean
//! cross-entropy of a model over a fixed data subset, in eval mode,
//! evaluated batch by batch and averaged with weights proportional to batch
//! size (the same loss [`crate::hessian::ModelHessian`] differentiates).
//!
//! ## ε-sharpness ([`eps_sharpness`])
//!
//! With `f` the loss at the weights `w` and the box
//! `C_ε = {δ : |δᵢ| ≤ bᵢ}`, `bᵢ = ε·(|wᵢ| + 1)` (Keskar et al.'s box with
//! `A = I`, i.e. in the full parameter space):
//!
//! ```text
//! sharpness = 100 · (max_{δ ∈ C_ε} f(w + δ) − f(w)) / (1 + f(w))
//! ```
//!
//! The maximum is searched by projected sign-gradient ascent (Keskar et al.
//! used L-BFGS-B; sign steps are the ℓ∞-steepest ascent for a box):
//! from `δ = 0`,
//!
//! ```text
//! for t = 0 .. steps−1:
//!     (L, g) ← f(w + δ), ∇f(w + δ);   best ← max(best, L)
//!     δ ← clip(δ + α_t · b ⊙ sign(g), −b, b),   α_t = α·(1 − t/steps)
//! best ← max(best, f(w + δ))
//! ```
//!
//! The step (a fraction `α` of the box half-width, default 0.5) decays
//! linearly to 0, so the search reaches a vertex in two steps when the
//! gradient signs persist and settles on an interior maximum otherwise.
//! The best loss seen is kept, so the result is a lower bound on the true
//! maximum (the problem is non-concave); `restarts > 1` adds searches from
//! uniform random points of the box. Cost: `restarts · (steps + 1)` loss
//! evaluations, `restarts · steps` of them with a gradient.
//!
//! ## Random perturbations ([`random_perturbation`])
//!
//! For unit-scale directions `d₁ … d_S` (in the CLI: `Direction::random`
//! with the default options, filter-normalized, biases and batch-norm
//! parameters fixed, seeds `seed, seed+1, …`) and a radius `r`, the
//! increases `Δₛ = f(w + r·dₛ) − f(w)`, with their mean, sample standard
//! deviation, standard error, and maximum.
//!
//! ## Local entropy ([`local_entropy`])
//!
//! Entropy-SGD's local entropy at `x` for scope `γ` and temperature `T` is
//! `F(x; γ) = log ∫ exp(−(f(x′) + γ/2 ‖x − x′‖²)/T) dx′`; its gradient is
//! `−∇F = γ (x − ⟨x′⟩)/T`, with `⟨·⟩` the mean under the Gibbs measure
//! `∝ exp(−(f(x′) + γ/2 ‖x − x′‖²)/T)`. Entropy-SGD drops the constant
//! `1/T` and follows `γ (x − ⟨x′⟩)`, estimating `⟨x′⟩` by SGLD
//! (Algorithm 1 of Chaudhari et al., the same step and noise convention as
//! `optim::entropy_sgd`):
//!
//! ```text
//! x′ ← x
//! for k = 1..steps:
//!     x′ ← x′ − η′·(∇f(x′) − γ·(x − x′)) + √η′·ε·N(0, I)
//! ```
//!
//! whose stationary law is the Gibbs measure `∝ exp(−(f(x′) + γ/2‖x − x′‖²)/T)`
//! at temperature `T = ε²/2` (up to the O(η′) discretisation bias). Unlike
//! the optimizer, the chain uses the exact gradient of `f` on the fixed
//! subset (no minibatch noise), so the only noise is the Langevin term.
//! After `burn_in` steps, each iterate is a sample; we report
//!
//! * `mean_loss` = the sample mean of `f(x′)`: an estimate of `⟨f(x′)⟩`
//!   under the Gibbs measure (a flat minimum keeps it close to `f(x)`; a
//!   minimum next to lower ground gives a value below `f(x)`),
//! * `loss_change` = `mean_loss − f(x)`,
//! * `distance` = `‖x − μ‖` with `μ` the sample mean of `x′` (the uniform
//!   mean over post-burn-in iterates, not the optimizer's exponential
//!   average), and
//! * `gradient_norm` = `γ‖x − μ‖`: the norm of the local-entropy gradient
//!   `γ(x − μ)` that Entropy-SGD's outer step follows (Algorithm 1's form,
//!   without the `1/T`).
//!
//! The local entropy value `F` itself (a log-partition function) is not
//! estimated.

use crate::direction::Direction;
use crate::examples::{batch_loss, batch_losses, Examples, LossBatches};
use autodiff::Tensor;
use datasets::ClassificationSet;
use nn::{Kind, Module, ModuleExt, Named};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// A scalar function of a flat vector with its gradient.
pub trait LossFunction {
    /// Dimension of the argument.
    fn dim(&self) -> usize;
    /// `f(w)`.
    fn loss(&mut self, w: &[f64]) -> f64;
    /// `f(w)` and `∇f(w)`.
    fn loss_grad(&mut self, w: &[f64]) -> (f64, Vec<f64>);
}

/// The mean cross-entropy of a model over a fixed data subset, as a
/// function of its flattened parameters (state order, as
/// [`ModuleExt::parameters`]). The model runs in eval mode; buffers are
/// left as they are.
pub struct ModelLoss<'a> {
    model: &'a mut dyn Module,
    params: Vec<Tensor>,
    data: LossBatches,
    /// Number of loss evaluations (forward passes over the subset).
    pub evaluations: usize,
    /// Number of gradient evaluations (forward + backward over the subset).
    pub gradients: usize,
}

impl<'a> ModelLoss<'a> {
    /// The loss of `model` over `set`, in batches of `batch_size`.
    pub fn new(model: &'a mut dyn Module, set: &ClassificationSet, batch_size: usize) -> crate::Result<ModelLoss<'a>> {
        Ok(ModelLoss::over(model, LossBatches::classification(set, batch_size)?))
    }

    /// The loss of `model` over `examples` (per character for windows).
    pub fn on(model: &'a mut dyn Module, examples: &Examples, batch_size: usize) -> crate::Result<ModelLoss<'a>> {
        Ok(ModelLoss::over(model, examples.loss_batches(batch_size)?))
    }

    /// The mean loss over `data`.
    pub fn over(model: &'a mut dyn Module, data: LossBatches) -> ModelLoss<'a> {
        model.set_training(false);
        let params = model.parameters();
        ModelLoss { model, params, data, evaluations: 0, gradients: 0 }
    }

    /// The current parameters, flattened (state order).
    pub fn point(&self) -> Vec<f64> {
        self.params.iter().flat_map(|p| p.data().iter().map(|&x| x as f64)).collect()
    }

    fn unflatten(&self, w: &[f64]) -> Vec<Tensor> {
        assert_eq!(w.len(), self.dim(), "ModelLoss: vector of length {} for {} parameters", w.len(), self.dim());
        let mut at = 0;
        self.params
            .iter()
            .map(|p| {
                let t = Tensor::from_vec(w[at..at + p.numel()].iter().map(|&x| x as f32).collect(), p.shape());
                at += p.numel();
                t
            })
            .collect()
    }
}

impl Drop for ModelLoss<'_> {
    /// Puts the original parameters back.
    fn drop(&mut self) {
        self.model.set_parameters(&self.params);
    }
}

impl LossFunction for ModelLoss<'_> {
    fn dim(&self) -> usize {
        self.params.iter().map(|p| p.numel()).sum()
    }

    fn loss(&mut self, w: &[f64]) -> f64 {
        let p = self.unflatten(w);
        self.model.set_parameters(&p);
        let _guard = autodiff::no_grad();
        let mut sum = 0.0;
        for (x, y) in &self.data.batches {
            let per = batch_losses(&mut *self.model, x, y);
            sum += per.data().iter().map(|&v| v as f64).sum::<f64>();
        }
        self.evaluations += 1;
        sum / self.data.total as f64
    }

    fn loss_grad(&mut self, w: &[f64]) -> (f64, Vec<f64>) {
        let p = self.unflatten(w);
        let _mode = autodiff::enable_grad();
        let leaves: Vec<Tensor> = p.iter().map(|t| t.requires_grad_()).collect();
        self.model.set_parameters(&leaves);
        let (mut loss, mut grad) = (0.0, vec![0.0f64; w.len()]);
        for (x, y) in &self.data.batches {
            let weight = self.data.weight(y);
            let l = batch_loss(&mut *self.model, x, y);
            loss += weight * l.item() as f64;
            let g = autodiff::grad(std::slice::from_ref(&l), &leaves, false);
            let mut at = 0;
            for t in &g {
                for (o, &v) in grad[at..at + t.numel()].iter_mut().zip(t.data()) {
                    *o += weight * v as f64;
                }
                at += t.numel();
            }
        }
        self.model.set_parameters(&p);
        self.gradients += 1;
        (loss, grad)
    }
}

/// The parameter entries of a direction over a model's `state`, flattened
/// in state order (the layout of [`ModelLoss`]'s vectors): buffers and
/// counters are left out.
pub fn flat_parameters(d: &Direction, state: &[Named]) -> Vec<f64> {
    state.iter().zip(&d.tensors).filter(|(n, _)| n.kind == Kind::Parameter).flat_map(|(_, t)| t.data().iter().map(|&x| x as f64)).collect()
}

/// Settings of [`eps_sharpness`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpsConfig {
    /// Relative box size ε (Keskar et al. used 1e-3 and 5e-4).
    pub epsilon: f64,
    /// Ascent steps per search.
    pub steps: usize,
    /// Initial step as a fraction of the box half-width (decays linearly to 0).
    pub step_size: f64,
    /// Number of searches: the first from δ = 0, the others from uniform random points of the box.
    pub restarts: usize,
    /// Seed of the random starts.
    pub seed: u64,
}

impl Default for EpsConfig {
    /// ε = 1e-3, 20 steps, step 0.5, one search from δ = 0, seed 0.
    fn default() -> Self {
        EpsConfig { epsilon: 1e-3, steps: 20, step_size: 0.5, restarts: 1, seed: 0 }
    }
}

/// The result of [`eps_sharpness`].
#[derive(Clone, Debug, PartialEq)]
pub struct EpsResult {
    /// `100·(max_loss − loss)/(1 + loss)`.
    pub sharpness: f64,
    /// `f(w)`.
    pub loss: f64,
    /// The largest loss found in the box.
    pub max_loss: f64,
    /// `max |δᵢ|/bᵢ` at the best point (1 = on the box's boundary).
    pub box_fraction: f64,
    /// Fraction of coordinates of the best δ on the box's boundary (|δᵢ| = bᵢ).
    pub at_bound: f64,
    /// The best perturbation δ.
    pub delta: Vec<f64>,
}

/// ε-sharpness of `f` at `w` (see the module docs for the definition and
/// the search).
pub fn eps_sharpness(f: &mut dyn LossFunction, w: &[f64], cfg: &EpsConfig) -> EpsResult {
    let n = w.len();
    let bound: Vec<f64> = w.iter().map(|x| cfg.epsilon * (x.abs() + 1.0)).collect();
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let base = f.loss(w);
    let (mut best, mut best_delta) = (base, vec![0.0; n]);
    let at = |delta: &[f64]| -> Vec<f64> { w.iter().zip(delta).map(|(a, b)| a + b).collect() };
    for r in 0..cfg.restarts.max(1) {
        let mut delta: Vec<f64> = if r == 0 { vec![0.0; n] } else { bound.iter().map(|&b| rng.gen_range(-b..=b)).collect() };
        for t in 0..cfg.steps {
            let (l, g) = f.loss_grad(&at(&delta));
            if l > best {
                best = l;
                best_delta.clone_from(&delta);
            }
            let alpha = cfg.step_size * (1.0 - t as f64 / cfg.steps as f64);
            for ((d, &gi), &b) in delta.iter_mut().zip(&g).zip(&bound) {
                let s = if gi > 0.0 {
                    1.0
                } else if gi < 0.0 {
                    -1.0
                } else {
                    0.0
                };
                *d = (*d + alpha * b * s).clamp(-b, b);
            }
        }
        let l = f.loss(&at(&delta));
        if l > best {
            best = l;
            best_delta = delta;
        }
    }
    let ratio: Vec<f64> = best_delta.iter().zip(&bound).map(|(d, b)| d.abs() / b).collect();
    EpsResult {
        sharpness: 100.0 * (best - base) / (1.0 + base),
        loss: base,
        max_loss: best,
        box_fraction: ratio.iter().copied().fold(0.0, f64::max),
        at_bound: ratio.iter().filter(|&&r| r >= 1.0 - 1e-12).count() as f64 / n.max(1) as f64,
        delta: best_delta,
    }
}

/// The result of [`random_perturbation`].
#[derive(Clone, Debug, PartialEq)]
pub struct PerturbationResult {
    /// `f(w)`.
    pub loss: f64,
    /// The radius r.
    pub radius: f64,
    /// `f(w + r·dₛ) − f(w)`, one per direction.
    pub increases: Vec<f64>,
    /// Mean of the increases.
    pub mean: f64,
    /// Sample standard deviation of the increases (0 for one sample).
    pub std: f64,
    /// Standard error of the mean (`std/√S`).
    pub stderr: f64,
    /// Largest increase.
    pub max: f64,
}

/// Loss increases of `f` at `w` along each of `directions` scaled by `radius`.
pub fn random_perturbation(f: &mut dyn LossFunction, w: &[f64], directions: &[Vec<f64>], radius: f64) -> PerturbationResult {
    let base = f.loss(w);
    let increases: Vec<f64> = directions
        .iter()
        .map(|d| {
            assert_eq!(d.len(), w.len(), "random_perturbation: direction of length {} for dimension {}", d.len(), w.len());
            let p: Vec<f64> = w.iter().zip(d).map(|(a, b)| a + radius * b).collect();
            f.loss(&p) - base
        })
        .collect();
    let m = increases.len().max(1) as f64;
    let mean = increases.iter().sum::<f64>() / m;
    let std = if increases.len() > 1 { (increases.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (m - 1.0)).sqrt() } else { 0.0 };
    PerturbationResult {
        loss: base,
        radius,
        mean,
        std,
        stderr: std / m.sqrt(),
        max: increases.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        increases,
    }
}

/// Settings of [`local_entropy`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EntropyConfig {
    /// Scope γ: the coupling of the sample `x′` to `x`.
    pub gamma: f64,
    /// Langevin step size η′ (Entropy-SGD's default 0.1).
    pub lr: f64,
    /// Thermal noise ε: each step adds `√η′·ε·N(0, I)` (temperature ε²/2).
    pub noise: f64,
    /// Langevin steps in all.
    pub steps: usize,
    /// Steps discarded before averaging (must be < `steps`).
    pub burn_in: usize,
    /// Seed of the noise.
    pub seed: u64,
}

impl Default for EntropyConfig {
    /// γ = 0.03, η′ = 0.1, ε = 1e-4, 100 steps with 50 of burn-in, seed 0.
    fn default() -> Self {
        EntropyConfig { gamma: 0.03, lr: 0.1, noise: 1e-4, steps: 100, burn_in: 50, seed: 0 }
    }
}

/// The result of [`local_entropy`] (see the module docs for what each
/// number estimates).
#[derive(Clone, Debug, PartialEq)]
pub struct EntropyResult {
    /// `f(x)`.
    pub loss: f64,
    /// Mean of `f(x′)` over the samples.
    pub mean_loss: f64,
    /// Standard deviation of `f(x′)` over the samples.
    pub loss_std: f64,
    /// `mean_loss − loss`.
    pub loss_change: f64,
    /// `‖x − μ‖`, μ the mean sample.
    pub distance: f64,
    /// `γ‖x − μ‖`, the local-entropy gradient norm.
    pub gradient_norm: f64,
    /// Number of samples averaged (`steps − burn_in`).
    pub samples: usize,
}

/// Local-entropy estimate of `f` at `x` by SGLD (see the module docs).
/// Each step costs one gradient evaluation; `f(x′)` comes with it (the loss
/// at the point where the gradient is taken, i.e. before the step).
pub fn local_entropy(f: &mut dyn LossFunction, x: &[f64], cfg: &EntropyConfig) -> EntropyResult {
    let n = x.len();
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let steps = cfg.steps.max(1);
    let burn_in = cfg.burn_in.min(steps - 1);
    let base = f.loss(x);
    let mut xp = x.to_vec();
    let mut mu = vec![0.0; n];
    let mut losses = Vec::with_capacity(steps - burn_in);
    let sd = cfg.lr.sqrt() * cfg.noise;
    for k in 0..steps {
        let (_, g) = f.loss_grad(&xp);
        for ((p, &gi), &xi) in xp.iter_mut().zip(&g).zip(x) {
            let noise: f64 = if sd > 0.0 { StandardNormal.sample(&mut rng) } else { 0.0 };
            *p -= cfg.lr * (gi - cfg.gamma * (xi - *p));
            *p += sd * noise;
        }
        if k >= burn_in {
            losses.push(f.loss(&xp));
            mu.iter_mut().zip(&xp).for_each(|(m, v)| *m += v);
        }
    }
    let m = losses.len() as f64;
    mu.iter_mut().for_each(|v| *v /= m);
    let mean_loss = losses.iter().sum::<f64>() / m;
    let loss_std = if losses.len() > 1 { (losses.iter().map(|l| (l - mean_loss).powi(2)).sum::<f64>() / (m - 1.0)).sqrt() } else { 0.0 };
    let distance = x.iter().zip(&mu).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
    EntropyResult {
        loss: base,
        mean_loss,
        loss_std,
        loss_change: mean_loss - base,
        distance,
        gradient_norm: cfg.gamma * distance,
        samples: losses.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f(x) = ½ xᵀAx + cᵀx with a dense symmetric A.
    struct Quadratic {
        a: Vec<f64>,
        c: Vec<f64>,
        calls: usize,
    }

    impl Quadratic {
        fn ax(&self, x: &[f64]) -> Vec<f64> {
            let n = x.len();
            (0..n).map(|i| (0..n).map(|j| self.a[i * n + j] * x[j]).sum()).collect()
        }
    }

    impl LossFunction for Quadratic {
        fn dim(&self) -> usize {
            self.c.len()
        }
        fn loss(&mut self, x: &[f64]) -> f64 {
            self.calls += 1;
            let ax = self.ax(x);
            0.5 * x.iter().zip(&ax).map(|(a, b)| a * b).sum::<f64>() + x.iter().zip(&self.c).map(|(a, b)| a * b).sum::<f64>()
        }
        fn loss_grad(&mut self, x: &[f64]) -> (f64, Vec<f64>) {
            let l = self.loss(x);
            (l, self.ax(x).iter().zip(&self.c).map(|(a, b)| a + b).collect())
        }
    }

    fn diag(d: &[f64]) -> Vec<f64> {
        let n = d.len();
        (0..n * n).map(|k| if k / n == k % n { d[k / n] } else { 0.0 }).collect()
    }

    /// A convex quadratic's maximum over a box is at a vertex: enumerate them.
    #[test]
    fn eps_sharpness_finds_the_best_vertex_of_a_convex_quadratic() {
        let n = 5;
        // A = BᵀB + 0.1 I, a fixed, well-mixed PSD matrix.
        let b: Vec<f64> = (0..n * n).map(|k| ((k * 7 + 3) % 11) as f64 / 11.0 - 0.4).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| b[k * n + i] * b[k * n + j]).sum::<f64>() + if i == j { 0.1 } else { 0.0 };
            }
        }
        let w = vec![0.5, -1.0, 0.2, 2.0, -0.3];
        let mut q = Quadratic { a, c: vec![0.1, -0.2, 0.05, 0.3, 0.0], calls: 0 };
        let cfg = EpsConfig { epsilon: 0.05, steps: 30, restarts: 4, ..Default::default() };
        let r = eps_sharpness(&mut q, &w, &cfg);
        let bound: Vec<f64> = w.iter().map(|x| cfg.epsilon * (x.abs() + 1.0)).collect();
        let f0 = q.loss(&w);
        let best = (0..1usize << n)
            .map(|mask| {
                let p: Vec<f64> = (0..n).map(|i| w[i] + if mask >> i & 1 == 1 { bound[i] } else { -bound[i] }).collect();
                q.loss(&p)
            })
            .fold(f64::NEG_INFINITY, f64::max);
        assert!((r.max_loss - best).abs() < 1e-12 * best.abs().max(1.0), "found {} vs best vertex {best}", r.max_loss);
        assert!((r.loss - f0).abs() < 1e-15);
        assert!((r.sharpness - 100.0 * (best - f0) / (1.0 + f0)).abs() < 1e-9);
        assert_eq!(r.at_bound, 1.0);
        assert_eq!(r.box_fraction, 1.0);
    }

    /// Diagonal quadratic with concave coordinates: the maximum is interior
    /// in those (δᵢ = −wᵢ when |wᵢ| ≤ bᵢ), on the boundary in the others.
    #[test]
    fn eps_sharpness_settles_on_an_interior_maximum() {
        let d = [2.0, -3.0, -1.0, 0.5];
        let w = [0.3, 0.001, 0.5, -0.2];
        let eps = 0.01;
        let mut q = Quadratic { a: diag(&d), c: vec![0.0; 4], calls: 0 };
        let r = eps_sharpness(&mut q, &w, &EpsConfig { epsilon: eps, steps: 200, ..Default::default() });
        // Closed form, coordinate by coordinate.
        let exact: f64 = (0..4)
            .map(|i| {
                let b = eps * (w[i].abs() + 1.0);
                let x = if d[i] > 0.0 {
                    w[i].abs() + b
                } else if w[i].abs() <= b {
                    0.0
                } else {
                    w[i].abs() - b
                };
                0.5 * d[i] * x * x
            })
            .sum();
        let f0 = q.loss(&w);
        let gap = exact - f0;
        assert!(gap > 0.0);
        assert!((r.max_loss - exact).abs() < 1e-4 * gap, "found {} vs exact {exact} (increase {gap})", r.max_loss);
        assert!(q.calls <= 2 + 201 + 4, "{} evaluations", q.calls);
    }

    /// For f = ½xᵀAx at 0 and Gaussian directions, E[f(r·d)] = r²·tr(A)/2.
    #[test]
    fn random_perturbation_matches_the_trace() {
        let n = 50;
        let d: Vec<f64> = (0..n).map(|i| 0.1 + i as f64 * 0.04).collect();
        let trace: f64 = d.iter().sum();
        let mut q = Quadratic { a: diag(&d), c: vec![0.0; n], calls: 0 };
        let mut rng = StdRng::seed_from_u64(3);
        let dirs: Vec<Vec<f64>> = (0..400).map(|_| (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()).collect();
        let r = random_perturbation(&mut q, &vec![0.0; n], &dirs, 0.5);
        let expect = 0.25 * trace / 2.0;
        assert!((r.mean - expect).abs() < 3.0 * r.stderr, "mean {} ± {} vs {expect}", r.mean, r.stderr);
        assert_eq!(r.increases.len(), 400);
        assert!(r.max >= r.mean && r.std > 0.0);
    }

    /// SGLD on ½a‖x′‖² + γ/2‖x − x′‖² at temperature T = ε²/2: the Gibbs
    /// measure is Gaussian with mean γx/(a+γ) and (for step η′) per-coordinate
    /// variance T/(k(1 − η′k/2)), k = a + γ.
    #[test]
    fn local_entropy_matches_the_gaussian_case() {
        let (n, a) = (2000, 2.0);
        let x: Vec<f64> = (0..n).map(|i| 1.0 + (i % 7) as f64 * 0.1).collect();
        let mut q = Quadratic { a: diag(&vec![a; n]), c: vec![0.0; n], calls: 0 };
        let cfg = EntropyConfig { gamma: 0.5, lr: 0.1, noise: 0.05, steps: 400, burn_in: 200, seed: 1 };
        let r = local_entropy(&mut q, &x, &cfg);
        let k = a + cfg.gamma;
        let t = cfg.noise * cfg.noise / 2.0;
        let var = t / (k * (1.0 - cfg.lr * k / 2.0));
        let xx: f64 = x.iter().map(|v| v * v).sum();
        let shrink = cfg.gamma / k;
        let mean_f = 0.5 * a * (shrink * shrink * xx + n as f64 * var);
        assert!((r.mean_loss - mean_f).abs() < 0.01 * mean_f, "⟨f⟩ {} vs {mean_f}", r.mean_loss);
        let dist = (1.0 - shrink) * xx.sqrt();
        assert!((r.distance - dist).abs() < 0.01 * dist, "‖x − μ‖ {} vs {dist}", r.distance);
        assert!((r.gradient_norm - cfg.gamma * r.distance).abs() < 1e-12);
        assert_eq!(r.samples, 200);
        assert!((r.loss - 0.5 * a * xx).abs() < 1e-9 && r.loss_change < 0.0);
    }
}
