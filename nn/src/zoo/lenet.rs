//! `lenet`: LeNet-5 (zoo.py's `LeNet`): `conv1`, `conv2`, `fc1`, `fc2`, `fc3`.

use crate::layers::{Conv2d, Linear};
use crate::{Kind, Module};
use autodiff::Tensor;
use rand::Rng;

/// conv 6@5×5 (pad 2) → ReLU → maxpool 2 → conv 16@5×5 → ReLU → maxpool 2
/// → fc 120 → ReLU → fc 84 → ReLU → fc classes.
pub struct LeNet {
    /// `in_channels → 6`, 5×5, padding 2.
    pub conv1: Conv2d,
    /// `6 → 16`, 5×5.
    pub conv2: Conv2d,
    /// `16·side² → 120`, `side = (image_size/2 − 4)/2`.
    pub fc1: Linear,
    /// `120 → 84`.
    pub fc2: Linear,
    /// `84 → num_classes`.
    pub fc3: Linear,
}

impl LeNet {
    /// Needs `image_size >= 12` (checked by [`crate::zoo::build`]).
    pub fn new(in_channels: usize, num_classes: usize, image_size: usize, rng: &mut impl Rng) -> LeNet {
        let conv1 = Conv2d::new(in_channels, 6, 5, 1, 2, true, rng);
        let conv2 = Conv2d::new(6, 16, 5, 1, 0, true, rng);
        let side = (image_size / 2 - 4) / 2;
        let fc1 = Linear::new(16 * side * side, 120, true, rng);
        let fc2 = Linear::new(120, 84, true, rng);
        let fc3 = Linear::new(84, num_classes, true, rng);
        LeNet { conv1, conv2, fc1, fc2, fc3 }
    }
}

impl Module for LeNet {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let x = self.conv1.forward(x).relu().max_pool2d((2, 2), (2, 2), (0, 0), false);
        let x = self.conv2.forward(&x).relu().max_pool2d((2, 2), (2, 2), (0, 0), false);
        let x = self.fc1.forward(&x.flatten_from(1)).relu();
        let x = self.fc2.forward(&x).relu();
        self.fc3.forward(&x)
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        self.conv1.visit_mut(&format!("{prefix}conv1."), f);
        self.conv2.visit_mut(&format!("{prefix}conv2."), f);
        self.fc1.visit_mut(&format!("{prefix}fc1."), f);
        self.fc2.visit_mut(&format!("{prefix}fc2."), f);
        self.fc3.visit_mut(&format!("{prefix}fc3."), f);
    }

    fn set_training(&mut self, _training: bool) {}
}
