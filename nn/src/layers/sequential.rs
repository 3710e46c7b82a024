//! [`Sequential`]: modules applied in order, PyTorch's `nn.Sequential`.

use crate::{Kind, Module};
use autodiff::Tensor;

/// A chain of modules. Children are named `0`, `1`, … by position, as in
/// PyTorch (so `features.3.weight` is the weight of the fourth child of
/// `features`), parameter-free children included. An empty `Sequential`
/// is the identity.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    /// An empty chain (the identity).
    pub fn new() -> Sequential {
        Sequential { layers: Vec::new() }
    }

    /// Appends a module (builder style).
    pub fn with(mut self, m: impl Module + 'static) -> Sequential {
        self.layers.push(Box::new(m));
        self
    }

    /// Appends a boxed module.
    pub fn push(&mut self, m: Box<dyn Module>) {
        self.layers.push(m);
    }

    /// Number of children.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when the chain is empty (the identity).
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The children, in order.
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Module>] {
        &mut self.layers
    }
}

impl Module for Sequential {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let mut y = x.clone();
        for l in &mut self.layers {
            y = l.forward(&y);
        }
        y
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        for (i, l) in self.layers.iter_mut().enumerate() {
            l.visit_mut(&format!("{prefix}{i}."), f);
        }
    }

    fn set_training(&mut self, training: bool) {
        for l in &mut self.layers {
            l.set_training(training);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{BatchNorm1d, Linear, ReLU};
    use crate::ModuleExt;
    use autodiff::gradcheck::{check_gradients, check_second_order, GradCheck};

    fn lin(w: Vec<f32>, b: Vec<f32>) -> Linear {
        let out = b.len();
        let inp = w.len() / out;
        Linear::from_tensors(Tensor::from_vec(w, &[out, inp]), Some(Tensor::from_vec(b, &[out])))
    }

    #[test]
    fn forward_and_names() {
        // relu([x1 - x2, -x1]) then sum + 1.
        let mut s = Sequential::new().with(lin(vec![1.0, -1.0, -1.0, 0.0], vec![0.0, 0.0])).with(ReLU).with(lin(vec![1.0, 1.0], vec![1.0]));
        let y = s.forward(&Tensor::from_vec(vec![3.0, 1.0, -2.0, 0.0], &[2, 2]));
        assert_eq!(y.to_vec(), vec![3.0, 3.0]);
        let names: Vec<String> = s.state().into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
        let mut bn = Sequential::new().with(BatchNorm1d::new(2));
        bn.set_training(false);
        assert_eq!(bn.state()[3].name, "0.running_var");
        assert!(Sequential::new().is_empty());
        assert_eq!(Sequential::new().forward(&y).to_vec(), y.to_vec());
    }

    #[test]
    fn gradients() {
        let x = Tensor::rand_uniform(&[3, 2], -1.0, 1.0, 15);
        let w1 = Tensor::rand_uniform(&[3, 2], -1.0, 1.0, 16);
        let w2 = Tensor::rand_uniform(&[1, 3], -1.0, 1.0, 17);
        let f = |t: &[Tensor]| {
            Sequential::new()
                .with(Linear::from_tensors(t[1].clone(), None))
                .with(crate::layers::Tanh)
                .with(Linear::from_tensors(t[2].clone(), None))
                .forward(&t[0])
        };
        let inputs = [x, w1, w2];
        check_gradients(f, &inputs, &GradCheck::default()).unwrap();
        check_second_order(f, &inputs, &GradCheck::default()).unwrap();
    }
}
