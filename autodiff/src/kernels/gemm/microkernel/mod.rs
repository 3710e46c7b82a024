//! The microkernel: `C[MR × NR] (+)= A·B` over one slice, in registers.
//! It is the SIMD boundary: [`Kernel`] is a plain function pointer chosen
//! once per call by [`select_kernel`] (AVX2 + FMA on x86-64 CPUs that have
//! it, else the portable kernel).  The two round differently (fused vs
//! separate multiply-add), so results are reproducible per machine.

use super::blocking::{MR, NR};

#[cfg(target_arch = "x86_64")]
mod avx2;
mod portable;

#[cfg(all(test, target_arch = "x86_64"))]
pub(super) use avx2::{avx2_fma_available, kernel_avx2_fma};
#[cfg(test)]
pub(super) use portable::kernel_scalar;

/// The portable kernel, whatever the CPU supports.
pub(super) fn portable_kernel() -> Kernel<Packed> {
    portable::kernel_scalar::<Packed>
}

/// Where a microkernel reads its `kc × NR` block of `B`: row `kk` (`NR`
/// consecutive floats) starts at [`PanelB::row`]`(kk)`.
pub(crate) trait PanelB: Copy {
    /// Start of row `kk`.
    ///
    /// # Safety
    /// `kk` must be below the `kc` the panel was built for.
    unsafe fn row(self, kk: usize) -> *const f32;
    /// Start of the second half of row `kk` (its last `NR / 2` floats):
    /// right after the first half unless the source says otherwise.
    ///
    /// # Safety
    /// As [`PanelB::row`].
    #[inline(always)]
    unsafe fn row_hi(self, kk: usize) -> *const f32 {
        // SAFETY: forwarded contract (a row holds NR floats).
        unsafe { self.row(kk).add(NR / 2) }
    }
    /// The same source moved `cols` columns to the right.
    ///
    /// # Safety
    /// The moved panel must still lie in the underlying buffer.
    unsafe fn shift(self, cols: usize, kc: usize) -> Self;
}

/// A packed panel: rows of `NR` floats one after another.
#[derive(Clone, Copy)]
pub(crate) struct Packed(pub(crate) *const f32);

impl PanelB for Packed {
    #[inline(always)]
    unsafe fn row(self, kk: usize) -> *const f32 {
        // SAFETY: forwarded contract.
        unsafe { self.0.add(kk * NR) }
    }
    #[inline(always)]
    unsafe fn shift(self, cols: usize, kc: usize) -> Self {
        // Panels of kc × NR follow each other; `cols` is a multiple of NR.
        // SAFETY: forwarded contract.
        Packed(unsafe { self.0.add(cols * kc) })
    }
}

/// An unpacked source: row `kk` starts at `base + offsets[kk]` (the rows of a
/// direct convolution are shifted views of one zero-padded image).
#[derive(Clone, Copy)]
pub(crate) struct Offsets {
    /// First column of the panel.
    pub(crate) base: *const f32,
    /// Offset of each row from `base`.
    pub(crate) offsets: *const usize,
}

impl PanelB for Offsets {
    #[inline(always)]
    unsafe fn row(self, kk: usize) -> *const f32 {
        // SAFETY: forwarded contract.
        unsafe { self.base.add(*self.offsets.add(kk)) }
    }
    #[inline(always)]
    unsafe fn shift(self, cols: usize, _kc: usize) -> Self {
        // SAFETY: forwarded contract.
        Offsets { base: unsafe { self.base.add(cols) }, ..self }
    }
}

/// A microkernel: `C[MR × NR] (+)= A·B` over `kc` steps, where `a` is a packed
/// `A` micro-panel (`kc × MR`, `MR` contiguous per step), `b` gives the rows
/// of `B` (`NR` floats each, in two halves: [`PanelB::row`] and
/// [`PanelB::row_hi`]) and `c` is the top-left element of an `MR × NR`
/// tile of `C` with row stride `ldc`; `accumulate` adds to `C` instead of
/// overwriting.  Only the first `rows` rows matter: a short panel (the last
/// one when `m` is not a multiple of `MR`, e.g. 32 = 5·6 + 2) skips the
/// padding rows' multiply-adds.  Each element's sum runs over `k` in the same
/// order whatever `rows`, so a short panel gives the same bits as a full one.
///
/// Safety contract: `a` is valid for `kc·MR` reads, every `b.row(kk)` and
/// `b.row_hi(kk)` for `NR / 2` reads, and the `MR` rows of `NR` elements at
/// `c + r·ldc` are valid for writes and not aliased by any live reference.  Exactly the first
/// [`written_rows`]`(rows)` rows of the tile are written (so when that equals
/// `rows`, only those rows need to be valid).
pub(crate) type Kernel<B> = unsafe fn(usize, usize, *const f32, B, *mut f32, usize, bool);

/// Rows of the C tile a [`Kernel`] writes for `rows` wanted: 2, 4 or `MR`.
pub(crate) fn written_rows(rows: usize) -> usize {
    match rows {
        0..=2 => 2,
        3..=4 => 4,
        _ => MR,
    }
}

/// Picks the fastest microkernel the running CPU supports.
pub(crate) fn select_kernel<B: PanelB>() -> Kernel<B> {
    #[cfg(target_arch = "x86_64")]
    {
        if avx2::avx2_fma_available() {
            return avx2::kernel_avx2_fma::<B>;
        }
    }
    portable::kernel_scalar::<B>
}
