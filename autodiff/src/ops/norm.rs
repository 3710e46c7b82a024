//! Batch normalization, composed from differentiable ops (so it is twice
//! differentiable with no rule of its own), with PyTorch's semantics.

use crate::tensor::Tensor;

/// Settings of a batch-norm call; PyTorch's defaults via `Default`.
#[derive(Clone, Copy, Debug)]
pub struct BatchNormConfig {
    /// Batch statistics (`true`) or running statistics (`false`).
    pub training: bool,
    /// Weight of the new batch statistic in the running average (0.1).
    pub momentum: f32,
    /// Added to the variance before the square root (1e-5).
    pub eps: f32,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig { training: true, momentum: 0.1, eps: 1e-5 }
    }
}

/// Batch norm over axis 1 of `x` (`[n, c]`, `[n, c, l]` or `[n, c, h, w]`).
///
/// Training: normalizes with the batch mean and the **biased** batch
/// variance, and updates the running statistics in place (outside the
/// graph) as `r ← (1 − momentum)·r + momentum·s`, where the variance
/// statistic is the **unbiased** one, as PyTorch does. Eval: normalizes with
/// the running statistics. `weight` (γ) and `bias` (β) are `[c]`.
pub fn batch_norm(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    running_mean: &mut Tensor,
    running_var: &mut Tensor,
    cfg: BatchNormConfig,
) -> Tensor {
    assert!(x.ndim() >= 2, "batch_norm: input {:?} needs a channel axis 1", x.shape());
    let c = x.shape()[1];
    for (name, t) in [("running_mean", Some(&*running_mean)), ("running_var", Some(&*running_var)), ("weight", weight), ("bias", bias)] {
        if let Some(t) = t {
            assert_eq!(t.shape(), [c], "batch_norm: {name} has shape {:?}, input {:?} has {c} channels", t.shape(), x.shape());
        }
    }
    let mut bshape = vec![1; x.ndim()];
    bshape[1] = c;
    let axes: Vec<isize> = (0..x.ndim() as isize).filter(|&a| a != 1).collect();
    let xhat = if cfg.training {
        let count = x.numel() / c.max(1);
        assert!(count > 1, "batch_norm: training needs more than one value per channel, input {:?}", x.shape());
        let mean = x.mean(&axes, true);
        let centered = x.sub(&mean);
        let var = centered.square().mean(&axes, true);
        {
            let _g = crate::no_grad();
            let m = cfg.momentum;
            let unbias = count as f32 / (count - 1) as f32;
            let rm: Vec<f32> = running_mean.data().iter().zip(mean.data()).map(|(&r, &s)| (1.0 - m) * r + m * s).collect();
            let rv: Vec<f32> = running_var.data().iter().zip(var.data()).map(|(&r, &s)| (1.0 - m) * r + m * s * unbias).collect();
            *running_mean = Tensor::from_vec(rm, &[c]);
            *running_var = Tensor::from_vec(rv, &[c]);
        }
        centered.mul(&var.add_scalar(cfg.eps).powf(-0.5))
    } else {
        let inv_std = running_var.add_scalar(cfg.eps).powf(-0.5).reshape(&bshape);
        x.sub(&running_mean.reshape(&bshape)).mul(&inv_std)
    };
    let scaled = match weight {
        Some(w) => xhat.mul(&w.reshape(&bshape)),
        None => xhat,
    };
    match bias {
        Some(b) => scaled.add(&b.reshape(&bshape)),
        None => scaled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_all, GradCheck};

    #[test]
    fn normalizes_and_tracks_running_statistics() {
        let x = Tensor::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2]);
        let (mut rm, mut rv) = (Tensor::zeros(&[2]), Tensor::ones(&[2]));
        let y = batch_norm(&x, None, None, &mut rm, &mut rv, BatchNormConfig::default());
        let y = y.to_vec();
        assert!((y[0] + 1.0).abs() < 1e-4 && (y[2] - 1.0).abs() < 1e-4, "{y:?}");
        // mean (2, 20); unbiased var (2, 200).
        assert!((rm.to_vec()[1] - 2.0).abs() < 1e-6);
        assert!((rv.to_vec()[0] - (0.9 + 0.2)).abs() < 1e-6);
        assert!((rv.to_vec()[1] - (0.9 + 20.0)).abs() < 1e-4);
        let eval = BatchNormConfig { training: false, ..Default::default() };
        let (mut m2, mut v2) = (Tensor::from_vec(vec![1.0, 10.0], &[2]), Tensor::from_vec(vec![4.0, 1.0], &[2]));
        let y = batch_norm(&x, None, Some(&Tensor::ones(&[2])), &mut m2, &mut v2, eval).to_vec();
        assert!((y[2] - (1.0 + 2.0 / (4.0f32 + 1e-5).sqrt())).abs() < 1e-5);
    }

    #[test]
    fn gradients_train_and_eval() {
        let cfg = GradCheck::default();
        let x = Tensor::rand_uniform(&[3, 2, 2, 3], -2.0, 2.0, 81);
        let g = Tensor::rand_uniform(&[2], 0.5, 1.5, 82);
        let b = Tensor::rand_uniform(&[2], -0.5, 0.5, 83);
        for training in [true, false] {
            let f = |t: &[Tensor]| {
                let (mut rm, mut rv) = (Tensor::full(&[2], 0.1), Tensor::full(&[2], 1.3));
                let c = BatchNormConfig { training, ..Default::default() };
                batch_norm(&t[0], Some(&t[1]), Some(&t[2]), &mut rm, &mut rv, c)
            };
            check_all("batch_norm", f, [x.clone(), g.clone(), b.clone()], &cfg);
        }
        let f1 = |t: &[Tensor]| {
            let (mut rm, mut rv) = (Tensor::zeros(&[3]), Tensor::ones(&[3]));
            batch_norm(&t[0], Some(&t[1]), None, &mut rm, &mut rv, BatchNormConfig::default())
        };
        check_all("batch_norm-1d", f1, [Tensor::rand_uniform(&[4, 3], -1.0, 1.0, 84), Tensor::ones(&[3])], &cfg);
    }
}
