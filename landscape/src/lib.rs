//! # landscape: directions, surfaces, trajectories, Hessian tools, figures
//!
//! Parameter-space directions (filter-normalized, PCA), 1-D / 2-D surfaces
//! with resumable result files, Hessian spectra and sharpness metrics, the
//! PNG renderer — and the runs the `llv` commands make of them, as typed
//! requests: [`slice::run`] (surface), [`interpolation::run`],
//! [`trajectory_run::run`], [`spectrum::run`] (hessian),
//! [`sharpness_report::run`] (sharpness), [`figures::draw`] (plot) and
//! [`results::merge`].
//!
//! A 2-D surface around a checkpoint, as `llv surface --model lenet
//! --weights final.safetensors --x -1:1:41 --y -1:1:41 --limit 1000 --out surf`
//! computes it:
//!
//! ```no_run
//! use landscape::slice::{self, SurfaceOutcome, SurfaceRequest};
//! use landscape::{EvalConfig, Quiet};
//!
//! let mut req = SurfaceRequest::new(EvalConfig::new("lenet", "mnist", Some(1000)), "final.safetensors".into(), "surf".into());
//! req.x = "-1:1:41".parse()?;
//! req.y = Some("-1:1:41".parse()?);
//! if let SurfaceOutcome::Surface { results, .. } = slice::run(&req, &Quiet)? {
//!     let (surface, _) = landscape::Results::read(&results, false)?;
//!     println!("test loss at the center: {:?}", surface.grid("test_loss")?.z[20 * 41 + 20]);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
pub mod compare;
pub mod curvature;
pub mod direction;
pub mod directions_file;
pub mod error;
pub mod evaluator;
pub mod examples;
pub mod export;
pub mod figures;
pub mod fingerprint;
pub mod grid_order;
pub mod hessian;
pub mod interpolation;
pub mod linalg;
pub mod live_figures;
pub mod model_data;
pub mod out_dir;
pub mod plan;
pub mod progress;
pub mod render;
pub mod repeats;
pub mod results;
pub mod run;
pub mod sharpness;
pub mod sharpness_report;
pub mod slice;
pub mod spectrum;
pub mod surface;
pub mod trajectory;
pub mod trajectory_run;
pub mod view;

pub use direction::{DirType, Direction, DirectionOptions, Ignore, Norm};
pub use directions_file::DirectionsFile;
pub use error::{LandscapeError, Result};
pub use evaluator::{ClassifierEvaluator, EvalSet, Evaluator, LmEvaluator};
pub use examples::Examples;
pub use grid_order::{GridOrder, PointOrder};
pub use model_data::{EvalConfig, ModelData, Split};
pub use plan::Plan;
pub use progress::{Progress, Quiet};
pub use results::{merge, Results, ResultsWriter};
pub use surface::{compute, compute_with, Range, Schedule, Shard, SurfaceJob, POINT_PARALLEL_MAX_FLOPS};
pub use trajectory::{pca_plane, random_walk_baseline, PcaPlane};
