//! The direct stride-1 forward: the GEMM microkernel reads the im2col
//! matrix straight from a zero-padded image copy.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::im2col::cols_per_block;
use super::padded::{pad_planes, padded_row_offsets};
use super::scratch::{OUT_BLOCK, PACK_COL};
use super::{Conv2dGeom, ConvEpilogue};
use crate::kernels::gemm::{round_up, slice_depth, BlockC, MatRef, Offsets, PackedLhs, NR};
use crate::kernels::scratch::{give_back_scratch, take_scratch};

/// Stride-1 convolution without im2col: each image is copied once into a
/// zero-padded buffer `xp [c_in, hp, wp]`; output position `q = oy·wp + ox`
/// then reads row `r = (ci, ki, kj)` of the im2col matrix at
/// `xp[offset(r) + q]` with `offset(r) = ci·hp·wp + ki·dh·wp + kj·dw`, so the
/// GEMM microkernel reads `B` straight from `xp` ([`Offsets`]).  Columns
/// `ox ≥ ow` of each padded-width row are computed and dropped.
pub(super) fn forward_direct(g: &Conv2dGeom, x: &[f32], w: &[f32], epi: ConvEpilogue, y: &mut [MaybeUninit<f32>]) {
    let (kd, no, xs) = (g.k_dim(), g.out_plane(), g.x_size());
    let (oh, ow) = (g.out_h(), g.out_w());
    let (hp, wp) = (g.h + 2 * g.padding.0, g.w + 2 * g.padding.1);
    let plane = hp * wp;
    let qn = (oh - 1) * wp + ow;
    let offsets = padded_row_offsets(g, plane, wp);
    let lhs = PackedLhs::new(MatRef::new(w, g.c_out, kd, kd));
    let kds = slice_depth(kd);
    let cols = cols_per_block(kd).min(round_up(qn, NR));
    // Panels read up to round_up(qn, NR) columns: pad the buffer past its end.
    let xp_len = g.c_in * plane + NR;
    y.par_chunks_mut(g.c_out * no).enumerate().for_each(|(i, yi)| {
        let xi = &x[i * xs..(i + 1) * xs];
        let mut xpv = take_scratch(&PACK_COL, xp_len);
        let xp = &mut xpv[..xp_len];
        pad_planes(xi, (g.h, g.w), g.padding, (hp, wp), &mut xp[..g.c_in * plane]);
        xp[g.c_in * plane..].fill(0.0);
        let mut yv = take_scratch(&OUT_BLOCK, g.c_out * cols);
        for j0 in (0..qn).step_by(cols) {
            let nb = cols.min(qn - j0);
            for pc in (0..kd).step_by(kds) {
                let kc = kds.min(kd - pc);
                let b = Offsets { base: xp[j0..].as_ptr(), offsets: offsets[pc..pc + kc].as_ptr() };
                // SAFETY: every row read, xp[offsets[r] + j0 + col] with col <
                // round_up(nb, NR), is below c_in·plane + NR = xp.len() (the
                // largest offset plus qn is exactly c_in·plane); `yv` holds
                // c_out rows of `cols ≥ nb` and is owned by this task.
                unsafe { lhs.multiply_slice(pc, kc, b, BlockC { ptr: yv.as_mut_ptr(), ld: cols, cols: nb }, pc > 0) };
            }
            // Keep the valid columns (ox < ow) of the block.
            for oy in j0 / wp..=((j0 + nb - 1) / wp).min(oh - 1) {
                let (lo, hi) = ((oy * wp).max(j0), (oy * wp + ow).min(j0 + nb));
                if lo >= hi {
                    continue;
                }
                let dst0 = oy * ow + (lo - oy * wp);
                let epi = epi.images(i, g.c_out * no);
                for (co, yrow) in yv[..g.c_out * cols].chunks_exact(cols).enumerate() {
                    let (dst, src) = (&mut yi[co * no + dst0..co * no + dst0 + hi - lo], &yrow[lo - j0..hi - j0]);
                    match epi {
                        ConvEpilogue { bias: None, residual: None, relu: false } => dst.iter_mut().zip(src).for_each(|(d, &v)| {
                            d.write(v);
                        }),
                        ConvEpilogue { bias: Some(b), residual: None, relu: false } => dst.iter_mut().zip(src).for_each(|(d, &v)| {
                            d.write(v + b[co]);
                        }),
                        _ => {
                            for (k, (d, &v)) in dst.iter_mut().zip(src).enumerate() {
                                d.write(epi.apply(v, co, co * no + dst0 + k));
                            }
                        }
                    }
                }
            }
        }
        give_back_scratch(&OUT_BLOCK, yv);
        give_back_scratch(&PACK_COL, xpv);
    });
}
