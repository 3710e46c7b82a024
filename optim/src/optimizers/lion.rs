//! Lion, "EvoLved Sign Momentum" (Chen et al. 2023, "Symbolic Discovery of
//! Optimization Algorithms"): the update is the sign of an interpolation
//! between momentum and gradient, so every coordinate moves by ±lr.
//!
//! ```text
//! c ← β1·m + (1 − β1)·g
//! θ ← θ − lr·(sign(c) + λ·θ)          (sign(0) = 0; decoupled weight decay)
//! m ← β2·m + (1 − β2)·g
//! ```

use crate::hyper::{check, ConfigError, Hyper, Kind, Range, DECAY_1D};
use crate::registry::{Build, Hypers, OptimizerSpec};
use crate::rule::{PerParam, Rule, StepInfo};

/// Lion's registration: the paper's defaults (its lr is 3-10× smaller
/// than AdamW's, its λ as much larger).
pub static SPEC: OptimizerSpec = OptimizerSpec {
    name: "lion",
    about: "Lion, sign of interpolated momentum (Chen et al. 2023)",
    params: &[
        Hyper { key: "lr", default: "1e-4", kind: Kind::Float(Range::POSITIVE), help: "learning rate (each coordinate moves by lr)" },
        Hyper { key: "beta1", default: "0.9", kind: Kind::Float(Range::UNIT), help: "β1, momentum weight in the update's direction" },
        Hyper { key: "beta2", default: "0.99", kind: Kind::Float(Range::UNIT), help: "β2, the momentum's decay" },
        Hyper { key: "weight_decay", default: "0", kind: Kind::Float(Range::NONNEG), help: "decoupled weight decay λ" },
        DECAY_1D,
    ],
    schedule: "cosine",
    build: Build::Gradient(|h| Ok(Box::new(Lion::try_new(LionConfig::from_hypers(h))?.with_decay_1d(h.bool("decay_1d"))))),
};

/// Hyper-parameters of Lion (the keys of [`SPEC`]).
#[derive(Clone, Debug, PartialEq)]
pub struct LionConfig {
    /// Learning rate.
    pub lr: f32,
    /// β1.
    pub beta1: f32,
    /// β2.
    pub beta2: f32,
    /// Decoupled weight decay λ.
    pub weight_decay: f32,
}

impl LionConfig {
    /// The configuration of resolved hyperparameters.
    pub fn from_hypers(h: &Hypers) -> Self {
        LionConfig { lr: h.f32("lr"), beta1: h.f32("beta1"), beta2: h.f32("beta2"), weight_decay: h.f32("weight_decay") }
    }
}

impl Default for LionConfig {
    /// The defaults of [`SPEC`]: lr 1e-4, β (0.9, 0.99), no decay.
    fn default() -> Self {
        LionConfig::from_hypers(&Hypers::defaults(&SPEC))
    }
}

/// Lion: the [`LionConfig`] rule applied per parameter.
pub type Lion = PerParam<LionConfig>;

impl Rule for LionConfig {
    fn name(&self) -> &'static str {
        "lion"
    }
    fn slots(&self) -> &'static [&'static str] {
        &["exp_avg"]
    }
    fn lr(&self) -> f32 {
        self.lr
    }
    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn validate(&self) -> Result<(), ConfigError> {
        for (key, v) in [("lr", self.lr), ("beta1", self.beta1), ("beta2", self.beta2), ("weight_decay", self.weight_decay)] {
            check(SPEC.params, key, v as f64)?;
        }
        Ok(())
    }
    fn update(&self, p: &[f32], g: &[f32], state: &mut [Vec<f32>], info: StepInfo) -> Vec<f32> {
        let [m] = state else { unreachable!("one slot") };
        let (lr, b1, b2) = (self.lr, self.beta1, self.beta2);
        let wd = if info.decay { self.weight_decay } else { 0.0 };
        let sign = |c: f32| {
            if c > 0.0 {
                1.0
            } else if c < 0.0 {
                -1.0
            } else {
                0.0
            }
        };
        p.iter()
            .zip(g)
            .zip(m.iter_mut())
            .map(|((&p, &g), m)| {
                let c = b1 * *m + (1.0 - b1) * g;
                *m = b2 * *m + (1.0 - b2) * g;
                p - lr * (sign(c) + wd * p)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GradientStep;
    use autodiff::Tensor;

    /// Two steps against the formulas worked by hand: every coordinate
    /// moves by lr in the direction of sign(c) (none where c = 0).
    #[test]
    fn steps_follow_the_sign_of_the_interpolation() {
        let cfg = LionConfig { lr: 0.1, beta1: 0.9, beta2: 0.99, weight_decay: 0.5 };
        let mut opt = Lion::new(cfg);
        let mut p = vec![Tensor::from_vec(vec![1.0, -2.0, 3.0], &[3])];
        opt.apply(&mut p, &[Tensor::from_vec(vec![0.5, -4.0, 0.0], &[3])]);
        // c = 0.1·g: signs (+, −, 0); p − 0.1·(sign + 0.5·p).
        assert_eq!(p[0].to_vec(), vec![1.0 - 0.1 * (1.0 + 0.5), -2.0 - 0.1 * (-1.0 - 1.0), 3.0 - 0.1 * 1.5]);
        // m = 0.01·g = (0.005, −0.04, 0); with g = (−1, −1, 1): c = 0.9·m + 0.1·g = (−0.0955, −0.136, 0.1).
        let before = p[0].to_vec();
        opt.apply(&mut p, &[Tensor::from_vec(vec![-1.0, -1.0, 1.0], &[3])]);
        let want: Vec<f32> = before.iter().zip([-1.0f32, -1.0, 1.0]).map(|(&x, s)| x - 0.1 * (s + 0.5 * x)).collect();
        assert_eq!(p[0].to_vec(), want);
    }
}
