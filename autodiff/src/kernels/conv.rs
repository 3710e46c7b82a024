//! 2-D convolution (NCHW, groups = 1) via im2col + [`gemm`].
//!
//! Forward and input-gradient passes are parallel over images (each image's output
//! is owned by one task; the inner GEMM may parallelize further over its own
//! output tiles).  The weight gradient sums over the batch: images are split into a
//! number of chunks that depends only on the geometry, each chunk accumulates its
//! images in order into its own partial, and partials are added in chunk order, so
//! all results are bit-identical for any rayon thread count.

use std::cell::Cell;
use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::gemm::{count_flops, gemm, round_up, slice_depth, BlockC, MatMut, MatRef, Offsets, Packed, PackedLhs, PanelB, NR};
use super::scratch::{give_back_scratch, take_scratch};
use super::winograd;

/// Geometry of a 2-D convolution, NCHW input, weights `[c_out, c_in, kh, kw]` (groups = 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeom {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c_in: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride (vertical, horizontal); each >= 1.
    pub stride: (usize, usize),
    /// Zero padding (vertical, horizontal) added on both sides.
    pub padding: (usize, usize),
    /// Dilation (vertical, horizontal); each >= 1.
    pub dilation: (usize, usize),
}

impl Conv2dGeom {
    /// Output height: `(h + 2p - d(k-1) - 1)/s + 1` (0 if the kernel does not fit).
    pub fn out_h(&self) -> usize {
        out_dim(self.h, self.kh, self.stride.0, self.padding.0, self.dilation.0)
    }

    /// Output width: `(w + 2p - d(k-1) - 1)/s + 1` (0 if the kernel does not fit).
    pub fn out_w(&self) -> usize {
        out_dim(self.w, self.kw, self.stride.1, self.padding.1, self.dilation.1)
    }

    /// Rows of the im2col matrix: `c_in * kh * kw`.
    fn k_dim(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Elements of one input image.
    fn x_size(&self) -> usize {
        self.c_in * self.h * self.w
    }

    /// Elements of one output plane.
    fn out_plane(&self) -> usize {
        self.out_h() * self.out_w()
    }

    /// 1×1 kernel, stride 1, no padding: the input image already is the im2col matrix.
    fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == (1, 1) && self.padding == (0, 0)
    }

    fn check(&self, x: usize, w: usize, y: usize) {
        assert!(self.stride.0 > 0 && self.stride.1 > 0, "conv2d: stride must be >= 1");
        assert!(self.dilation.0 > 0 && self.dilation.1 > 0, "conv2d: dilation must be >= 1");
        assert_eq!(x, self.n * self.x_size(), "conv2d: input length");
        assert_eq!(w, self.c_out * self.k_dim(), "conv2d: weight length");
        assert_eq!(y, self.n * self.c_out * self.out_plane(), "conv2d: output length");
    }
}

fn out_dim(i: usize, k: usize, s: usize, p: usize, d: usize) -> usize {
    let span = d * (k.max(1) - 1) + 1;
    if k == 0 || i + 2 * p < span {
        0
    } else {
        (i + 2 * p - span) / s + 1
    }
}

/// Range `[lo, hi)` of output positions `o < out` whose input index
/// `o*s + off - p` lies in `[0, len)`.
fn valid_range(out: usize, off: usize, p: usize, s: usize, len: usize) -> (usize, usize) {
    let lo = if off >= p { 0 } else { (p - off).div_ceil(s) };
    let hi = if len + p <= off { 0 } else { (len + p - off).div_ceil(s) };
    let lo = lo.min(out);
    (lo, hi.clamp(lo, out))
}

/// im2col: `col[(ci*kh + ki)*kw + kj][oy*ow + ox] = x[ci][oy*sh - ph + ki*dh][ox*sw - pw + kj*dw]`
/// (zero outside the image).
fn im2col(g: &Conv2dGeom, x: &[f32], col: &mut [f32]) {
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
fn col2im(g: &Conv2dGeom, col: &[f32], x: &mut [f32]) {
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

thread_local! {
    /// Per-thread im2col buffer, reused across calls.
    static COL: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` on a per-thread scratch slice of exactly `len` elements (contents
/// unspecified).  A nested use on the same thread (rayon work stealing) finds the
/// cache empty and allocates.
fn with_col<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut v = COL.take();
    if v.len() < len {
        v.resize(len, 0.0);
    }
    let r = f(&mut v[..len]);
    let old = COL.take();
    COL.set(if old.len() > v.len() { old } else { v });
    r
}

/// Packs rows `pc..pc+kc` and columns `j0..j0+nb` of image `x`'s im2col matrix
/// (see [`im2col`]) straight from the image into `NR`-column panels, the layout
/// [`PackedLhs::multiply_slice`] expects (implicit im2col: no column buffer).
fn pack_im2col(g: &Conv2dGeom, x: &[f32], pc: usize, kc: usize, j0: usize, nb: usize, out: &mut [f32]) {
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

thread_local! {
    /// Per-thread buffer for panels packed by [`pack_im2col`] and for the
    /// zero-padded images of the direct paths.
    static PACK_COL: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Per-thread buffer for the phase-split images of [`forward_im2col`].
    static SPLIT: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Output positions per packed block of the implicit-GEMM path: enough that
/// one packed slice (`slice_depth × COLS` floats) stays within L2.
fn cols_per_block(kd: usize) -> usize {
    let kc = slice_depth(kd).max(1);
    ((1 << 16) / kc / NR * NR).clamp(NR, 1 << 12)
}

/// Copies planes of `h × w` (`src`, one after another) into planes of
/// `hp × wp` (`out`) at offset `pad` (rows, columns), zero elsewhere; rows or
/// columns that fall outside `hp × wp` are dropped.
pub(crate) fn pad_planes(src: &[f32], (h, w): (usize, usize), pad: (usize, usize), (hp, wp): (usize, usize), out: &mut [f32]) {
    out.fill(0.0);
    if h == 0 || w == 0 {
        return;
    }
    let len = w.min(wp.saturating_sub(pad.1));
    for (plane, dst) in src.chunks_exact(h * w).zip(out.chunks_exact_mut(hp * wp)) {
        for (iy, row) in plane.chunks_exact(w).enumerate().take(hp.saturating_sub(pad.0)) {
            let d = (iy + pad.0) * wp + pad.1;
            dst[d..d + len].copy_from_slice(&row[..len]);
        }
    }
}

/// Offset of im2col row `r = (ci, ki, kj)` in a zero-padded image of planes
/// `plane = hp·wp` elements, rows `wp` wide (stride-1 convolutions): row `r`
/// is that image shifted by `ci·plane + ki·dh·wp + kj·dw`.
fn padded_row_offsets(g: &Conv2dGeom, plane: usize, wp: usize) -> Vec<usize> {
    (0..g.k_dim())
        .map(|r| {
            let (ci, ki, kj) = (r / (g.kh * g.kw), (r / g.kw) % g.kh, r % g.kw);
            ci * plane + ki * g.dilation.0 * wp + kj * g.dilation.1
        })
        .collect()
}

thread_local! {
    /// Per-thread output block of [`forward_direct`] (padded-width rows).
    static OUT_BLOCK: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Stride-1 convolution without im2col: each image is copied once into a
/// zero-padded buffer `xp [c_in, hp, wp]`; output position `q = oy·wp + ox`
/// then reads row `r = (ci, ki, kj)` of the im2col matrix at
/// `xp[offset(r) + q]` with `offset(r) = ci·hp·wp + ki·dh·wp + kj·dw`, so the
/// GEMM microkernel reads `B` straight from `xp` ([`Offsets`]).  Columns
/// `ox ≥ ow` of each padded-width row are computed and dropped.
fn forward_direct(g: &Conv2dGeom, x: &[f32], w: &[f32], epi: ConvEpilogue, y: &mut [MaybeUninit<f32>]) {
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

/// `y [n, c_out, oh, ow] = conv(x [n, c_in, h, w], w)` (no bias; overwrites `y`).
pub fn conv2d_forward(g: &Conv2dGeom, x: &[f32], w: &[f32], y: &mut [f32]) {
    conv2d_forward_bias(g, x, w, None, y);
}

/// What is applied to each convolution output as it is written:
/// `y = conv + bias[co]`, then `+ residual[i]`, then `max(y, 0)` if `relu`
/// (in that order, so the result equals the separate ops bit for bit).
#[derive(Clone, Copy, Debug, Default)]
pub struct ConvEpilogue<'a> {
    /// Per output channel, added first.
    pub bias: Option<&'a [f32]>,
    /// Same shape as the output, added next.
    pub residual: Option<&'a [f32]>,
    /// Whether negative results (and NaN) become 0.
    pub relu: bool,
}

impl ConvEpilogue<'_> {
    /// `v` (the convolution sum at output `i` of channel `co`) finished.
    #[inline(always)]
    fn apply(&self, v: f32, co: usize, i: usize) -> f32 {
        let mut v = self.bias.map_or(v, |b| v + b[co]);
        if let Some(r) = self.residual {
            v += r[i];
        }
        if self.relu {
            v.max(0.0)
        } else {
            v
        }
    }

    /// The part of the epilogue for images `first..` (`ys` outputs each).
    pub(crate) fn images(&self, first: usize, ys: usize) -> ConvEpilogue<'_> {
        ConvEpilogue { residual: self.residual.map(|r| &r[first * ys..]), ..*self }
    }
}

/// `y [n, c_out, oh, ow] = conv(x [n, c_in, h, w], w) + bias[c_out]` (overwrites `y`).
pub fn conv2d_forward_bias(g: &Conv2dGeom, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    conv2d_forward_fused(g, x, w, ConvEpilogue { bias, ..ConvEpilogue::default() }, y)
}

/// `y = epi(conv(x [n, c_in, h, w], w))` (overwrites `y`): the convolution
/// with bias, residual and ReLU applied as the output is written.
///
/// Stride-1 convolutions of a batch read the im2col matrix straight from a
/// padded image copy ([`forward_direct`]; Winograd for 3×3 with many
/// channels), other batches pack im2col panels from the image against
/// weights packed once ([`PackedLhs`]); a single image uses an explicit
/// im2col and the parallel GEMM.  The epilogue is applied while the output
/// is written where the path allows, in a pass over `y` otherwise.
pub fn conv2d_forward_fused(g: &Conv2dGeom, x: &[f32], w: &[f32], epi: ConvEpilogue, y: &mut [f32]) {
    // SAFETY (as_uninit): every value written through the view is an initialized f32.
    conv2d_forward_into(g, x, w, epi, unsafe { super::as_uninit(y) })
}

/// [`conv2d_forward_fused`] into memory that need not be initialized (a new
/// `Vec`'s spare capacity): every element of `y` is written, none read
/// before it is, so outputs skip the zero fill.
pub fn conv2d_forward_into(g: &Conv2dGeom, x: &[f32], w: &[f32], epi: ConvEpilogue, y: &mut [MaybeUninit<f32>]) {
    g.check(x.len(), w.len(), y.len());
    if let Some(b) = epi.bias {
        assert_eq!(b.len(), g.c_out, "conv2d: bias length");
    }
    if let Some(r) = epi.residual {
        assert_eq!(r.len(), y.len(), "conv2d: residual length");
    }
    let (kd, no) = (g.k_dim(), g.out_plane());
    if y.is_empty() {
        return;
    }
    if kd == 0 || g.n < 2 {
        // Rare shapes (a single image, empty kernels): zero first, then the
        // plain paths below on the initialized output.
        y.fill(MaybeUninit::new(0.0));
        // SAFETY: every element was just written.
        let y = unsafe { assume_init(y) };
        if kd > 0 {
            forward_single_image(g, x, w, y);
        }
        finish(epi, g.c_out, no, y);
        return;
    }
    count_flops(2 * g.n * g.c_out * kd * no);
    if winograd::applies(g) {
        winograd::forward(g, x, w, epi, y);
    } else if g.stride == (1, 1) {
        forward_direct(g, x, w, epi, y);
    } else {
        forward_im2col(g, x, w, epi, y, reads_split_in_place(g));
    }
}

/// `y = epi2(conv(epi1(conv(x, w1)), w2))`: two convolutions of geometry
/// `g` in a row (a residual block's body; `epi1` without residual).  Where
/// [`winograd::forward_pair`] applies, the intermediate output goes straight
/// into the second convolution's padded copy, per group of images; else two
/// calls of [`conv2d_forward_into`].  The same bits either way.
pub fn conv2d_forward_pair(
    g: &Conv2dGeom,
    x: &[f32],
    first: (&[f32], ConvEpilogue),
    second: (&[f32], ConvEpilogue),
    y: &mut [MaybeUninit<f32>],
) {
    assert_eq!(g.c_in, g.c_out, "conv2d pair: the second convolution reads the first one's output");
    assert!(first.1.residual.is_none(), "conv2d pair: residual on the first convolution");
    assert!(g.out_h() == g.h && g.out_w() == g.w, "conv2d pair: the output size must equal the input size");
    g.check(x.len(), first.0.len(), y.len());
    g.check(y.len(), second.0.len(), y.len());
    if g.n * g.out_plane() > 0 && winograd::pair_applies(g) {
        count_flops(2 * 2 * g.n * g.c_out * g.k_dim() * g.out_plane());
        winograd::forward_pair(g, x, first, second, y);
        return;
    }
    let mut mid = Vec::with_capacity(y.len());
    conv2d_forward_into(g, x, first.0, first.1, &mut mid.spare_capacity_mut()[..y.len()]);
    // SAFETY: conv2d_forward_into wrote all of it.
    unsafe { mid.set_len(y.len()) };
    conv2d_forward_into(g, &mid, second.0, second.1, y);
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
fn forward_im2col(g: &Conv2dGeom, x: &[f32], w: &[f32], epi: ConvEpilogue, y: &mut [MaybeUninit<f32>], in_place: bool) {
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
                    Some(dims) => pack_split_im2col(g, dims, &sv[..split_len + NR], pc, kc, j0, nb, &mut bp),
                    None => pack_im2col(g, xi, pc, kc, j0, nb, &mut bp),
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

/// Whether [`forward_im2col`] reads the im2col rows straight from the
/// phase-split image instead of packing them: when every `NR`-column panel
/// is a stretch of one output row (output width a multiple of `NR`, e.g.
/// ResNet's 16-wide downsampling outputs), each of its rows is `NR`
/// consecutive values of the split image; when it is two whole output rows
/// (outputs `NR / 2` wide and an even number of rows, ResNet's 8 × 8), each
/// of its rows is two runs of `NR / 2`.  Not for 1×1 kernels, where
/// packing is cheap and the packed panels were faster at 2 threads
/// (`bench_split_in_place`: ResNet-20's 3×3 16→32, batch 128, 1 / 2 threads
/// 6.0 → 4.5 / 2.9 → 2.3 ms; its 1×1 1.43 → 1.27 / 0.71 → 0.77 ms).
fn reads_split_in_place(g: &Conv2dGeom) -> bool {
    let ow = g.out_w();
    let rows_fit = ow.is_multiple_of(NR) || (ow == NR / 2 && g.out_h().is_multiple_of(2));
    g.stride.1 == 2 && rows_fit && g.kh * g.kw > 1
}

/// Where im2col row `r` (input channel, kernel row, kernel column) of output
/// (0, 0) starts in an image split as [`split_dims`] says; output `(oy, ox)`
/// is `oy·sh·wp + ox` further.
fn split_row_offset(g: &Conv2dGeom, (hp, wp): (usize, usize), r: usize) -> usize {
    let (kj, ki, ci) = (r % g.kw, (r / g.kw) % g.kh, r / (g.kh * g.kw));
    let (dh, dw) = g.dilation;
    ci * hp * wp + ki * dh * wp + (kj * dw % 2) * (wp / 2) + kj * dw / 2
}

/// The `B` panels of a stride-2 convolution read in place
/// ([`reads_split_in_place`]): panel columns `q..q + NR` start at output
/// row `q / ow`, column `q % ow`, so row `kk` of the panel starts at
/// `offsets[kk] + (q / ow)·row_step + q % ow` of the split image; its second
/// half follows it, or (outputs `NR / 2` wide) is the next output row.
#[derive(Clone, Copy)]
struct RowPanels {
    /// Row 0 of the current panel.
    base: *const f32,
    /// The split image.
    image: *const f32,
    /// Offset of each row of the slice (see [`split_row_offset`]).
    offsets: *const usize,
    /// The current panel's first output column.
    q: usize,
    /// Output width (a multiple of `NR`, or `NR / 2`).
    ow: usize,
    /// Distance between two output rows in the split image (`sh · wp`).
    row_step: usize,
    /// Distance from a row's first half to its second.
    hi: usize,
}

impl RowPanels {
    /// The panels of output columns `q..q + nb` (`q` a multiple of `NR`),
    /// after checking that every half row of each of them lies in `image`.
    fn new(image: &[f32], offsets: &[usize], q: usize, nb: usize, ow: usize, row_step: usize) -> RowPanels {
        assert!((ow.is_multiple_of(NR) || ow == NR / 2) && q.is_multiple_of(NR));
        let hi = if ow == NR / 2 { row_step } else { NR / 2 };
        let at = |q: usize| q / ow * row_step + q % ow;
        if nb > 0 {
            let last = offsets.iter().max().copied().unwrap_or(0);
            let end = last + at(q + round_up(nb, NR) - NR) + hi + NR / 2;
            assert!(end <= image.len(), "conv: split image too short");
        }
        let base = image[at(q).min(image.len())..].as_ptr();
        RowPanels { base, image: image.as_ptr(), offsets: offsets.as_ptr(), q, ow, row_step, hi }
    }
}

impl PanelB for RowPanels {
    #[inline(always)]
    unsafe fn row(self, kk: usize) -> *const f32 {
        // SAFETY: forwarded contract.
        unsafe { self.base.add(*self.offsets.add(kk)) }
    }
    #[inline(always)]
    unsafe fn row_hi(self, kk: usize) -> *const f32 {
        // SAFETY: forwarded contract.
        unsafe { self.row(kk).add(self.hi) }
    }
    #[inline(always)]
    unsafe fn shift(self, cols: usize, _kc: usize) -> Self {
        let q = self.q + cols;
        // SAFETY: forwarded contract (the moved panel lies in the image).
        RowPanels { base: unsafe { self.image.add((q / self.ow) * self.row_step + q % self.ow) }, q, ..self }
    }
}

/// Padded rows and columns (`hp`, `wp`) of an image split by
/// [`winograd::pad_split_pairs`] for a column-stride-2 convolution: rows
/// `oy·sh + ki·dh` and columns `2·ox + kj·dw` are read, i.e. phase
/// `(kj·dw) mod 2`, entry `ox + kj·dw/2` of phases `wp/2` wide.
fn split_dims(g: &Conv2dGeom) -> (usize, usize) {
    let hp = (g.out_h() - 1) * g.stride.0 + (g.kh - 1) * g.dilation.0 + 1;
    (hp, 2 * (g.out_w() + (g.kw - 1) * g.dilation.1 / 2))
}

/// [`pack_im2col`] from an image split as [`split_dims`] says (`xs`, with
/// at least `NR` values after its planes): every run is a copy of `NR`
/// values (later runs overwrite what an earlier one copied past its end, so
/// `out` needs `NR` values of slack).
#[allow(clippy::too_many_arguments)]
fn pack_split_im2col(g: &Conv2dGeom, (hp, wp): (usize, usize), xs: &[f32], pc: usize, kc: usize, j0: usize, nb: usize, out: &mut [f32]) {
    let (plane, phase, ow) = (hp * wp, wp / 2, g.out_w());
    let (sh, (dh, dw)) = (g.stride.0, g.dilation);
    assert!(out.len() >= round_up(nb, NR) * kc + NR);
    for p in 0..nb.div_ceil(NR) {
        let q0 = j0 + p * NR;
        let nr = NR.min(j0 + nb - q0);
        // The panel's runs within output rows: (offset in the panel, offset of the run's first input).
        let mut runs = [(0usize, 0usize); NR];
        let mut nruns = 0;
        let mut q = q0;
        while q < q0 + nr {
            let (oy, ox) = (q / ow, q % ow);
            runs[nruns] = (q - q0, oy * sh * wp + ox);
            nruns += 1;
            q += (ow - ox).min(q0 + nr - q);
        }
        for kk in 0..kc {
            let r = pc + kk;
            let (kj, ki, ci) = (r % g.kw, (r / g.kw) % g.kh, r / (g.kh * g.kw));
            let base = ci * plane + ki * dh * wp + (kj * dw % 2) * phase + kj * dw / 2;
            let dst = (p * kc + kk) * NR;
            for &(off, src) in &runs[..nruns] {
                out[dst + off..dst + off + NR].copy_from_slice(&xs[base + src..base + src + NR]);
            }
        }
    }
}

/// One image (`g.n == 1`): im2col (none for 1×1) and the parallel GEMM.
fn forward_single_image(g: &Conv2dGeom, x: &[f32], w: &[f32], y: &mut [f32]) {
    let (kd, no) = (g.k_dim(), g.out_plane());
    if g.is_pointwise() {
        gemm(MatRef::new(w, g.c_out, kd, kd), MatRef::new(x, kd, no, no), MatMut::new(y, g.c_out, no, no), false);
    } else {
        with_col(kd * no, |col| {
            im2col(g, x, col);
            gemm(MatRef::new(w, g.c_out, kd, kd), MatRef::new(col, kd, no, no), MatMut::new(y, g.c_out, no, no), false);
        });
    }
}

/// `y` as initialized values.
///
/// # Safety
/// Every element of `y` must have been written.
pub(crate) unsafe fn assume_init(y: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: same layout; the caller guarantees initialization.
    unsafe { &mut *(y as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// Applies `epi` in a pass over finished sums `y` (`c_out` planes of `plane` per image).
fn finish(epi: ConvEpilogue, c_out: usize, plane: usize, y: &mut [f32]) {
    if plane > 0 && c_out > 0 {
        let ys = c_out * plane;
        y.par_chunks_mut(ys).enumerate().for_each(|(i, yi)| finish_image(&epi.images(i, ys), plane, yi));
    }
}

/// [`finish`] for one image (`epi` starting at that image).
fn finish_image(epi: &ConvEpilogue, plane: usize, yi: &mut [f32]) {
    if epi.bias.is_none() && epi.residual.is_none() && !epi.relu {
        return;
    }
    for (co, yc) in yi.chunks_exact_mut(plane).enumerate() {
        for (j, v) in yc.iter_mut().enumerate() {
            *v = epi.apply(*v, co, co * plane + j);
        }
    }
}

/// The direct stride-1 path, for tests of the faster algorithms.
#[cfg(test)]
pub(crate) fn conv2d_forward_direct_for_tests(g: &Conv2dGeom, x: &[f32], w: &[f32], y: &mut [f32]) {
    assert!(g.stride == (1, 1) && g.n >= 1);
    // SAFETY (as_uninit): only f32 values are written through the view.
    forward_direct(g, x, w, ConvEpilogue::default(), unsafe { super::as_uninit(y) });
}

/// For stride 1, the input gradient is itself a convolution: of `gy` with the
/// weights transposed (`c_in ↔ c_out`) and flipped spatially, padded by
/// `d·(k−1) − p`.  Returns that geometry and weight when it applies.
fn input_grad_as_forward(g: &Conv2dGeom, w: &[f32]) -> Option<(Conv2dGeom, Vec<f32>)> {
    let (dh, dw) = g.dilation;
    let span = (dh * (g.kh.max(1) - 1), dw * (g.kw.max(1) - 1));
    if g.stride != (1, 1) || g.padding.0 > span.0 || g.padding.1 > span.1 || g.out_plane() == 0 || g.n < 2 {
        return None;
    }
    let g2 = Conv2dGeom {
        n: g.n,
        c_in: g.c_out,
        h: g.out_h(),
        w: g.out_w(),
        c_out: g.c_in,
        kh: g.kh,
        kw: g.kw,
        stride: (1, 1),
        padding: (span.0 - g.padding.0, span.1 - g.padding.1),
        dilation: g.dilation,
    };
    debug_assert_eq!((g2.out_h(), g2.out_w()), (g.h, g.w));
    let taps = g.kh * g.kw;
    let mut wt = vec![0.0; w.len()];
    for co in 0..g.c_out {
        for ci in 0..g.c_in {
            let src = &w[(co * g.c_in + ci) * taps..][..taps];
            let dst = &mut wt[(ci * g.c_out + co) * taps..][..taps];
            for (d, &v) in dst.iter_mut().zip(src.iter().rev()) {
                *d = v;
            }
        }
    }
    Some((g2, wt))
}

/// `gx [n, c_in, h, w]` = adjoint wrt `x` (a transposed convolution of
/// `gy [n, c_out, oh, ow]` with `w`); overwrites `gx`.
pub fn conv2d_input_grad(g: &Conv2dGeom, gy: &[f32], w: &[f32], gx: &mut [f32]) {
    g.check(gx.len(), w.len(), gy.len());
    let (kd, no, xs) = (g.k_dim(), g.out_plane(), g.x_size());
    let ys = g.c_out * no;
    if gx.is_empty() {
        return;
    }
    if no == 0 {
        gx.fill(0.0);
        return;
    }
    if let Some((g2, wt)) = input_grad_as_forward(g, w) {
        conv2d_forward(&g2, gy, &wt, gx);
        return;
    }
    if g.is_pointwise() {
        // gx_i [c_in × hw] = Wᵀ · gy_i, with W stored [c_out × c_in].
        gx.par_chunks_mut(xs).enumerate().for_each(|(i, gxi)| {
            let gyi = &gy[i * ys..(i + 1) * ys];
            gemm(MatRef::new(w, g.c_out, g.c_in, kd).t(), MatRef::new(gyi, g.c_out, no, no), MatMut::new(gxi, g.c_in, no, no), false);
        });
    } else {
        gx.par_chunks_mut(xs).enumerate().for_each(|(i, gxi)| {
            with_col(kd * no, |col| {
                let gyi = &gy[i * ys..(i + 1) * ys];
                gemm(MatRef::new(w, g.c_out, kd, kd).t(), MatRef::new(gyi, g.c_out, no, no), MatMut::new(col, kd, no, no), false);
                col2im(g, col, gxi);
            })
        });
    }
}

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
fn batch_chunks(n: usize, ws: usize) -> (usize, usize) {
    let chunks = (PARTIAL_BUDGET / ws).clamp(1, MAX_CHUNKS).min(n);
    let per = n.div_ceil(chunks);
    (per, n.div_ceil(per))
}

/// `gw` = the sum of the per-chunk partials (`gw.len()` elements each),
/// added in chunk order, in parallel over blocks of `gw`.
fn sum_partials(partials: &[f32], gw: &mut [f32]) {
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
/// `MC × NRR` tile, where `g_rows[i]` are the gradient rows of the tile's
/// output channels (images at stride `g_img`), `x_offs[j]` the offsets of its
/// im2col rows (images at stride `x_img`).  Sums run in 8 lanes over `q` in
/// order, then the lanes are added pairwise: a fixed order.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn dot_tile<const MC: usize, const NRR: usize, const FUSED: bool>(
    g: &[f32],
    g_rows: [usize; MC],
    g_img: usize,
    x: &[f32],
    x_offs: [usize; NRR],
    x_img: usize,
    images: usize,
    len8: usize,
) -> [[f32; NRR]; MC] {
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
struct DotGroup<'a> {
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
fn dot_all<const FUSED: bool>(job: DotGroup, out: &mut [f32]) {
    let DotGroup { c_out, offsets, g, g_row, x, x_img, images, len8 } = job;
    let kd = offsets.len();
    let (co_main, r_main) = (c_out / DOT_CO * DOT_CO, kd / DOT_R * DOT_R);
    let g_img = len8;
    let mut add = |co: usize, r: usize, v: f32| out[co * kd + r] += v;
    for co in (0..co_main).step_by(DOT_CO) {
        let rows: [usize; DOT_CO] = std::array::from_fn(|i| (co + i) * g_row);
        for r in (0..r_main).step_by(DOT_R) {
            let offs: [usize; DOT_R] = std::array::from_fn(|j| offsets[r + j]);
            let t = dot_tile::<DOT_CO, DOT_R, FUSED>(g, rows, g_img, x, offs, x_img, images, len8);
            for (i, ti) in t.iter().enumerate() {
                for (j, &v) in ti.iter().enumerate() {
                    add(co + i, r + j, v);
                }
            }
        }
        for (r, &off) in offsets.iter().enumerate().skip(r_main) {
            let t = dot_tile::<DOT_CO, 1, FUSED>(g, rows, g_img, x, [off], x_img, images, len8);
            for (i, ti) in t.iter().enumerate() {
                add(co + i, r, ti[0]);
            }
        }
    }
    for co in co_main..c_out {
        for (r, &off) in offsets.iter().enumerate() {
            let t = dot_tile::<1, 1, FUSED>(g, [co * g_row], g_img, x, [off], x_img, images, len8);
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
fn weight_grad_direct(g: &Conv2dGeom, x: &[f32], gy: &[f32], gw: &mut [f32], simd: bool) {
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kernels::TestRng as Rng;

    /// Calls `f(x_index, w_index, y_index)` for every in-bounds term of the
    /// convolution sum (the naive 7-loop nest).
    fn for_each_term(g: &Conv2dGeom, mut f: impl FnMut(usize, usize, usize)) {
        let (oh, ow) = (g.out_h(), g.out_w());
        for b in 0..g.n {
            for co in 0..g.c_out {
                for oy in 0..oh {
                    for ox in 0..ow {
                        for ci in 0..g.c_in {
                            for ki in 0..g.kh {
                                for kj in 0..g.kw {
                                    let iy = (oy * g.stride.0 + ki * g.dilation.0) as isize - g.padding.0 as isize;
                                    let ix = (ox * g.stride.1 + kj * g.dilation.1) as isize - g.padding.1 as isize;
                                    if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                                        continue;
                                    }
                                    let xi = ((b * g.c_in + ci) * g.h + iy as usize) * g.w + ix as usize;
                                    let wi = ((co * g.c_in + ci) * g.kh + ki) * g.kw + kj;
                                    let yi = ((b * g.c_out + co) * oh + oy) * ow + ox;
                                    f(xi, wi, yi);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn naive_forward(g: &Conv2dGeom, x: &[f32], w: &[f32]) -> Vec<f64> {
        let mut y = vec![0.0f64; g.n * g.c_out * g.out_h() * g.out_w()];
        for_each_term(g, |xi, wi, yi| y[yi] += x[xi] as f64 * w[wi] as f64);
        y
    }

    fn naive_input_grad(g: &Conv2dGeom, gy: &[f32], w: &[f32]) -> Vec<f64> {
        let mut gx = vec![0.0f64; g.n * g.c_in * g.h * g.w];
        for_each_term(g, |xi, wi, yi| gx[xi] += gy[yi] as f64 * w[wi] as f64);
        gx
    }

    fn naive_weight_grad(g: &Conv2dGeom, x: &[f32], gy: &[f32]) -> Vec<f64> {
        let mut gw = vec![0.0f64; g.c_out * g.c_in * g.kh * g.kw];
        for_each_term(g, |xi, wi, yi| gw[wi] += gy[yi] as f64 * x[xi] as f64);
        gw
    }

    fn assert_close(got: &[f32], want: &[f64], tol: f64, what: &str, g: &Conv2dGeom) {
        assert_eq!(got.len(), want.len(), "{what} length {g:?}");
        for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
            assert!((a as f64 - b).abs() <= tol, "{what}[{i}] = {a}, want {b}, {g:?}");
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn geom(
        n: usize,
        c_in: usize,
        h: usize,
        w: usize,
        c_out: usize,
        kh: usize,
        kw: usize,
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
    ) -> Conv2dGeom {
        Conv2dGeom { n, c_in, h, w, c_out, kh, kw, stride, padding, dilation }
    }

    /// Reading a stride-2 convolution's im2col rows in place from the split
    /// image gives the same bits as packing them (8-, 16- and 32-wide
    /// outputs, 3×3 and 1×1 (which the policy leaves packed), dilation,
    /// several k slices, bias and ReLU).
    #[test]
    fn split_read_in_place_matches_packing() {
        let mut rng = Rng::new(91);
        for g in [
            geom(2, 8, 32, 32, 12, 3, 3, (2, 2), (1, 1), (1, 1)),
            geom(3, 5, 31, 32, 7, 1, 1, (2, 2), (0, 0), (1, 1)),
            geom(2, 48, 9, 66, 5, 3, 3, (1, 2), (1, 1), (1, 2)),
            geom(2, 48, 16, 16, 12, 3, 3, (2, 2), (1, 1), (1, 1)),
            geom(3, 5, 8, 15, 7, 3, 3, (1, 2), (0, 1), (1, 1)),
        ] {
            assert!(g.stride.1 == 2 && (g.out_w().is_multiple_of(NR) || (g.out_w() == NR / 2 && g.out_h() % 2 == 0)), "{g:?}");
            let (x, w, b) = (rng.vec(g.n * g.c_in * g.h * g.w), rng.vec(g.c_out * g.k_dim()), rng.vec(g.c_out));
            let epi = ConvEpilogue { bias: Some(&b), relu: true, ..ConvEpilogue::default() };
            let run = |in_place: bool| {
                let mut y = vec![MaybeUninit::new(f32::NAN); g.n * g.c_out * g.out_plane()];
                forward_im2col(&g, &x, &w, epi, &mut y, in_place);
                // SAFETY: forward_im2col wrote every element.
                unsafe { assume_init(&mut y) }.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            };
            assert_eq!(run(true), run(false), "{g:?}");
        }
    }

    /// Stride-2 convolutions of ResNet-20 (batch 128) with the im2col rows
    /// read in place vs packed, alternated, best of 15 each:
    /// `cargo test --release -p autodiff bench_split_in_place -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bench_split_in_place() {
        let mut rng = Rng::new(5);
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            for g in [
                geom(128, 16, 32, 32, 32, 3, 3, (2, 2), (1, 1), (1, 1)),
                geom(128, 16, 32, 32, 32, 1, 1, (2, 2), (0, 0), (1, 1)),
                geom(128, 32, 16, 16, 64, 3, 3, (2, 2), (1, 1), (1, 1)),
            ] {
                let (x, w) = (rng.vec(g.n * g.c_in * g.h * g.w), rng.vec(g.c_out * g.k_dim()));
                let mut y = vec![MaybeUninit::new(0.0f32); g.n * g.c_out * g.out_plane()];
                let mut best = [f64::MAX; 2];
                pool.install(|| {
                    for rep in 0..32 {
                        let in_place = rep % 2 == 0;
                        let t = std::time::Instant::now();
                        forward_im2col(&g, &x, &w, ConvEpilogue::default(), &mut y, in_place);
                        if rep >= 2 {
                            best[rep % 2] = best[rep % 2].min(t.elapsed().as_secs_f64() * 1e3);
                        }
                    }
                });
                println!(
                    "{threads} thread(s) {}x{} stride 2, {}->{} ch: in place {:.3} ms, packed {:.3} ms",
                    g.kh, g.kw, g.c_in, g.c_out, best[0], best[1]
                );
            }
        }
    }

    /// The shared geometries keep covering products of several `k` slices
    /// (stride 1 and column stride 2) whatever `KC` is.
    #[test]
    fn geometries_cover_several_k_slices() {
        let several = |g: &Conv2dGeom| slice_depth(g.k_dim()) < g.k_dim();
        assert!(geometries().iter().any(|g| several(g) && g.stride == (1, 1)), "KC = {}", crate::kernels::gemm::KC);
        assert!(geometries().iter().any(|g| several(g) && g.stride.1 == 2), "KC = {}", crate::kernels::gemm::KC);
    }

    fn geometries() -> Vec<Conv2dGeom> {
        vec![
            geom(1, 1, 1, 1, 1, 1, 1, (1, 1), (0, 0), (1, 1)),
            geom(3, 2, 5, 7, 4, 3, 3, (1, 1), (1, 1), (1, 1)),
            geom(3, 1, 9, 6, 2, 3, 2, (2, 3), (0, 1), (1, 1)),
            geom(1, 3, 8, 11, 5, 3, 3, (2, 2), (2, 2), (2, 2)),
            geom(3, 4, 6, 6, 3, 1, 1, (1, 1), (0, 0), (1, 1)),
            geom(2, 4, 7, 5, 3, 1, 1, (2, 1), (0, 0), (1, 1)),
            geom(2, 2, 5, 5, 3, 1, 1, (1, 1), (1, 2), (1, 1)),
            geom(3, 2, 2, 3, 2, 5, 5, (1, 1), (2, 2), (1, 1)),  // kernel > unpadded input
            geom(1, 1, 1, 9, 2, 1, 3, (1, 3), (0, 1), (1, 2)),  // height 1
            geom(3, 3, 10, 1, 4, 3, 1, (3, 1), (1, 0), (2, 1)), // width 1
            geom(2, 2, 13, 9, 3, 4, 2, (3, 2), (2, 0), (2, 3)),
            geom(3, 5, 12, 12, 7, 3, 3, (1, 1), (1, 1), (1, 1)),
            geom(2, 1, 4, 4, 1, 3, 3, (3, 3), (0, 0), (1, 1)),
            geom(20, 2, 4, 5, 3, 2, 2, (1, 2), (1, 0), (1, 1)), // > MAX_CHUNKS images
            // Direct stride-1 path: dilation, unequal padding, several k slices (c_in·9 = 432 > KC = 384).
            geom(2, 48, 6, 7, 9, 3, 3, (1, 1), (2, 1), (2, 1)),
            geom(2, 3, 17, 19, 20, 3, 3, (1, 1), (1, 1), (1, 1)),
            // Column stride 2 (phase-split packing): ResNet's downsampling 3×3 and 1×1,
            // odd sizes, dilation with several k slices, more positions than one column block.
            geom(3, 16, 16, 16, 32, 3, 3, (2, 2), (1, 1), (1, 1)),
            geom(2, 16, 15, 13, 8, 1, 1, (2, 2), (0, 0), (1, 1)),
            geom(2, 48, 9, 11, 6, 3, 3, (1, 2), (1, 2), (1, 2)),
            // Outputs 16 and 32 wide: the im2col rows read in place from the split image.
            geom(2, 8, 32, 32, 12, 3, 3, (2, 2), (1, 1), (1, 1)),
            geom(2, 48, 9, 66, 5, 3, 3, (1, 2), (1, 1), (1, 2)),
            geom(2, 1, 140, 141, 2, 1, 1, (2, 2), (0, 0), (1, 1)),
            // Big enough to make the inner gemm go parallel and to chunk the batch.
            geom(5, 16, 20, 18, 24, 3, 3, (1, 1), (1, 1), (1, 1)),
        ]
    }

    /// The epilogue (bias, residual, ReLU, each alone and together) is
    /// applied inside every forward path (direct, Winograd F(2×2) and F(4×4),
    /// packed im2col, single image): bit for bit the same as applying it
    /// afterwards in that order.
    #[test]
    fn epilogue_on_every_path() {
        let mut rng = Rng::new(78);
        let mut gs = geometries();
        gs.push(geom(2, 64, 4, 3, 64, 3, 3, (1, 1), (1, 1), (1, 1))); // Winograd F(2×2)
        gs.push(geom(2, 64, 3, 3, 64, 3, 3, (1, 1), (0, 0), (1, 1))); // Winograd, odd output
        gs.push(geom(2, 16, 6, 35, 16, 3, 3, (1, 1), (1, 1), (1, 1))); // Winograd F(4×4), partial vectors
        gs.push(geom(2, 64, 8, 8, 64, 3, 3, (1, 1), (1, 1), (1, 1))); // F(4×4), image lanes
        gs.push(geom(5, 16, 8, 7, 16, 3, 3, (1, 1), (1, 1), (1, 1))); // image lanes, a partial unit, partial vectors
        gs.push(geom(2, 64, 5, 6, 64, 3, 3, (1, 1), (1, 1), (1, 1))); // image lanes, a partial tile row
        gs.push(geom(2, 32, 10, 7, 32, 3, 3, (1, 1), (1, 1), (1, 1))); // image lanes, odd tile rows
        gs.push(geom(2, 16, 16, 15, 16, 3, 3, (1, 1), (1, 1), (1, 1))); // F(4×4), row pairs, partial vectors
        for g in gs {
            let x = rng.vec(g.n * g.c_in * g.h * g.w);
            let w = rng.vec(g.c_out * g.k_dim());
            let b = rng.vec(g.c_out);
            let len = g.n * g.c_out * g.out_plane();
            let r = rng.vec(len);
            let mut plain = vec![0.0; len];
            conv2d_forward(&g, &x, &w, &mut plain);
            for (bias, residual, relu) in [(true, false, false), (false, true, false), (false, false, true), (true, true, true)] {
                let epi = ConvEpilogue { bias: bias.then_some(&b[..]), residual: residual.then_some(&r[..]), relu };
                let mut fused = vec![f32::NAN; len];
                conv2d_forward_fused(&g, &x, &w, epi, &mut fused);
                for (i, (&p, &q)) in fused.iter().zip(&plain).enumerate() {
                    let co = (i / g.out_plane().max(1)) % g.c_out;
                    let mut want = if bias { q + b[co] } else { q };
                    if residual {
                        want += r[i];
                    }
                    if relu {
                        want = want.max(0.0);
                    }
                    assert_eq!(p.to_bits(), want.to_bits(), "{g:?} {epi:?} [{i}]");
                }
            }
        }
    }

    #[test]
    fn portable_weight_grad_kernel_matches_naive() {
        let mut rng = Rng::new(77);
        for g in geometries().into_iter().filter(|g| g.stride == (1, 1) && g.out_plane() > 0) {
            let x = rng.vec(g.n * g.c_in * g.h * g.w);
            let gy = rng.vec(g.n * g.c_out * g.out_h() * g.out_w());
            let mut gw = vec![0.0; g.c_out * g.k_dim()];
            weight_grad_direct(&g, &x, &gy, &mut gw, false);
            let tol = 1e-5 * (g.n * g.out_plane()) as f64 + 1e-5;
            assert_close(&gw, &naive_weight_grad(&g, &x, &gy), tol, "portable weight grad", &g);
        }
    }

    #[test]
    fn out_dims() {
        let g = geom(1, 1, 7, 8, 1, 3, 2, (2, 3), (1, 0), (2, 1));
        assert_eq!(g.out_h(), (7 + 2 - 2 * 2 - 1) / 2 + 1);
        assert_eq!(g.out_w(), (8 - 1 - 1) / 3 + 1);
        assert_eq!(geom(1, 1, 2, 2, 1, 5, 5, (1, 1), (1, 1), (1, 1)).out_h(), 0);
    }

    #[test]
    fn matches_naive() {
        let mut rng = Rng::new(0x1234_5678_9abc_def1);
        for g in geometries() {
            let x = rng.vec(g.n * g.c_in * g.h * g.w);
            let w = rng.vec(g.c_out * g.c_in * g.kh * g.kw);
            let ylen = g.n * g.c_out * g.out_h() * g.out_w();
            let gy = rng.vec(ylen);
            let tol = 1e-5 * (g.c_in * g.kh * g.kw + g.n * g.out_h() * g.out_w()) as f64;

            let mut y = vec![f32::NAN; ylen];
            conv2d_forward(&g, &x, &w, &mut y);
            assert_close(&y, &naive_forward(&g, &x, &w), tol, "forward", &g);

            let mut gx = vec![f32::NAN; x.len()];
            conv2d_input_grad(&g, &gy, &w, &mut gx);
            assert_close(&gx, &naive_input_grad(&g, &gy, &w), tol, "input_grad", &g);

            let mut gw = vec![f32::NAN; w.len()];
            conv2d_weight_grad(&g, &x, &gy, &mut gw);
            assert_close(&gw, &naive_weight_grad(&g, &x, &gy), tol, "weight_grad", &g);
        }
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
    }

    #[test]
    fn adjoint_identity() {
        let mut rng = Rng::new(0xdead_beef_cafe_f00d);
        for g in geometries() {
            let x = rng.vec(g.n * g.c_in * g.h * g.w);
            let w = rng.vec(g.c_out * g.c_in * g.kh * g.kw);
            let gy = rng.vec(g.n * g.c_out * g.out_h() * g.out_w());
            let mut y = vec![0.0; gy.len()];
            let mut gx = vec![0.0; x.len()];
            let mut gw = vec![0.0; w.len()];
            conv2d_forward(&g, &x, &w, &mut y);
            conv2d_input_grad(&g, &gy, &w, &mut gx);
            conv2d_weight_grad(&g, &x, &gy, &mut gw);
            let (a, b, c) = (dot(&y, &gy), dot(&x, &gx), dot(&w, &gw));
            let tol = 1e-4 * (1.0 + a.abs()) + 1e-5 * gy.len() as f64;
            assert!((a - b).abs() <= tol && (a - c).abs() <= tol, "{a} {b} {c} {g:?}");
        }
    }

    #[test]
    fn empty_output_zeroes_grads() {
        let g = geom(2, 2, 2, 2, 3, 5, 5, (1, 1), (0, 0), (1, 1));
        assert_eq!(g.out_h(), 0);
        let x = vec![1.0; 16];
        let w = vec![1.0; 150];
        let mut y: Vec<f32> = vec![];
        conv2d_forward(&g, &x, &w, &mut y);
        let mut gx = vec![f32::NAN; 16];
        conv2d_input_grad(&g, &y, &w, &mut gx);
        assert!(gx.iter().all(|&v| v == 0.0));
        let mut gw = vec![f32::NAN; 150];
        conv2d_weight_grad(&g, &x, &y, &mut gw);
        assert!(gw.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn bit_identical_across_thread_counts() {
        let mut rng = Rng::new(77);
        // Small weights => many batch chunks; big planes => parallel inner gemm.
        for g in [
            geom(11, 3, 17, 15, 5, 3, 3, (1, 1), (1, 1), (1, 1)),
            geom(4, 32, 24, 24, 48, 3, 3, (2, 2), (1, 1), (1, 1)),
            geom(7, 16, 12, 12, 16, 1, 1, (1, 1), (0, 0), (1, 1)),
        ] {
            let x = rng.vec(g.n * g.c_in * g.h * g.w);
            let w = rng.vec(g.c_out * g.c_in * g.kh * g.kw);
            let gy = rng.vec(g.n * g.c_out * g.out_h() * g.out_w());
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| {
                    let mut y = vec![0.0; gy.len()];
                    let mut gx = vec![0.0; x.len()];
                    let mut gw = vec![0.0; w.len()];
                    conv2d_forward(&g, &x, &w, &mut y);
                    conv2d_input_grad(&g, &gy, &w, &mut gx);
                    conv2d_weight_grad(&g, &x, &gy, &mut gw);
                    [y, gx, gw].concat()
                })
            };
            let (a, b) = (run(1), run(3));
            assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
        }
    }

    /// `cargo test --release -- --ignored --nocapture bench_conv`
    #[test]
    #[ignore]
    fn bench_conv() {
        for g in [
            geom(32, 64, 32, 32, 64, 3, 3, (1, 1), (1, 1), (1, 1)),
            geom(64, 1, 28, 28, 32, 5, 5, (1, 1), (2, 2), (1, 1)),
            geom(8, 256, 14, 14, 256, 3, 3, (1, 1), (1, 1), (1, 1)),
            geom(16, 128, 28, 28, 256, 1, 1, (1, 1), (0, 0), (1, 1)),
        ] {
            let mut rng = Rng::new(3);
            let x = rng.vec(g.n * g.c_in * g.h * g.w);
            let w = rng.vec(g.c_out * g.c_in * g.kh * g.kw);
            let gy = rng.vec(g.n * g.c_out * g.out_h() * g.out_w());
            let (mut y, mut gx, mut gw) = (vec![0.0; gy.len()], vec![0.0; x.len()], vec![0.0; w.len()]);
            let flops = 2.0 * (gy.len() * g.c_in * g.kh * g.kw) as f64;
            let time = |f: &mut dyn FnMut()| {
                let mut best = f64::MAX;
                for _ in 0..5 {
                    let t = std::time::Instant::now();
                    f();
                    best = best.min(t.elapsed().as_secs_f64());
                }
                flops / best / 1e9
            };
            let f = time(&mut || conv2d_forward(&g, &x, &w, &mut y));
            let i = time(&mut || conv2d_input_grad(&g, &gy, &w, &mut gx));
            let wg = time(&mut || conv2d_weight_grad(&g, &x, &gy, &mut gw));
            println!("{g:?}\n  GFLOP/s: forward {f:.1}, input_grad {i:.1}, weight_grad {wg:.1}");
        }
    }
}

#[cfg(test)]
mod bench {
    use super::*;
    use crate::kernels::TestRng as Rng;

    /// GFLOP/s of the three passes on ResNet-20's convolution shapes (batch 128).
    /// `cargo test --release -p autodiff --lib -- --ignored --nocapture bench_resnet_convs`
    #[test]
    #[ignore]
    fn bench_resnet_convs() {
        let mut rng = Rng::new(3);
        for &(c_in, hw, c_out) in &[(3, 32, 16), (16, 32, 16), (32, 16, 32), (64, 8, 64)] {
            let g = Conv2dGeom { n: 128, c_in, h: hw, w: hw, c_out, kh: 3, kw: 3, stride: (1, 1), padding: (1, 1), dilation: (1, 1) };
            let x = rng.vec(g.n * g.x_size());
            let w = rng.vec(c_out * g.k_dim());
            let mut y = vec![0.0; g.n * c_out * g.out_plane()];
            let mut gx = vec![0.0; x.len()];
            let mut gw = vec![0.0; w.len()];
            let flops = 2.0 * (g.n * c_out * g.out_plane() * g.k_dim()) as f64;
            let time = |f: &mut dyn FnMut()| {
                f();
                let t = std::time::Instant::now();
                for _ in 0..5 {
                    f();
                }
                t.elapsed().as_secs_f64() / 5.0
            };
            let tf = time(&mut || conv2d_forward(&g, &x, &w, &mut y));
            let ti = time(&mut || conv2d_input_grad(&g, &y, &w, &mut gx));
            let tw = time(&mut || conv2d_weight_grad(&g, &x, &y, &mut gw));
            println!(
                "{c_in:>2}->{c_out:<2} {hw:>2}x{hw:<2}: forward {:.2} ms ({:.0} GFLOP/s), input grad {:.2} ms ({:.0}), weight grad {:.2} ms ({:.0})",
                tf * 1e3,
                flops / tf / 1e9,
                ti * 1e3,
                flops / ti / 1e9,
                tw * 1e3,
                flops / tw / 1e9
            );
        }
    }
}
