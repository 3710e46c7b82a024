//! Column-stride-2 convolutions (ResNet's downsampling): the image copied
//! zero-padded with its columns split into even and odd phases, so every
//! run of an im2col row within an output row is contiguous.

use super::im2col::ColBlock;
use super::Conv2dGeom;
use crate::kernels::gemm::{round_up, PanelB, NR};

/// Whether [`forward_im2col`] reads the im2col rows straight from the
/// phase-split image instead of packing them: when every `NR`-column panel
/// is a stretch of one output row (output width a multiple of `NR`, e.g.
/// ResNet's 16-wide downsampling outputs), each of its rows is `NR`
/// consecutive values of the split image; when it is two whole output rows
/// (outputs `NR / 2` wide and an even number of rows, ResNet's 8 × 8), each
/// of its rows is two runs of `NR / 2`.  Not for 1×1 kernels, where
/// packing is cheap and packed panels keep up with two threads
/// (`split_in_place` in the kernel benchmarks compares the two).
pub(super) fn reads_split_in_place(g: &Conv2dGeom) -> bool {
    let ow = g.out_w();
    let rows_fit = ow.is_multiple_of(NR) || (ow == NR / 2 && g.out_h().is_multiple_of(2));
    g.stride.1 == 2 && rows_fit && g.kh * g.kw > 1
}

/// Where im2col row `r` (input channel, kernel row, kernel column) of output
/// (0, 0) starts in an image split as [`split_dims`] says; output `(oy, ox)`
/// is `oy·sh·wp + ox` further.
pub(super) fn split_row_offset(g: &Conv2dGeom, (hp, wp): (usize, usize), r: usize) -> usize {
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
pub(super) struct RowPanels {
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
    pub(super) fn new(image: &[f32], offsets: &[usize], q: usize, nb: usize, ow: usize, row_step: usize) -> RowPanels {
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
pub(super) fn split_dims(g: &Conv2dGeom) -> (usize, usize) {
    let hp = (g.out_h() - 1) * g.stride.0 + (g.kh - 1) * g.dilation.0 + 1;
    (hp, 2 * (g.out_w() + (g.kw - 1) * g.dilation.1 / 2))
}

/// [`pack_im2col`] from an image split as [`split_dims`] says (`xs`, with
/// at least `NR` values after its planes): every run is a copy of `NR`
/// values (later runs overwrite what an earlier one copied past its end, so
/// `out` needs `NR` values of slack).
pub(super) fn pack_split_im2col(g: &Conv2dGeom, (hp, wp): (usize, usize), xs: &[f32], blk: ColBlock, out: &mut [f32]) {
    let ColBlock { pc, kc, j0, nb } = blk;
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
