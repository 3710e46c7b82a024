//! The im2col paths: an explicit column matrix (single images, gradients
//! of strided convolutions) and im2col panels packed straight from the
//! image for strided forward passes.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::epilogue::{assume_init, finish_image};
use super::geometry::valid_range;
use super::scratch::{COL, PACK_COL, SPLIT};
use super::stride2::{pack_split_im2col, split_dims, split_row_offset, RowPanels};
use super::{Conv2dGeom, ConvEpilogue};
use crate::kernels::gemm::{round_up, slice_depth, BlockC, MatRef, Packed, PackedLhs, NR};
use crate::kernels::scratch::{give_back_scratch, take_scratch};
use crate::kernels::winograd;

/// im2col: `col[(ci*kh + ki)*kw + kj][oy*ow + ox] = x[ci][oy*sh - ph + ki*dh][ox*sw - pw + kj*dw]`
/// (zero outside the image).
pub(super) fn im2col(g: &Conv2dGeom, x: &[f32], col: &mut [f32]) {
    let (oh, ow) = (g.out_h(), g.out_w());
    let (sh, sw) = g.stride;
    let (ph, pw) = g.padding;
    let (dh, dw) = g.dilation;
    let plane = g.h * g.w;
    for (r, crow) in col.chunks_exact_mut(oh * ow).enumerate() {
        let kj = r % g.kw;
        let ki = (r / g.kw) % g.kh;
        let ci = r / (g.kh * g.kw);
        let xp = &x[ci * plane..(ci + 1) * plane];
        let (lo, hi) = valid_range(ow, kj * dw, pw, sw, g.w);
        let (ylo, yhi) = valid_range(oh, ki * dh, ph, sh, g.h);
        for (oy, orow) in crow.chunks_exact_mut(ow).enumerate() {
            if oy < ylo || oy >= yhi || lo == hi {
                orow.fill(0.0);
                continue;
            }
            let iy = oy * sh + ki * dh - ph;
            let ix0 = lo * sw + kj * dw - pw;
            let xrow = &xp[iy * g.w..(iy + 1) * g.w];
            orow[..lo].fill(0.0);
            orow[hi..].fill(0.0);
            let dst = &mut orow[lo..hi];
            if sw == 1 {
                dst.copy_from_slice(&xrow[ix0..ix0 + dst.len()]);
            } else {
                for (d, &v) in dst.iter_mut().zip(xrow[ix0..].iter().step_by(sw)) {
                    *d = v;
                }
            }
        }
    }
}

/// Adjoint of [`im2col`]: `x` is overwritten with the sum of every column entry
/// into the input position it was read from.
pub(super) fn col2im(g: &Conv2dGeom, col: &[f32], x: &mut [f32]) {
    x.fill(0.0);
    let (oh, ow) = (g.out_h(), g.out_w());
    let (sh, sw) = g.stride;
    let (ph, pw) = g.padding;
    let (dh, dw) = g.dilation;
    let plane = g.h * g.w;
    for (r, crow) in col.chunks_exact(oh * ow).enumerate() {
        let kj = r % g.kw;
        let ki = (r / g.kw) % g.kh;
        let ci = r / (g.kh * g.kw);
        let xp = &mut x[ci * plane..(ci + 1) * plane];
        let (lo, hi) = valid_range(ow, kj * dw, pw, sw, g.w);
        let (ylo, yhi) = valid_range(oh, ki * dh, ph, sh, g.h);
        if lo == hi {
            continue;
        }
        for (oy, orow) in crow.chunks_exact(ow).enumerate().take(yhi).skip(ylo) {
            let iy = oy * sh + ki * dh - ph;
            let ix0 = lo * sw + kj * dw - pw;
            let xrow = &mut xp[iy * g.w..(iy + 1) * g.w];
            let src = &orow[lo..hi];
            if sw == 1 {
                for (d, &v) in xrow[ix0..ix0 + src.len()].iter_mut().zip(src) {
                    *d += v;
                }
            } else {
                for (d, &v) in xrow[ix0..].iter_mut().step_by(sw).zip(src) {
                    *d += v;
                }
            }
        }
    }
}

/// Runs `f` on this thread's im2col buffer cut to exactly `len` elements
/// (contents unspecified).
pub(super) fn with_col<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut v = take_scratch(&COL, len);
    let r = f(&mut v[..len]);
    give_back_scratch(&COL, v);
    r
}

/// A block of an image's im2col matrix: rows `pc..pc + kc` (one slice of
/// the reduction dimension), columns (output positions) `j0..j0 + nb`.
#[derive(Clone, Copy)]
pub(super) struct ColBlock {
    pub(super) pc: usize,
    pub(super) kc: usize,
    pub(super) j0: usize,
    pub(super) nb: usize,
}

/// Packs rows `pc..pc+kc` and columns `j0..j0+nb` of image `x`'s im2col matrix
/// (see [`im2col`]) straight from the image into `NR`-column panels, the layout
/// [`PackedLhs::multiply_slice`] expects (implicit im2col: no column buffer).
pub(super) fn pack_im2col(g: &Conv2dGeom, x: &[f32], blk: ColBlock, out: &mut [f32]) {
    let ColBlock { pc, kc, j0, nb } = blk;
    let ow = g.out_w();
    let (sh, sw) = g.stride;
    let (ph, pw) = g.padding;
    let (dh, dw) = g.dilation;
    let plane = g.h * g.w;
    for (p, panel) in out[..round_up(nb, NR) * kc].chunks_exact_mut(kc * NR).enumerate() {
        let q0 = j0 + p * NR;
        let nr = NR.min(j0 + nb - q0);
        // The panel's positions, cut into runs that share an output row:
        // (offset in the panel, oy, first ox, length).
        let mut runs = [(0usize, 0usize, 0usize, 0usize); NR];
        let mut nruns = 0;
        let mut q = q0;
        while q < q0 + nr {
            let (oy, ox) = (q / ow, q % ow);
            let len = (ow - ox).min(q0 + nr - q);
            runs[nruns] = (q - q0, oy, ox, len);
            nruns += 1;
            q += len;
        }
        for (kk, dst) in panel.chunks_exact_mut(NR).enumerate() {
            let r = pc + kk;
            let kj = r % g.kw;
            let ki = (r / g.kw) % g.kh;
            let ci = r / (g.kh * g.kw);
            let xp = &x[ci * plane..(ci + 1) * plane];
            dst[nr..].fill(0.0);
            let (lo, hi) = valid_range(ow, kj * dw, pw, sw, g.w);
            for &(off, oy, ox0, len) in &runs[..nruns] {
                let d = &mut dst[off..off + len];
                let iy = (oy * sh + ki * dh) as isize - ph as isize;
                if iy < 0 || iy >= g.h as isize {
                    d.fill(0.0);
                    continue;
                }
                let xrow = &xp[iy as usize * g.w..(iy as usize + 1) * g.w];
                // Valid ox in [lo, hi) intersected with [ox0, ox0 + len).
                let (a, b) = (lo.clamp(ox0, ox0 + len), hi.clamp(ox0, ox0 + len));
                d[..a - ox0].fill(0.0);
                d[b - ox0..].fill(0.0);
                if a < b {
                    let ix0 = a * sw + kj * dw - pw;
                    let dv = &mut d[a - ox0..b - ox0];
                    if sw == 1 {
                        dv.copy_from_slice(&xrow[ix0..ix0 + dv.len()]);
                    } else {
                        for (o, &v) in dv.iter_mut().zip(xrow[ix0..].iter().step_by(sw)) {
                            *o = v;
                        }
                    }
                }
            }
        }
    }
}

/// Output positions per packed block of the implicit-GEMM path: enough that
/// one packed slice (`slice_depth × COLS` floats) stays within L2.
pub(super) fn cols_per_block(kd: usize) -> usize {
    let kc = slice_depth(kd).max(1);
    ((1 << 16) / kc / NR * NR).clamp(NR, 1 << 12)
}

/// Strided convolutions: per image, im2col panels packed straight from the
/// image (no column buffer) and multiplied by the packed weights.  With
/// column stride 2 (ResNet's downsampling 3×3 and 1×1) the image is first
/// copied zero-padded with its columns split into even and odd phases
/// ([`split_dims`]), so every run of an im2col row within an output row is
/// one contiguous copy ([`pack_split_im2col`]); with `in_place` (only for
/// outputs a multiple of `NR` wide, or `NR / 2` wide with an even height;
/// [`reads_split_in_place`] decides) the microkernel reads the runs where
/// they are instead ([`RowPanels`]).  Same bits either way.
pub(super) fn forward_im2col(g: &Conv2dGeom, x: &[f32], w: &[f32], epi: ConvEpilogue, y: &mut [MaybeUninit<f32>], in_place: bool) {
    let (kd, no, xs) = (g.k_dim(), g.out_plane(), g.x_size());
    let ys = g.c_out * no;
    let split = (g.stride.1 == 2).then(|| split_dims(g));
    let split_len = split.map_or(0, |(hp, wp)| g.c_in * hp * wp);
    let in_place = in_place && split.is_some();
    let lhs = PackedLhs::new(MatRef::new(w, g.c_out, kd, kd));
    let kds = slice_depth(kd);
    let cols = cols_per_block(kd).min(round_up(no, NR));
    // Read in place: where each im2col row of a panel starts in the split image.
    let offsets: Vec<usize> = match split {
        Some(dims) if in_place => (0..kd).map(|r| split_row_offset(g, dims, r)).collect(),
        _ => Vec::new(),
    };
    y.par_chunks_mut(ys).enumerate().for_each(|(i, yi)| {
        let xi = &x[i * xs..(i + 1) * xs];
        // The split copy has NR values of slack: its packing copies whole panel rows.
        let mut sv = take_scratch(&SPLIT, if split.is_some() { split_len + NR } else { 0 });
        if let Some(dims) = split {
            winograd::pad_split_pairs(xi, (g.h, g.w), g.padding, dims, &mut sv[..split_len]);
            sv[split_len..split_len + NR].fill(0.0);
        }
        // NR values of slack: the split packing's last panel row may spill past it.
        let mut bp = take_scratch(&PACK_COL, if in_place { 0 } else { kds * cols + NR });
        for j0 in (0..no).step_by(cols) {
            let nb = cols.min(no - j0);
            for pc in (0..kd).step_by(kds) {
                let kc = kds.min(kd - pc);
                let c0 = yi[j0..].as_mut_ptr().cast::<f32>();
                if let (true, Some((_, wp))) = (in_place, split) {
                    let b = RowPanels::new(&sv[..split_len + NR], &offsets[pc..pc + kc], j0, nb, g.out_w(), g.stride.0 * wp);
                    // SAFETY: as below; every panel is NR values of one output row,
                    // read at offsets inside the split image (RowPanels::new).
                    unsafe { lhs.multiply_slice(pc, kc, b, BlockC { ptr: c0, ld: no, cols: nb }, pc > 0) };
                    continue;
                }
                match split {
                    Some(dims) => pack_split_im2col(g, dims, &sv[..split_len + NR], ColBlock { pc, kc, j0, nb }, &mut bp),
                    None => pack_im2col(g, xi, ColBlock { pc, kc, j0, nb }, &mut bp),
                }
                // SAFETY: rows 0..c_out, columns j0..j0+nb of this image's
                // output (stride `no`) lie inside `yi`, which this task owns;
                // the first k slice (pc = 0) overwrites, later ones add to
                // what it wrote.
                unsafe { lhs.multiply_slice(pc, kc, Packed(bp.as_ptr()), BlockC { ptr: c0, ld: no, cols: nb }, pc > 0) };
            }
        }
        give_back_scratch(&PACK_COL, bp);
        give_back_scratch(&SPLIT, sv);
        // SAFETY: the k slices above wrote every column block of every row.
        finish_image(&epi.images(i, ys), no, unsafe { assume_init(yi) });
    });
}
