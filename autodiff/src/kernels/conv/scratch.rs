//! The convolutions' per-thread scratch buffers (see
//! [`crate::kernels::scratch`]).

use std::cell::Cell;

thread_local! {
    /// Per-thread im2col buffer, reused across calls.
    pub(super) static COL: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

thread_local! {
    /// Per-thread buffer for panels packed by [`pack_im2col`] and for the
    /// zero-padded images of the direct paths.
    pub(super) static PACK_COL: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Per-thread buffer for the phase-split images of [`forward_im2col`].
    pub(super) static SPLIT: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

thread_local! {
    /// Per-thread output block of [`forward_direct`] (padded-width rows).
    pub(super) static OUT_BLOCK: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}
