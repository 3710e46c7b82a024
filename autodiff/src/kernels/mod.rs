//! CPU kernels: plain functions over `f32` slices, no knowledge of tensors
//! or graphs. Each is deterministic whatever the thread count: work is split
//! over independent outputs, and reductions that span tasks use fixed-size
//! chunks combined in a fixed order.
//!
//! SIMD lives behind these same functions: `#[target_feature]` copies chosen
//! at run time (`is_x86_feature_detected!`), with a portable path that tests
//! run too.

pub mod conv;
pub mod elementwise;
pub mod gemm;
mod lanes;
pub mod layout;
pub mod math;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod rnn;
mod scratch;
pub mod winograd;

/// Initialized values viewed as possibly uninitialized ones, for kernels
/// that write into either kind of buffer.
///
/// # Safety
/// Only initialized `f32` values may be written through the view.
pub(crate) unsafe fn as_uninit(v: &mut [f32]) -> &mut [std::mem::MaybeUninit<f32>] {
    // SAFETY: same layout; the caller writes initialized values only.
    unsafe { &mut *(v as *mut [f32] as *mut [std::mem::MaybeUninit<f32>]) }
}

/// Below this many elements, kernels run on the calling thread: handing
/// work to rayon costs more than it saves.
pub const PARALLEL_MIN: usize = 1 << 15;

/// A tiny deterministic generator (xorshift) for kernel tests: values in [-1, 1).
#[cfg(test)]
pub(crate) struct TestRng(u64);

#[cfg(test)]
impl TestRng {
    /// A generator from `seed` (any value).
    pub(crate) fn new(seed: u64) -> Self {
        TestRng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// The next value.
    pub(crate) fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    /// `len` values.
    pub(crate) fn vec(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.next()).collect()
    }
}
