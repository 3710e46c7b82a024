//! The subcommands of `llv`, one file each: each parses its flags into a
//! typed library request, calls one library function and prints. What they
//! share: the flags of model, data and evaluation ([`args`]), the one-line
//! error ([`error`]), progress bars ([`progress`]) and printing ([`output`]).

pub mod args;
pub mod bench;
pub mod data;
pub mod demo;
pub mod error;
pub mod eval;
pub mod hessian;
pub mod info;
pub mod interpolate;
pub mod merge;
pub mod models;
pub mod output;
pub mod plot;
pub mod progress;
pub mod sharpness;
pub mod surface;
pub mod train;
pub mod trajectory;
pub mod view;

pub use error::CliError;
pub use output::{out_dir, print, thousands, write_atomic};

use datasets::ClassificationData;
use nn::zoo::ModelConfig;

/// Loads `--data SPEC` as a classification set and the model configuration
/// it implies ([`landscape::model_data::load_classification`]).
pub fn load_classification(spec: &str) -> Result<(ClassificationData, ModelConfig), CliError> {
    Ok(landscape::model_data::load_classification(spec)?)
}

/// The `--model` error for a name the zoo does not know (it lists the valid names).
pub fn unknown_model(model: &str) -> CliError {
    landscape::model_data::unknown_model(model).into()
}

/// Checks that zoo model `model` exists and can run on `data`
/// ([`landscape::model_data::check_model_fits`]).
pub fn check_model_fits(model: &str, data: &ClassificationData, data_spec: &str) -> Result<(), CliError> {
    Ok(landscape::model_data::check_model_fits(model, data, data_spec)?)
}
