//! Data specs for the command line (`--data SPEC`), loading them, and a
//! printable description.
//!
//! | spec | meaning |
//! | --- | --- |
//! | `mnist` | the embedded 10k MNIST subset (8,000 train / 2,000 test) |
//! | `mnist:DIR` | MNIST from the four standard IDX files in DIR (raw or `.gz`) |
//! | `fashion-mnist:DIR` | Fashion-MNIST, same file names |
//! | `cifar10:DIR` | CIFAR-10 binary batches in DIR or DIR/cifar-10-batches-bin |
//! | `shakespeare[:val=F]` | the embedded plays, last F held out (default 0.1) |
//! | `text:FILE` | any text file as a byte-level corpus, last 10% held out |
//! | `spirals[:k=v,...]` | keys `n` (2000), `noise` (0.1), `turns` (1.5), `test` (0.2), `seed` (0) |
//! | `blobs[:k=v,...]` | keys `n` (2000), `classes`/`k` (3), `dim`/`d` (2), `std` (1.0), `spread` (5.0), `test` (0.2), `seed` (0) |
//!
//! DIR and FILE are taken verbatim (they may contain `:` or `,`).
//! `cifar-10` is accepted for `cifar10`.

use crate::dataset::ClassificationData;
use crate::error::{DataError, Result};
use crate::idx::load_mnist_dir;
use crate::synthetic::{blobs, spirals, BlobsParams, SpiralsParams};
use crate::text::{TextData, DEFAULT_VAL_FRACTION};
use crate::{cifar, embedded, Normalization};
use std::fmt;
use std::path::PathBuf;

/// A parsed data spec. Parse with [`DataSpec::parse`], load with
/// [`DataSpec::load`]; `Display` prints the canonical spec string.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSpec {
    /// MNIST: embedded (`None`) or from a directory.
    Mnist {
        /// Directory of the four IDX files, or `None` for the embedded subset.
        dir: Option<PathBuf>,
    },
    /// Fashion-MNIST from a directory.
    FashionMnist {
        /// Directory of the four IDX files.
        dir: PathBuf,
    },
    /// CIFAR-10 from a directory.
    Cifar10 {
        /// Directory holding the batches (or their `cifar-10-batches-bin/`).
        dir: PathBuf,
    },
    /// The embedded Shakespeare corpus.
    Shakespeare {
        /// Fraction held out for validation.
        val_fraction: f64,
    },
    /// A text file.
    Text {
        /// The file.
        path: PathBuf,
        /// Fraction held out for validation.
        val_fraction: f64,
    },
    /// Two spirals.
    Spirals(SpiralsParams),
    /// Gaussian blobs.
    Blobs(BlobsParams),
}

fn parse_params(spec: &str, params: &str, keys: &[&str]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for item in params.split(',') {
        let Some((k, v)) = item.split_once('=') else {
            return Err(DataError::BadSpec { spec: spec.into(), detail: format!("parameter {item:?} is not KEY=VALUE") });
        };
        let k = k.trim();
        if !keys.contains(&k) {
            return Err(DataError::BadSpec {
                spec: spec.into(),
                detail: format!("unknown parameter {k:?} (accepted: {})", keys.join(", ")),
            });
        }
        out.push((k.to_string(), v.trim().to_string()));
    }
    Ok(out)
}

fn num<T: std::str::FromStr>(spec: &str, key: &str, v: &str) -> Result<T> {
    v.parse().map_err(|_| DataError::BadSpec { spec: spec.into(), detail: format!("{key}={v:?} is not a valid number") })
}

fn fraction(spec: &str, key: &str, v: &str) -> Result<f64> {
    let f: f64 = num(spec, key, v)?;
    if !(0.0..1.0).contains(&f) {
        return Err(DataError::BadSpec { spec: spec.into(), detail: format!("{key}={f} must be in [0, 1)") });
    }
    Ok(f)
}

impl DataSpec {
    /// Parse a spec string (see the module docs for the grammar).
    pub fn parse(s: &str) -> Result<DataSpec> {
        let spec = s.trim();
        let (kind, rest) = match spec.split_once(':') {
            Some((k, r)) => (k, Some(r)),
            None => (spec, None),
        };
        let need_path = |what: &str| -> Result<PathBuf> {
            match rest {
                Some(r) if !r.is_empty() => Ok(PathBuf::from(r)),
                _ => Err(DataError::BadSpec { spec: spec.into(), detail: format!("needs a {what}: {kind}:{}", what.to_uppercase()) }),
            }
        };
        let params = |keys: &[&str]| -> Result<Vec<(String, String)>> {
            match rest {
                None => Ok(Vec::new()),
                Some("") => Ok(Vec::new()),
                Some(r) => parse_params(spec, r, keys),
            }
        };
        match kind.to_ascii_lowercase().as_str() {
            "mnist" => Ok(DataSpec::Mnist {
                dir: match rest {
                    None => None,
                    Some(_) => Some(need_path("dir")?),
                },
            }),
            "fashion-mnist" | "fashion_mnist" | "fashionmnist" => Ok(DataSpec::FashionMnist { dir: need_path("dir")? }),
            "cifar10" | "cifar-10" => Ok(DataSpec::Cifar10 { dir: need_path("dir")? }),
            "shakespeare" => {
                let mut val_fraction = DEFAULT_VAL_FRACTION;
                for (k, v) in params(&["val"])? {
                    if k == "val" {
                        val_fraction = fraction(spec, &k, &v)?;
                    }
                }
                Ok(DataSpec::Shakespeare { val_fraction })
            }
            "text" => Ok(DataSpec::Text { path: need_path("file")?, val_fraction: DEFAULT_VAL_FRACTION }),
            "spirals" => {
                let mut p = SpiralsParams::default();
                for (k, v) in params(&["n", "noise", "turns", "test", "seed"])? {
                    match k.as_str() {
                        "n" => p.n = num(spec, &k, &v)?,
                        "noise" => p.noise = num(spec, &k, &v)?,
                        "turns" => p.turns = num(spec, &k, &v)?,
                        "test" => p.test = fraction(spec, &k, &v)?,
                        _ => p.seed = num(spec, &k, &v)?,
                    }
                }
                if p.n < 2 || !(p.noise >= 0.0 && p.noise.is_finite()) || !p.turns.is_finite() {
                    return Err(DataError::BadSpec { spec: spec.into(), detail: "needs n >= 2, noise >= 0 and finite turns".into() });
                }
                Ok(DataSpec::Spirals(p))
            }
            "blobs" => {
                let mut p = BlobsParams::default();
                let keys = ["n", "classes", "k", "dim", "d", "std", "spread", "test", "seed"];
                for (k, v) in params(&keys)? {
                    match k.as_str() {
                        "n" => p.n = num(spec, &k, &v)?,
                        "classes" | "k" => p.classes = num(spec, &k, &v)?,
                        "dim" | "d" => p.dim = num(spec, &k, &v)?,
                        "std" => p.std = num(spec, &k, &v)?,
                        "spread" => p.spread = num(spec, &k, &v)?,
                        "test" => p.test = fraction(spec, &k, &v)?,
                        _ => p.seed = num(spec, &k, &v)?,
                    }
                }
                if p.n < 2
                    || p.classes == 0
                    || p.dim == 0
                    || !(p.std >= 0.0 && p.std.is_finite())
                    || !(p.spread >= 0.0 && p.spread.is_finite())
                {
                    return Err(DataError::BadSpec {
                        spec: spec.into(),
                        detail: "needs n >= 2, classes >= 1, dim >= 1, std >= 0 and spread >= 0".into(),
                    });
                }
                Ok(DataSpec::Blobs(p))
            }
            _ => Err(DataError::UnknownSpec { spec: spec.into() }),
        }
    }

    /// True for the language-model corpora (`shakespeare`, `text:`).
    pub fn is_text(&self) -> bool {
        matches!(self, DataSpec::Shakespeare { .. } | DataSpec::Text { .. })
    }

    /// Load the data this spec names.
    pub fn load(&self) -> Result<Data> {
        load(self)
    }
}

impl std::str::FromStr for DataSpec {
    type Err = DataError;

    fn from_str(s: &str) -> Result<DataSpec> {
        DataSpec::parse(s)
    }
}

impl fmt::Display for DataSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSpec::Mnist { dir: None } => write!(f, "mnist"),
            DataSpec::Mnist { dir: Some(d) } => write!(f, "mnist:{}", d.display()),
            DataSpec::FashionMnist { dir } => write!(f, "fashion-mnist:{}", dir.display()),
            DataSpec::Cifar10 { dir } => write!(f, "cifar10:{}", dir.display()),
            DataSpec::Shakespeare { val_fraction } => write!(f, "shakespeare:val={val_fraction}"),
            DataSpec::Text { path, .. } => write!(f, "text:{}", path.display()),
            DataSpec::Spirals(p) => write!(f, "spirals:n={},noise={},turns={},test={},seed={}", p.n, p.noise, p.turns, p.test, p.seed),
            DataSpec::Blobs(p) => write!(
                f,
                "blobs:n={},classes={},dim={},std={},spread={},test={},seed={}",
                p.n, p.classes, p.dim, p.std, p.spread, p.test, p.seed
            ),
        }
    }
}

/// Loaded data: a classification set pair or a text corpus.
// A `Data` is made once per run; boxing its variants would only add an indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Data {
    /// Images or feature vectors with class labels.
    Classification(ClassificationData),
    /// A tokenized corpus for language modelling.
    Text(TextData),
}

impl Data {
    /// The classification data, if this is one.
    pub fn as_classification(&self) -> Option<&ClassificationData> {
        match self {
            Data::Classification(c) => Some(c),
            Data::Text(_) => None,
        }
    }

    /// The text corpus, if this is one.
    pub fn as_text(&self) -> Option<&TextData> {
        match self {
            Data::Text(t) => Some(t),
            Data::Classification(_) => None,
        }
    }

    /// A summary for `llv data SPEC`.
    pub fn describe(&self) -> DataDescription {
        match self {
            Data::Classification(c) => DataDescription {
                name: c.name.clone(),
                source: c.source.clone(),
                task: Task::Classification,
                train_size: c.train.len(),
                test_size: c.test.len(),
                example_shape: c.example_shape().to_vec(),
                num_classes: c.num_classes(),
                in_channels: c.in_channels(),
                image_size: c.image_size(),
                normalization: c
                    .train
                    .normalization()
                    .map(Normalization::describe)
                    .unwrap_or_else(|| "none (features used as generated)".into()),
                train_class_counts: c.train.class_counts(),
                test_class_counts: c.test.class_counts(),
            },
            Data::Text(t) => DataDescription {
                name: t.name.clone(),
                source: t.source.clone(),
                task: Task::LanguageModel,
                train_size: t.train.len(),
                test_size: t.valid.len(),
                example_shape: Vec::new(),
                num_classes: t.vocab.len(),
                in_channels: None,
                image_size: None,
                normalization: "none (byte tokens)".into(),
                train_class_counts: Vec::new(),
                test_class_counts: Vec::new(),
            },
        }
    }
}

/// Load the data a spec names: train and test (or validation) parts.
pub fn load(spec: &DataSpec) -> Result<Data> {
    Ok(match spec {
        DataSpec::Mnist { dir: None } => Data::Classification(embedded::mnist()?),
        DataSpec::Mnist { dir: Some(d) } => Data::Classification(load_mnist_dir(d, "mnist", Normalization::mnist())?),
        DataSpec::FashionMnist { dir } => Data::Classification(load_mnist_dir(dir, "fashion-mnist", Normalization::fashion_mnist())?),
        DataSpec::Cifar10 { dir } => Data::Classification(cifar::load_cifar10(dir)?),
        DataSpec::Shakespeare { val_fraction } => Data::Text(embedded::shakespeare(*val_fraction)?),
        DataSpec::Text { path, val_fraction } => Data::Text(TextData::from_file(path, *val_fraction)?),
        DataSpec::Spirals(p) => Data::Classification(spirals(p)?),
        DataSpec::Blobs(p) => Data::Classification(blobs(p)?),
    })
}

/// What kind of learning problem a data set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Inputs with class labels.
    Classification,
    /// Next-token prediction over a byte stream.
    LanguageModel,
}

/// A printable summary of loaded data (sizes, shapes, classes,
/// normalization), for `llv data SPEC`.
#[derive(Debug, Clone, PartialEq)]
pub struct DataDescription {
    /// Short name.
    pub name: String,
    /// Where it came from.
    pub source: String,
    /// Classification or language model.
    pub task: Task,
    /// Training examples (tokens for text).
    pub train_size: usize,
    /// Test examples (validation tokens for text).
    pub test_size: usize,
    /// Shape of one input (`[c, h, w]`, `[features]`; empty for text).
    pub example_shape: Vec<usize>,
    /// Number of classes (vocabulary size for text).
    pub num_classes: usize,
    /// Input channels of image sets.
    pub in_channels: Option<usize>,
    /// Side of square image sets.
    pub image_size: Option<usize>,
    /// The normalization, in words.
    pub normalization: String,
    /// Training examples per class (empty for text).
    pub train_class_counts: Vec<usize>,
    /// Test examples per class (empty for text).
    pub test_class_counts: Vec<usize>,
}

impl fmt::Display for DataDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "data:          {}", self.name)?;
        writeln!(f, "source:        {}", self.source)?;
        match self.task {
            Task::Classification => {
                writeln!(f, "task:          classification")?;
                writeln!(f, "train:         {} examples", self.train_size)?;
                writeln!(f, "test:          {} examples", self.test_size)?;
                writeln!(f, "input shape:   {:?}", self.example_shape)?;
                if let Some(c) = self.in_channels {
                    writeln!(f, "channels:      {c}")?;
                }
                if let Some(s) = self.image_size {
                    writeln!(f, "image size:    {s}x{s}")?;
                }
                writeln!(f, "classes:       {}", self.num_classes)?;
                writeln!(f, "train/class:   {:?}", self.train_class_counts)?;
                writeln!(f, "test/class:    {:?}", self.test_class_counts)?;
            }
            Task::LanguageModel => {
                writeln!(f, "task:          language model (byte tokens)")?;
                writeln!(f, "train:         {} tokens", self.train_size)?;
                writeln!(f, "validation:    {} tokens", self.test_size)?;
                writeln!(f, "vocabulary:    {}", self.num_classes)?;
            }
        }
        write!(f, "normalization: {}", self.normalization)
    }
}
