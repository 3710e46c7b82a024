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

use crate::optimizer::{load_slot, save_slot, GradientStep, Objective, Optimizer, StepReport};
use autodiff::Tensor;

/// Hyper-parameters of SGD.
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

impl Default for SgdConfig {
    /// Defaults that train the zoo LeNet on MNIST well: lr 0.05,
    /// momentum 0.9, weight decay 5e-4 (PyTorch's own defaults are lr
    /// required, momentum 0, no decay).
    fn default() -> Self {
        SgdConfig { lr: 0.05, momentum: 0.9, dampening: 0.0, weight_decay: 5e-4, nesterov: false }
    }
}

/// SGD optimizer state.
pub struct Sgd {
    /// Hyper-parameters.
    pub cfg: SgdConfig,
    momentum: Vec<Tensor>,
}

impl Sgd {
    /// A new optimizer. Panics on invalid hyper-parameters (the CLI checks
    /// user input before).
    pub fn new(cfg: SgdConfig) -> Sgd {
        assert!(!cfg.nesterov || (cfg.momentum > 0.0 && cfg.dampening == 0.0), "sgd: Nesterov needs momentum > 0 and dampening 0");
        Sgd { cfg, momentum: Vec::new() }
    }
}

impl Optimizer for Sgd {
    fn name(&self) -> &'static str {
        "sgd"
    }
    fn step(&mut self, params: &mut [Tensor], obj: &mut dyn Objective) -> StepReport {
        let (loss, grads) = obj.loss_grad(params, true);
        self.apply(params, &grads);
        StepReport { loss, learning_rate: self.cfg.lr, batches: 1, metrics: Vec::new() }
    }
    fn learning_rate(&self) -> f32 {
        self.cfg.lr
    }
    fn set_learning_rate(&mut self, lr: f32) {
        self.cfg.lr = lr;
    }
    fn state(&self) -> Vec<(String, Tensor)> {
        save_slot("momentum", &self.momentum)
    }
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<(), String> {
        self.momentum = load_slot(state, "momentum");
        Ok(())
    }
}

impl GradientStep for Sgd {
    fn apply(&mut self, params: &mut [Tensor], grads: &[Tensor]) {
        let c = &self.cfg;
        let first = self.momentum.is_empty();
        if c.momentum != 0.0 && !first {
            assert_eq!(self.momentum.len(), params.len(), "sgd: state for {} parameters, got {}", self.momentum.len(), params.len());
        }
        // Two vectorized passes per tensor (new momentum, new parameter), with
        // the same floating-point expressions as PyTorch's SGD:
        // d = g + wd·p;  b = μ·b + (1 − τ)·d (b = d at the first step);
        // step = d + μ·b (Nesterov) or b;  p ← p − lr·step.
        let (lr, wd, mu, damp) = (c.lr, c.weight_decay, c.momentum, c.dampening);
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let (pd, gd) = (p.data(), g.data());
            if mu == 0.0 {
                let new: Vec<f32> = pd.iter().zip(gd).map(|(&p, &g)| p - lr * (g + wd * p)).collect();
                *p = Tensor::from_vec(new, p.shape());
                continue;
            }
            let buf: Vec<f32> = if first {
                pd.iter().zip(gd).map(|(&p, &g)| g + wd * p).collect()
            } else {
                let old = self.momentum[i].data();
                old.iter().zip(pd.iter().zip(gd)).map(|(&b, (&p, &g))| mu * b + (1.0 - damp) * (g + wd * p)).collect()
            };
            let new: Vec<f32> = if c.nesterov {
                pd.iter().zip(gd.iter().zip(&buf)).map(|(&p, (&g, &b))| p - lr * ((g + wd * p) + mu * b)).collect()
            } else {
                pd.iter().zip(&buf).map(|(&p, &b)| p - lr * b).collect()
            };
            let buf = Tensor::from_vec(buf, p.shape());
            if first {
                self.momentum.push(buf);
            } else {
                self.momentum[i] = buf;
            }
            *p = Tensor::from_vec(new, p.shape());
        }
    }
}
