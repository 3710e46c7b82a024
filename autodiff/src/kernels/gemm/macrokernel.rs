//! The macro-kernel: one slice of a tile of `C`, walked in `MR × NR`
//! microkernel tiles.

use super::blocking::{round_up, MR, NR};
use super::microkernel::{written_rows, Kernel, PanelB};

/// The `MR`-row panels of one `kc`-deep slice of `op(A)` for `rows` rows of
/// `C` (`round_up(rows, MR) · kc` floats at least, zero padded).
#[derive(Clone, Copy)]
pub(crate) struct PanelsA<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) rows: usize,
    pub(crate) kc: usize,
}

/// A block of `C` written through a raw pointer: its top-left element, the
/// row stride, and its width.
#[derive(Clone, Copy)]
pub(crate) struct BlockC {
    pub(crate) ptr: *mut f32,
    pub(crate) ld: usize,
    pub(crate) cols: usize,
}

/// `C[a.rows × c.cols] (+)= A·B` for one slice of depth `a.kc`, with `b`
/// the first `NR`-column panel of `B` (`round_up(c.cols, NR)` columns).
/// Full `MR × NR` sub-tiles go straight into `C`; edge tiles through a
/// small buffer.
///
/// # Safety
/// `b` must cover `kc` rows of `round_up(c.cols, NR)` columns; `c` must be
/// valid for writes of `a.rows` rows of `c.cols` elements at stride `c.ld`,
/// with no live reference to that block.
pub(crate) unsafe fn multiply_packed<B: PanelB>(kernel: Kernel<B>, a: PanelsA, b: B, c: BlockC, accumulate: bool) {
    let PanelsA { data: apack, rows: mc, kc } = a;
    let BlockC { ptr: c, ld: ldc, cols: nb } = c;
    assert!(apack.len() >= round_up(mc, MR) * kc);
    for jr in (0..nb).step_by(NR) {
        let nr = NR.min(nb - jr);
        // SAFETY: the caller's B covers round_up(nb, NR) columns.
        let bpanel = unsafe { b.shift(jr, kc) };
        for ir in (0..mc).step_by(MR) {
            let mr = MR.min(mc - ir);
            let apanel = apack[ir * kc..].as_ptr();
            // SAFETY: panels hold kc·MR / kc·NR elements (asserted above); the
            // C tile is inside the caller's block.
            unsafe {
                let ct = c.add(ir * ldc + jr);
                if nr == NR && written_rows(mr) == mr {
                    // A whole tile, or a short panel of exactly 2 or 4 rows
                    // (e.g. 16 = 6 + 6 + 4 channels): straight into C.
                    kernel(kc, mr, apanel, bpanel, ct, ldc, accumulate);
                } else {
                    let mut tmp = [0.0f32; MR * NR];
                    kernel(kc, mr, apanel, bpanel, tmp.as_mut_ptr(), NR, false);
                    for (r, t) in tmp.chunks_exact(NR).take(mr).enumerate() {
                        if accumulate {
                            let row = std::slice::from_raw_parts_mut(ct.add(r * ldc), nr);
                            row.iter_mut().zip(t).for_each(|(d, &v)| *d += v);
                        } else {
                            // Raw copy: without accumulation C may be uninitialized.
                            std::ptr::copy_nonoverlapping(t.as_ptr(), ct.add(r * ldc), nr);
                        }
                    }
                }
            }
        }
    }
}
