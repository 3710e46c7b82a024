//! [`BatchNorm1d`] and [`BatchNorm2d`]: batch normalization with running
//! statistics, PyTorch's `nn.BatchNorm1d` / `nn.BatchNorm2d`.

use super::visit_one;
use crate::{Kind, Module};
use autodiff::{batch_norm, BatchNormConfig, Tensor};

/// Batch normalization over axis 1. `D = 1` takes `[n, c]` or `[n, c, l]`
/// (use [`BatchNorm1d`]), `D = 2` takes `[n, c, h, w]` ([`BatchNorm2d`]).
///
/// Training: normalizes with the batch mean and biased batch variance,
/// updates `running_mean` / `running_var` with momentum 0.1 (unbiased
/// variance, as PyTorch) and adds one to `num_batches_tracked`. Eval:
/// normalizes with the running statistics. Tensors, in `state_dict`
/// order: `weight` (γ, 1), `bias` (β, 0), `running_mean` (0),
/// `running_var` (1), `num_batches_tracked` (a 0-d [`Kind::Counter`]).
#[derive(Clone, Debug)]
pub struct BatchNorm<const D: usize> {
    /// γ, `[c]`.
    pub weight: Tensor,
    /// β, `[c]`.
    pub bias: Tensor,
    /// Running mean, `[c]` (a buffer).
    pub running_mean: Tensor,
    /// Running (unbiased) variance, `[c]` (a buffer).
    pub running_var: Tensor,
    /// Number of training batches seen, a 0-d tensor (a counter).
    pub num_batches_tracked: Tensor,
    /// Weight of a new batch statistic in the running averages (0.1).
    pub momentum: f32,
    /// Added to the variance before the square root (1e-5).
    pub eps: f32,
    training: bool,
}

/// Batch norm over `[n, c]` or `[n, c, l]`.
pub type BatchNorm1d = BatchNorm<1>;
/// Batch norm over `[n, c, h, w]`.
pub type BatchNorm2d = BatchNorm<2>;

impl<const D: usize> BatchNorm<D> {
    /// PyTorch's defaults for `c` channels: γ = 1, β = 0, mean 0, var 1,
    /// momentum 0.1, eps 1e-5, training mode.
    pub fn new(c: usize) -> Self {
        BatchNorm {
            weight: Tensor::ones(&[c]),
            bias: Tensor::zeros(&[c]),
            running_mean: Tensor::zeros(&[c]),
            running_var: Tensor::ones(&[c]),
            num_batches_tracked: Tensor::scalar(0.0),
            momentum: 0.1,
            eps: 1e-5,
            training: true,
        }
    }

    /// Number of channels.
    pub fn num_features(&self) -> usize {
        self.weight.numel()
    }

    /// Whether the layer is in training mode.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// The eval-mode transform as `y = x·scale + shift` per channel:
    /// `scale = γ / √(running_var + eps)`, `shift = β − running_mean·scale`
    /// (each `[c]`; differentiable in γ and β).
    pub fn eval_affine(&self) -> (Tensor, Tensor) {
        let scale = self.weight.mul(&self.running_var.add_scalar(self.eps).powf(-0.5));
        let shift = self.bias.sub(&self.running_mean.mul(&scale));
        (scale, shift)
    }
}

impl<const D: usize> Module for BatchNorm<D> {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let ok = if D == 2 { x.ndim() == 4 } else { x.ndim() == 2 || x.ndim() == 3 };
        assert!(ok, "BatchNorm{D}d: input {:?} has the wrong number of axes", x.shape());
        let cfg = BatchNormConfig { training: self.training, momentum: self.momentum, eps: self.eps };
        let y = batch_norm(x, Some(&self.weight), Some(&self.bias), &mut self.running_mean, &mut self.running_var, cfg);
        if self.training {
            self.num_batches_tracked = Tensor::scalar(self.num_batches_tracked.item() + 1.0);
        }
        y
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        visit_one(prefix, "weight", &mut self.weight, Kind::Parameter, f);
        visit_one(prefix, "bias", &mut self.bias, Kind::Parameter, f);
        visit_one(prefix, "running_mean", &mut self.running_mean, Kind::Buffer, f);
        visit_one(prefix, "running_var", &mut self.running_var, Kind::Buffer, f);
        visit_one(prefix, "num_batches_tracked", &mut self.num_batches_tracked, Kind::Counter, f);
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModuleExt;
    use autodiff::gradcheck::{check_gradients, check_second_order, GradCheck};

    #[test]
    fn training_and_eval_by_hand() {
        // Channel 0: values 1, 3 -> mean 2, biased var 1, unbiased var 2.
        // Channel 1: values 10, 30 -> mean 20, biased var 100, unbiased 200.
        let x = Tensor::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2]);
        let mut bn = BatchNorm1d::new(2);
        bn.weight = Tensor::from_vec(vec![2.0, 1.0], &[2]);
        bn.bias = Tensor::from_vec(vec![0.5, 0.0], &[2]);
        let y = bn.forward(&x).to_vec();
        let s0 = 1.0 / (1.0f32 + 1e-5).sqrt();
        let s1 = 10.0 / (100.0f32 + 1e-5).sqrt();
        let want = [0.5 - 2.0 * s0, -s1, 0.5 + 2.0 * s0, s1];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{y:?} vs {want:?}");
        }
        assert_eq!(bn.running_mean.to_vec(), vec![0.2, 2.0]);
        assert!((bn.running_var.to_vec()[0] - 1.1).abs() < 1e-6);
        assert!((bn.running_var.to_vec()[1] - 20.9).abs() < 1e-4);
        assert_eq!(bn.num_batches_tracked.item(), 1.0);
        bn.forward(&x);
        assert_eq!(bn.num_batches_tracked.item(), 2.0);

        // Eval: running statistics, counter unchanged.
        let mut bn = BatchNorm2d::new(1);
        bn.running_mean = Tensor::from_vec(vec![1.0], &[1]);
        bn.running_var = Tensor::from_vec(vec![4.0], &[1]);
        bn.set_training(false);
        let y = bn.forward(&Tensor::from_vec(vec![3.0, 5.0], &[1, 1, 1, 2])).to_vec();
        assert!((y[0] - 2.0 / (4.0f32 + 1e-5).sqrt()).abs() < 1e-6 && (y[1] - 4.0 / (4.0f32 + 1e-5).sqrt()).abs() < 1e-6);
        assert_eq!(bn.num_batches_tracked.item(), 0.0);
    }

    #[test]
    fn names_and_kinds() {
        let mut bn = BatchNorm2d::new(3);
        let s = bn.state();
        let names: Vec<_> = s.iter().map(|n| (n.name.as_str(), n.kind)).collect();
        assert_eq!(
            names,
            [
                ("weight", Kind::Parameter),
                ("bias", Kind::Parameter),
                ("running_mean", Kind::Buffer),
                ("running_var", Kind::Buffer),
                ("num_batches_tracked", Kind::Counter)
            ]
        );
        assert_eq!(s[4].tensor.shape(), [] as [usize; 0]);
    }

    #[test]
    fn gradients_train_and_eval() {
        let x = Tensor::rand_uniform(&[3, 2, 2, 2], -2.0, 2.0, 5);
        let g = Tensor::rand_uniform(&[2], 0.5, 1.5, 6);
        let b = Tensor::rand_uniform(&[2], -0.5, 0.5, 7);
        for training in [true, false] {
            let f = |t: &[Tensor]| {
                let mut bn = BatchNorm2d::new(2);
                bn.running_mean = Tensor::full(&[2], 0.2);
                bn.running_var = Tensor::full(&[2], 1.5);
                bn.weight = t[1].clone();
                bn.bias = t[2].clone();
                bn.set_training(training);
                bn.forward(&t[0])
            };
            let inputs = [x.clone(), g.clone(), b.clone()];
            check_gradients(f, &inputs, &GradCheck::default()).unwrap();
            check_second_order(f, &inputs, &GradCheck::default()).unwrap();
        }
    }
}
