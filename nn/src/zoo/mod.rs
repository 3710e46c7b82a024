//! The model zoo: the networks of `reference/zoo.py`, with the same module
//! structure, `state_dict` names and order, and PyTorch's default
//! initialization drawn from one seeded stream per build.
//!
//! ```
//! use nn::zoo::{build, ModelConfig};
//! use nn::ModuleExt;
//! let mut m = build("resnet20", &ModelConfig::mnist(), 0).unwrap();
//! assert_eq!(m.num_parameters(), 272_186);
//! assert_eq!(m.state()[0].name, "conv1.weight");
//! assert!(build("resnet21", &ModelConfig::mnist(), 0).is_err());
//! ```

pub mod char_lstm;
pub mod lenet;
pub mod mlp;
pub mod resnet;
pub mod vgg;

pub use char_lstm::CharLstm;
pub use lenet::LeNet;
pub use mlp::Mlp;
pub use resnet::{BasicBlock, Projection, ResNet};
pub use vgg::Vgg9;

use crate::{Module, NnError};
use rand::{rngs::StdRng, SeedableRng};

/// What a model is built for. Image models use `in_channels`,
/// `image_size` (square inputs) and `num_classes`; `mlp` takes
/// `in_channels·image_size²` input features (so a vector data set of `f`
/// features is `in_channels = f`, `image_size = 1`); `char-lstm` uses
/// `vocab` only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelConfig {
    /// Input channels (1 for MNIST, 3 for CIFAR-10).
    pub in_channels: usize,
    /// Side of the square input images.
    pub image_size: usize,
    /// Number of classes (outputs).
    pub num_classes: usize,
    /// Vocabulary size of token models.
    pub vocab: usize,
}

impl ModelConfig {
    /// MNIST-shaped input: 1 channel, 28×28, 10 classes (vocab 76).
    pub fn mnist() -> ModelConfig {
        ModelConfig { in_channels: 1, image_size: 28, num_classes: 10, vocab: 76 }
    }

    /// CIFAR-10-shaped input: 3 channels, 32×32, 10 classes (vocab 76).
    pub fn cifar10() -> ModelConfig {
        ModelConfig { in_channels: 3, image_size: 32, num_classes: 10, vocab: 76 }
    }
}

impl Default for ModelConfig {
    /// [`ModelConfig::mnist`].
    fn default() -> Self {
        ModelConfig::mnist()
    }
}

/// What kind of input a zoo model takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// `[n, c, h, w]` images (or, for `mlp`, any `[n, ...]` flattened).
    Image,
    /// Token ids `[batch, seq]`.
    Tokens,
}

/// One entry of the zoo's catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    /// The name `build` accepts.
    pub name: &'static str,
    /// One line about it.
    pub description: &'static str,
    /// What it takes as input.
    pub input: InputKind,
}

const fn info(name: &'static str, description: &'static str, input: InputKind) -> ModelInfo {
    ModelInfo { name, description, input }
}

/// The named models (any `resnet<6n+2>` and `resnet<6n+2>-noshort` with
/// 8 ≤ depth ≤ 1202 is also accepted by [`build`]).
pub fn catalog() -> Vec<ModelInfo> {
    use InputKind::{Image, Tokens};
    vec![
        info("mlp", "perceptron inputs-512-512-classes, ReLU (input flattened; 784 inputs for MNIST)", Image),
        info("lenet", "LeNet-5: conv 6@5x5, pool, conv 16@5x5, pool, fc 120-84-classes (image >= 12)", Image),
        info("resnet20", "CIFAR ResNet-20 (3x3 blocks of 16/32/64 channels), projection shortcuts", Image),
        info("resnet32", "CIFAR ResNet-32, projection shortcuts", Image),
        info("resnet44", "CIFAR ResNet-44, projection shortcuts", Image),
        info("resnet56", "CIFAR ResNet-56, projection shortcuts", Image),
        info("resnet110", "CIFAR ResNet-110, projection shortcuts", Image),
        info("resnet20-noshort", "ResNet-20 without shortcut connections", Image),
        info("resnet32-noshort", "ResNet-32 without shortcut connections", Image),
        info("resnet44-noshort", "ResNet-44 without shortcut connections", Image),
        info("resnet56-noshort", "ResNet-56 without shortcut connections", Image),
        info("resnet110-noshort", "ResNet-110 without shortcut connections", Image),
        info("vgg9", "VGG-9 (Li et al.): 7 conv3x3+BN+ReLU, 3 max pools, fc 256 + BN, classifier", Image),
        info("char-lstm", "character LSTM: embedding 64, 2-layer LSTM 256, linear head over the vocabulary", Tokens),
    ]
}

/// Largest ResNet depth [`build`] accepts (He et al.'s deepest CIFAR net).
pub const MAX_RESNET_DEPTH: usize = 1202;

/// `resnet<depth>[-noshort]` → `(depth, shortcut)`, for valid depths.
pub fn parse_resnet(name: &str) -> Option<(usize, bool)> {
    let rest = name.strip_prefix("resnet")?;
    let (depth, shortcut) = match rest.strip_suffix("-noshort") {
        Some(d) => (d, false),
        None => (rest, true),
    };
    if depth.is_empty() || !depth.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let d: usize = depth.parse().ok()?;
    ((8..=MAX_RESNET_DEPTH).contains(&d) && (d - 2).is_multiple_of(6)).then_some((d, shortcut))
}

/// The input kind of a zoo model, or `None` for an unknown name.
pub fn input_kind(name: &str) -> Option<InputKind> {
    if parse_resnet(name).is_some() {
        return Some(InputKind::Image);
    }
    catalog().into_iter().find(|m| m.name == name).map(|m| m.input)
}

fn bad(model: &str, detail: String) -> NnError {
    NnError::BadConfig { model: model.to_string(), detail }
}

/// Builds zoo model `name` for `cfg`, initialized from `seed` (one
/// `StdRng` stream, drawn in construction order, so a seed fixes every
/// weight). Errors name the model: unknown names (listing the valid
/// ones), zero sizes, images too small (lenet needs ≥ 12, resnets and
/// vgg9 ≥ 8, as zoo.py documents).
pub fn build(name: &str, cfg: &ModelConfig, seed: u64) -> Result<Box<dyn Module>, NnError> {
    let kind = input_kind(name).ok_or_else(|| NnError::UnknownModel {
        name: name.to_string(),
        valid: catalog().into_iter().map(|m| m.name.to_string()).collect(),
    })?;
    let rng = &mut StdRng::seed_from_u64(seed);
    if kind == InputKind::Tokens {
        if cfg.vocab == 0 {
            return Err(bad(name, "the vocabulary is empty".into()));
        }
        return Ok(Box::new(CharLstm::new(cfg.vocab, rng)));
    }
    if cfg.in_channels == 0 || cfg.image_size == 0 || cfg.num_classes == 0 {
        return Err(bad(name, format!("channels, image size and classes must be positive, got {cfg:?}")));
    }
    let (c, s, k) = (cfg.in_channels, cfg.image_size, cfg.num_classes);
    let min = match name {
        "mlp" => 1,
        "lenet" => 12,
        _ => 8,
    };
    if s < min {
        return Err(bad(name, format!("needs an image size >= {min}, got {s}")));
    }
    Ok(match name {
        "mlp" => Box::new(Mlp::new(c * s * s, k, [512, 512], rng)),
        "lenet" => Box::new(LeNet::new(c, k, s, rng)),
        "vgg9" => Box::new(Vgg9::new(c, k, s, rng)),
        _ => {
            let (depth, shortcut) = parse_resnet(name).expect("input_kind accepted it");
            Box::new(ResNet::new(depth, shortcut, c, k, rng))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModuleExt;

    #[test]
    fn parses_resnet_names() {
        assert_eq!(parse_resnet("resnet20"), Some((20, true)));
        assert_eq!(parse_resnet("resnet110-noshort"), Some((110, false)));
        assert_eq!(parse_resnet("resnet8"), Some((8, true)));
        for bad in
            ["resnet", "resnet21", "resnet2", "resnet-noshort", "resnet20-short", "resnet+20", "resnet1208", "resnet99999999999999999999"]
        {
            assert_eq!(parse_resnet(bad), None, "{bad}");
        }
    }

    #[test]
    fn errors_are_clear() {
        let e = build("resnet21", &ModelConfig::mnist(), 0).err().unwrap().to_string();
        assert!(e.contains("unknown model \"resnet21\"") && e.contains("lenet") && e.contains("char-lstm"), "{e}");
        let small = ModelConfig { image_size: 10, ..ModelConfig::mnist() };
        let e = build("lenet", &small, 0).err().unwrap().to_string();
        assert!(e.contains("lenet") && e.contains(">= 12") && e.contains("10"), "{e}");
        assert!(build("mlp", &small, 0).is_ok());
        assert!(build("vgg9", &ModelConfig { image_size: 7, ..small }, 0).is_err());
        assert!(build("mlp", &ModelConfig { num_classes: 0, ..small }, 0).is_err());
    }

    #[test]
    fn same_seed_same_weights() {
        let cfg = ModelConfig::mnist();
        let a = build("lenet", &cfg, 3).unwrap().state();
        let b = build("lenet", &cfg, 3).unwrap().state();
        let c = build("lenet", &cfg, 4).unwrap().state();
        assert!(a.iter().zip(&b).all(|(x, y)| x.tensor.data() == y.tensor.data()));
        assert!(a.iter().zip(&c).any(|(x, y)| x.tensor.data() != y.tensor.data()));
    }

    #[test]
    fn parameter_counts() {
        // Counts checked with zoo.py for 1×28×28 input, 10 classes.
        let cfg = ModelConfig::mnist();
        for (name, n) in [("mlp", 669_706), ("lenet", 61_706), ("resnet20", 272_186), ("resnet20-noshort", 269_434), ("vgg9", 2_788_554)] {
            assert_eq!(build(name, &cfg, 0).unwrap().num_parameters(), n, "{name}");
        }
        // CIFAR-shaped ResNet-20 with projection shortcuts.
        assert_eq!(build("resnet20", &ModelConfig::cifar10(), 0).unwrap().num_parameters(), 272_474);
    }
}
