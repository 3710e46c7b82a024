//! Fused batch-norm kernels over an input viewed as `[n, c, inner]`
//! (`inner` = product of the axes after the channel axis; 1 for `[n, c]`).
//!
//! A *row* is one (image, channel) slice of `inner` contiguous values.
//! Reductions split each channel into blocks of about [`BLOCK`] values
//! (part of one row, or whole rows of several images); each row part is
//! summed with 8 `f32` lanes, then added in `f64`, per block and then per
//! channel, always in image order. Which thread computes a block never
//! changes its value nor the order of the final sums, so results are bit
//! identical for any number of threads.

use super::PARALLEL_MIN;
use rayon::prelude::*;

/// Values per reduction block (part of one row).
pub const BLOCK: usize = 1024;

/// Per-channel batch statistics.
#[derive(Clone, Debug)]
pub struct ChannelStats {
    /// Mean of each channel.
    pub mean: Vec<f32>,
    /// Biased (population) variance of each channel.
    pub var: Vec<f32>,
    /// `1 / sqrt(var + eps)` of each channel.
    pub invstd: Vec<f32>,
}

/// Sum with 8 lanes (vectorizes; fixed order).
fn lanes_sum(x: &[f32], mut f: impl FnMut(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] += f(c[k]);
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &v in rest {
        s += f(v);
    }
    s
}

/// `(Σ g, Σ g·(x − m))` with 8 lanes each.
fn lanes_dot(g: &[f32], x: &[f32], m: f32) -> (f32, f32) {
    let (mut a, mut b) = ([0.0f32; 8], [0.0f32; 8]);
    let (gc, xc) = (g.chunks_exact(8), x.chunks_exact(8));
    let (gr, xr) = (gc.remainder(), xc.remainder());
    for (g8, x8) in gc.zip(xc) {
        for k in 0..8 {
            a[k] += g8[k];
            b[k] += g8[k] * (x8[k] - m);
        }
    }
    let fold = |v: [f32; 8]| ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
    let (mut sa, mut sb) = (fold(a), fold(b));
    for (&gv, &xv) in gr.iter().zip(xr) {
        sa += gv;
        sb += gv * (xv - m);
    }
    (sa, sb)
}

/// Block layout of a `[n, c, inner]` reduction. Block `u = (group·c + ch)·per_row + b`
/// covers part `b` (at most [`BLOCK`] values) of the rows of channel `ch` for
/// the images of `group`: one image when rows are long, `BLOCK / inner`
/// images when they are short (so there are about `len / BLOCK` blocks).
#[derive(Clone, Copy)]
struct Blocks {
    n: usize,
    c: usize,
    inner: usize,
    /// Blocks per row.
    per_row: usize,
    /// Images per block.
    images: usize,
}

impl Blocks {
    fn new(n: usize, c: usize, inner: usize) -> Self {
        Blocks { n, c, inner, per_row: inner.div_ceil(BLOCK).max(1), images: (BLOCK / inner.max(1)).max(1) }
    }

    /// `f(range, channel)` summed over the row parts of every block (in
    /// `f64`, image order), in parallel when `len` is large enough; the
    /// result is indexed by block, so independent of threads.
    fn map<const K: usize>(&self, len: usize, f: impl Fn(std::ops::Range<usize>, usize) -> [f32; K] + Sync) -> Vec<[f64; K]> {
        let groups = self.n.div_ceil(self.images);
        let mut out = vec![[0.0f64; K]; groups * self.c * self.per_row];
        let unit = |(u, o): (usize, &mut [f64; K])| {
            let (b, ch, group) = (u % self.per_row, (u / self.per_row) % self.c, u / (self.per_row * self.c));
            for i in group * self.images..((group + 1) * self.images).min(self.n) {
                let row = (i * self.c + ch) * self.inner;
                let start = row + b * BLOCK;
                let part = f(start..(start + BLOCK).min(row + self.inner), ch);
                for k in 0..K {
                    o[k] += part[k] as f64;
                }
            }
        };
        if len >= PARALLEL_MIN {
            // A few blocks per task.
            out.par_iter_mut().enumerate().with_min_len(4).for_each(unit);
        } else {
            out.iter_mut().enumerate().for_each(unit);
        }
        out
    }

    /// Per-channel totals of block values, added in block order.
    fn per_channel<const K: usize>(&self, blocks: &[[f64; K]]) -> Vec<[f64; K]> {
        let mut tot = vec![[0.0f64; K]; self.c];
        for (u, v) in blocks.iter().enumerate() {
            let ch = (u / self.per_row) % self.c;
            for k in 0..K {
                tot[ch][k] += v[k];
            }
        }
        tot
    }
}

/// Mean, biased variance and `1/sqrt(var + eps)` of every channel of `x`
/// viewed as `[n, c, inner]` (two passes: mean, then centered squares).
pub fn channel_stats(x: &[f32], n: usize, c: usize, inner: usize, eps: f32) -> ChannelStats {
    assert_eq!(x.len(), n * c * inner, "channel_stats: {} values do not fit [{n}, {c}, {inner}]", x.len());
    let blocks = Blocks::new(n, c, inner);
    let count = (n * inner).max(1) as f64;
    let sums = blocks.map(x.len(), |r, _| [lanes_sum(&x[r], |v| v)]);
    let mean: Vec<f32> = blocks.per_channel(&sums).iter().map(|s| (s[0] / count) as f32).collect();
    let sq = blocks.map(x.len(), |r, ch| {
        let m = mean[ch];
        [lanes_sum(&x[r], |v| (v - m) * (v - m))]
    });
    let var64: Vec<f64> = blocks.per_channel(&sq).iter().map(|s| s[0] / count).collect();
    let invstd = var64.iter().map(|&v| (1.0 / (v + eps as f64).sqrt()) as f32).collect();
    ChannelStats { mean, var: var64.iter().map(|&v| v as f32).collect(), invstd }
}

/// `out[i, ch, j] = f(ch, x-row, out-row)` row by row, in parallel over
/// rows for large inputs (no reduction: any split gives the same values).
fn rows_map(out: &mut [f32], c: usize, inner: usize, f: impl Fn(usize, usize, &mut [f32]) + Sync) {
    if inner == 0 {
        return;
    }
    let run = |(row, o): (usize, &mut [f32])| f(row % c, row * inner, o);
    if out.len() >= PARALLEL_MIN {
        let min_len = (4096 / inner).max(1);
        out.par_chunks_mut(inner).enumerate().with_min_len(min_len).for_each(run);
    } else {
        out.chunks_mut(inner).enumerate().for_each(run);
    }
}

/// `y = (x − mean)·invstd·γ + β` per channel of `x` viewed as
/// `[n, c, inner]`; `weight` (γ) and `bias` (β) default to 1 and 0.
pub fn normalize(
    x: &[f32],
    c: usize,
    inner: usize,
    mean: &[f32],
    invstd: &[f32],
    weight: Option<&[f32]>,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let scale: Vec<f32> = (0..c).map(|ch| invstd[ch] * weight.map_or(1.0, |w| w[ch])).collect();
    let mut y = vec![0.0f32; x.len()];
    rows_map(&mut y, c, inner, |ch, start, o| {
        let (m, k, b) = (mean[ch], scale[ch], bias.map_or(0.0, |b| b[ch]));
        let xr = &x[start..start + o.len()];
        o.iter_mut().zip(xr).for_each(|(o, &v)| *o = (v - m) * k + b);
    });
    y
}

/// First-order batch-norm backward for `x` viewed as `[n, c, inner]`, with
/// `x̂ = (x − mean)·invstd` and `g` the gradient of the output: returns
/// `(gx, Σ g, Σ g·x̂)` where the sums are per channel (the gradients of β
/// and γ) and `gx = γ·invstd·(g − mean(g) − x̂·mean(g·x̂))`.
pub fn backward(
    x: &[f32],
    g: &[f32],
    (n, c, inner): (usize, usize, usize),
    stats: &ChannelStats,
    weight: Option<&[f32]>,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (mean, invstd) = (&stats.mean[..], &stats.invstd[..]);
    assert_eq!(x.len(), n * c * inner, "batch-norm backward: {} values do not fit [{n}, {c}, {inner}]", x.len());
    assert_eq!(g.len(), x.len(), "batch-norm backward: gradient has {} values, input {}", g.len(), x.len());
    let blocks = Blocks::new(n, c, inner);
    let parts = blocks.map(x.len(), |r, ch| {
        let (a, b) = lanes_dot(&g[r.clone()], &x[r], mean[ch]);
        [a, b]
    });
    let tot = blocks.per_channel(&parts);
    let count = (n * inner).max(1) as f64;
    let sum_g: Vec<f32> = tot.iter().map(|t| t[0] as f32).collect();
    let sum_gxhat: Vec<f32> = tot.iter().zip(invstd).map(|(t, &s)| (t[1] * s as f64) as f32).collect();
    // gx = k·g + (x − mean)·b + d with k = γ·invstd, b = −k·invstd·mean(g·x̂),
    // d = −k·mean(g).
    let coef: Vec<(f32, f32, f32)> = (0..c)
        .map(|ch| {
            let s = invstd[ch] as f64;
            let k = weight.map_or(1.0, |w| w[ch] as f64) * s;
            let (mg, mgx) = (tot[ch][0] / count, tot[ch][1] * s / count);
            (k as f32, (-k * s * mgx) as f32, (-k * mg) as f32)
        })
        .collect();
    let mut gx = vec![0.0f32; x.len()];
    rows_map(&mut gx, c, inner, |ch, start, o| {
        let ((k, b, d), m) = (coef[ch], mean[ch]);
        let (xr, gr) = (&x[start..start + o.len()], &g[start..start + o.len()]);
        o.iter_mut().zip(xr.iter().zip(gr)).for_each(|(o, (&xv, &gv))| *o = k * gv + (xv - m) * b + d);
    });
    (gx, sum_g, sum_gxhat)
}

/// Per-channel sums for [`double_backward`]: `Σg, Σg·(x−m), Σv, Σv·(x−m), Σv·g`, 8 lanes each.
fn lanes_five(x: &[f32], g: &[f32], v: &[f32], m: f32) -> [f32; 5] {
    let mut acc = [[0.0f32; 8]; 5];
    let (xc, gc, vc) = (x.chunks_exact(8), g.chunks_exact(8), v.chunks_exact(8));
    let (xr, gr, vr) = (xc.remainder(), gc.remainder(), vc.remainder());
    for ((x8, g8), v8) in xc.zip(gc).zip(vc) {
        for k in 0..8 {
            let d = x8[k] - m;
            acc[0][k] += g8[k];
            acc[1][k] += g8[k] * d;
            acc[2][k] += v8[k];
            acc[3][k] += v8[k] * d;
            acc[4][k] += v8[k] * g8[k];
        }
    }
    let mut out = acc.map(|a| ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])));
    for ((&xv, &gv), &vv) in xr.iter().zip(gr).zip(vr) {
        let d = xv - m;
        out[0] += gv;
        out[1] += gv * d;
        out[2] += vv;
        out[3] += vv * d;
        out[4] += vv * gv;
    }
    out
}

/// Gradients of `Σ v·gx` where `gx = γ·s·(g − ⟨g⟩ − x̂·⟨g·x̂⟩)` is the
/// batch-norm input gradient ([`backward`]), `s` = invstd and `⟨·⟩` the
/// per-channel mean over `N` values.
#[derive(Clone, Debug)]
pub struct DoubleBackward {
    /// With respect to `x`: `γ·s²·((3·m2·q − a)·x̂ − q·(g − m1) − m2·(v − ⟨v⟩))`,
    /// where `m1 = ⟨g⟩`, `m2 = ⟨g·x̂⟩`, `q = ⟨v·x̂⟩`, `a = ⟨v·g⟩ − ⟨v⟩·m1`.
    pub gx: Vec<f32>,
    /// With respect to `g`: `γ·s·(v − ⟨v⟩ − x̂·q)`.
    pub gg: Vec<f32>,
    /// With respect to `γ` (per channel): `N·s·(a − m2·q)`.
    pub gw: Vec<f32>,
}

/// Second-order batch-norm kernel: the gradients of `Σ v·gx` with respect
/// to `x`, `g` and `γ` (see [`DoubleBackward`]); one reduction pass and two
/// elementwise passes over `x`, `g`, `v`.
pub fn double_backward(
    x: &[f32],
    g: &[f32],
    v: &[f32],
    (n, c, inner): (usize, usize, usize),
    stats: &ChannelStats,
    weight: Option<&[f32]>,
) -> DoubleBackward {
    let (mean, invstd) = (&stats.mean[..], &stats.invstd[..]);
    assert_eq!(x.len(), n * c * inner, "batch-norm double backward: {} values do not fit [{n}, {c}, {inner}]", x.len());
    assert!(g.len() == x.len() && v.len() == x.len(), "batch-norm double backward: lengths {} {} {}", x.len(), g.len(), v.len());
    let blocks = Blocks::new(n, c, inner);
    let parts = blocks.map(x.len(), |r, ch| lanes_five(&x[r.clone()], &g[r.clone()], &v[r], mean[ch]));
    let tot = blocks.per_channel(&parts);
    let count = (n * inner).max(1) as f64;
    // Per channel: gx = A·(x − μ) + B·g + C·v + D, gg = E·v + F·(x − μ) + G.
    let mut gw = vec![0.0f32; c];
    let coef: Vec<[f32; 7]> = (0..c)
        .map(|ch| {
            let t = tot[ch].map(|s| s / count);
            let s = invstd[ch] as f64;
            let w = weight.map_or(1.0, |w| w[ch] as f64);
            let (m1, m2, vm, q) = (t[0], t[1] * s, t[2], t[3] * s);
            let a = t[4] - vm * m1;
            gw[ch] = (count * s * (a - m2 * q)) as f32;
            let k = w * s * s;
            let k1 = w * s;
            [k * (3.0 * m2 * q - a) * s, -k * q, -k * m2, k * (q * m1 + m2 * vm), k1, -k1 * s * q, -k1 * vm].map(|z| z as f32)
        })
        .collect();
    let mut gx = vec![0.0f32; x.len()];
    rows_map(&mut gx, c, inner, |ch, start, o| {
        let ([a, b, cc, d, ..], m) = (coef[ch], mean[ch]);
        let r = start..start + o.len();
        let (xr, gr, vr) = (&x[r.clone()], &g[r.clone()], &v[r]);
        o.iter_mut().zip(xr.iter().zip(gr).zip(vr)).for_each(|(o, ((&xv, &gv), &vv))| *o = a * (xv - m) + b * gv + cc * vv + d);
    });
    let mut gg = vec![0.0f32; x.len()];
    rows_map(&mut gg, c, inner, |ch, start, o| {
        let ([.., e, f, h], m) = (coef[ch], mean[ch]);
        let r = start..start + o.len();
        let (xr, vr) = (&x[r.clone()], &v[r]);
        o.iter_mut().zip(xr.iter().zip(vr)).for_each(|(o, (&xv, &vv))| *o = e * vv + f * (xv - m) + h);
    });
    DoubleBackward { gx, gg, gw }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::TestRng;

    /// Straightforward f64 reference.
    fn naive_stats(x: &[f32], n: usize, c: usize, inner: usize) -> (Vec<f64>, Vec<f64>) {
        let at = |i: usize, ch: usize, j: usize| x[(i * c + ch) * inner + j] as f64;
        let cnt = (n * inner) as f64;
        let mean: Vec<f64> =
            (0..c).map(|ch| (0..n).flat_map(|i| (0..inner).map(move |j| (i, j))).map(|(i, j)| at(i, ch, j)).sum::<f64>() / cnt).collect();
        let var = (0..c)
            .map(|ch| {
                (0..n).flat_map(|i| (0..inner).map(move |j| (i, j))).map(|(i, j)| (at(i, ch, j) - mean[ch]).powi(2)).sum::<f64>() / cnt
            })
            .collect();
        (mean, var)
    }

    #[test]
    fn stats_match_f64_reference() {
        let mut rng = TestRng::new(5);
        for (n, c, inner) in [(2, 1, 1), (3, 2, 1), (5, 3, 7), (4, 2, 1500), (2, 5, 33), (2100, 2, 1), (40, 3, 60)] {
            let x: Vec<f32> = rng.vec(n * c * inner).iter().map(|v| v * 3.0 + 1.0).collect();
            let s = channel_stats(&x, n, c, inner, 1e-5);
            let (m, v) = naive_stats(&x, n, c, inner);
            for ch in 0..c {
                assert!((s.mean[ch] as f64 - m[ch]).abs() < 1e-6, "{n} {c} {inner}: mean {} vs {}", s.mean[ch], m[ch]);
                assert!((s.var[ch] as f64 - v[ch]).abs() < 1e-5 * v[ch].max(1.0), "{n} {c} {inner}: var {} vs {}", s.var[ch], v[ch]);
                let is = 1.0 / (v[ch] + 1e-5).sqrt();
                assert!((s.invstd[ch] as f64 - is).abs() < 1e-5 * is);
            }
        }
    }

    #[test]
    fn backward_sums_match_reference() {
        let mut rng = TestRng::new(9);
        let (n, c, inner) = (3, 2, 5);
        let x = rng.vec(n * c * inner);
        let g = rng.vec(n * c * inner);
        let w = [0.5f32, -2.0];
        let s = channel_stats(&x, n, c, inner, 1e-5);
        let (gx, sg, sgx) = backward(&x, &g, (n, c, inner), &s, Some(&w));
        let cnt = (n * inner) as f64;
        for ch in 0..c {
            let idx: Vec<usize> = (0..n).flat_map(|i| (0..inner).map(move |j| (i * c + ch) * inner + j)).collect();
            let xh = |k: usize| (x[k] as f64 - s.mean[ch] as f64) * s.invstd[ch] as f64;
            let a: f64 = idx.iter().map(|&k| g[k] as f64).sum();
            let b: f64 = idx.iter().map(|&k| g[k] as f64 * xh(k)).sum();
            assert!((sg[ch] as f64 - a).abs() < 1e-5 && (sgx[ch] as f64 - b).abs() < 1e-5);
            for &k in &idx {
                let want = w[ch] as f64 * s.invstd[ch] as f64 * (g[k] as f64 - a / cnt - xh(k) * b / cnt);
                assert!((gx[k] as f64 - want).abs() < 1e-5 * (1.0 + want.abs()), "{} vs {want}", gx[k]);
            }
        }
    }
}
