//! CPU kernels: plain functions over `f32` slices, no knowledge of tensors
//! or graphs. Each is deterministic whatever the thread count: work is split
//! over independent outputs, and reductions that span tasks use fixed-size
//! chunks combined in a fixed order.
//!
//! SIMD versions slot in behind these same functions (a later issue).

pub mod conv;
pub mod elementwise;
pub mod gemm;
pub mod layout;
pub mod pool;
pub mod reduce;

/// Below this many elements, kernels run on the calling thread: handing
/// work to rayon costs more than it saves.
pub const PARALLEL_MIN: usize = 1 << 15;
