//! [`Lstm`]: a multi-layer LSTM, PyTorch's `nn.LSTM(batch_first=True)`.

use super::{uniform, visit_one};
use crate::{Kind, Module};
use autodiff::Tensor;
use rand::Rng;

/// The four tensors of one LSTM layer (gates stacked in PyTorch's order
/// i, f, g, o along the first axis).
#[derive(Clone, Debug)]
pub struct LstmLayer {
    /// `weight_ih_l{k}`: `[4·hidden, input]` (input is the previous layer's hidden size above layer 0).
    pub weight_ih: Tensor,
    /// `weight_hh_l{k}`: `[4·hidden, hidden]`.
    pub weight_hh: Tensor,
    /// `bias_ih_l{k}`: `[4·hidden]`.
    pub bias_ih: Tensor,
    /// `bias_hh_l{k}`: `[4·hidden]`.
    pub bias_hh: Tensor,
}

/// A stack of LSTM layers over batch-first sequences `[batch, time, input]`.
///
/// Per step, with `x` the layer input and `(h, c)` the previous state:
/// `[i, f, g, o] = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh`,
/// `c' = σ(f)·c + σ(i)·tanh(g)`, `h' = σ(o)·tanh(c')`. No dropout between
/// layers (PyTorch's default). [`Module::forward`] returns the top layer's
/// outputs `[batch, time, hidden]`; [`Lstm::forward_with_state`] also
/// takes an initial state and returns the final `(h, c)` of every layer.
#[derive(Clone, Debug)]
pub struct Lstm {
    /// The layers, bottom first.
    pub layers: Vec<LstmLayer>,
    hidden: usize,
}

impl Lstm {
    /// PyTorch's default initialization: every tensor `U(±1/√hidden)`,
    /// drawn layer by layer in `state_dict` order.
    pub fn new(input: usize, hidden: usize, num_layers: usize, rng: &mut impl Rng) -> Lstm {
        let bound = 1.0 / (hidden.max(1) as f32).sqrt();
        let layers = (0..num_layers)
            .map(|k| {
                let inp = if k == 0 { input } else { hidden };
                LstmLayer {
                    weight_ih: uniform(&[4 * hidden, inp], bound, rng),
                    weight_hh: uniform(&[4 * hidden, hidden], bound, rng),
                    bias_ih: uniform(&[4 * hidden], bound, rng),
                    bias_hh: uniform(&[4 * hidden], bound, rng),
                }
            })
            .collect();
        Lstm { layers, hidden }
    }

    /// An LSTM with the given layers. Panics if their shapes disagree.
    pub fn from_layers(layers: Vec<LstmLayer>) -> Lstm {
        assert!(!layers.is_empty(), "Lstm: no layers");
        let hidden = layers[0].weight_hh.dim(1);
        for (k, l) in layers.iter().enumerate() {
            let ok = l.weight_ih.ndim() == 2
                && l.weight_ih.dim(0) == 4 * hidden
                && (k == 0 || l.weight_ih.dim(1) == hidden)
                && l.weight_hh.shape() == [4 * hidden, hidden]
                && l.bias_ih.shape() == [4 * hidden]
                && l.bias_hh.shape() == [4 * hidden];
            assert!(ok, "Lstm: layer {k} has inconsistent shapes for hidden size {hidden}");
        }
        Lstm { layers, hidden }
    }

    /// Hidden size.
    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// Runs the stack on `x` (`[batch, time, input]`) from `state` (one
    /// `(h, c)` pair of `[batch, hidden]` per layer; zeros when `None`).
    /// Returns the top layer's outputs `[batch, time, hidden]` and the final
    /// `(h, c)` of every layer, bottom first.
    pub fn forward_with_state(&self, x: &Tensor, state: Option<&[(Tensor, Tensor)]>) -> (Tensor, Vec<(Tensor, Tensor)>) {
        assert_eq!(x.ndim(), 3, "Lstm: input {:?} must be [batch, time, features]", x.shape());
        let (b, t, hs) = (x.dim(0), x.dim(1), self.hidden);
        assert!(t > 0, "Lstm: empty sequence {:?}", x.shape());
        if let Some(s) = state {
            assert_eq!(s.len(), self.layers.len(), "Lstm: {} initial states for {} layers", s.len(), self.layers.len());
        }
        // Time-major throughout: each layer is one op (`lstm_layer`) that
        // projects the inputs of all steps in one product, then runs the recurrence.
        let mut seq = x.transpose(0, 1); // [t, b, features]
        let mut finals = Vec::with_capacity(self.layers.len());
        for (k, l) in self.layers.iter().enumerate() {
            let feat = seq.dim(2);
            assert_eq!(feat, l.weight_ih.dim(1), "Lstm: layer {k} expects {} features, input has {feat}", l.weight_ih.dim(1));
            let bias = l.bias_ih.add(&l.bias_hh);
            let (h0, c0) = match state {
                Some(s) => s[k].clone(),
                None => (Tensor::zeros(&[b, hs]), Tensor::zeros(&[b, hs])),
            };
            // [t, b, 2h]: h and c of every step.
            let out = seq.lstm_layer(&l.weight_ih, &bias, &l.weight_hh, &h0, &c0);
            let last = out.narrow(0, t - 1, 1).reshape(&[b, 2 * hs]);
            finals.push((last.narrow(1, 0, hs), last.narrow(1, hs, hs)));
            seq = out.narrow(2, 0, hs);
        }
        let input = seq.transpose(0, 1);
        (input, finals)
    }
}

impl Module for Lstm {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        self.forward_with_state(x, None).0
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        for (k, l) in self.layers.iter_mut().enumerate() {
            visit_one(prefix, &format!("weight_ih_l{k}"), &mut l.weight_ih, Kind::Parameter, f);
            visit_one(prefix, &format!("weight_hh_l{k}"), &mut l.weight_hh, Kind::Parameter, f);
            visit_one(prefix, &format!("bias_ih_l{k}"), &mut l.bias_ih, Kind::Parameter, f);
            visit_one(prefix, &format!("bias_hh_l{k}"), &mut l.bias_hh, Kind::Parameter, f);
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

    fn sig(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// One unit, one layer, two steps, computed by hand in f64.
    #[test]
    fn forward_by_hand() {
        // Gate rows i, f, g, o.
        let wi = [0.5, -0.3, 0.8, 0.2];
        let wh = [0.1, 0.4, -0.6, 0.3];
        let bi = [0.05, 0.1, -0.05, 0.0];
        let bh = [0.0, 0.2, 0.1, -0.1];
        let layer = LstmLayer {
            weight_ih: Tensor::from_vec(wi.iter().map(|&v| v as f32).collect(), &[4, 1]),
            weight_hh: Tensor::from_vec(wh.iter().map(|&v| v as f32).collect(), &[4, 1]),
            bias_ih: Tensor::from_vec(bi.iter().map(|&v| v as f32).collect(), &[4]),
            bias_hh: Tensor::from_vec(bh.iter().map(|&v| v as f32).collect(), &[4]),
        };
        let lstm = Lstm::from_layers(vec![layer]);
        let xs = [1.0, -2.0];
        let (mut h, mut c) = (0.0f64, 0.0f64);
        let mut want = Vec::new();
        for &x in &xs {
            let z: Vec<f64> = (0..4).map(|j| wi[j] * x + bi[j] + wh[j] * h + bh[j]).collect();
            c = sig(z[1]) * c + sig(z[0]) * z[2].tanh();
            h = sig(z[3]) * c.tanh();
            want.push(h);
        }
        let (y, finals) = lstm.forward_with_state(&Tensor::from_vec(vec![1.0, -2.0], &[1, 2, 1]), None);
        assert_eq!(y.shape(), [1, 2, 1]);
        for (a, b) in y.to_vec().iter().zip(&want) {
            assert!((*a as f64 - b).abs() < 1e-6, "{y:?} vs {want:?}");
        }
        assert!((finals[0].0.item() as f64 - h).abs() < 1e-6 && (finals[0].1.item() as f64 - c).abs() < 1e-6);
    }

    #[test]
    fn names_shapes_and_state() {
        let mut lstm = Lstm::new(3, 5, 2, &mut StdRng::seed_from_u64(0));
        let s = lstm.state();
        let got: Vec<(String, Vec<usize>)> = s.iter().map(|n| (n.name.clone(), n.tensor.shape().to_vec())).collect();
        let want = [
            ("weight_ih_l0", vec![20, 3]),
            ("weight_hh_l0", vec![20, 5]),
            ("bias_ih_l0", vec![20]),
            ("bias_hh_l0", vec![20]),
            ("weight_ih_l1", vec![20, 5]),
            ("weight_hh_l1", vec![20, 5]),
            ("bias_ih_l1", vec![20]),
            ("bias_hh_l1", vec![20]),
        ];
        assert_eq!(got, want.iter().map(|(n, s)| (n.to_string(), s.clone())).collect::<Vec<_>>());
        let bound = 1.0 / 5f32.sqrt();
        assert!(s.iter().all(|n| n.tensor.data().iter().all(|v| v.abs() <= bound)));
        // Running two halves with the carried state equals running the whole.
        let x = Tensor::rand_uniform(&[2, 4, 3], -1.0, 1.0, 4);
        let (whole, _) = lstm.forward_with_state(&x, None);
        let (first, state) = lstm.forward_with_state(&x.narrow(1, 0, 2), None);
        let (second, _) = lstm.forward_with_state(&x.narrow(1, 2, 2), Some(&state));
        let joined = Tensor::concat(&[first, second], 1);
        for (a, b) in whole.to_vec().iter().zip(joined.to_vec()) {
            assert!((a - b).abs() < 1e-6);
        }
        assert_eq!(lstm.forward(&x).shape(), [2, 4, 5]);
    }

    #[test]
    fn gradients() {
        let mut rng = StdRng::seed_from_u64(5);
        let base = Lstm::new(2, 2, 2, &mut rng);
        let x = Tensor::rand_uniform(&[2, 3, 2], -1.0, 1.0, 6);
        let mut inputs = vec![x];
        for l in &base.layers {
            inputs.extend([l.weight_ih.clone(), l.weight_hh.clone(), l.bias_ih.clone(), l.bias_hh.clone()]);
        }
        let f = |t: &[Tensor]| {
            let layers = t[1..]
                .chunks(4)
                .map(|w| LstmLayer { weight_ih: w[0].clone(), weight_hh: w[1].clone(), bias_ih: w[2].clone(), bias_hh: w[3].clone() })
                .collect();
            Lstm::from_layers(layers).forward(&t[0])
        };
        check_gradients(f, &inputs, &GradCheck::default()).unwrap();
        check_second_order(f, &inputs, &GradCheck::default()).unwrap();
    }
}
