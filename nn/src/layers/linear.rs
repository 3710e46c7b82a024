//! [`Linear`]: `y = x·Wᵀ + b`, PyTorch's `nn.Linear`.

use super::{uniform, visit_one};
use crate::{Kind, Module};
use autodiff::Tensor;
use rand::Rng;

/// A fully connected layer. `weight` is `[out, in]` (PyTorch's layout);
/// the product uses `matmul_t` so the weight is never transposed in memory.
/// Inputs are `[n, in]` or `[..., in]` (leading axes are folded into rows).
#[derive(Clone, Debug)]
pub struct Linear {
    /// `[out_features, in_features]`.
    pub weight: Tensor,
    /// `[out_features]`, if the layer has a bias.
    pub bias: Option<Tensor>,
}

impl Linear {
    /// PyTorch's default initialization: weight and bias `U(±1/√in)`
    /// (the weight's is `kaiming_uniform_(a = √5)`), drawn from `rng`,
    /// weight first.
    pub fn new(in_features: usize, out_features: usize, bias: bool, rng: &mut impl Rng) -> Linear {
        let bound = 1.0 / (in_features.max(1) as f32).sqrt();
        let weight = uniform(&[out_features, in_features], bound, rng);
        let bias = bias.then(|| uniform(&[out_features], bound, rng));
        Linear { weight, bias }
    }

    /// A layer with the given tensors (`weight [out, in]`, `bias [out]`).
    /// Panics if the shapes do not fit together.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Linear {
        assert_eq!(weight.ndim(), 2, "Linear: weight must be [out, in], got {:?}", weight.shape());
        if let Some(b) = &bias {
            assert_eq!(b.shape(), [weight.dim(0)], "Linear: bias {:?} for weight {:?}", b.shape(), weight.shape());
        }
        Linear { weight, bias }
    }

    /// `relu(self.forward(x))`, with bias and ReLU applied in the product's
    /// pass over its output for 2-D inputs (same values and gradients).
    pub fn forward_relu(&mut self, x: &Tensor) -> Tensor {
        match &self.bias {
            Some(b) if x.ndim() == 2 && x.shape()[1] == self.in_features() => x.matmul_t_bias_relu(&self.weight, false, true, b),
            _ => self.forward(x).relu(),
        }
    }

    /// Number of input features.
    pub fn in_features(&self) -> usize {
        self.weight.dim(1)
    }

    /// Number of output features.
    pub fn out_features(&self) -> usize {
        self.weight.dim(0)
    }
}

impl Module for Linear {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let (inf, outf) = (self.in_features(), self.out_features());
        assert!(x.ndim() >= 1 && x.shape()[x.ndim() - 1] == inf, "Linear: input {:?} does not end in {inf} features", x.shape());
        let rows = x.numel() / inf.max(1);
        let x2 = if x.ndim() == 2 { x.clone() } else { x.reshape(&[rows, inf]) };
        let y = match &self.bias {
            Some(b) => x2.matmul_t_bias(&self.weight, false, true, b),
            None => x2.matmul_t(&self.weight, false, true),
        };
        if x.ndim() == 2 {
            y
        } else {
            let mut shape = x.shape().to_vec();
            *shape.last_mut().expect("ndim >= 1") = outf;
            y.reshape(&shape)
        }
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        visit_one(prefix, "weight", &mut self.weight, Kind::Parameter, f);
        if let Some(b) = &mut self.bias {
            visit_one(prefix, "bias", b, Kind::Parameter, f);
        }
    }

    fn set_training(&mut self, _training: bool) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModuleExt;
    use autodiff::gradcheck::{check_gradients, check_second_order, GradCheck};
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn forward_by_hand() {
        // W = [[1, 2], [3, 4], [5, 6]], b = [0.5, -1, 2], x = [[1, -1]]
        // y = [1-2+0.5, 3-4-1, 5-6+2] = [-0.5, -2, 1]
        let w = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[3, 2]);
        let mut l = Linear::from_tensors(w, Some(Tensor::from_vec(vec![0.5, -1.0, 2.0], &[3])));
        let y = l.forward(&Tensor::from_vec(vec![1.0, -1.0], &[1, 2]));
        assert_eq!(y.shape(), [1, 3]);
        assert_eq!(y.to_vec(), vec![-0.5, -2.0, 1.0]);
        // 3-d input: leading axes folded.
        let y3 = l.forward(&Tensor::from_vec(vec![1.0, -1.0, 0.0, 1.0], &[2, 1, 2]));
        assert_eq!(y3.shape(), [2, 1, 3]);
        assert_eq!(y3.to_vec(), vec![-0.5, -2.0, 1.0, 2.5, 3.0, 8.0]);
    }

    #[test]
    fn forward_relu_matches_forward_then_relu() {
        let mut l = Linear::new(30, 20, true, &mut StdRng::seed_from_u64(1));
        for shape in [vec![7, 30], vec![2, 3, 30]] {
            let x = Tensor::rand_uniform(&shape, -1.0, 1.0, 2);
            let (fused, plain) = (l.forward_relu(&x), l.forward(&x).relu());
            assert_eq!(fused.shape(), plain.shape());
            assert!(fused.data().iter().zip(plain.data()).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn init_names_and_bounds() {
        let mut l = Linear::new(16, 4, true, &mut StdRng::seed_from_u64(0));
        let s = l.state();
        assert_eq!(s.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["weight", "bias"]);
        assert!(l.weight.data().iter().all(|v| v.abs() <= 0.25));
        assert!(l.weight.data().iter().any(|v| v.abs() > 0.2), "draws should fill the range");
        assert_eq!(l.num_parameters(), 68);
    }

    #[test]
    fn gradients() {
        let x = Tensor::rand_uniform(&[3, 4], -1.0, 1.0, 1);
        let w = Tensor::rand_uniform(&[2, 4], -1.0, 1.0, 2);
        let b = Tensor::rand_uniform(&[2], -1.0, 1.0, 3);
        let f = |t: &[Tensor]| Linear::from_tensors(t[1].clone(), Some(t[2].clone())).forward(&t[0]);
        let inputs = [x, w, b];
        check_gradients(f, &inputs, &GradCheck::default()).unwrap();
        check_second_order(f, &inputs, &GradCheck::default()).unwrap();
    }
}
