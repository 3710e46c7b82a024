//! The SIMD lane layer: eight `f32` lanes as AVX2 registers or as a
//! portable array, so that vector code is written once, generic over
//! [`Lanes`], and compiled per ISA (the AVX2 copy inside a
//! `#[target_feature]` function chosen at run time).

/// Values per vector.
pub(crate) const LANES: usize = 8;

/// Eight `f32` lanes, as AVX2 registers or as a portable array, for the
/// transforms (which are written once, generic over this).
pub(crate) trait Lanes {
    /// A vector of [`LANES`] values.
    type V: Copy;
    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self::V;
    /// [`LANES`] values from `p` (unaligned).
    unsafe fn load(p: *const f32) -> Self::V;
    /// `LANES/2` values from `lo`, then `LANES/2` from `hi` (unaligned).
    unsafe fn load_halves(lo: *const f32, hi: *const f32) -> Self::V;
    /// Lanes `lo..hi` from `p + lane`, the others zero (and not read).
    unsafe fn load_range(p: *const f32, lo: usize, hi: usize) -> Self::V;
    /// Writes [`LANES`] values to `p` (unaligned).
    unsafe fn store(p: *mut f32, v: Self::V);
    /// Writes lanes `2i` and `2i + 1` of `v` to `p` and `p + 1`.
    unsafe fn store_pair(p: *mut f32, v: Self::V, i: usize);
    /// `a + b`.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `a − b`.
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    /// `a · b + c` (fused where the vectors have FMA).
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a` where `a > b`, else `b` (so `max(NaN, 0) = 0`, like `f32::max`).
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// `(a0 b0 a1 b1 a2 b2 a3 b3, a4 b4 … a7 b7)`.
    unsafe fn zip(a: Self::V, b: Self::V) -> (Self::V, Self::V);
    /// The inverse of [`Lanes::zip`]: `(a0 a2 a4 a6 b0 b2 b4 b6, a1 a3 … b7)`.
    unsafe fn unzip(a: Self::V, b: Self::V) -> (Self::V, Self::V);
}

/// Plain arrays (any CPU).
pub(crate) struct Portable;

impl Lanes for Portable {
    type V = [f32; LANES];
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self::V {
        [x; LANES]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self::V {
        // SAFETY: the caller guarantees LANES readable values at `p`.
        unsafe { p.cast::<[f32; LANES]>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn load_halves(lo: *const f32, hi: *const f32) -> Self::V {
        // SAFETY: the caller guarantees LANES/2 readable values at each.
        unsafe { std::array::from_fn(|l| if l < LANES / 2 { *lo.add(l) } else { *hi.add(l - LANES / 2) }) }
    }
    #[inline(always)]
    unsafe fn load_range(p: *const f32, lo: usize, hi: usize) -> Self::V {
        // SAFETY: the caller guarantees readable values at p + lo..hi.
        std::array::from_fn(|l| if lo <= l && l < hi { unsafe { *p.wrapping_add(l) } } else { 0.0 })
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: the caller guarantees LANES writable values at `p`.
        unsafe { p.cast::<[f32; LANES]>().write_unaligned(v) }
    }
    #[inline(always)]
    unsafe fn store_pair(p: *mut f32, v: Self::V, i: usize) {
        // SAFETY: the caller guarantees two writable values at `p`.
        unsafe { p.cast::<[f32; 2]>().write_unaligned([v[2 * i], v[2 * i + 1]]) }
    }
    #[inline(always)]
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|l| a[l] + b[l])
    }
    #[inline(always)]
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|l| a[l] - b[l])
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        std::array::from_fn(|l| a[l] * b[l] + c[l])
    }
    #[inline(always)]
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|l| if a[l] > b[l] { a[l] } else { b[l] })
    }
    #[inline(always)]
    unsafe fn zip(a: Self::V, b: Self::V) -> (Self::V, Self::V) {
        (
            std::array::from_fn(|k| if k % 2 == 0 { a[k / 2] } else { b[k / 2] }),
            std::array::from_fn(|k| if k % 2 == 0 { a[4 + k / 2] } else { b[4 + k / 2] }),
        )
    }
    #[inline(always)]
    unsafe fn unzip(a: Self::V, b: Self::V) -> (Self::V, Self::V) {
        let pick = |k: usize| if k < 4 { a[2 * k] } else { b[2 * k - 8] };
        (std::array::from_fn(pick), std::array::from_fn(|k| if k < 4 { a[2 * k + 1] } else { b[2 * k - 7] }))
    }
}

/// AVX2 registers (and FMA for `mul_add`).
#[cfg(target_arch = "x86_64")]
pub(crate) struct Avx2;

/// The [`Avx2`] methods that are one intrinsic on two vectors.
#[cfg(target_arch = "x86_64")]
macro_rules! avx2_lanewise {
    ($($name:ident => $intrinsic:ident),*) => {$(
        #[target_feature(enable = "avx2")]
        #[inline]
        unsafe fn $name(a: Self::V, b: Self::V) -> Self::V {
            std::arch::x86_64::$intrinsic(a, b)
        }
    )*};
}

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx2 {
    type V = std::arch::x86_64::__m256;
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn splat(x: f32) -> Self::V {
        std::arch::x86_64::_mm256_set1_ps(x)
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load(p: *const f32) -> Self::V {
        // SAFETY: the caller guarantees LANES readable values at `p`.
        unsafe { std::arch::x86_64::_mm256_loadu_ps(p) }
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load_halves(lo: *const f32, hi: *const f32) -> Self::V {
        // SAFETY: the caller guarantees LANES/2 readable values at each.
        unsafe { std::arch::x86_64::_mm256_loadu2_m128(hi, lo) }
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load_range(p: *const f32, lo: usize, hi: usize) -> Self::V {
        use std::arch::x86_64::*;
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let (lo, hi) = (_mm256_set1_epi32(lo.min(LANES) as i32), _mm256_set1_epi32(hi.min(LANES) as i32));
        // lo ≤ lane < hi, i.e. not (lo > lane) and (hi > lane).
        let mask = _mm256_andnot_si256(_mm256_cmpgt_epi32(lo, lane), _mm256_cmpgt_epi32(hi, lane));
        // SAFETY: maskload reads only the selected lanes, which the caller guarantees.
        unsafe { _mm256_maskload_ps(p, mask) }
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: the caller guarantees LANES writable values at `p`.
        unsafe { std::arch::x86_64::_mm256_storeu_ps(p, v) }
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn store_pair(p: *mut f32, v: Self::V, i: usize) {
        use std::arch::x86_64::*;
        let half = _mm256_castps_pd(v);
        let half = if i < 2 { _mm256_castpd256_pd128(half) } else { _mm256_extractf128_pd::<1>(half) };
        // SAFETY: the caller guarantees two writable values at `p`.
        unsafe {
            if i.is_multiple_of(2) {
                _mm_storel_pd(p.cast(), half)
            } else {
                _mm_storeh_pd(p.cast(), half)
            }
        }
    }
    // maxps returns its second operand unless a > b, as `Lanes::max` asks.
    avx2_lanewise!(add => _mm256_add_ps, sub => _mm256_sub_ps, max => _mm256_max_ps);
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        std::arch::x86_64::_mm256_fmadd_ps(a, b, c)
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn zip(a: Self::V, b: Self::V) -> (Self::V, Self::V) {
        use std::arch::x86_64::*;
        let (l, h) = (_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
        (_mm256_permute2f128_ps::<0x20>(l, h), _mm256_permute2f128_ps::<0x31>(l, h))
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn unzip(a: Self::V, b: Self::V) -> (Self::V, Self::V) {
        use std::arch::x86_64::*;
        // Per 128-bit half: (a0 a2 b0 b2 | a4 a6 b4 b6); then order the 64-bit pairs 0, 2, 1, 3.
        let fix = |v: __m256| _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)));
        (fix(_mm256_shuffle_ps::<0b10_00_10_00>(a, b)), fix(_mm256_shuffle_ps::<0b11_01_11_01>(a, b)))
    }
}
