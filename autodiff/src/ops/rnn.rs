//! Recurrent cells: the fused LSTM cell pointwise op.
//!
//! [`Tensor::lstm_cell`] replaces the dozen small ops of an LSTM step
//! (chunk, three sigmoids, two tanh, muls, adds) with one pass. Its output is
//! `concat(h', c')`; callers narrow it.
//!
//! **Backward.** With recording off (first-order training) the rule runs a
//! fused kernel on activations saved by the forward pass; its result is a
//! constant, which is fine because nothing will differentiate it. With
//! recording on (`create_graph`, Hessian-vector products) the rule is
//! written with the public differentiable ops, recomputed from the inputs,
//! so higher derivatives stay exact.

use crate::graph::{is_grad_enabled, Backward};
use crate::kernels::rnn;
use crate::tensor::Tensor;

/// Gradients `(dz, dc)` of an LSTM cell with pre-activations `z`
/// (`[b, 4h]`) and cell state `c` (`[b, h]`), given the gradients `dh`,
/// `dc_out` flowing into `h'` and `c'`: written with differentiable ops.
fn cell_backward_ops(z: &Tensor, c: &Tensor, dh: &Tensor, dc_out: &Tensor) -> (Tensor, Tensor) {
    let zs = z.chunk(4, 1);
    let (i, f, g, o) = (zs[0].sigmoid(), zs[1].sigmoid(), zs[2].tanh(), zs[3].sigmoid());
    let tc = f.mul(c).add(&i.mul(&g)).tanh();
    let one_minus = |t: &Tensor| t.neg().add_scalar(1.0);
    let dsig = |s: &Tensor| s.mul(&one_minus(s));
    let dct = dc_out.add(&dh.mul(&o).mul(&one_minus(&tc.square())));
    let dzi = dct.mul(&g).mul(&dsig(&i));
    let dzf = dct.mul(c).mul(&dsig(&f));
    let dzg = dct.mul(&i).mul(&one_minus(&g.square()));
    let dzo = dh.mul(&tc).mul(&dsig(&o));
    (Tensor::concat(&[dzi, dzf, dzg, dzo], 1), dct.mul(&f))
}

/// Saved by the forward pass for the fused first-order backward.
struct LstmCell {
    hidden: usize,
    /// Activated gates `[i, f, g, o]`, `[b, 4h]`.
    act: Vec<f32>,
    /// `tanh(c')`, `[b, h]`.
    tc: Vec<f32>,
}

impl Backward for LstmCell {
    fn name(&self) -> &'static str {
        "lstm_cell"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let (z, c, h) = (&i[0], &i[1], self.hidden);
        if is_grad_enabled() {
            let (dz, dc) = cell_backward_ops(z, c, &g.narrow(1, 0, h), &g.narrow(1, h, h));
            return vec![z.requires_grad().then_some(dz), c.requires_grad().then_some(dc)];
        }
        let b = c.dim(0);
        // Split the [b, 2h] gradient into its dh and dc halves.
        let (mut dh, mut dco) = (Vec::with_capacity(b * h), Vec::with_capacity(b * h));
        for row in g.data().chunks(2 * h) {
            dh.extend_from_slice(&row[..h]);
            dco.extend_from_slice(&row[h..]);
        }
        let mut dz = vec![0.0; 4 * b * h];
        let mut dc = vec![0.0; b * h];
        rnn::lstm_cell_backward(h, &self.act, &self.tc, c.data(), &dh, &dco, &mut dz, &mut dc);
        vec![z.requires_grad().then(|| Tensor::from_vec(dz, z.shape())), c.requires_grad().then(|| Tensor::from_vec(dc, c.shape()))]
    }
}

impl Tensor {
    /// One LSTM cell update from pre-activation gates `self` (`[b, 4h]`,
    /// PyTorch order i, f, g, o) and cell state `c` (`[b, h]`): returns
    /// `[b, 2h]` = `concat(h', c')` with `c' = σ(f)·c + σ(i)·tanh(g)` and
    /// `h' = σ(o)·tanh(c')`.
    pub fn lstm_cell(&self, c: &Tensor) -> Tensor {
        let ok = self.ndim() == 2 && c.ndim() == 2 && c.dim(1) > 0 && self.dim(0) == c.dim(0) && self.dim(1) == 4 * c.dim(1);
        assert!(ok, "lstm_cell: gates {:?} must be [b, 4h] for a cell state {:?} of [b, h]", self.shape(), c.shape());
        let (b, h) = (c.dim(0), c.dim(1));
        let mut out = vec![0.0; 2 * b * h];
        let mut act = vec![0.0; 4 * b * h];
        let mut tc = vec![0.0; b * h];
        rnn::lstm_cell_forward(h, self.data(), c.data(), &mut out, &mut act, &mut tc);
        Tensor::from_op(out, vec![b, 2 * h], LstmCell { hidden: h, act, tc }, vec![self.clone(), c.clone()])
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::{check_all, GradCheck};
    use crate::{grad_with_seeds, Tensor};

    /// The cell composed of ordinary ops (the pre-fusion formulation).
    fn reference(z: &Tensor, c: &Tensor) -> Tensor {
        let g = z.chunk(4, 1);
        let c2 = g[1].sigmoid().mul(c).add(&g[0].sigmoid().mul(&g[2].tanh()));
        let h2 = g[3].sigmoid().mul(&c2.tanh());
        Tensor::concat(&[h2, c2], 1)
    }

    #[test]
    fn matches_composed_ops() {
        let z = Tensor::rand_uniform(&[3, 20], -3.0, 3.0, 1).requires_grad_();
        let c = Tensor::rand_uniform(&[3, 5], -2.0, 2.0, 2).requires_grad_();
        let (fused, want) = (z.lstm_cell(&c), reference(&z, &c));
        for (a, b) in fused.data().iter().zip(want.data()) {
            assert!((a - b).abs() < 1e-6, "{fused:?} vs {want:?}");
        }
        // First-order gradients: fused kernel vs ops.
        let seed = Tensor::rand_uniform(&[3, 10], -1.0, 1.0, 3);
        let got = grad_with_seeds(&[fused], &[seed.clone()], &[z.clone(), c.clone()], false);
        let want = grad_with_seeds(&[want], &[seed], &[z, c], false);
        for (g, w) in got.iter().zip(&want) {
            for (a, b) in g.data().iter().zip(w.data()) {
                assert!((a - b).abs() < 1e-6, "{g:?} vs {w:?}");
            }
        }
    }

    #[test]
    fn gradients() {
        let cfg = GradCheck::default();
        let z = Tensor::rand_uniform(&[2, 12], -2.0, 2.0, 4);
        let c = Tensor::rand_uniform(&[2, 3], -1.5, 1.5, 5);
        check_all("lstm_cell", |x| x[0].lstm_cell(&x[1]), [z, c], &cfg);
    }

    #[test]
    fn thread_count_does_not_change_results() {
        // Large enough for the parallel path.
        let z = Tensor::rand_uniform(&[64, 1024], -4.0, 4.0, 6).requires_grad_();
        let c = Tensor::rand_uniform(&[64, 256], -2.0, 2.0, 7).requires_grad_();
        let seed = Tensor::rand_uniform(&[64, 512], -1.0, 1.0, 8);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let y = z.lstm_cell(&c);
                let g = grad_with_seeds(std::slice::from_ref(&y), &[seed.clone()], &[z.clone(), c.clone()], false);
                (y.to_vec(), g[0].to_vec(), g[1].to_vec())
            })
        };
        assert_eq!(run(1), run(2));
    }
}
