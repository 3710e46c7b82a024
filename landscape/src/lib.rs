//! # landscape: directions, surfaces, trajectories, Hessian tools, figures
//!
//! Filled by the "Landscape" and "Hessian" issues: parameter-space directions
//! (filter-normalized, PCA), 1-D / 2-D surfaces with resumable result files,
//! Hessian spectra and sharpness metrics, and the PNG renderer.
pub mod direction;
pub mod error;
pub mod export;
pub mod grid_order;
pub mod hessian;
pub mod linalg;
pub mod render;
pub mod results;
pub mod sharpness;
pub mod surface;
pub mod trajectory;
pub mod view;

pub use direction::{DirType, Direction, DirectionOptions, Ignore, Norm};
pub use error::{LandscapeError, Result};
pub use results::{merge, Results, ResultsWriter};
pub use surface::{compute, compute_with, EvalSet, Range, Schedule, Shard, SurfaceJob, POINT_PARALLEL_MAX_FLOPS};
pub use trajectory::{pca_plane, random_walk_baseline, PcaPlane};
