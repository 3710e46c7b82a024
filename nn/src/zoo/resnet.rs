//! `resnet<6n+2>` and `resnet<6n+2>-noshort`: He et al.'s CIFAR ResNet as
//! in Li et al.'s loss-landscape code (zoo.py's `ResNetCifar`, `BasicBlock`).

use crate::layers::{conv_bn_act, conv_bn_pair, BatchNorm2d, Conv2d, Linear, Sequential};
use crate::{Kind, Module};
use autodiff::Tensor;
use rand::Rng;

/// conv3×3 → BN → ReLU → conv3×3 → BN, plus the shortcut, → ReLU.
/// The shortcut is the identity, or a [`Projection`] where the shape
/// changes; without shortcuts (`-noshort`) it is not added.
pub struct BasicBlock {
    /// 3×3, stride `s`, no bias.
    pub conv1: Conv2d,
    /// After `conv1`.
    pub bn1: BatchNorm2d,
    /// 3×3, stride 1, no bias.
    pub conv2: Conv2d,
    /// After `conv2`.
    pub bn2: BatchNorm2d,
    /// `None` for the identity.
    pub shortcut: Option<Projection>,
    /// Whether the shortcut is added at all.
    pub use_shortcut: bool,
}

impl BasicBlock {
    /// A block `c_in → c_out` with stride `stride`, drawing conv1, conv2,
    /// then the projection (if any) from `rng`.
    pub fn new(c_in: usize, c_out: usize, stride: usize, shortcut: bool, rng: &mut impl Rng) -> BasicBlock {
        let conv1 = Conv2d::new(c_in, c_out, 3, stride, 1, false, rng);
        let bn1 = BatchNorm2d::new(c_out);
        let conv2 = Conv2d::new(c_out, c_out, 3, 1, 1, false, rng);
        let bn2 = BatchNorm2d::new(c_out);
        let sc = (shortcut && (stride != 1 || c_in != c_out))
            .then(|| Projection { conv: Conv2d::new(c_in, c_out, 1, stride, 0, false, rng), bn: BatchNorm2d::new(c_out) });
        BasicBlock { conv1, bn1, conv2, bn2, shortcut: sc, use_shortcut: shortcut }
    }
}

/// The projection shortcut: 1×1 conv with the block's stride, no bias, then
/// BN (PyTorch's `shortcut.0` and `shortcut.1`), folded into one conv in
/// evaluation like the block's own layers.
pub struct Projection {
    /// `c_in → c_out`, 1×1, stride `s`, no bias.
    pub conv: Conv2d,
    /// After `conv`.
    pub bn: BatchNorm2d,
}

impl Module for BasicBlock {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let shortcut = match &mut self.shortcut {
            _ if !self.use_shortcut => None,
            Some(p) => Some(conv_bn_act(&mut p.conv, &mut p.bn, x, None, false)),
            None => Some(x.clone()),
        };
        // relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)): one fused pass
        // per convolution when folded, the first one's output kept in cache.
        conv_bn_pair((&mut self.conv1, &mut self.bn1), (&mut self.conv2, &mut self.bn2), x, shortcut.as_ref())
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        self.conv1.visit_mut(&format!("{prefix}conv1."), f);
        self.bn1.visit_mut(&format!("{prefix}bn1."), f);
        self.conv2.visit_mut(&format!("{prefix}conv2."), f);
        self.bn2.visit_mut(&format!("{prefix}bn2."), f);
        if let Some(p) = &mut self.shortcut {
            p.conv.visit_mut(&format!("{prefix}shortcut.0."), f);
            p.bn.visit_mut(&format!("{prefix}shortcut.1."), f);
        }
    }

    fn set_training(&mut self, training: bool) {
        self.bn1.set_training(training);
        self.bn2.set_training(training);
        if let Some(p) = &mut self.shortcut {
            p.bn.set_training(training);
        }
    }
}

/// conv3×3 16 → BN → ReLU → layer1 (16) → layer2 (32, stride 2) → layer3
/// (64, stride 2) → global average pool → `linear`. `n = (depth − 2)/6`
/// blocks per stage.
pub struct ResNet {
    /// `in_channels → 16`, 3×3, no bias.
    pub conv1: Conv2d,
    /// After `conv1`.
    pub bn1: BatchNorm2d,
    /// The three stages of [`BasicBlock`]s (`layer1`, `layer2`, `layer3`).
    pub layers: [Sequential; 3],
    /// `64 → num_classes`.
    pub linear: Linear,
}

impl ResNet {
    /// Depth `6n + 2` (checked by [`crate::zoo::build`]), with or without shortcuts.
    pub fn new(depth: usize, shortcut: bool, in_channels: usize, num_classes: usize, rng: &mut impl Rng) -> ResNet {
        let n = (depth - 2) / 6;
        let conv1 = Conv2d::new(in_channels, 16, 3, 1, 1, false, rng);
        let bn1 = BatchNorm2d::new(16);
        let mut c_in = 16;
        let layers = [(16, 1), (32, 2), (64, 2)].map(|(c_out, stride)| {
            let mut stage = Sequential::new();
            for j in 0..n {
                stage = stage.with(BasicBlock::new(c_in, c_out, if j == 0 { stride } else { 1 }, shortcut, rng));
                c_in = c_out;
            }
            stage
        });
        let linear = Linear::new(64, num_classes, true, rng);
        ResNet { conv1, bn1, layers, linear }
    }
}

impl Module for ResNet {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let mut out = conv_bn_act(&mut self.conv1, &mut self.bn1, x, None, true);
        for stage in &mut self.layers {
            out = stage.forward(&out);
        }
        self.linear.forward(&out.adaptive_avg_pool2d((1, 1)).flatten_from(1))
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        self.conv1.visit_mut(&format!("{prefix}conv1."), f);
        self.bn1.visit_mut(&format!("{prefix}bn1."), f);
        for (i, stage) in self.layers.iter_mut().enumerate() {
            stage.visit_mut(&format!("{prefix}layer{}.", i + 1), f);
        }
        self.linear.visit_mut(&format!("{prefix}linear."), f);
    }

    fn set_training(&mut self, training: bool) {
        self.bn1.set_training(training);
        for stage in &mut self.layers {
            stage.set_training(training);
        }
    }
}
