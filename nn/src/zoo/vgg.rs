//! `vgg9`: Li et al.'s VGG-9 (zoo.py's `VGG9`): `features`, `fc`, `classifier`.

use crate::layers::{conv_bn_act, BatchNorm1d, BatchNorm2d, Conv2d, Linear, MaxPool2d, ReLU, Sequential};
use crate::{Kind, Module};
use autodiff::Tensor;
use rand::Rng;

/// The feature configuration: channels of 3×3 convs, `0` for a max pool.
const CFG: [usize; 10] = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0];

/// One element of VGG's feature stack.
pub enum VggBlock {
    /// conv3×3 (bias) → BatchNorm2d → ReLU: three PyTorch children.
    Conv {
        /// The convolution.
        conv: Conv2d,
        /// Its batch norm.
        bn: BatchNorm2d,
    },
    /// 2×2 max pool, ceil mode: one PyTorch child.
    Pool(MaxPool2d),
}

/// VGG's `features`: what PyTorch builds as one `nn.Sequential` of conv,
/// BN, ReLU and pool children, kept typed here so that eval can fold each
/// BN into its conv ([`conv_bn_act`](crate::layers::conv_bn_act())). Names follow the Sequential's numbering
/// (a conv block takes three indices, a pool one).
pub struct VggFeatures {
    /// The blocks, in order.
    pub blocks: Vec<VggBlock>,
}

impl Module for VggFeatures {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let mut y = x.clone();
        for b in &mut self.blocks {
            y = match b {
                VggBlock::Conv { conv, bn } => conv_bn_act(conv, bn, &y, None, true),
                VggBlock::Pool(p) => p.forward(&y),
            };
        }
        y
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        let mut i = 0;
        for b in &mut self.blocks {
            match b {
                VggBlock::Conv { conv, bn } => {
                    conv.visit_mut(&format!("{prefix}{i}."), f);
                    bn.visit_mut(&format!("{prefix}{}.", i + 1), f);
                    i += 3;
                }
                VggBlock::Pool(_) => i += 1,
            }
        }
    }

    fn set_training(&mut self, training: bool) {
        for b in &mut self.blocks {
            if let VggBlock::Conv { bn, .. } = b {
                bn.set_training(training);
            }
        }
    }
}

/// `features`: [conv3×3 (bias) → BN → ReLU] blocks and 2×2 max pools (ceil
/// mode) as `[64, 64, M, 128, 128, M, 256, 256, 256, M]`; `fc`: Linear →
/// BatchNorm1d → ReLU (256 units); `classifier`: Linear(256, classes).
pub struct Vgg9 {
    /// Numbered like PyTorch's `nn.Sequential`: `features.0` conv, `.1` BN, `.2` ReLU, `.3` conv, …
    pub features: VggFeatures,
    /// `fc.0` Linear, `fc.1` BatchNorm1d, `fc.2` ReLU.
    pub fc: Sequential,
    /// `256 → num_classes`.
    pub classifier: Linear,
}

impl Vgg9 {
    /// For `in_channels × image_size²` inputs.
    pub fn new(in_channels: usize, num_classes: usize, image_size: usize, rng: &mut impl Rng) -> Vgg9 {
        let (mut blocks, mut c, mut side) = (Vec::new(), in_channels, image_size);
        for v in CFG {
            if v == 0 {
                blocks.push(VggBlock::Pool(MaxPool2d::new(2, 2).ceil_mode(true)));
                side = side.div_ceil(2);
            } else {
                blocks.push(VggBlock::Conv { conv: Conv2d::new(c, v, 3, 1, 1, true, rng), bn: BatchNorm2d::new(v) });
                c = v;
            }
        }
        let features = VggFeatures { blocks };
        let fc = Sequential::new().with(Linear::new(c * side * side, c, true, rng)).with(BatchNorm1d::new(c)).with(ReLU);
        let classifier = Linear::new(c, num_classes, true, rng);
        Vgg9 { features, fc, classifier }
    }
}

impl Module for Vgg9 {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let x = self.features.forward(x).flatten_from(1);
        let x = self.fc.forward(&x);
        self.classifier.forward(&x)
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        self.features.visit_mut(&format!("{prefix}features."), f);
        self.fc.visit_mut(&format!("{prefix}fc."), f);
        self.classifier.visit_mut(&format!("{prefix}classifier."), f);
    }

    fn set_training(&mut self, training: bool) {
        self.features.set_training(training);
        self.fc.set_training(training);
    }
}
