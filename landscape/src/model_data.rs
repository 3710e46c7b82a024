//! A zoo model with the data it is evaluated on: the configuration every
//! landscape tool starts from (model, data set, split, subset, batch size,
//! window length), validated into errors that name the field, and loaded
//! into models, checkpoint states and evaluation sets.
//!
//! A classification data set gives labelled examples; a text corpus
//! (`shakespeare`, `text:FILE`) with `char-lstm` gives fixed windows of
//! `seq_len` characters ([`datasets::LmWindows`]): `test` is the held-out
//! text, `train` the training text, and the limit counts windows.

use crate::error::{at_least, LandscapeError, Result};
use crate::examples::Examples;
use datasets::{ClassificationData, DataSpec, LmWindows, TextData, TextSplit};
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
    /// Examples (or windows) per forward pass.
    pub batch_size: usize,
    /// Characters per window of a text corpus (unused for classification data).
    pub seq_len: usize,
}

impl EvalConfig {
    /// `model` on the first `limit` test examples of `data`, 500 at a time
    /// (windows of 64 characters for a text corpus).
    pub fn new(model: &str, data: &str, limit: Option<usize>) -> EvalConfig {
        EvalConfig { model: model.into(), data: data.into(), split: Split::Test, limit, batch_size: 500, seq_len: 64 }
    }

    /// Checks the numbers; errors name the field.
    pub fn validate(&self) -> Result<()> {
        at_least("batch_size", self.batch_size, 1)?;
        at_least("seq_len", self.seq_len, 1)?;
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
    pub sets: Vec<(String, Examples)>,
}

/// The splits `split` names, in metric order.
fn split_names(split: Split) -> Vec<Split> {
    match split {
        Split::Both => vec![Split::Train, Split::Test],
        s => vec![s],
    }
}

/// Loads the text corpus `spec` for the language model `model` (errors name
/// `model` for an image model, `data` for anything else); the model
/// configuration's vocabulary is the corpus's, as `llv train` builds it.
fn load_text(model: &str, spec: &DataSpec, data_spec: &str) -> Result<(TextData, ModelConfig)> {
    match zoo::input_kind(model) {
        None => return Err(unknown_model(model)),
        Some(InputKind::Image) => {
            return Err(LandscapeError::config(
                "model",
                format!("{model}: an image model; it cannot run on the text corpus {data_spec} (use --model char-lstm)"),
            ))
        }
        Some(InputKind::Tokens) => {}
    }
    let data = spec.load().map_err(|e| LandscapeError::config("data", format!("{spec}: {e}")))?;
    let text = data.as_text().expect("a text spec loads text").clone();
    let cfg = ModelConfig { vocab: text.vocab.len(), ..ModelConfig::default() };
    Ok((text, cfg))
}

impl ModelData {
    /// Validates `config`, loads the data and checks the model fits it.
    pub fn load(config: &EvalConfig) -> Result<ModelData> {
        config.validate()?;
        let parsed = DataSpec::parse(&config.data).map_err(|e| LandscapeError::config("data", e.to_string()))?;
        let (sets, model_config) = if parsed.is_text() {
            let (text, model_config) = load_text(&config.model, &parsed, &config.data)?;
            let mut sets = Vec::new();
            for s in split_names(config.split) {
                let split = if s == Split::Train { TextSplit::Train } else { TextSplit::Valid };
                let w = LmWindows::from_text(&text, split, config.seq_len, config.limit)
                    .map_err(|e| LandscapeError::config("data", format!("{e} (windows of seq_len {})", config.seq_len)))?;
                sets.push((s.as_str().to_string(), Examples::Windows(w)));
            }
            (sets, model_config)
        } else {
            let (data, model_config) = load_classification(&config.data)?;
            check_model_fits(&config.model, &data, &config.data)?;
            let limit = |s: &datasets::ClassificationSet| match config.limit {
                Some(n) => Examples::Classes(s.first(n)),
                None => Examples::Classes(s.clone()),
            };
            let sets = split_names(config.split)
                .into_iter()
                .map(|s| (s.as_str().to_string(), limit(if s == Split::Train { &data.train } else { &data.test })))
                .collect();
            (sets, model_config)
        };
        if let Some((name, _)) = sets.iter().find(|(_, s)| s.is_empty()) {
            return Err(LandscapeError::config("data", format!("{}: the {name} split is empty", config.data)));
        }
        zoo::build(&config.model, &model_config, 0).map_err(|e| LandscapeError::config("model", e.to_string()))?;
        Ok(ModelData { config: config.clone(), model_config, sets })
    }

    /// Whether the sets are language-model windows.
    pub fn is_language(&self) -> bool {
        matches!(self.sets.first(), Some((_, Examples::Windows(_))))
    }

    /// The evaluator of the sets (loss per character for a language model).
    pub fn evaluator(&self) -> Box<dyn crate::Evaluator + '_> {
        crate::evaluator::for_data(self)
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
    /// The subset (examples, or windows of a text split).
    pub set: Examples,
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
        let mut v = serde_json::json!({
            "model": e.model, "weights": self.config.weights.display().to_string(),
            "weights_fingerprint": crate::fingerprint::state_fingerprint(&self.state),
            "data": e.data, "split": e.split.as_str(), "limit": e.limit, "examples": self.set.len(), "batch_size": e.batch_size,
            "parameters": self.parameters(),
        });
        if let Examples::Windows(w) = &self.set {
            v["seq_len"] = w.seq_len.into();
            v["tokens"] = w.tokens().into();
        }
        v
    }

    /// Loss and accuracy of the checkpoint on the subset.
    pub fn evaluate(&mut self) -> ProbeEval {
        let b = self.config.eval.batch_size;
        match &self.set {
            Examples::Classes(s) => ProbeEval::Classifier(nn::eval::evaluate(&mut *self.model, s, b)),
            Examples::Windows(w) => ProbeEval::Language(nn::evaluate_lm(&mut *self.model, w, b)),
        }
    }
}

/// A probe's evaluation: a classifier's, or a language model's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ProbeEval {
    /// Mean cross-entropy per example and accuracy.
    Classifier(nn::EvalResult),
    /// Mean cross-entropy per character, accuracy, perplexity, windows, tokens.
    Language(nn::LmEvalResult),
}

impl ProbeEval {
    /// The mean loss (per example, or nats per character).
    pub fn loss(&self) -> f64 {
        match self {
            ProbeEval::Classifier(r) => r.loss,
            ProbeEval::Language(r) => r.loss,
        }
    }
}
