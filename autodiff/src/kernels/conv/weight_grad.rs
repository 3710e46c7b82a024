//! The weight gradient, a sum over the batch: images are split into a
//! number of chunks that depends only on the geometry, each chunk
//! accumulates its images in order into its own partial, and partials are
//! added in chunk order.

use rayon::prelude::*;

use super::im2col::{im2col, with_col};
use super::padded::{pad_planes, padded_row_offsets};
use super::scratch::{OUT_BLOCK, PACK_COL};
use super::Conv2dGeom;
use crate::kernels::gemm::{count_flops, gemm, round_up, MatMut, MatRef};
use crate::kernels::scratch::{give_back_scratch, take_scratch};

/// Upper bound (in f32 elements) on the memory spent on per-chunk weight-gradient
/// partials.
const PARTIAL_BUDGET: usize = 1 << 22;
/// Upper bound on the number of batch chunks of the weight gradient.
const MAX_CHUNKS: usize = 16;
/// Elements per task when adding partials.
const REDUCE_BLOCK: usize = 1 << 14;

/// How the weight gradient cuts a batch of `n` images for a gradient of
/// `ws` elements: `(images per chunk, chunks)`, from the sizes only (never
/// the thread count), so the sum order is fixed.
pub(super) fn batch_chunks(n: usize, ws: usize) -> (usize, usize) {
    let chunks = (PARTIAL_BUDGET / ws).clamp(1, MAX_CHUNKS).min(n);
    let per = n.div_ceil(chunks);
    (per, n.div_ceil(per))
}

/// `gw` = the sum of the per-chunk partials (`gw.len()` elements each),
/// added in chunk order, in parallel over blocks of `gw`.
pub(super) fn sum_partials(partials: &[f32], gw: &mut [f32]) {
    let ws = gw.len();
    gw.par_chunks_mut(REDUCE_BLOCK).enumerate().for_each(|(bi, out)| {
        let off = bi * REDUCE_BLOCK;
        let len = out.len();
        out.copy_from_slice(&partials[off..off + len]);
        for part in partials.chunks_exact(ws).skip(1) {
            for (o, &v) in out.iter_mut().zip(&part[off..off + len]) {
                *o += v;
            }
        }
    });
}

/// Output channels × im2col rows per register tile of the weight-gradient dot kernel.
const DOT_CO: usize = 4;
/// See [`DOT_CO`].
const DOT_R: usize = 3;
/// Bytes of padded images and gradients gathered per group of the direct weight gradient.
const DOT_GROUP_BYTES: usize = 1 << 18;

/// Adds `Σ_img Σ_q g[co][img][q] · x[img][off[r] + q]` to `out[co][r]` for an
/// `MC × NRR` tile of `job`, where `g_rows[i]` are the gradient rows of the
/// tile's output channels (images `len8` apart), `x_offs[j]` the offsets of
/// its im2col rows (images `x_img` apart).  Sums run in 8 lanes over `q` in
/// order, then the lanes are added pairwise: a fixed order.
#[inline(always)]
fn dot_tile<const MC: usize, const NRR: usize, const FUSED: bool>(
    job: &DotGroup,
    g_rows: [usize; MC],
    x_offs: [usize; NRR],
) -> [[f32; NRR]; MC] {
    let DotGroup { g, x, x_img, images, len8, .. } = *job;
    let g_img = len8;
    let mut acc = [[[0.0f32; 8]; NRR]; MC];
    for img in 0..images {
        let gr: [&[f32]; MC] = std::array::from_fn(|i| &g[g_rows[i] + img * g_img..][..len8]);
        let xr: [&[f32]; NRR] = std::array::from_fn(|j| &x[x_offs[j] + img * x_img..][..len8]);
        for q in (0..len8).step_by(8) {
            let gv: [[f32; 8]; MC] = std::array::from_fn(|i| gr[i][q..q + 8].try_into().unwrap());
            let xv: [[f32; 8]; NRR] = std::array::from_fn(|j| xr[j][q..q + 8].try_into().unwrap());
            for (acc_i, gi) in acc.iter_mut().zip(&gv) {
                for (acc_ij, xj) in acc_i.iter_mut().zip(&xv) {
                    for l in 0..8 {
                        acc_ij[l] = if FUSED { gi[l].mul_add(xj[l], acc_ij[l]) } else { acc_ij[l] + gi[l] * xj[l] };
                    }
                }
            }
        }
    }
    acc.map(|row| row.map(|v| ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]))))
}

/// One group of images for the weight-gradient dot kernel (see [`dot_tile`]).
#[derive(Clone, Copy)]
pub(super) struct DotGroup<'a> {
    /// Output channels.
    c_out: usize,
    /// Offsets of the im2col rows in a padded image.
    offsets: &'a [usize],
    /// Output gradients, `c_out` rows of `g_row` (each row: the group's images, `len8` apart).
    g: &'a [f32],
    /// See `g`.
    g_row: usize,
    /// Padded images, `x_img` apart.
    x: &'a [f32],
    /// See `x`.
    x_img: usize,
    /// Images in the group.
    images: usize,
    /// Gradient values per image (a multiple of 8).
    len8: usize,
}

/// All tiles of one group of images: `out [c_out × kd] += ...` (see [`dot_tile`]).
#[inline(always)]
pub(super) fn dot_all<const FUSED: bool>(job: DotGroup, out: &mut [f32]) {
    let DotGroup { c_out, offsets, g_row, .. } = job;
    let kd = offsets.len();
    let (co_main, r_main) = (c_out / DOT_CO * DOT_CO, kd / DOT_R * DOT_R);
    let mut add = |co: usize, r: usize, v: f32| out[co * kd + r] += v;
    for co in (0..co_main).step_by(DOT_CO) {
        let rows: [usize; DOT_CO] = std::array::from_fn(|i| (co + i) * g_row);
        for r in (0..r_main).step_by(DOT_R) {
            let offs: [usize; DOT_R] = std::array::from_fn(|j| offsets[r + j]);
            let t = dot_tile::<DOT_CO, DOT_R, FUSED>(&job, rows, offs);
            for (i, ti) in t.iter().enumerate() {
                for (j, &v) in ti.iter().enumerate() {
                    add(co + i, r + j, v);
                }
            }
        }
        for (r, &off) in offsets.iter().enumerate().skip(r_main) {
            let t = dot_tile::<DOT_CO, 1, FUSED>(&job, rows, [off]);
            for (i, ti) in t.iter().enumerate() {
                add(co + i, r, ti[0]);
            }
        }
    }
    for co in co_main..c_out {
        for (r, &off) in offsets.iter().enumerate() {
            let t = dot_tile::<1, 1, FUSED>(&job, [co * g_row], [off]);
            add(co, r, t[0][0]);
        }
    }
}

/// [`dot_all`] compiled with AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_all_avx2(job: DotGroup, out: &mut [f32]) {
    dot_all::<true>(job, out)
}

/// Weight gradient of a stride-1 convolution without im2col: with each image
/// zero-padded (`xp`, as in [`forward_direct`]) and its output gradient laid
/// out on the same padded-width grid with zeros in the extra columns, every
/// weight-gradient entry is a dot product of two contiguous rows,
/// `gw[co][r] = Σ_q gyv[co][q] · xp[offset(r) + q]`.  Images are taken in
/// groups small enough for L2; the batch is cut into the same fixed chunks as
/// the im2col path, so the result does not depend on the thread count.
/// `simd` allows the AVX2 + FMA kernel when the CPU has it (tests turn it off
/// to check the portable kernel).
pub(super) fn weight_grad_direct(g: &Conv2dGeom, x: &[f32], gy: &[f32], gw: &mut [f32], simd: bool) {
    let (kd, no, xs) = (g.k_dim(), g.out_plane(), g.x_size());
    let (oh, ow) = (g.out_h(), g.out_w());
    let (hp, wp) = (g.h + 2 * g.padding.0, g.w + 2 * g.padding.1);
    let plane = hp * wp;
    let len8 = round_up((oh - 1) * wp + ow, 8);
    let offsets = padded_row_offsets(g, plane, wp);
    // Reads reach offset(r) + len8 ≤ c_in·plane + 8: pad each image by 8.
    let x_img = g.c_in * plane + 8;
    let per_image = 4 * (x_img + g.c_out * len8);
    let group = (DOT_GROUP_BYTES / per_image).clamp(1, g.n);
    let ws = gw.len();
    let (per, chunks) = batch_chunks(g.n, ws);
    #[cfg(target_arch = "x86_64")]
    let fast = simd && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    let _ = simd;
    count_flops(2 * g.n * g.c_out * kd * no);
    let mut partials = vec![0.0f32; chunks * ws];
    partials.par_chunks_mut(ws).enumerate().for_each(|(c, part)| {
        let imgs = c * per..g.n.min((c + 1) * per);
        let mut xb = take_scratch(&PACK_COL, group * x_img);
        let mut gb = take_scratch(&OUT_BLOCK, group * g.c_out * len8);
        for start in imgs.clone().step_by(group) {
            let count = group.min(imgs.end - start);
            let (xb, gb) = (&mut xb[..count * x_img], &mut gb[..g.c_out * count * len8]);
            gb.fill(0.0);
            for k in 0..count {
                let i = start + k;
                let xk = &mut xb[k * x_img..(k + 1) * x_img];
                pad_planes(&x[i * xs..(i + 1) * xs], (g.h, g.w), g.padding, (hp, wp), &mut xk[..g.c_in * plane]);
                xk[g.c_in * plane..].fill(0.0);
                for (co, src) in gy[i * g.c_out * no..(i + 1) * g.c_out * no].chunks_exact(no).enumerate() {
                    for (oy, row) in src.chunks_exact(ow).enumerate() {
                        let dst = co * count * len8 + k * len8 + oy * wp;
                        gb[dst..dst + ow].copy_from_slice(row);
                    }
                }
            }
            let job = DotGroup { c_out: g.c_out, offsets: &offsets, g: gb, g_row: count * len8, x: xb, x_img, images: count, len8 };
            #[cfg(target_arch = "x86_64")]
            if fast {
                // SAFETY: AVX2 and FMA were detected above.
                unsafe { dot_all_avx2(job, part) };
                continue;
            }
            dot_all::<false>(job, part);
        }
        give_back_scratch(&PACK_COL, xb);
        give_back_scratch(&OUT_BLOCK, gb);
    });
    sum_partials(&partials, gw);
}

/// `gw [c_out, c_in, kh, kw]` = sum over the batch of the adjoint wrt `w`;
/// overwrites `gw`.
pub fn conv2d_weight_grad(g: &Conv2dGeom, x: &[f32], gy: &[f32], gw: &mut [f32]) {
    g.check(x.len(), gw.len(), gy.len());
    let (kd, no, xs) = (g.k_dim(), g.out_plane(), g.x_size());
    let ys = g.c_out * no;
    let ws = gw.len();
    if ws == 0 {
        return;
    }
    if g.n == 0 || no == 0 {
        gw.fill(0.0);
        return;
    }
    if g.stride == (1, 1) {
        weight_grad_direct(g, x, gy, gw, true);
        return;
    }
    // Chunking depends on the geometry only (never on the thread count).
    let (per, chunks) = batch_chunks(g.n, ws);

    // Accumulates images `imgs` in order into `out` (overwritten by the first).
    let accumulate_images = |imgs: std::ops::Range<usize>, out: &mut [f32], col: &mut [f32]| {
        for (j, i) in imgs.enumerate() {
            let gyi = &gy[i * ys..(i + 1) * ys];
            let xi = &x[i * xs..(i + 1) * xs];
            let bmat = if g.is_pointwise() {
                xi
            } else {
                im2col(g, xi, col);
                &*col
            };
            // gw [c_out × kd] += gy_i [c_out × no] · col_iᵀ, col_i stored [kd × no].
            gemm(MatRef::new(gyi, g.c_out, no, no), MatRef::new(bmat, kd, no, no).t(), MatMut::new(out, g.c_out, kd, kd), j > 0);
        }
    };
    let col_len = if g.is_pointwise() { 0 } else { kd * no };

    if chunks == 1 {
        with_col(col_len, |col| accumulate_images(0..g.n, gw, col));
        return;
    }
    let mut partials = vec![0.0f32; chunks * ws];
    partials
        .par_chunks_mut(ws)
        .enumerate()
        .for_each(|(c, part)| with_col(col_len, |col| accumulate_images(c * per..g.n.min((c + 1) * per), part, col)));
    sum_partials(&partials, gw);
}
