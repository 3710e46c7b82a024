//! `mlp`: 784-512-512-10 with ReLU (zoo.py's `MLP`): `fc1`, `fc2`, `fc3`.

use crate::layers::Linear;
use crate::{Kind, Module};
use autodiff::Tensor;
use rand::Rng;

/// A three-layer perceptron on flattened inputs.
pub struct Mlp {
    /// `in_features → 512`.
    pub fc1: Linear,
    /// `512 → 512`.
    pub fc2: Linear,
    /// `512 → num_classes`.
    pub fc3: Linear,
}

impl Mlp {
    /// `in_features → hidden[0] → hidden[1] → num_classes`, PyTorch init.
    pub fn new(in_features: usize, num_classes: usize, hidden: [usize; 2], rng: &mut impl Rng) -> Mlp {
        let fc1 = Linear::new(in_features, hidden[0], true, rng);
        let fc2 = Linear::new(hidden[0], hidden[1], true, rng);
        let fc3 = Linear::new(hidden[1], num_classes, true, rng);
        Mlp { fc1, fc2, fc3 }
    }
}

impl Module for Mlp {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let x = x.flatten_from(1);
        let h = self.fc2.forward_relu(&self.fc1.forward_relu(&x));
        self.fc3.forward(&h)
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        self.fc1.visit_mut(&format!("{prefix}fc1."), f);
        self.fc2.visit_mut(&format!("{prefix}fc2."), f);
        self.fc3.visit_mut(&format!("{prefix}fc3."), f);
    }

    fn set_training(&mut self, _training: bool) {}
}
