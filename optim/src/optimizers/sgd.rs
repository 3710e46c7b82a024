//! Stochastic gradient descent with momentum, dampening, Nesterov and
//! weight decay, with PyTorch's semantics (`torch.optim.SGD`):
//!
//! ```text
//! g ← ∇ + λ·p
//! b ← g                          (first step)
//! b ← μ·b + (1 − τ)·g            (later steps)
//! g ← g + μ·b  (Nesterov)  or  g ← b
//! p ← p − lr·g
//! ```

use crate::hyper::{check, ConfigError, Hyper, Kind, Range, DECAY_1D};
use crate::registry::{Build, Hypers, OptimizerSpec};
use crate::rule::{PerParam, Rule, StepInfo};
use autodiff::kernels::PARALLEL_MIN;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// SGD's registration. The defaults train the zoo LeNet on MNIST well
/// (PyTorch's own are lr required, momentum 0, no decay).
pub static SPEC: OptimizerSpec = OptimizerSpec {
    name: "sgd",
    about: "SGD with momentum, dampening, Nesterov and L2 weight decay (PyTorch's torch.optim.SGD)",
    params: &[
        Hyper { key: "lr", default: "0.05", kind: Kind::Float(Range::POSITIVE), help: "learning rate" },
        Hyper { key: "momentum", default: "0.9", kind: Kind::Float(Range::UNIT), help: "momentum μ (0 disables)" },
        Hyper { key: "dampening", default: "0", kind: Kind::Float(Range::UNIT), help: "dampening τ of the momentum update" },
        Hyper { key: "weight_decay", default: "5e-4", kind: Kind::Float(Range::NONNEG), help: "L2 weight decay λ, added to the gradient" },
        Hyper { key: "nesterov", default: "false", kind: Kind::Bool, help: "Nesterov momentum (needs momentum > 0, dampening 0)" },
        DECAY_1D,
    ],
    schedule: "cosine",
    build: Build::Gradient(|h| Ok(Box::new(Sgd::try_new(SgdConfig::from_hypers(h))?.with_decay_1d(h.bool("decay_1d"))))),
};

/// Hyper-parameters of SGD (the keys of [`SPEC`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f32,
    /// Momentum μ (0 disables).
    pub momentum: f32,
    /// Dampening τ of the momentum update.
    pub dampening: f32,
    /// L2 weight decay λ, added to the gradient.
    pub weight_decay: f32,
    /// Nesterov momentum (needs μ > 0 and τ = 0).
    pub nesterov: bool,
}

impl SgdConfig {
    /// The configuration of resolved hyperparameters.
    pub fn from_hypers(h: &Hypers) -> Self {
        SgdConfig {
            lr: h.f32("lr"),
            momentum: h.f32("momentum"),
            dampening: h.f32("dampening"),
            weight_decay: h.f32("weight_decay"),
            nesterov: h.bool("nesterov"),
        }
    }
}

impl Default for SgdConfig {
    /// The defaults of [`SPEC`]: lr 0.05, momentum 0.9, weight decay 5e-4.
    fn default() -> Self {
        SgdConfig::from_hypers(&Hypers::defaults(&SPEC))
    }
}

/// SGD: the [`SgdConfig`] rule applied per parameter.
pub type Sgd = PerParam<SgdConfig>;

impl Rule for SgdConfig {
    fn name(&self) -> &'static str {
        "sgd"
    }
    fn slots(&self) -> &'static [&'static str] {
        if self.momentum == 0.0 {
            &[]
        } else {
            &["momentum"]
        }
    }
    fn lr(&self) -> f32 {
        self.lr
    }
    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn validate(&self) -> Result<(), ConfigError> {
        let p = SPEC.params;
        check(p, "lr", self.lr as f64)?;
        check(p, "momentum", self.momentum as f64)?;
        check(p, "dampening", self.dampening as f64)?;
        check(p, "weight_decay", self.weight_decay as f64)?;
        if self.nesterov && (self.momentum == 0.0 || self.dampening != 0.0) {
            return Err(ConfigError::Invalid { key: "nesterov", reason: "needs momentum > 0 and dampening 0".into() });
        }
        Ok(())
    }

    /// One fused pass per tensor (parallel over fixed chunks), updating the
    /// momentum buffer in place, with the same floating-point expressions as
    /// PyTorch's SGD: d = g + wd·p;  b = μ·b + (1 − τ)·d (b = d at the first
    /// step);  step = d + μ·b (Nesterov) or b;  p ← p − lr·step.
    fn update(&self, p: &[f32], g: &[f32], state: &mut [Vec<f32>], info: StepInfo) -> Vec<f32> {
        let (lr, mu, damp) = (self.lr, self.momentum, self.dampening);
        let wd = if info.decay { self.weight_decay } else { 0.0 };
        let [buf] = state else {
            return fused_update(p, g, None, move |p, g, _| p - lr * (g + wd * p));
        };
        let buf = Some(buf.as_mut_slice());
        // One loop per case, so that the flags are constants and it vectorizes.
        match (info.step == 1, self.nesterov) {
            (true, false) => fused_update(p, g, buf, rule::<true, false>(lr, wd, mu, damp)),
            (true, true) => fused_update(p, g, buf, rule::<true, true>(lr, wd, mu, damp)),
            (false, false) => fused_update(p, g, buf, rule::<false, false>(lr, wd, mu, damp)),
            (false, true) => fused_update(p, g, buf, rule::<false, true>(lr, wd, mu, damp)),
        }
    }
}

/// The momentum update of one element: `(p, g, &mut b) ↦ new p`, updating `b`.
fn rule<const FIRST: bool, const NESTEROV: bool>(lr: f32, wd: f32, mu: f32, damp: f32) -> impl Fn(f32, f32, &mut f32) -> f32 + Sync {
    move |p, g, b| {
        let d = g + wd * p;
        *b = if FIRST { d } else { mu * *b + (1.0 - damp) * d };
        let step = if NESTEROV { (g + wd * p) + mu * *b } else { *b };
        p - lr * step
    }
}

/// The new parameter `f(p, g, &mut b)` for every element, with `b` the
/// matching element of `buf` (a dummy without one), in parallel over fixed
/// chunks for large tensors: elementwise, so the result does not depend on
/// the split.
fn fused_update(p: &[f32], g: &[f32], buf: Option<&mut [f32]>, f: impl Fn(f32, f32, &mut f32) -> f32 + Sync) -> Vec<f32> {
    const CHUNK: usize = 1 << 14;
    type Chunk<'a> = Option<&'a mut [f32]>;
    let n = p.len();
    let bufs: Vec<Chunk> = match buf {
        Some(b) => b.chunks_mut(CHUNK).map(Some).collect(),
        None => (0..n.div_ceil(CHUNK)).map(|_| None).collect(),
    };
    let mut out: Vec<f32> = Vec::with_capacity(n);
    let spare = &mut out.spare_capacity_mut()[..n];
    let run = |(j, (o, b)): (usize, (&mut [MaybeUninit<f32>], Chunk))| {
        let (p, g) = (&p[j * CHUNK..][..o.len()], &g[j * CHUNK..][..o.len()]);
        match b {
            Some(b) => o.iter_mut().zip(p.iter().zip(g).zip(b)).for_each(|(o, ((&p, &g), b))| {
                o.write(f(p, g, b));
            }),
            None => o.iter_mut().zip(p.iter().zip(g)).for_each(|(o, (&p, &g))| {
                o.write(f(p, g, &mut 0.0));
            }),
        }
    };
    if n >= PARALLEL_MIN {
        spare.par_chunks_mut(CHUNK).zip(bufs).enumerate().for_each(run);
    } else {
        spare.chunks_mut(CHUNK).zip(bufs).enumerate().for_each(run);
    }
    // SAFETY: every chunk of `spare` was written in full: `p`, `g` and the
    // chunk of `buf` zipped with it are as long as the chunk.
    unsafe { out.set_len(n) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimizer::GradientStep;
    use crate::Optimizer;
    use autodiff::Tensor;

    /// The update written plainly (the formulas of the module docs), one
    /// parameter tensor, `steps` steps with gradients `gs`.
    fn reference(cfg: &SgdConfig, p0: &[f32], gs: &[Vec<f32>]) -> Vec<f32> {
        let (mut p, mut b) = (p0.to_vec(), vec![0.0f32; p0.len()]);
        for (s, g) in gs.iter().enumerate() {
            for j in 0..p.len() {
                let d = g[j] + cfg.weight_decay * p[j];
                if cfg.momentum == 0.0 {
                    p[j] -= cfg.lr * d;
                    continue;
                }
                b[j] = if s == 0 { d } else { cfg.momentum * b[j] + (1.0 - cfg.dampening) * d };
                let step = if cfg.nesterov { d + cfg.momentum * b[j] } else { b[j] };
                p[j] -= cfg.lr * step;
            }
        }
        p
    }

    /// Fused, chunked (in parallel above `PARALLEL_MIN`) updates give the
    /// plain formulas' bits; saved state is not modified by later steps.
    #[test]
    fn fused_update_matches_plain_formulas() {
        let configs = [
            SgdConfig { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 5e-4, nesterov: false },
            SgdConfig { lr: 0.05, momentum: 0.8, dampening: 0.0, weight_decay: 1e-2, nesterov: true },
            SgdConfig { lr: 0.2, momentum: 0.5, dampening: 0.3, weight_decay: 0.0, nesterov: false },
            SgdConfig { lr: 0.3, momentum: 0.0, dampening: 0.0, weight_decay: 1e-3, nesterov: false },
        ];
        for cfg in configs {
            for n in [0, 1, 7, 1 << 14, PARALLEL_MIN + 77] {
                let p0 = Tensor::rand_uniform(&[n], -1.0, 1.0, 1);
                let gs: Vec<Vec<f32>> = (0..3).map(|s| Tensor::rand_uniform(&[n], -1.0, 1.0, 10 + s).to_vec()).collect();
                let mut opt = Sgd::new(cfg.clone());
                let mut p = vec![p0.clone(), Tensor::from_vec(vec![0.5], &[1])];
                let mut saved = Vec::new();
                for g in &gs {
                    opt.apply(&mut p, &[Tensor::from_vec(g.clone(), &[n]), Tensor::from_vec(vec![1.0], &[1])]);
                    saved.push(opt.state().slots.iter().flat_map(|(_, ts)| ts.iter().map(|t| (t.clone(), t.to_vec()))).collect::<Vec<_>>());
                }
                let want = reference(&cfg, p0.data(), &gs);
                assert!(p[0].data().iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()), "{cfg:?} n={n}");
                for (t, v) in saved.iter().flatten() {
                    assert_eq!(t.data(), &v[..], "saved state changed by a later step");
                }
            }
        }
    }
}
