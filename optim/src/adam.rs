//! Adam and AdamW with PyTorch's semantics (`torch.optim.Adam` / `AdamW`,
//! bias correction included, `amsgrad` off):
//!
//! ```text
//! t ← t + 1
//! Adam:  g ← ∇ + λ·p              AdamW:  p ← p·(1 − lr·λ)
//! m ← m + (1 − β1)·(g − m)      (= β1·m + (1 − β1)·g, as PyTorch's lerp)
//! v ← β2·v + (1 − β2)·g²
//! p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
//! ```
//! (the last line in exactly PyTorch's order of operations, so trajectories
//! match to rounding).

use crate::optimizer::{load_slot, save_slot, GradientStep, Objective, Optimizer, StepReport};
use autodiff::Tensor;

/// Hyper-parameters of Adam / AdamW.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f32,
    /// β1, the first-moment decay.
    pub beta1: f32,
    /// β2, the second-moment decay.
    pub beta2: f32,
    /// ε added to the denominator.
    pub eps: f32,
    /// Weight decay λ: L2 added to the gradient (Adam) or decoupled (AdamW).
    pub weight_decay: f32,
    /// Decoupled weight decay (AdamW).
    pub decoupled: bool,
}

impl Default for AdamConfig {
    /// PyTorch's Adam defaults: lr 1e-3, β (0.9, 0.999), ε 1e-8, no decay.
    fn default() -> Self {
        AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false }
    }
}

impl AdamConfig {
    /// PyTorch's AdamW defaults: as Adam with decoupled weight decay 0.01.
    pub fn adamw() -> Self {
        AdamConfig { weight_decay: 0.01, decoupled: true, ..Default::default() }
    }
}

/// Adam / AdamW optimizer state.
pub struct Adam {
    /// Hyper-parameters.
    pub cfg: AdamConfig,
    t: u64,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
}

impl Adam {
    /// A new optimizer.
    pub fn new(cfg: AdamConfig) -> Adam {
        Adam { cfg, t: 0, m: Vec::new(), v: Vec::new() }
    }
}

impl Optimizer for Adam {
    fn name(&self) -> &'static str {
        if self.cfg.decoupled {
            "adamw"
        } else {
            "adam"
        }
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
        let mut s = save_slot("exp_avg", &self.m);
        s.extend(save_slot("exp_avg_sq", &self.v));
        s.push(("step".to_string(), Tensor::scalar(self.t as f32)));
        s
    }
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<(), String> {
        self.m = load_slot(state, "exp_avg");
        self.v = load_slot(state, "exp_avg_sq");
        if self.m.len() != self.v.len() {
            return Err(format!("adam state: {} first moments but {} second moments", self.m.len(), self.v.len()));
        }
        self.t = state.iter().find(|(k, _)| k == "step").map(|(_, t)| t.item() as u64).unwrap_or(0);
        Ok(())
    }
}

impl GradientStep for Adam {
    fn apply(&mut self, params: &mut [Tensor], grads: &[Tensor]) {
        let c = self.cfg.clone();
        if self.m.is_empty() {
            self.m = params.iter().map(|p| p.zeros_like()).collect();
            self.v = params.iter().map(|p| p.zeros_like()).collect();
        }
        assert_eq!(self.m.len(), params.len(), "adam: state for {} parameters, got {}", self.m.len(), params.len());
        self.t += 1;
        // Bias corrections in f64, as PyTorch computes them in Python floats.
        let bc1 = 1.0 - (c.beta1 as f64).powi(self.t as i32);
        let bc2 = 1.0 - (c.beta2 as f64).powi(self.t as i32);
        let step_size = (c.lr as f64 / bc1) as f32;
        let bc2_sqrt = bc2.sqrt() as f32;
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let n = p.numel();
            let (mut m, mut v) = (self.m[i].to_vec(), self.v[i].to_vec());
            let mut new = p.to_vec();
            let gd = g.data();
            for j in 0..n {
                let mut gj = gd[j];
                if c.decoupled {
                    new[j] *= 1.0 - c.lr * c.weight_decay;
                } else if c.weight_decay != 0.0 {
                    gj += c.weight_decay * new[j];
                }
                m[j] += (1.0 - c.beta1) * (gj - m[j]); // PyTorch's lerp
                v[j] = c.beta2 * v[j] + (1.0 - c.beta2) * gj * gj;
                let denom = v[j].sqrt() / bc2_sqrt + c.eps;
                new[j] -= step_size * m[j] / denom;
            }
            self.m[i] = Tensor::from_vec(m, p.shape());
            self.v[i] = Tensor::from_vec(v, p.shape());
            *p = Tensor::from_vec(new, p.shape());
        }
    }
}
