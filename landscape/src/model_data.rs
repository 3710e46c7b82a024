//! A zoo model with the classification data it is evaluated on: the
//! configuration every landscape tool starts from (model, data set, split,
//! subset, batch size), validated into errors that name the field, and
//! loaded into models, checkpoint states and evaluation sets.

use crate::error::{at_least, LandscapeError, Result};
use datasets::{ClassificationData, ClassificationSet, DataSpec};
use nn::zoo::{self, InputKind, ModelConfig};
use nn::{checkpoint, Kind, Module, ModuleExt, Named};
use std::path::{Path, PathBuf};

/// Which split(s) of a data set are evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The training examples.
    Train,
    /// The test examples.
    Test,
    /// Both, training first (surfaces only).
    Both,
}

impl Split {
    /// `train`, `test` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
            Split::Both => "both",
        }
    }
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Split, String> {
        match s {
            "train" => Ok(Split::Train),
            "test" => Ok(Split::Test),
            "both" => Ok(Split::Both),
            _ => Err(format!("{s:?}: expected train, test or both")),
        }
    }
}

/// Model, data and evaluation settings shared by every landscape tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalConfig {
    /// Zoo model name (see `nn::zoo::catalog`).
    pub model: String,
    /// Data set spec (`mnist`, `cifar10:DIR`, `spirals`, …; see `datasets::DataSpec`).
    pub data: String,
    /// Which split(s).
    pub split: Split,
    /// Only the first `limit` examples of each split (all when `None`).
    pub limit: Option<usize>,
    /// Examples per forward pass.
    pub batch_size: usize,
}

impl EvalConfig {
    /// `model` on the first `limit` test examples of `data`, 500 at a time.
    pub fn new(model: &str, data: &str, limit: Option<usize>) -> EvalConfig {
        EvalConfig { model: model.into(), data: data.into(), split: Split::Test, limit, batch_size: 500 }
    }

    /// Checks the numbers; errors name the field.
    pub fn validate(&self) -> Result<()> {
        at_least("batch_size", self.batch_size, 1)?;
        self.limit.map_or(Ok(()), |n| at_least("limit", n, 1))
    }
}

/// The error for a model name the zoo does not know (it lists the valid names).
pub fn unknown_model(model: &str) -> LandscapeError {
    let e = nn::NnError::UnknownModel { name: model.into(), valid: zoo::catalog().iter().map(|m| m.name.to_string()).collect() };
    LandscapeError::config("model", e.to_string())
}

/// Parses and loads the data set `spec`, which must be a classification set,
/// and derives the model configuration from it: images `[c, s, s]` give
/// `in_channels = c`, `image_size = s`; vectors `[f]` give `in_channels = f`,
/// `image_size = 1` (what `mlp` needs). Errors name the field `data`.
pub fn load_classification(spec: &str) -> Result<(ClassificationData, ModelConfig)> {
    let parsed = DataSpec::parse(spec).map_err(|e| LandscapeError::config("data", e.to_string()))?;
    let data = parsed.load().map_err(|e| LandscapeError::config("data", format!("{parsed}: {e}")))?;
    let Some(c) = data.as_classification() else {
        return Err(LandscapeError::config(
            "data",
            format!("{parsed}: a text corpus; this needs a classification data set (mnist, cifar10:DIR, spirals, ...)"),
        ));
    };
    let base = ModelConfig { num_classes: c.num_classes(), ..ModelConfig::default() };
    let cfg = match (c.in_channels(), c.image_size(), c.example_shape()) {
        (Some(ch), Some(s), _) => ModelConfig { in_channels: ch, image_size: s, ..base },
        (_, _, &[f]) => ModelConfig { in_channels: f, image_size: 1, ..base },
        (_, _, shape) => {
            return Err(LandscapeError::config(
                "data",
                format!("{parsed}: examples of shape {shape:?}; zoo models need square images or feature vectors"),
            ))
        }
    };
    Ok((c.clone(), cfg))
}

/// Checks that zoo model `model` exists and can run on `data` (image models
/// need images; `mlp` takes anything; `char-lstm` needs text). Errors name
/// the field `model`.
pub fn check_model_fits(model: &str, data: &ClassificationData, data_spec: &str) -> Result<()> {
    match zoo::input_kind(model) {
        None => Err(unknown_model(model)),
        Some(InputKind::Tokens) => {
            Err(LandscapeError::config("model", format!("{model}: a language model; it cannot run on the classification data {data_spec}")))
        }
        Some(InputKind::Image) if model != "mlp" && data.image_size().is_none() => Err(LandscapeError::config(
            "model",
            format!("{model} needs square images, but the data {data_spec} has examples of shape {:?} (use mlp)", data.example_shape()),
        )),
        Some(InputKind::Image) => Ok(()),
    }
}

/// A model with its evaluation sets, ready to evaluate points.
pub struct ModelData {
    /// The configuration it was loaded from.
    pub config: EvalConfig,
    /// The zoo configuration derived from the data.
    pub model_config: ModelConfig,
    /// Evaluation sets by name (`train`, `test`), in metric order.
    pub sets: Vec<(String, ClassificationSet)>,
}

impl ModelData {
    /// Validates `config`, loads the data and checks the model fits it.
    pub fn load(config: &EvalConfig) -> Result<ModelData> {
        config.validate()?;
        let (data, model_config) = load_classification(&config.data)?;
        check_model_fits(&config.model, &data, &config.data)?;
        let limit = |s: &ClassificationSet| match config.limit {
            Some(n) => s.first(n),
            None => s.clone(),
        };
        let sets = match config.split {
            Split::Train => vec![("train".to_string(), limit(&data.train))],
            Split::Test => vec![("test".to_string(), limit(&data.test))],
            Split::Both => vec![("train".to_string(), limit(&data.train)), ("test".to_string(), limit(&data.test))],
        };
        if let Some((name, _)) = sets.iter().find(|(_, s)| s.is_empty()) {
            return Err(LandscapeError::config("data", format!("{}: the {name} split is empty", config.data)));
        }
        zoo::build(&config.model, &model_config, 0).map_err(|e| LandscapeError::config("model", e.to_string()))?;
        Ok(ModelData { config: config.clone(), model_config, sets })
    }

    /// A fresh model (its weights are overwritten before use).
    pub fn build(&self) -> Box<dyn Module> {
        zoo::build(&self.config.model, &self.model_config, 0).expect("checked in ModelData::load")
    }

    /// The state of the model loaded from the checkpoint `path`; errors name
    /// `field` (the request field holding the path) and the first mismatched
    /// parameter.
    pub fn load_state(&self, path: &Path, field: &'static str) -> Result<Vec<Named>> {
        let mut m = self.build();
        checkpoint::load(&mut *m, path).map_err(|e| LandscapeError::config(field, e.to_string()))?;
        Ok(m.state())
    }
}

/// A checkpoint and a fixed subset of one split: what a Hessian, a
/// sharpness metric or a plain evaluation is computed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Model, data, split (train or test), subset and batch size.
    pub eval: EvalConfig,
    /// The checkpoint (safetensors with the model's PyTorch names).
    pub weights: PathBuf,
}

/// A model loaded from a checkpoint (in eval mode), with its subset.
pub struct Probe {
    /// The model at the checkpoint.
    pub model: Box<dyn Module>,
    /// The checkpoint's state.
    pub state: Vec<Named>,
    /// The subset.
    pub set: ClassificationSet,
    /// The configuration.
    pub config: ProbeConfig,
}

impl Probe {
    /// Validates and loads. Errors name the field (`weights`, `data`, …).
    pub fn load(config: &ProbeConfig) -> Result<Probe> {
        let e = &config.eval;
        e.validate()?;
        if e.split == Split::Both {
            return Err(LandscapeError::config("split", "both: this needs one split, train or test"));
        }
        if zoo::input_kind(&e.model).is_none() {
            return Err(unknown_model(&e.model));
        }
        if !config.weights.is_file() {
            return Err(LandscapeError::config("weights", format!("{}: no such file", config.weights.display())));
        }
        let mut data = ModelData::load(e)?;
        let mut model = data.build();
        checkpoint::load(&mut *model, &config.weights).map_err(|err| LandscapeError::config("weights", err.to_string()))?;
        model.set_training(false);
        let state = model.state();
        let (_, set) = data.sets.remove(0);
        Ok(Probe { model, state, set, config: config.clone() })
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> usize {
        self.state.iter().filter(|n| n.kind == Kind::Parameter).map(|n| n.tensor.numel()).sum()
    }

    /// What reports record about the probe: model, weights and their
    /// fingerprint, data, split, subset, batch size and parameter count.
    pub fn describe(&self) -> serde_json::Value {
        let e = &self.config.eval;
        serde_json::json!({
            "model": e.model, "weights": self.config.weights.display().to_string(),
            "weights_fingerprint": crate::fingerprint::state_fingerprint(&self.state),
            "data": e.data, "split": e.split.as_str(), "limit": e.limit, "examples": self.set.len(), "batch_size": e.batch_size,
            "parameters": self.parameters(),
        })
    }

    /// Loss and accuracy of the checkpoint on the subset.
    pub fn evaluate(&mut self) -> nn::eval::EvalResult {
        nn::eval::evaluate(&mut *self.model, &self.set, self.config.eval.batch_size)
    }
}
