//! The GEMM's per-thread packing buffers (see [`crate::kernels::scratch`]).
//! Packing overwrites every element it later reads, so stale contents are
//! harmless.

use std::cell::Cell;

thread_local! {
    /// A tile's own rows of `op(A)` (products whose packed `op(A)` is too big to share).
    pub(super) static PACK_A: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// One block of `NC` columns of `op(B)`.
    pub(super) static PACK_B: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// `op(A)` packed whole, shared by all tiles.
    pub(super) static PACK_A_SHARED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// A short product's tile of `op(B)`, one slice.
    pub(super) static PACK_B_TILE: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}
