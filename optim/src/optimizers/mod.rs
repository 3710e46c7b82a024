//! The optimizers, one file each, and the registry's list: adding one is a
//! file here, its `mod` line and its entry in [`REGISTRY`] (see
//! `docs/extending.md`).

pub mod adam;
pub mod entropy_sgd;
pub mod lion;
pub mod pal;
pub mod sam;
pub mod sgd;

pub use adam::{Adam, AdamConfig};
pub use entropy_sgd::{EntropySgd, EntropySgdConfig};
pub use lion::{Lion, LionConfig};
pub use pal::{Pal, PalConfig, PalMeasurement};
pub use sam::{Sam, SamConfig};
pub use sgd::{Sgd, SgdConfig};

use crate::registry::OptimizerSpec;

/// Every registered optimizer, in the order of help text.
pub static REGISTRY: &[&OptimizerSpec] = &[&sgd::SPEC, &adam::ADAM, &adam::ADAMW, &pal::SPEC, &entropy_sgd::SPEC, &sam::SPEC, &lion::SPEC];
