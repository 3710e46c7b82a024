//! 2-D convolution (NCHW, groups = 1), lowered onto the GEMM's packed
//! layout and macro-kernel.
//!
//! Forward and input-gradient passes are parallel over images (each image's output
//! is owned by one task; the inner GEMM may parallelize further over its own
//! output tiles).  The weight gradient sums over the batch in chunks fixed by
//! the geometry, added in chunk order, so all results are bit-identical for
//! any rayon thread count.
//!
//! Files: `geometry` (sizes and index ranges), `padded` (zero-padded image
//! copies), `epilogue` (bias, residual, ReLU), `im2col` (explicit and packed
//! im2col, the strided forward), `stride2` (phase-split images for column
//! stride 2), `direct` (the stride-1 forward), `input_grad`, `weight_grad`,
//! `scratch` (per-thread buffers); Winograd lives in `kernels::winograd`.

mod direct;
mod epilogue;
mod geometry;
mod im2col;
mod input_grad;
mod padded;
mod scratch;
mod stride2;
#[cfg(test)]
mod tests;
mod weight_grad;

use std::mem::MaybeUninit;

pub(crate) use epilogue::assume_init;
use epilogue::finish;
pub use epilogue::ConvEpilogue;
pub use geometry::Conv2dGeom;
pub use input_grad::conv2d_input_grad;
pub use weight_grad::conv2d_weight_grad;

use super::gemm::{count_flops, gemm, MatMut, MatRef};
use super::winograd;
use direct::forward_direct;
use im2col::{forward_im2col, im2col, with_col};
use stride2::reads_split_in_place;

/// `y [n, c_out, oh, ow] = conv(x [n, c_in, h, w], w)` (no bias; overwrites `y`).
pub fn conv2d_forward(g: &Conv2dGeom, x: &[f32], w: &[f32], y: &mut [f32]) {
    conv2d_forward_bias(g, x, w, None, y);
}

/// `y [n, c_out, oh, ow] = conv(x [n, c_in, h, w], w) + bias[c_out]` (overwrites `y`).
pub fn conv2d_forward_bias(g: &Conv2dGeom, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    conv2d_forward_fused(g, x, w, ConvEpilogue { bias, ..ConvEpilogue::default() }, y)
}

/// `y = epi(conv(x [n, c_in, h, w], w))` (overwrites `y`): the convolution
/// with bias, residual and ReLU applied as the output is written.
///
/// Stride-1 convolutions of a batch read the im2col matrix straight from a
/// padded image copy (`forward_direct`; Winograd for 3×3 with many
/// channels), other batches pack im2col panels from the image against
/// weights packed once (`PackedLhs`); a single image uses an explicit
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
/// `winograd::forward_pair` applies, the intermediate output goes straight
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

/// The direct stride-1 path, for tests of the faster algorithms.
#[cfg(test)]
pub(crate) fn conv2d_forward_direct_for_tests(g: &Conv2dGeom, x: &[f32], w: &[f32], y: &mut [f32]) {
    assert!(g.stride == (1, 1) && g.n >= 1);
    // SAFETY (as_uninit): only f32 values are written through the view.
    forward_direct(g, x, w, ConvEpilogue::default(), unsafe { super::as_uninit(y) });
}

/// A forward algorithm forced whatever the geometry would pick, for
/// benchmarks that compare them.  Each gives the bits of the default path
/// where it applies.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardPath {
    /// The direct stride-1 path (needs stride 1).
    Direct,
    /// Winograd with output tiles of `tile` (2 or 4; needs a 3×3, stride-1,
    /// undilated convolution).
    Winograd { tile: usize },
    /// Packed im2col panels; with `in_place`, a column-stride-2 convolution
    /// whose output rows fit the panels reads them from the split image.
    Strided { in_place: bool },
}

/// [`conv2d_forward`] by `path` (needs at least one image).
#[doc(hidden)]
pub fn conv2d_forward_path(g: &Conv2dGeom, x: &[f32], w: &[f32], y: &mut [f32], path: ForwardPath) {
    g.check(x.len(), w.len(), y.len());
    assert!(g.n > 0 && g.k_dim() > 0, "conv2d_forward_path: empty convolution");
    // SAFETY (as_uninit): only f32 values are written through the view.
    let y = unsafe { super::as_uninit(y) };
    match path {
        ForwardPath::Direct => {
            assert_eq!(g.stride, (1, 1), "conv2d_forward_path: the direct path needs stride 1");
            forward_direct(g, x, w, ConvEpilogue::default(), y)
        }
        ForwardPath::Winograd { tile } => winograd::forward_tile_size(g, x, w, y, tile),
        ForwardPath::Strided { in_place } => {
            let in_place = in_place && reads_split_in_place(g);
            forward_im2col(g, x, w, ConvEpilogue::default(), y, in_place)
        }
    }
}
