//! Single-precision matrix multiplication (GEMM): `C (+)= op(A)·op(B)` over
//! [`MatRef`] / [`MatMut`] views.
//!
//! BLIS-style structure: the columns of `C` are walked in blocks of `NC`; for each
//! block the matching part of `op(B)` is packed into `NR`-wide column panels,
//! grouped by slices of the reduction dimension (`k` cut into equal slices of at
//! most `KC`), and `op(A)` (when its packed form is small, which is the common
//! case) into `MR`-tall row panels once for the whole product.  `C` is then cut
//! into a grid of at most `MC × NB` tiles, as even as the panel sizes allow,
//! which run in parallel; each runs the macro-kernel slice by slice: the
//! register-blocked microkernel on every `MR × NR` sub-tile, storing straight
//! into `C`.  Packing buffers are cached per thread and reused across calls.
//!
//! The same packed layout and macro-kernel serve the convolutions
//! (`kernels::conv`), which pack their right-hand side straight from the image
//! (implicit im2col) and their left-hand side once per call (`PackedLhs`).
//!
//! Determinism: every element of `C` is owned by exactly one tile and its reduction
//! over `k` always runs in the same order (microkernel over a slice, slices added
//! to `C` in increasing `k`), so results are bit-identical for any number of
//! rayon threads.  The grid does not depend on the thread count either.
//!
//! Files: `view` (the matrix views), `blocking` (block sizes, tile grid),
//! `microkernel/` (the register kernels per ISA), `macrokernel` (one slice of
//! a tile), `pack_a`, `pack_b`, `transpose` (packing), `packed` (operands
//! packed once), `tiles` (the parallel loops), `scratch` (packing buffers).

mod blocking;
mod macrokernel;
mod microkernel;
mod pack_a;
mod pack_b;
mod packed;
mod scratch;
#[cfg(test)]
mod tests;
mod tiles;
mod transpose;
mod view;

use std::mem::MaybeUninit;

#[cfg(test)]
pub(crate) use blocking::KC;
pub(crate) use blocking::{round_up, slice_depth, NR};
pub(crate) use macrokernel::BlockC;
pub(crate) use microkernel::{Offsets, Packed, PanelB};
pub use packed::PackedB;
pub(crate) use packed::PackedLhs;
pub(crate) use tiles::SharedMut;
pub use view::{MatMut, MatRef};

use crate::kernels::scratch::{give_back_scratch, take_scratch};
use blocking::{shares_a, worth_parallel, MR, NC, SHORT_M};
use microkernel::{select_kernel, Kernel};
use packed::pack_operands;
use scratch::{PACK_A_SHARED, PACK_B};
use tiles::{ASource, BlockB, Product};

/// `C = op(A)·op(B)`, or `C += op(A)·op(B)` if `accumulate`: `a` is `m × k`,
/// `b` is `k × n`, `c` is `m × n` (each view possibly transposed or strided).
///
/// With `k == 0` the product is zero: `C` is zeroed, or left alone when accumulating.
/// Results are bit-identical for any rayon thread count.
pub fn gemm(a: MatRef, b: MatRef, c: MatMut, accumulate: bool) {
    count_flops(2 * a.rows * b.cols * a.cols);
    gemm_with(select_kernel(), a, b, c.into_uninit(), accumulate, Epilogue::default());
}

/// [`gemm`] without accumulation into a `C` that need not be initialized
/// (e.g. the spare capacity of a new `Vec`): every element of the `m × n`
/// block is written, so a fresh output needs no zero-filling first.  The
/// [`Epilogue`] is applied to each finished tile while it is in cache (the
/// same bits as applying it afterwards).
pub fn gemm_uninit(a: MatRef, b: MatRef, c: MatMut<MaybeUninit<f32>>, epilogue: Epilogue) {
    count_flops(2 * a.rows * b.cols * a.cols);
    // Without accumulation C is only written (raw stores) before being read.
    gemm_with(select_kernel(), a, b, c, false, epilogue);
}

/// [`gemm`] with the portable microkernel whatever the CPU: for benchmarks
/// that measure what the SIMD kernel gains.
#[doc(hidden)]
pub fn gemm_portable(a: MatRef, b: MatRef, c: MatMut, accumulate: bool) {
    gemm_with(microkernel::portable_kernel(), a, b, c.into_uninit(), accumulate, Epilogue::default());
}

/// Adds `n` to [`flop_count`].
pub(crate) fn count_flops(n: usize) {
    FLOPS.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
}

static FLOPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Floating-point operations done by [`gemm`] (2·m·n·k per call) and by the
/// convolutions (the direct algorithm's 2·c_out·(c_in·kh·kw)·positions per
/// image, whichever algorithm runs) in this process so far: differences of
/// this counter measure a model's FLOPs.
pub fn flop_count() -> u64 {
    FLOPS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Reference implementation of [`gemm`] (same arguments and semantics): a plain
/// triple loop accumulating each dot product in f64.  Slow; meant for tests and
/// as executable documentation.
pub fn gemm_naive(a: MatRef, b: MatRef, c: MatMut, accumulate: bool) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    let at = |i: usize, j: usize, x: &MatRef| if x.trans { x.data[j * x.ld + i] } else { x.data[i * x.ld + j] };
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                s += at(i, p, &a) as f64 * at(p, j, &b) as f64;
            }
            let dst = &mut c.data[i * c.ld + j];
            *dst = if accumulate { *dst + s as f32 } else { s as f32 };
        }
    }
}

/// Panics unless `a` (`m × k`), `b` (`k × n`) and `c` (`m × n`) agree.
fn check_dims<T>(a: &MatRef, b: &MatRef, c: &MatMut<T>) {
    assert!(
        a.cols == b.rows && c.rows == a.rows && c.cols == b.cols,
        "gemm: A is {}×{}, B {}×{}, C {}×{}",
        a.rows,
        a.cols,
        b.rows,
        b.cols,
        c.rows,
        c.cols
    );
}

/// [`gemm`] with an explicit microkernel and epilogue.
fn gemm_with(kernel: Kernel<Packed>, a: MatRef, b: MatRef, c: MatMut<MaybeUninit<f32>>, accumulate: bool, epi: Epilogue) {
    check_dims(&a, &b, &c);
    let (m, n, k) = (a.rows, b.cols, a.cols);
    a.check("A");
    b.check("B");
    c.check("C");
    if let Some(bias) = epi.bias {
        assert_eq!(bias.len(), n, "gemm: bias of {} for {n} columns", bias.len());
    }
    let (ldc, c) = (c.ld, c.data.as_mut_ptr().cast::<f32>());
    // SAFETY: C (m rows of n at stride ldc) fits in its data (checked above).
    if unsafe { empty_product(m, n, k, c, ldc, accumulate) } {
        for i in 0..m {
            // SAFETY: row i of C, initialized by empty_product (or by the caller when accumulating).
            unsafe { epi.apply(c.add(i * ldc), 0, n) };
        }
        return;
    }
    let parallel = worth_parallel(m, n, k);
    let product = Product { kernel, a, n, c: SharedMut(c), ldc, accumulate, epi, parallel };

    let mp = round_up(m, MR);
    let share_a = shares_a(m, k);
    let mut apack = take_scratch(&PACK_A_SHARED, if share_a { mp * k } else { 0 });
    if share_a && m <= SHORT_M {
        pack_operands(k, Some((&a, m, &mut apack[..mp * k])), None, parallel);
        product.multiply_short(&apack[..mp * k], &b);
        give_back_scratch(&PACK_A_SHARED, apack);
        return;
    }
    let mut bpack = take_scratch(&PACK_B, k * round_up(n.min(NC), NR));
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        // op(A) is packed during the first block of columns and reused by the others.
        let a_src = if share_a { ASource::Shared { data: SharedMut(apack.as_mut_ptr()), lazy: jc == 0 } } else { ASource::PerTile };
        product.multiply_block(a_src, BlockB { data: SharedMut(bpack.as_mut_ptr()), from: Some(&b), jc, nc });
    }
    give_back_scratch(&PACK_B, bpack);
    give_back_scratch(&PACK_A_SHARED, apack);
}

/// [`gemm`] with a pre-packed right operand: `C (m × n) = op(A)·op(B)`
/// (`+ C` if `accumulate`), where `b` holds `op(B)` (`k × n`).
pub fn gemm_packed(a: MatRef, b: &PackedB, c: MatMut, accumulate: bool) {
    gemm_packed_impl(a, b, c, accumulate, true);
}

/// [`gemm_packed`] on the calling thread only, for callers that already run
/// one task per worker (same results: tiling never changes the arithmetic).
pub fn gemm_packed_serial(a: MatRef, b: &PackedB, c: MatMut, accumulate: bool) {
    gemm_packed_impl(a, b, c, accumulate, false);
}

fn gemm_packed_impl(a: MatRef, b: &PackedB, c: MatMut, accumulate: bool, allow_parallel: bool) {
    let (m, n, k) = (a.rows, b.n, b.k);
    count_flops(2 * m * n * k);
    assert!(a.cols == k && c.rows == m && c.cols == n, "gemm: A is {}×{}, B {k}×{n}, C {}×{}", a.rows, a.cols, c.rows, c.cols);
    a.check("A");
    c.check("C");
    let (ldc, c) = (c.ld, c.data.as_mut_ptr());
    // SAFETY: C (m rows of n at stride ldc) fits in its data (checked above).
    if unsafe { empty_product(m, n, k, c, ldc, accumulate) } {
        return;
    }
    let parallel = allow_parallel && worth_parallel(m, n, k);
    let product = Product { kernel: select_kernel(), a, n, c: SharedMut(c), ldc, accumulate, epi: Epilogue::default(), parallel };
    let mp = round_up(m, MR);
    let share_a = shares_a(m, k);
    let mut apack = take_scratch(&PACK_A_SHARED, if share_a { mp * k } else { 0 });
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        let a_src = if share_a { ASource::Shared { data: SharedMut(apack.as_mut_ptr()), lazy: jc == 0 } } else { ASource::PerTile };
        // Packed already: multiply_block only reads it (`from` is None).
        let data = SharedMut(b.data[k * jc..].as_ptr() as *mut f32);
        product.multiply_block(a_src, BlockB { data, from: None, jc, nc });
    }
    give_back_scratch(&PACK_A_SHARED, apack);
}

/// Handles the products with nothing to multiply: `m` or `n` zero (nothing
/// to do) or `k` zero (`C` zeroed, or left alone when accumulating).
/// Returns whether the product is done.
///
/// # Safety
/// `c` is valid for writes of `m` rows of `n` elements at stride `ldc`.
unsafe fn empty_product(m: usize, n: usize, k: usize, c: *mut f32, ldc: usize, accumulate: bool) -> bool {
    if m == 0 || n == 0 {
        return true;
    }
    if k == 0 && !accumulate {
        for i in 0..m {
            // SAFETY: row i of C (the caller's contract); all-zero bytes are 0.0.
            unsafe { std::ptr::write_bytes(c.add(i * ldc), 0, n) };
        }
    }
    k == 0
}

/// What [`gemm_uninit`] applies to each finished element `c[i][j]` of the
/// product: `+ bias[j]` (if any), then `max(·, 0)` if `relu` (a linear layer
/// and its activation in one pass over each tile).
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a> {
    /// One value per column of `C`, added to every row.
    pub bias: Option<&'a [f32]>,
    /// Clamp at zero (after the bias), as `f32::max(c, 0.0)`.
    pub relu: bool,
}

impl Epilogue<'_> {
    /// Applies the epilogue to `len` elements of one row of `C` starting at
    /// column `j0`.
    ///
    /// # Safety
    /// `row` is valid for reads and writes of `len` initialized elements, unaliased.
    unsafe fn apply(self, row: *mut f32, j0: usize, len: usize) {
        if self.bias.is_none() && !self.relu {
            return;
        }
        // SAFETY: the caller's contract.
        let row = unsafe { std::slice::from_raw_parts_mut(row, len) };
        if let Some(bias) = self.bias {
            row.iter_mut().zip(&bias[j0..j0 + len]).for_each(|(c, &b)| *c += b);
        }
        if self.relu {
            row.iter_mut().for_each(|c| *c = c.max(0.0));
        }
    }
}
