//! Batch normalization with PyTorch's semantics.
//!
//! Training mode is one fused op ([`batch_norm`]) on the kernels of
//! [`crate::kernels::norm`]. Each rule has two forms: when no graph is
//! being recorded it calls a fused kernel and returns constants; when one
//! is (`create_graph`), it returns differentiable tensors. Batch norm's
//! recorded input gradient is itself an op (`BnBackward`, fused forward)
//! whose recorded rule is written with ordinary ops plus the small fused
//! ops `BnNormalize` (x̂) and `BnInvStd` (1/σ), whose rules are again
//! differentiable; its unrecorded rule (the second pass of an HVP) is the
//! fused `double_backward` kernel. So training and HVPs run on fused
//! kernels and derivatives of any order stay exact. Eval mode is composed
//! from ops.

use super::around_axis;
use crate::graph::{is_grad_enabled, Backward};
use crate::kernels::norm::{self as k, ChannelStats};
use crate::tensor::Tensor;
use std::sync::Arc;

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
    check_shapes(x, weight, bias, running_mean, running_var);
    if !cfg.training {
        return eval_norm(x, weight, bias, running_mean, running_var, cfg.eps);
    }
    let count = count_per_channel(x);
    let stats = stats_of(x, cfg.eps);
    update_running(running_mean, running_var, &stats.mean, &stats.var, count, cfg.momentum);
    let (_, c, inner) = around_axis(x.shape(), 1);
    let y = k::normalize(x.data(), c, inner, &stats.mean, &stats.invstd, weight.map(Tensor::data), bias.map(Tensor::data));
    let mut inputs = vec![x.clone()];
    inputs.extend(weight.cloned());
    inputs.extend(bias.cloned());
    let op = BatchNormTrain { eps: cfg.eps, has_weight: weight.is_some(), has_bias: bias.is_some(), stats };
    Tensor::from_op(y, x.shape().to_vec(), op, inputs)
}

fn check_shapes(x: &Tensor, weight: Option<&Tensor>, bias: Option<&Tensor>, running_mean: &Tensor, running_var: &Tensor) {
    assert!(x.ndim() >= 2, "batch_norm: input {:?} needs a channel axis 1", x.shape());
    let c = x.shape()[1];
    for (name, t) in [("running_mean", Some(running_mean)), ("running_var", Some(running_var)), ("weight", weight), ("bias", bias)] {
        if let Some(t) = t {
            assert_eq!(t.shape(), [c], "batch_norm: {name} has shape {:?}, input {:?} has {c} channels", t.shape(), x.shape());
        }
    }
}

/// Values per channel in training mode (must exceed one).
fn count_per_channel(x: &Tensor) -> usize {
    let count = x.numel() / x.shape()[1].max(1);
    assert!(count > 1, "batch_norm: training needs more than one value per channel, input {:?}", x.shape());
    count
}

/// `r ← (1 − m)·r + m·s`, with the unbiased variance (outside the graph).
fn update_running(running_mean: &mut Tensor, running_var: &mut Tensor, mean: &[f32], var: &[f32], count: usize, m: f32) {
    let c = mean.len();
    let unbias = count as f32 / (count - 1) as f32;
    let rm: Vec<f32> = running_mean.data().iter().zip(mean).map(|(&r, &s)| (1.0 - m) * r + m * s).collect();
    let rv: Vec<f32> = running_var.data().iter().zip(var).map(|(&r, &s)| (1.0 - m) * r + m * s * unbias).collect();
    *running_mean = Tensor::from_vec(rm, &[c]);
    *running_var = Tensor::from_vec(rv, &[c]);
}

/// Shape `[1, c, 1, …]` that broadcasts a per-channel vector against `x`.
fn channel_shape(x: &Tensor) -> Vec<usize> {
    let mut s = vec![1; x.ndim()];
    s[1] = x.shape()[1];
    s
}

/// Every axis but the channel axis.
fn reduce_axes(x: &Tensor) -> Vec<isize> {
    (0..x.ndim() as isize).filter(|&a| a != 1).collect()
}

/// `x̂·γ + β` with optional γ, β.
fn affine(xhat: Tensor, weight: Option<&Tensor>, bias: Option<&Tensor>, bshape: &[usize]) -> Tensor {
    let scaled = match weight {
        Some(w) => xhat.mul(&w.reshape(bshape)),
        None => xhat,
    };
    match bias {
        Some(b) => scaled.add(&b.reshape(bshape)),
        None => scaled,
    }
}

/// Eval mode, composed from ops: normalizes with the running statistics.
fn eval_norm(x: &Tensor, weight: Option<&Tensor>, bias: Option<&Tensor>, running_mean: &Tensor, running_var: &Tensor, eps: f32) -> Tensor {
    let bshape = channel_shape(x);
    let inv_std = running_var.add_scalar(eps).powf(-0.5).reshape(&bshape);
    let xhat = x.sub(&running_mean.reshape(&bshape)).mul(&inv_std);
    affine(xhat, weight, bias, &bshape)
}

/// Batch statistics of `x` (fused kernel).
fn stats_of(x: &Tensor, eps: f32) -> Arc<ChannelStats> {
    let (n, c, inner) = around_axis(x.shape(), 1);
    Arc::new(k::channel_stats(x.data(), n, c, inner, eps))
}

/// Training-mode batch norm: inputs `[x, γ?, β?]`.
struct BatchNormTrain {
    eps: f32,
    has_weight: bool,
    has_bias: bool,
    /// Batch statistics of `x`, computed by the forward pass.
    stats: Arc<ChannelStats>,
}

impl Backward for BatchNormTrain {
    fn name(&self) -> &'static str {
        "batch_norm"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let x = &i[0];
        let w = self.has_weight.then(|| &i[1]);
        let b = self.has_bias.then(|| &i[1 + self.has_weight as usize]);
        let need_w = w.is_some_and(Tensor::requires_grad);
        let need_b = b.is_some_and(Tensor::requires_grad);
        let (gx, gw, gb) = if !is_grad_enabled() {
            // First order: one fused kernel; the results are constants.
            let (n, c, inner) = around_axis(x.shape(), 1);
            let s = &self.stats;
            let (gx, sum_g, sum_gxhat) = k::backward(x.data(), g.data(), (n, c, inner), s, w.map(Tensor::data));
            (
                x.requires_grad().then(|| Tensor::from_vec(gx, x.shape())),
                need_w.then(|| Tensor::from_vec(sum_gxhat, &[c])),
                need_b.then(|| Tensor::from_vec(sum_g, &[c])),
            )
        } else {
            // Recording: differentiable ops (the x gradient is the BnBackward op).
            let axes = reduce_axes(x);
            (
                x.requires_grad().then(|| bn_grad(x, w, g, self.eps, Some(&self.stats))),
                need_w.then(|| g.mul(&normalized(x, self.eps, Some(&self.stats))).sum(&axes, false)),
                need_b.then(|| g.sum(&axes, false)),
            )
        };
        let mut out = vec![gx];
        if self.has_weight {
            out.push(gw);
        }
        if self.has_bias {
            out.push(gb);
        }
        out
    }
}

/// `x̂ = (x − mean)/sqrt(var + eps)` per channel, as an op.
fn normalized(x: &Tensor, eps: f32, stats: Option<&Arc<ChannelStats>>) -> Tensor {
    let stats = stats.cloned().unwrap_or_else(|| stats_of(x, eps));
    let (_, c, inner) = around_axis(x.shape(), 1);
    let y = k::normalize(x.data(), c, inner, &stats.mean, &stats.invstd, None, None);
    Tensor::from_op(y, x.shape().to_vec(), BnNormalize { eps, stats }, vec![x.clone()])
}

/// x̂ of `x`: input `[x]`.
struct BnNormalize {
    eps: f32,
    stats: Arc<ChannelStats>,
}

impl Backward for BnNormalize {
    fn name(&self) -> &'static str {
        "bn_normalize"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(bn_grad(&i[0], None, g, self.eps, Some(&self.stats)))]
    }
}

/// `1/sqrt(var + eps)` per channel (shape `[c]`), as an op.
fn inv_std(x: &Tensor, eps: f32, stats: Option<&Arc<ChannelStats>>) -> Tensor {
    let stats = stats.cloned().unwrap_or_else(|| stats_of(x, eps));
    let c = x.shape()[1];
    Tensor::from_op(stats.invstd.clone(), vec![c], BnInvStd { eps, stats }, vec![x.clone()])
}

/// 1/σ of `x`: input `[x]`, output `[c]`.
struct BnInvStd {
    eps: f32,
    stats: Arc<ChannelStats>,
}

impl Backward for BnInvStd {
    fn name(&self) -> &'static str {
        "bn_inv_std"
    }
    fn backward(&self, i: &[Tensor], out: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        // ∂s/∂x = −s²·x̂/N with s = 1/σ and N values per channel.
        let x = &i[0];
        let count = (x.numel() / x.shape()[1].max(1)) as f32;
        let coef = g.mul(&out.square()).mul_scalar(-1.0 / count).reshape(&channel_shape(x));
        vec![Some(normalized(x, self.eps, Some(&self.stats)).mul(&coef))]
    }
}

/// The batch-norm input gradient `γ·invstd·(g − mean(g) − x̂·mean(g·x̂))`
/// (means over every axis but 1), as an op on `[x, γ?, g]`.
fn bn_grad(x: &Tensor, weight: Option<&Tensor>, g: &Tensor, eps: f32, stats: Option<&Arc<ChannelStats>>) -> Tensor {
    assert_eq!(g.shape(), x.shape(), "batch_norm backward: gradient {:?} for input {:?}", g.shape(), x.shape());
    let stats = stats.cloned().unwrap_or_else(|| stats_of(x, eps));
    let (n, c, inner) = around_axis(x.shape(), 1);
    let (gx, _, _) = k::backward(x.data(), g.data(), (n, c, inner), &stats, weight.map(Tensor::data));
    let mut inputs = vec![x.clone()];
    inputs.extend(weight.cloned());
    inputs.push(g.clone());
    Tensor::from_op(gx, x.shape().to_vec(), BnBackward { eps, has_weight: weight.is_some(), stats }, inputs)
}

/// The batch-norm input gradient: inputs `[x, γ?, g]`.
struct BnBackward {
    eps: f32,
    has_weight: bool,
    stats: Arc<ChannelStats>,
}

impl Backward for BnBackward {
    fn name(&self) -> &'static str {
        "batch_norm_backward"
    }
    /// With cotangent `v`, `s = 1/σ`, `⟨·⟩` the per-channel mean, `m1 = ⟨g⟩`,
    /// `m2 = ⟨g·x̂⟩`, `q = ⟨v·x̂⟩`, `a = ⟨v·g⟩ − ⟨v⟩·m1`:
    /// * `∂/∂g = γ·s·(v − ⟨v⟩ − x̂·q)`, the same op with `v` for `g`;
    /// * `∂/∂γ = N·s·(a − m2·q)`;
    /// * `∂/∂x = γ·s²·((3·m2·q − a)·x̂ − q·(g − m1) − m2·(v − ⟨v⟩))`.
    fn backward(&self, i: &[Tensor], _: &Tensor, v: &Tensor) -> Vec<Option<Tensor>> {
        let x = &i[0];
        let w = self.has_weight.then(|| &i[1]);
        let g = &i[1 + self.has_weight as usize];
        let need_w = w.is_some_and(Tensor::requires_grad);
        if !is_grad_enabled() {
            // Not recording (e.g. the second pass of an HVP): one fused kernel.
            let (n, c, inner) = around_axis(x.shape(), 1);
            let s = &self.stats;
            let d = k::double_backward(x.data(), g.data(), v.data(), (n, c, inner), s, w.map(Tensor::data));
            let mut out = vec![x.requires_grad().then(|| Tensor::from_vec(d.gx, x.shape()))];
            if self.has_weight {
                out.push(need_w.then(|| Tensor::from_vec(d.gw, &[c])));
            }
            out.push(g.requires_grad().then(|| Tensor::from_vec(d.gg, x.shape())));
            return out;
        }
        let gg = g.requires_grad().then(|| bn_grad(x, w, v, self.eps, Some(&self.stats)));
        let (mut gx, mut gw) = (None, None);
        if x.requires_grad() || need_w {
            let axes = reduce_axes(x);
            let bshape = channel_shape(x);
            let mean = |t: &Tensor| t.mean(&axes, true);
            let xhat = normalized(x, self.eps, Some(&self.stats));
            let s = inv_std(x, self.eps, Some(&self.stats)).reshape(&bshape);
            let (m1, vm) = (mean(g), mean(v));
            let (m2, q) = (mean(&g.mul(&xhat)), mean(&v.mul(&xhat)));
            let a = mean(&v.mul(g)).sub(&vm.mul(&m1));
            if need_w {
                let count = (x.numel() / x.shape()[1].max(1)) as f32;
                gw = Some(s.mul(&a.sub(&m2.mul(&q))).mul_scalar(count).reshape(&[x.shape()[1]]));
            }
            if x.requires_grad() {
                let c_xhat = m2.mul(&q).mul_scalar(3.0).sub(&a);
                let body = xhat.mul(&c_xhat).sub(&g.sub(&m1).mul(&q)).sub(&v.sub(&vm).mul(&m2));
                let scale = match w {
                    Some(w) => s.square().mul(&w.reshape(&bshape)),
                    None => s.square(),
                };
                gx = Some(body.mul(&scale));
            }
        }
        let mut out = vec![gx];
        if self.has_weight {
            out.push(gw);
        }
        out.push(gg);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_all, GradCheck};
    use crate::{grad, hvp};

    /// The previous implementation, composed from generic ops: the reference.
    fn batch_norm_composed(
        x: &Tensor,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        running_mean: &mut Tensor,
        running_var: &mut Tensor,
        cfg: BatchNormConfig,
    ) -> Tensor {
        check_shapes(x, weight, bias, running_mean, running_var);
        if !cfg.training {
            return eval_norm(x, weight, bias, running_mean, running_var, cfg.eps);
        }
        let count = count_per_channel(x);
        let axes = reduce_axes(x);
        let mean = x.mean(&axes, true);
        let centered = x.sub(&mean);
        let var = centered.square().mean(&axes, true);
        update_running(running_mean, running_var, mean.data(), var.data(), count, cfg.momentum);
        let xhat = centered.mul(&var.add_scalar(cfg.eps).powf(-0.5));
        affine(xhat, weight, bias, &channel_shape(x))
    }

    type BatchNormFn = fn(&Tensor, Option<&Tensor>, Option<&Tensor>, &mut Tensor, &mut Tensor, BatchNormConfig) -> Tensor;

    fn assert_close(what: &str, a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol * scale, "{what}: element {i}: {x} vs {y}");
        }
    }

    const SHAPES: [&[usize]; 7] = [&[4, 1], &[5, 3], &[3, 1, 7], &[2, 5, 9], &[3, 2, 5, 3], &[7, 3, 1, 1], &[4, 6, 33, 35]];

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

    /// Values, gradients and running statistics equal the composed version.
    #[test]
    fn fused_matches_composed() {
        for (k, shape) in SHAPES.iter().enumerate() {
            let c = shape[1];
            let seed = 10 * k as u64;
            let x = Tensor::rand_uniform(shape, -2.0, 3.0, seed).requires_grad_();
            let w = Tensor::rand_uniform(&[c], 0.5, 1.5, seed + 1).requires_grad_();
            let b = Tensor::rand_uniform(&[c], -0.5, 0.5, seed + 2).requires_grad_();
            let r = Tensor::randn(shape, seed + 3);
            for affine in [true, false] {
                let (wo, bo) = if affine { (Some(&w), Some(&b)) } else { (None, None) };
                let run = |f: BatchNormFn| {
                    let (mut rm, mut rv) = (Tensor::full(&[c], 0.3), Tensor::full(&[c], 2.0));
                    let y = f(&x, wo, bo, &mut rm, &mut rv, BatchNormConfig::default());
                    let loss = y.mul(&r).sum_all();
                    let gs = grad(&[loss], &[x.clone(), w.clone(), b.clone()], false);
                    (y, gs, rm, rv)
                };
                let (y1, g1, rm1, rv1) = run(batch_norm);
                let (y2, g2, rm2, rv2) = run(batch_norm_composed);
                let what = format!("{shape:?} affine={affine}");
                assert_close(&format!("{what} y"), y1.data(), y2.data(), 1e-5);
                assert_close(&format!("{what} running mean"), rm1.data(), rm2.data(), 1e-6);
                assert_close(&format!("{what} running var"), rv1.data(), rv2.data(), 1e-5);
                for (j, (a, b)) in g1.iter().zip(&g2).enumerate() {
                    assert_close(&format!("{what} grad {j}"), a.data(), b.data(), 1e-4);
                }
            }
        }
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

    /// First- and second-order checks of the fused op with and without γ, β
    /// and on 2-, 3- and 4-d inputs.
    #[test]
    fn fused_gradcheck_with_and_without_affine() {
        let cfg = GradCheck::default();
        let train = BatchNormConfig::default();
        for (k, shape) in [&[5, 2][..], &[3, 2, 4], &[2, 3, 2, 2], &[3, 1, 3]].into_iter().enumerate() {
            let c = shape[1];
            let seed = 200 + 10 * k as u64;
            let x = Tensor::rand_uniform(shape, -2.0, 2.0, seed);
            let w = Tensor::rand_uniform(&[c], 0.5, 1.5, seed + 1);
            let b = Tensor::rand_uniform(&[c], -0.5, 0.5, seed + 2);
            let stats = |c| (Tensor::zeros(&[c]), Tensor::ones(&[c]));
            let name = format!("{shape:?}");
            check_all(
                &format!("batch_norm γβ {name}"),
                |t: &[Tensor]| {
                    let (mut rm, mut rv) = stats(c);
                    batch_norm(&t[0], Some(&t[1]), Some(&t[2]), &mut rm, &mut rv, train)
                },
                [x.clone(), w.clone(), b.clone()],
                &cfg,
            );
            check_all(
                &format!("batch_norm plain {name}"),
                |t: &[Tensor]| {
                    let (mut rm, mut rv) = stats(c);
                    batch_norm(&t[0], None, None, &mut rm, &mut rv, train)
                },
                [x.clone()],
                &cfg,
            );
            check_all(
                &format!("batch_norm β only {name}"),
                |t: &[Tensor]| {
                    let (mut rm, mut rv) = stats(c);
                    batch_norm(&t[0], None, Some(&t[1]), &mut rm, &mut rv, train)
                },
                [x.clone(), b.clone()],
                &cfg,
            );
        }
    }

    /// The helper ops' own rules, to first and second order (third and
    /// fourth order of batch norm).
    #[test]
    fn helper_ops_gradcheck() {
        let cfg = GradCheck::default();
        let eps = 1e-5;
        for (k, shape) in [&[4, 2][..], &[2, 3, 3], &[2, 2, 2, 2]].into_iter().enumerate() {
            let c = shape[1];
            let seed = 300 + 10 * k as u64;
            let x = Tensor::rand_uniform(shape, -2.0, 2.0, seed);
            let w = Tensor::rand_uniform(&[c], 0.5, 1.5, seed + 1);
            let g = Tensor::rand_uniform(shape, -1.0, 1.0, seed + 2);
            let name = format!("{shape:?}");
            check_all(&format!("bn_normalize {name}"), |t: &[Tensor]| normalized(&t[0], eps, None), [x.clone()], &cfg);
            check_all(&format!("bn_inv_std {name}"), |t: &[Tensor]| inv_std(&t[0], eps, None), [x.clone()], &cfg);
            check_all(
                &format!("bn_backward {name}"),
                |t: &[Tensor]| bn_grad(&t[0], Some(&t[1]), &t[2], eps, None),
                [x.clone(), w, g.clone()],
                &cfg,
            );
            check_all(&format!("bn_backward no γ {name}"), |t: &[Tensor]| bn_grad(&t[0], None, &t[1], eps, None), [x.clone(), g], &cfg);
        }
    }

    /// `BnBackward`'s rule gives the same values from its fused kernel (not
    /// recording) and from its differentiable-op form (recording).
    #[test]
    fn second_order_kernel_matches_op_rule() {
        for (k, shape) in [&[6, 3][..], &[3, 2, 7], &[4, 3, 5, 6], &[8, 2, 40, 50]].into_iter().enumerate() {
            let c = shape[1];
            let seed = 400 + 10 * k as u64;
            let x = Tensor::rand_uniform(shape, -2.0, 3.0, seed).requires_grad_();
            let w = Tensor::rand_uniform(&[c], 0.5, 1.5, seed + 1).requires_grad_();
            let g = Tensor::randn(shape, seed + 2).requires_grad_();
            let v = Tensor::randn(shape, seed + 3);
            for with_w in [true, false] {
                let wo = with_w.then_some(&w);
                let run = |create_graph: bool| {
                    let _rec = crate::enable_grad();
                    let gx = bn_grad(&x, wo, &g, 1e-5, None);
                    crate::grad_with_seeds(&[gx], std::slice::from_ref(&v), &[x.clone(), w.clone(), g.clone()], create_graph)
                };
                let (fast, ops) = (run(false), run(true));
                for (j, (a, b)) in fast.iter().zip(&ops).enumerate() {
                    assert_close(&format!("{shape:?} γ={with_w} input {j}"), a.data(), b.data(), 1e-4);
                }
            }
        }
    }

    /// A small conv → BN → ReLU → conv → BN → mean² net: its Hessian-vector
    /// product with the fused op equals the composed version's.
    #[test]
    fn hvp_through_conv_bn_relu_matches_composed() {
        let x = Tensor::randn(&[3, 2, 6, 5], 41);
        let params = [
            Tensor::randn(&[4, 2, 3, 3], 42).mul_scalar(0.3),
            Tensor::rand_uniform(&[4], 0.5, 1.5, 43),
            Tensor::rand_uniform(&[4], -0.5, 0.5, 44),
            Tensor::randn(&[3, 4, 3, 3], 45).mul_scalar(0.3),
        ];
        let v: Vec<Tensor> = params.iter().enumerate().map(|(k, p)| Tensor::randn(p.shape(), 50 + k as u64)).collect();
        let x = &x;
        let net = |f: BatchNormFn| {
            move |p: &[Tensor]| {
                let (mut rm, mut rv) = (Tensor::zeros(&[4]), Tensor::ones(&[4]));
                let h = x.conv2d(&p[0], None, (1, 1), (1, 1), (1, 1));
                let h = f(&h, Some(&p[1]), Some(&p[2]), &mut rm, &mut rv, BatchNormConfig::default()).relu();
                let h = h.conv2d(&p[3], None, (1, 1), (1, 1), (1, 1));
                let (mut rm, mut rv) = (Tensor::zeros(&[3]), Tensor::ones(&[3]));
                let h = f(&h, None, None, &mut rm, &mut rv, BatchNormConfig::default());
                h.mean(&[0, 2, 3], false).square().sum_all().add(&h.narrow(1, 0, 1).square().mean_all().square())
            }
        };
        let (l1, hv1) = hvp(net(batch_norm), &params, &v);
        let (l2, hv2) = hvp(net(batch_norm_composed), &params, &v);
        assert!((l1 - l2).abs() < 1e-5 * l2.abs().max(1.0), "loss {l1} vs {l2}");
        for (k, (a, b)) in hv1.iter().zip(&hv2).enumerate() {
            assert_close(&format!("Hv {k}"), a.data(), b.data(), 1e-3);
        }
    }

    /// Forward, gradients, running statistics and an HVP are bit-identical
    /// at 1, 2 and 3 rayon threads (the input is large enough for the
    /// parallel paths).
    #[test]
    fn bit_identical_across_thread_counts() {
        // Long rows split in blocks; short rows grouped by image; [n, c].
        let shapes: [&[usize]; 3] = [&[8, 3, 40, 41], &[700, 3, 4, 5], &[12000, 3]];
        let run = |shape: &[usize]| {
            let x = Tensor::randn(shape, 61).mul_scalar(2.0).add_scalar(0.5);
            let params = [x, Tensor::rand_uniform(&[3], 0.5, 1.5, 62), Tensor::rand_uniform(&[3], -0.5, 0.5, 63)];
            let r = Tensor::randn(shape, 64);
            let (mut rm, mut rv) = (Tensor::zeros(&[3]), Tensor::ones(&[3]));
            let mut f = |p: &[Tensor]| {
                let y = batch_norm(&p[0], Some(&p[1]), Some(&p[2]), &mut rm, &mut rv, BatchNormConfig::default());
                y.mul(&r).sum_all().add(&y.square().mean_all())
            };
            let leaves: Vec<Tensor> = params.iter().map(Tensor::requires_grad_).collect();
            let loss = f(&leaves);
            let g = grad(std::slice::from_ref(&loss), &leaves, false);
            let v: Vec<Tensor> = params.iter().enumerate().map(|(k, p)| Tensor::randn(p.shape(), 70 + k as u64)).collect();
            let (_, hv) = hvp(&mut f, &params, &v);
            let mut out = vec![loss.to_vec()];
            out.extend(g.iter().chain(&hv).map(Tensor::to_vec));
            out.push(rm.to_vec());
            out.push(rv.to_vec());
            out
        };
        for shape in shapes {
            let with = |k: usize| rayon::ThreadPoolBuilder::new().num_threads(k).build().unwrap().install(|| run(shape));
            let one = with(1);
            for k in [2, 3] {
                let other = with(k);
                for (j, (a, b)) in one.iter().zip(&other).enumerate() {
                    let same = a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "{shape:?}: output {j} differs between 1 and {k} threads");
                }
            }
        }
    }

    /// Timing of training-mode forward + backward, composed vs fused:
    /// `cargo test --release -p autodiff bn_timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bn_timing() {
        for shape in [[128usize, 16, 32, 32], [128, 64, 8, 8]] {
            let c = shape[1];
            let x = Tensor::randn(&shape, 1).requires_grad_();
            let w = Tensor::ones(&[c]).requires_grad_();
            let b = Tensor::zeros(&[c]).requires_grad_();
            let r = Tensor::randn(&shape, 2);
            for (name, f) in [("composed", batch_norm_composed as BatchNormFn), ("fused", batch_norm as BatchNormFn)] {
                let step = || {
                    let (mut rm, mut rv) = (Tensor::zeros(&[c]), Tensor::ones(&[c]));
                    let y = f(&x, Some(&w), Some(&b), &mut rm, &mut rv, BatchNormConfig::default());
                    let t0 = std::time::Instant::now();
                    // Seeded directly with r: the backward of BN alone.
                    let g = crate::grad_with_seeds(&[y], std::slice::from_ref(&r), &[x.clone(), w.clone(), b.clone()], false);
                    (g, t0.elapsed())
                };
                step();
                let reps = 20;
                let (mut fwd_bwd, mut bwd) = (0.0, 0.0);
                for _ in 0..reps {
                    let t = std::time::Instant::now();
                    let (_, b) = step();
                    fwd_bwd += t.elapsed().as_secs_f64();
                    bwd += b.as_secs_f64();
                }
                let ms = |s: f64| 1e3 * s / reps as f64;
                // Hessian-vector product of ½·Σ y² + Σ r·y (double backward).
                let params = [x.detach(), w.detach(), b.detach()];
                let v = [Tensor::randn(&shape, 3), Tensor::randn(&[c], 4), Tensor::randn(&[c], 5)];
                let t = std::time::Instant::now();
                for _ in 0..5 {
                    let loss = |p: &[Tensor]| {
                        let (mut rm, mut rv) = (Tensor::zeros(&[c]), Tensor::ones(&[c]));
                        let y = f(&p[0], Some(&p[1]), Some(&p[2]), &mut rm, &mut rv, BatchNormConfig::default());
                        y.square().sum_all().mul_scalar(0.5).add(&y.mul(&r).sum_all())
                    };
                    hvp(loss, &params, &v);
                }
                let hvp_ms = 1e3 * t.elapsed().as_secs_f64() / 5.0;
                println!("{shape:?} {name:>8}: forward+backward {:.2} ms (backward {:.2} ms), hvp {hvp_ms:.1} ms", ms(fwd_bwd), ms(bwd));
            }
        }
    }
}
