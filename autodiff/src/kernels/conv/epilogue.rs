//! What is applied to each convolution output as it is written (bias,
//! residual, ReLU), and the pass that applies it afterwards where a path
//! cannot.

use std::mem::MaybeUninit;

use rayon::prelude::*;

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
    pub(crate) fn apply(&self, v: f32, co: usize, i: usize) -> f32 {
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

/// `y` as initialized values.
///
/// # Safety
/// Every element of `y` must have been written.
pub(crate) unsafe fn assume_init(y: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: same layout; the caller guarantees initialization.
    unsafe { &mut *(y as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// Applies `epi` in a pass over finished sums `y` (`c_out` planes of `plane` per image).
pub(super) fn finish(epi: ConvEpilogue, c_out: usize, plane: usize, y: &mut [f32]) {
    if plane > 0 && c_out > 0 {
        let ys = c_out * plane;
        y.par_chunks_mut(ys).enumerate().for_each(|(i, yi)| finish_image(&epi.images(i, ys), plane, yi));
    }
}

/// [`finish`] for one image (`epi` starting at that image).
pub(super) fn finish_image(epi: &ConvEpilogue, plane: usize, yi: &mut [f32]) {
    if epi.bias.is_none() && epi.residual.is_none() && !epi.relu {
        return;
    }
    for (co, yc) in yi.chunks_exact_mut(plane).enumerate() {
        for (j, v) in yc.iter_mut().enumerate() {
            *v = epi.apply(*v, co, co * plane + j);
        }
    }
}
