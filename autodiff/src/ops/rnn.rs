//! Recurrent ops: the fused LSTM cell and a whole LSTM layer over a sequence.
//!
//! [`Tensor::lstm_cell`] replaces the dozen small ops of an LSTM step
//! (chunk, three sigmoids, two tanh, muls, adds) with one pass. Its output is
//! `concat(h', c')`; callers narrow it.
//!
//! [`Tensor::lstm_layer`] is a whole layer: the input projections of all
//! steps in one product, then the recurrence, which turns them into the
//! pre-activations in place; its backward gets `dW_ih` and `dW_hh` from one
//! product, packing the transposed gradient of the projections once.
//!
//! [`Tensor::lstm_sequence`] runs the recurrence of one layer over all time
//! steps in one op (per step one GEMM and the fused cell), given the input
//! projections of all steps. Its backward is one BPTT sweep that writes the
//! gradient of every step's projection into one tensor and computes the
//! gradient of `W_hh` as a single product over all steps, instead of one
//! padded slice gradient and one weight-sized product per step.
//!
//! **Backward.** With recording off (first-order training) both rules run
//! fused kernels on activations saved by the forward pass; their results are
//! constants, which is fine because nothing will differentiate them. With
//! recording on (`create_graph`, Hessian-vector products) the rules are
//! written with the public differentiable ops, recomputed from the inputs,
//! so higher derivatives stay exact.

use crate::graph::{is_grad_enabled, Backward};
use crate::kernels::gemm::{gemm_uninit, Epilogue, MatMut, MatRef};
use crate::kernels::rnn::{self, SeqDims};
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
        rnn::lstm_cell_backward(h, (&self.act, &self.tc), (c.data(), h), (&dh, &dco), &mut dz, &mut dc);
        vec![z.requires_grad().then(|| Tensor::from_vec(dz, z.shape())), c.requires_grad().then(|| Tensor::from_vec(dc, c.shape()))]
    }
}

/// Splits `x` along axis 0 into its slices (axis 0 dropped), halving
/// recursively: the backward pass of the narrows then pads `O(t log t)`
/// elements in total rather than `O(t²)`.
fn unbind(x: &Tensor) -> Vec<Tensor> {
    fn go(x: &Tensor, out: &mut Vec<Tensor>) {
        let n = x.dim(0);
        if n == 1 {
            out.push(x.reshape(&x.shape()[1..]));
        } else {
            go(&x.narrow(0, 0, n / 2), out);
            go(&x.narrow(0, n / 2, n - n / 2), out);
        }
    }
    let mut out = Vec::with_capacity(x.dim(0));
    go(x, &mut out);
    out
}

/// Gradients `[dxp, dw, dh0, dc0]` of [`Tensor::lstm_sequence`] for the
/// output gradient `g`, written with differentiable ops: the forward pass is
/// recomputed step by step, then backpropagated through time.
fn sequence_backward_ops(xp: &Tensor, w: &Tensor, h0: &Tensor, c0: &Tensor, g: &Tensor) -> [Tensor; 4] {
    let (t, h) = (xp.dim(0), h0.dim(1));
    let (xs, gs) = (unbind(xp), unbind(g));
    let (mut hh, mut cc) = (h0.clone(), c0.clone());
    let (mut zs, mut hprev, mut cprev) = (Vec::with_capacity(t), Vec::with_capacity(t), Vec::with_capacity(t));
    for x in &xs {
        let z = x.add(&hh.matmul_t(w, false, true));
        let o = z.lstm_cell(&cc);
        hprev.push(std::mem::replace(&mut hh, o.narrow(1, 0, h)));
        cprev.push(std::mem::replace(&mut cc, o.narrow(1, h, h)));
        zs.push(z);
    }
    let mut dzs = vec![None; t];
    let mut carry: Option<(Tensor, Tensor)> = None;
    for s in (0..t).rev() {
        let (mut dh, mut dc) = (gs[s].narrow(1, 0, h), gs[s].narrow(1, h, h));
        if let Some((ch, cc)) = &carry {
            dh = dh.add(ch);
            dc = dc.add(cc);
        }
        let (dz, dcp) = cell_backward_ops(&zs[s], &cprev[s], &dh, &dc);
        carry = Some((dz.matmul_t(w, false, false), dcp));
        dzs[s] = Some(dz);
    }
    let dz = Tensor::concat(&dzs.into_iter().map(Option::unwrap).collect::<Vec<_>>(), 0);
    let dw = dz.matmul_t(&Tensor::concat(&hprev, 0), true, false);
    let (dh0, dc0) = carry.expect("lstm_sequence: at least one step");
    [dz.reshape(xp.shape()), dw, dh0, dc0]
}

/// The fused first-order BPTT: `(dxp, dh0, dc0)` for the output gradient
/// `g`, from `W_hh`, `c0` and what the forward pass saved.
fn bptt(d: SeqDims, w_hh: &Tensor, c0: &Tensor, out: &Tensor, act: &[f32], tc: &[f32], g: &Tensor) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let n = d.t * d.b * 4 * d.h;
    let mut dxp = Vec::with_capacity(n);
    let (mut dh0, mut dc0) = (vec![0.0; d.b * d.h], vec![0.0; d.b * d.h]);
    let saved = (out.data(), act, tc);
    rnn::lstm_bptt(d, w_hh.data(), c0.data(), saved, g.data(), &mut dxp.spare_capacity_mut()[..n], (&mut dh0, &mut dc0));
    // SAFETY: lstm_bptt wrote every element of dxp.
    unsafe { dxp.set_len(n) };
    (dxp, dh0, dc0)
}

/// Runs the recurrence on the projections `xp` (`[t, b, 4h]`, consumed:
/// they become the pre-activations): `(out, act, tc)`, see
/// [`rnn::lstm_sequence_forward`].
fn run_sequence(d: SeqDims, mut xp: Vec<f32>, w_hh: &Tensor, h0: &Tensor, c0: &Tensor) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let n = d.t * d.b * d.h;
    let (mut out, mut act, mut tc) = (Vec::with_capacity(2 * n), Vec::with_capacity(4 * n), Vec::with_capacity(n));
    let (o, a, t) = (&mut out.spare_capacity_mut()[..2 * n], &mut act.spare_capacity_mut()[..4 * n], &mut tc.spare_capacity_mut()[..n]);
    rnn::lstm_sequence_forward(d, &mut xp, w_hh.data(), (h0.data(), c0.data()), (o, a, t));
    // SAFETY: lstm_sequence_forward wrote every element of the three.
    unsafe {
        out.set_len(2 * n);
        act.set_len(4 * n);
        tc.set_len(n);
    }
    (out, act, tc)
}

/// Saved by the forward pass for the fused first-order backward.
struct LstmSequence {
    dims: SeqDims,
    /// Activated gates of every step, `[t, b, 4h]`.
    act: Vec<f32>,
    /// `tanh(c)` of every step, `[t, b, h]`.
    tc: Vec<f32>,
}

impl Backward for LstmSequence {
    fn name(&self) -> &'static str {
        "lstm_sequence"
    }
    fn backward(&self, i: &[Tensor], out: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let grads = if is_grad_enabled() {
            Vec::from(sequence_backward_ops(&i[0], &i[1], &i[2], &i[3], g))
        } else {
            let d = self.dims;
            let (dxp, dh0, dc0) = bptt(d, &i[1], &i[3], out, &self.act, &self.tc, g);
            let mut dw = vec![0.0; i[1].numel()];
            rnn::lstm_sequence_weight_grad(d, &dxp, i[2].data(), out.data(), &mut dw);
            [dxp, dw, dh0, dc0].into_iter().zip(i).map(|(v, x)| Tensor::from_vec(v, x.shape())).collect()
        };
        grads.into_iter().zip(i).map(|(g, x)| x.requires_grad().then_some(g)).collect()
    }
}

/// Saved by [`Tensor::lstm_layer`] for the fused first-order backward: what
/// the recurrence saves ([`LstmSequence`]).
struct LstmLayer(LstmSequence);

impl Backward for LstmLayer {
    fn name(&self) -> &'static str {
        "lstm_layer"
    }
    fn backward(&self, i: &[Tensor], out: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let (x, w_ih, bias, w_hh, h0, c0) = (&i[0], &i[1], &i[2], &i[3], &i[4], &i[5]);
        let LstmSequence { dims: d, act, tc } = &self.0;
        let d = *d;
        let (rows, n_in, h4) = (d.t * d.b, x.dim(2), 4 * d.h);
        if is_grad_enabled() {
            // The projection recomputed with differentiable ops, then the
            // recurrence's rule and the projection's rule.
            let x2 = x.reshape(&[rows, n_in]);
            let xp = x2.matmul_t_bias(w_ih, false, true, bias).reshape(&[d.t, d.b, h4]);
            let [dxp, dw_hh, dh0, dc0] = sequence_backward_ops(&xp, w_hh, h0, c0, g);
            let dz = dxp.reshape(&[rows, h4]);
            let grads =
                [dz.matmul_t(w_ih, false, false).reshape(x.shape()), dz.matmul_t(&x2, true, false), dz.sum_to(&[h4]), dw_hh, dh0, dc0];
            return grads.into_iter().zip(i).map(|(g, x)| x.requires_grad().then_some(g)).collect();
        }
        let (dz, dh0, dc0) = bptt(d, w_hh, c0, out, act, tc, g);
        let (dw_hh, dw_ih) = if w_ih.requires_grad() || w_hh.requires_grad() {
            let (hh, ih) = rnn::lstm_layer_weight_grads(d, n_in, &dz, h0.data(), out.data(), x.data());
            (Some(Tensor::from_vec(hh, w_hh.shape())), Some(Tensor::from_vec(ih, w_ih.shape())))
        } else {
            (None, None)
        };
        let dz = Tensor::from_vec(dz, &[rows, h4]);
        vec![
            x.requires_grad().then(|| dz.matmul_t(w_ih, false, false).reshape(x.shape())),
            dw_ih.filter(|_| w_ih.requires_grad()),
            bias.requires_grad().then(|| dz.sum_to(&[h4])),
            dw_hh.filter(|_| w_hh.requires_grad()),
            h0.requires_grad().then(|| Tensor::from_vec(dh0, h0.shape())),
            c0.requires_grad().then(|| Tensor::from_vec(dc0, c0.shape())),
        ]
    }
}

impl Tensor {
    /// A whole LSTM layer over a time-major sequence `self` (`[t, b, n_in]`):
    /// the projections `x·W_ihᵀ + bias` of all steps in one product, then
    /// the recurrence of [`Tensor::lstm_sequence`] on them (`w_ih`:
    /// `[4h, n_in]`, `bias`: `[4h]`, i.e. `b_ih + b_hh`; `w_hh`: `[4h, h]`;
    /// `h0`, `c0`: `[b, h]`). Returns `[t, b, 2h]`: every step's
    /// `concat(h, c)`. The same values as `lstm_sequence` on
    /// `matmul_t_bias`'s projections; fused, the projections become the
    /// pre-activations in place, and the backward pass gets both weight
    /// gradients from one product that packs the big `dz` once.
    pub fn lstm_layer(&self, w_ih: &Tensor, bias: &Tensor, w_hh: &Tensor, h0: &Tensor, c0: &Tensor) -> Tensor {
        let ok = self.ndim() == 3
            && self.dim(0) > 0
            && h0.ndim() == 2
            && h0.dim(1) > 0
            && self.dim(1) == h0.dim(0)
            && w_ih.shape() == [4 * h0.dim(1), self.dim(2)]
            && bias.shape() == [4 * h0.dim(1)]
            && w_hh.shape() == [4 * h0.dim(1), h0.dim(1)]
            && c0.shape() == h0.shape();
        assert!(
            ok,
            "lstm_layer: input {:?} must be [t, b, n_in] with W_ih {:?} [4h, n_in], bias {:?} [4h], W_hh {:?} [4h, h] and states {:?}, {:?} [b, h]",
            self.shape(),
            w_ih.shape(),
            bias.shape(),
            w_hh.shape(),
            h0.shape(),
            c0.shape()
        );
        let dims = SeqDims { t: self.dim(0), b: h0.dim(0), h: h0.dim(1) };
        let (rows, n_in, h4) = (dims.t * dims.b, self.dim(2), 4 * dims.h);
        let mut xp = Vec::with_capacity(rows * h4);
        let epi = Epilogue { bias: Some(bias.data()), relu: false };
        let (x, w) = (MatRef::new(self.data(), rows, n_in, n_in), MatRef::new(w_ih.data(), h4, n_in, n_in).t());
        gemm_uninit(x, w, MatMut::new(&mut xp.spare_capacity_mut()[..rows * h4], rows, h4, h4), epi);
        // SAFETY: gemm_uninit wrote every element of the rows × 4h product.
        unsafe { xp.set_len(rows * h4) };
        let (out, act, tc) = run_sequence(dims, xp, w_hh, h0, c0);
        let inputs = vec![self.clone(), w_ih.clone(), bias.clone(), w_hh.clone(), h0.clone(), c0.clone()];
        Tensor::from_op(out, vec![dims.t, dims.b, 2 * dims.h], LstmLayer(LstmSequence { dims, act, tc }), inputs)
    }

    /// Runs one LSTM layer over a time-major sequence. `self`: the input
    /// projections of every step, biases included (`[t, b, 4h]`, gates in
    /// PyTorch order i, f, g, o); `w_hh`: `[4h, h]`; `h0`, `c0`: `[b, h]`.
    /// Per step `z = self[s] + h·W_hhᵀ`, then [`Tensor::lstm_cell`]. Returns
    /// `[t, b, 2h]`: every step's `concat(h, c)`.
    pub fn lstm_sequence(&self, w_hh: &Tensor, h0: &Tensor, c0: &Tensor) -> Tensor {
        let ok = self.ndim() == 3
            && self.dim(0) > 0
            && h0.ndim() == 2
            && h0.dim(1) > 0
            && self.dim(1) == h0.dim(0)
            && self.dim(2) == 4 * h0.dim(1)
            && c0.shape() == h0.shape()
            && w_hh.shape() == [self.dim(2), h0.dim(1)];
        assert!(
            ok,
            "lstm_sequence: projections {:?} must be [t, b, 4h] with W_hh {:?} [4h, h] and states {:?}, {:?} [b, h]",
            self.shape(),
            w_hh.shape(),
            h0.shape(),
            c0.shape()
        );
        let dims = SeqDims { t: self.dim(0), b: h0.dim(0), h: h0.dim(1) };
        let (out, act, tc) = run_sequence(dims, self.to_vec(), w_hh, h0, c0);
        let inputs = vec![self.clone(), w_hh.clone(), h0.clone(), c0.clone()];
        Tensor::from_op(out, vec![dims.t, dims.b, 2 * dims.h], LstmSequence { dims, act, tc }, inputs)
    }

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
        rnn::lstm_cell_forward(h, self.data(), (c.data(), h), (&mut out, &mut act, &mut tc));
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
        let got = grad_with_seeds(&[fused], std::slice::from_ref(&seed), &[z.clone(), c.clone()], false);
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

    /// The layer recurrence composed of per-step ops.
    fn sequence_reference(xp: &Tensor, w: &Tensor, h0: &Tensor, c0: &Tensor) -> Tensor {
        let (t, b, h) = (xp.dim(0), xp.dim(1), h0.dim(1));
        let (mut hh, mut cc) = (h0.clone(), c0.clone());
        let mut outs = Vec::new();
        for s in 0..t {
            let z = xp.narrow(0, s, 1).reshape(&[b, 4 * h]).add(&hh.matmul_t(w, false, true));
            let o = reference(&z, &cc);
            hh = o.narrow(1, 0, h);
            cc = o.narrow(1, h, h);
            outs.push(o.unsqueeze(0));
        }
        Tensor::concat(&outs, 0)
    }

    fn sequence_inputs(t: usize, b: usize, h: usize, seed: u64) -> Vec<Tensor> {
        vec![
            Tensor::rand_uniform(&[t, b, 4 * h], -1.5, 1.5, seed),
            Tensor::rand_uniform(&[4 * h, h], -0.8, 0.8, seed + 1),
            Tensor::rand_uniform(&[b, h], -1.0, 1.0, seed + 2),
            Tensor::rand_uniform(&[b, h], -1.0, 1.0, seed + 3),
        ]
    }

    #[test]
    fn sequence_matches_composed_ops() {
        let x: Vec<Tensor> = sequence_inputs(5, 3, 4, 10).iter().map(|t| t.requires_grad_()).collect();
        let fused = x[0].lstm_sequence(&x[1], &x[2], &x[3]);
        let want = sequence_reference(&x[0], &x[1], &x[2], &x[3]);
        assert_eq!(fused.shape(), [5, 3, 8]);
        for (a, b) in fused.data().iter().zip(want.data()) {
            assert!((a - b).abs() < 1e-5, "{fused:?} vs {want:?}");
        }
        // Fused first-order kernel, differentiable-op rule (create_graph) and
        // the composed reference agree.
        let seed = Tensor::rand_uniform(&[5, 3, 8], -1.0, 1.0, 20);
        let fast = grad_with_seeds(std::slice::from_ref(&fused), std::slice::from_ref(&seed), &x, false);
        let ops = grad_with_seeds(&[fused], std::slice::from_ref(&seed), &x, true);
        let slow = grad_with_seeds(&[want], &[seed], &x, false);
        for ((f, o), s) in fast.iter().zip(&ops).zip(&slow) {
            for ((a, b), c) in f.data().iter().zip(o.data()).zip(s.data()) {
                assert!((a - c).abs() < 1e-5 && (b - c).abs() < 1e-5, "{f:?} / {o:?} vs {s:?}");
            }
        }
    }

    #[test]
    fn sequence_gradients() {
        let cfg = GradCheck::default();
        check_all("lstm_sequence", |x| x[0].lstm_sequence(&x[1], &x[2], &x[3]), sequence_inputs(3, 2, 2, 30), &cfg);
        check_all("lstm_sequence-1step", |x| x[0].lstm_sequence(&x[1], &x[2], &x[3]), sequence_inputs(1, 2, 3, 40), &cfg);
    }

    #[test]
    fn sequence_thread_count_does_not_change_results() {
        // Large enough for the parallel paths of the cell kernels and GEMMs.
        let x: Vec<Tensor> = sequence_inputs(3, 32, 256, 50).iter().map(|t| t.requires_grad_()).collect();
        let seed = Tensor::rand_uniform(&[3, 32, 512], -1.0, 1.0, 60);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let y = x[0].lstm_sequence(&x[1], &x[2], &x[3]);
                let g = grad_with_seeds(std::slice::from_ref(&y), std::slice::from_ref(&seed), &x, false);
                (y.to_vec(), g.iter().map(|g| g.to_vec()).collect::<Vec<_>>())
            })
        };
        // 1 thread: one row chunk and parallel products; 2 and 3: the batch
        // split into per-thread row chunks (3 does not divide 32).
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    /// `[x, w_ih, bias, w_hh, h0, c0]` for a layer over `n_in` features.
    fn layer_inputs(t: usize, b: usize, n_in: usize, h: usize, seed: u64) -> Vec<Tensor> {
        vec![
            Tensor::rand_uniform(&[t, b, n_in], -1.5, 1.5, seed),
            Tensor::rand_uniform(&[4 * h, n_in], -0.8, 0.8, seed + 1),
            Tensor::rand_uniform(&[4 * h], -0.5, 0.5, seed + 2),
            Tensor::rand_uniform(&[4 * h, h], -0.8, 0.8, seed + 3),
            Tensor::rand_uniform(&[b, h], -1.0, 1.0, seed + 4),
            Tensor::rand_uniform(&[b, h], -1.0, 1.0, seed + 5),
        ]
    }

    /// The layer as the projection op followed by the recurrence op.
    fn layer_reference(x: &[Tensor]) -> Tensor {
        let (t, b, n_in) = (x[0].dim(0), x[0].dim(1), x[0].dim(2));
        let xp = x[0].reshape(&[t * b, n_in]).matmul_t_bias(&x[1], false, true, &x[2]);
        xp.reshape(&[t, b, x[2].dim(0)]).lstm_sequence(&x[3], &x[4], &x[5])
    }

    #[test]
    fn layer_matches_projection_then_sequence() {
        let x: Vec<Tensor> = layer_inputs(6, 3, 5, 4, 70).iter().map(|t| t.requires_grad_()).collect();
        let fused = x[0].lstm_layer(&x[1], &x[2], &x[3], &x[4], &x[5]);
        let want = layer_reference(&x);
        assert_eq!(fused.shape(), [6, 3, 8]);
        // The same kernels in the same order: the same bits.
        assert_eq!(fused.to_vec(), want.to_vec());
        // Fused first-order rule, differentiable-op rule and the composition agree.
        let seed = Tensor::rand_uniform(&[6, 3, 8], -1.0, 1.0, 80);
        let fast = grad_with_seeds(std::slice::from_ref(&fused), std::slice::from_ref(&seed), &x, false);
        let ops = grad_with_seeds(&[fused], std::slice::from_ref(&seed), &x, true);
        let slow = grad_with_seeds(&[want], &[seed], &x, false);
        for ((f, o), s) in fast.iter().zip(&ops).zip(&slow) {
            assert_eq!(f.shape(), s.shape());
            for ((a, b), c) in f.data().iter().zip(o.data()).zip(s.data()) {
                assert!((a - c).abs() < 1e-5 && (b - c).abs() < 1e-5, "{f:?} / {o:?} vs {s:?}");
            }
        }
    }

    #[test]
    fn layer_gradients() {
        let cfg = GradCheck::default();
        let layer = |x: &[Tensor]| x[0].lstm_layer(&x[1], &x[2], &x[3], &x[4], &x[5]);
        check_all("lstm_layer", layer, layer_inputs(3, 2, 3, 2, 90), &cfg);
        check_all("lstm_layer-1step", layer, layer_inputs(1, 2, 2, 3, 100), &cfg);
    }

    #[test]
    fn layer_grads_only_for_inputs_that_need_them() {
        let x = layer_inputs(2, 2, 3, 2, 110);
        let w_ih = x[1].requires_grad_();
        let y = x[0].lstm_layer(&w_ih, &x[2], &x[3], &x[4], &x[5]);
        let seed = Tensor::rand_uniform(&[2, 2, 4], -1.0, 1.0, 120);
        let g = grad_with_seeds(std::slice::from_ref(&y), std::slice::from_ref(&seed), std::slice::from_ref(&w_ih), false);
        let want = grad_with_seeds(
            &[layer_reference(&[x[0].clone(), w_ih.clone(), x[2].clone(), x[3].clone(), x[4].clone(), x[5].clone()])],
            &[seed],
            &[w_ih],
            false,
        );
        for (a, b) in g[0].data().iter().zip(want[0].data()) {
            assert!((a - b).abs() < 1e-5, "{:?} vs {:?}", g[0], want[0]);
        }
    }

    #[test]
    fn layer_thread_count_does_not_change_results() {
        let x: Vec<Tensor> = layer_inputs(3, 32, 64, 256, 130).iter().map(|t| t.requires_grad_()).collect();
        let seed = Tensor::rand_uniform(&[3, 32, 512], -1.0, 1.0, 140);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let y = x[0].lstm_layer(&x[1], &x[2], &x[3], &x[4], &x[5]);
                let g = grad_with_seeds(std::slice::from_ref(&y), std::slice::from_ref(&seed), &x, false);
                (y.to_vec(), g.iter().map(|g| g.to_vec()).collect::<Vec<_>>())
            })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
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
                let g = grad_with_seeds(std::slice::from_ref(&y), std::slice::from_ref(&seed), &[z.clone(), c.clone()], false);
                (y.to_vec(), g[0].to_vec(), g[1].to_vec())
            })
        };
        assert_eq!(run(1), run(2));
    }
}
