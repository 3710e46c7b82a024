//! Matrix multiplication, 2-D and batched, with transposition flags so that
//! backward rules never copy a transpose.

use super::activation::relu_grad;
use crate::graph::Backward;
use crate::kernels::gemm::{gemm_uninit, Epilogue, MatMut, MatRef};
use crate::tensor::Tensor;

/// `op(A)·op(B)` over 2-D or 3-D (batched, equal batch) operands.
struct MatMul {
    ta: bool,
    tb: bool,
}
impl Backward for MatMul {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let (a, b) = (&i[0], &i[1]);
        // C = op(A) op(B):  dA = g op(B)ᵀ (or its transpose), dB = op(A)ᵀ g (or its transpose).
        let da = a.requires_grad().then(|| if self.ta { b.matmul_t(g, self.tb, true) } else { g.matmul_t(b, false, !self.tb) });
        let db = b.requires_grad().then(|| if self.tb { g.matmul_t(a, true, self.ta) } else { a.matmul_t(g, !self.ta, false) });
        vec![da, db]
    }
}

/// `op(A)·op(B) + bias` (2-D, bias broadcast over rows), then a ReLU if
/// `relu`: the ReLU's rule (mask from the output: `y > 0` exactly where the
/// pre-activation is), then the product's rule plus the bias's `sum_to`, as
/// `matmul_t`, `add` and `relu` one after the other would give.
struct MatMulBias {
    ta: bool,
    tb: bool,
    relu: bool,
}
impl Backward for MatMulBias {
    fn name(&self) -> &'static str {
        if self.relu {
            "matmul_bias_relu"
        } else {
            "matmul_bias"
        }
    }
    fn backward(&self, i: &[Tensor], out: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let gz = if self.relu { relu_grad(out, g) } else { g.clone() };
        let mut grads = MatMul { ta: self.ta, tb: self.tb }.backward(&i[..2], out, &gz);
        grads.push(i[2].requires_grad().then(|| gz.sum_to(i[2].shape())));
        grads
    }
}

impl Tensor {
    /// Matrix product with optional transposition of either operand:
    /// `op(self)·op(other)` where `op(X) = Xᵀ` (last two axes) when its flag
    /// is set. Operands are 2-D, or 3-D with equal batch size.
    pub fn matmul_t(&self, other: &Tensor, trans_a: bool, trans_b: bool) -> Tensor {
        self.matmul_impl(other, trans_a, trans_b, None, false)
    }

    /// `op(self)·op(other) + bias` for 2-D operands and a bias of one value
    /// per output column (a linear layer): the same values and gradients as
    /// `matmul_t(..).add(bias)`, with the bias added inside the product.
    pub fn matmul_t_bias(&self, other: &Tensor, trans_a: bool, trans_b: bool, bias: &Tensor) -> Tensor {
        self.matmul_impl(other, trans_a, trans_b, Some(bias), false)
    }

    /// `relu(op(self)·op(other) + bias)` in one pass over the product's
    /// output (a linear layer and its activation): the same values and
    /// gradients as `matmul_t_bias(..).relu()`.
    pub fn matmul_t_bias_relu(&self, other: &Tensor, trans_a: bool, trans_b: bool, bias: &Tensor) -> Tensor {
        self.matmul_impl(other, trans_a, trans_b, Some(bias), true)
    }

    fn matmul_impl(&self, other: &Tensor, trans_a: bool, trans_b: bool, bias: Option<&Tensor>, relu: bool) -> Tensor {
        let (sa, sb) = (self.shape(), other.shape());
        let fail = || -> ! {
            panic!(
                "matmul: shapes {:?}{} and {:?}{} do not multiply",
                sa,
                if trans_a { "ᵀ" } else { "" },
                sb,
                if trans_b { "ᵀ" } else { "" }
            )
        };
        if sa.len() != sb.len() || !(2..=3).contains(&sa.len()) || (sa.len() == 3 && sa[0] != sb[0]) {
            fail();
        }
        let nd = sa.len();
        let batch = if nd == 3 { sa[0] } else { 1 };
        let (ra, ca) = (sa[nd - 2], sa[nd - 1]);
        let (rb, cb) = (sb[nd - 2], sb[nd - 1]);
        let (m, k) = if trans_a { (ca, ra) } else { (ra, ca) };
        let (k2, n) = if trans_b { (cb, rb) } else { (rb, cb) };
        if k != k2 {
            fail();
        }
        if let Some(bias) = bias {
            assert!(nd == 2 && bias.shape() == [n], "matmul_bias: bias {:?} for a product {:?}·{:?}", bias.shape(), sa, sb);
        }
        // Written by the product without being zero-filled first.
        let mut out: Vec<f32> = Vec::with_capacity(batch * m * n);
        let (a, b) = (self.data(), other.data());
        for (p, c) in out.spare_capacity_mut()[..batch * m * n].chunks_mut((m * n).max(1)).enumerate() {
            let (ap, bp) = (&a[p * ra * ca..(p + 1) * ra * ca], &b[p * rb * cb..(p + 1) * rb * cb]);
            let (av, bv) = (MatRef::new(ap, ra, ca, ca).t_if(trans_a), MatRef::new(bp, rb, cb, cb).t_if(trans_b));
            gemm_uninit(av, bv, MatMut::new(c, m, n, n), Epilogue { bias: bias.map(|t| t.data()), relu });
        }
        // SAFETY: gemm_uninit wrote every element of each batch's m × n block.
        unsafe { out.set_len(batch * m * n) };
        let shape = if nd == 3 { vec![batch, m, n] } else { vec![m, n] };
        match bias {
            None => Tensor::from_op(out, shape, MatMul { ta: trans_a, tb: trans_b }, vec![self.clone(), other.clone()]),
            Some(bias) => {
                Tensor::from_op(out, shape, MatMulBias { ta: trans_a, tb: trans_b, relu }, vec![self.clone(), other.clone(), bias.clone()])
            }
        }
    }

    /// Matrix product. `[m, k]·[k, n]`, batched `[b, m, k]·[b, k, n]`, or
    /// any `[..., m, k]` times a 2-D `[k, n]` (leading axes folded into rows).
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        if other.ndim() == 2 && self.ndim() > 2 {
            let k = self.shape()[self.ndim() - 1];
            let mut shape = self.shape().to_vec();
            let flat = self.reshape(&[self.numel() / k.max(1), k]);
            *shape.last_mut().unwrap() = other.shape()[1];
            return flat.matmul_t(other, false, false).reshape(&shape);
        }
        self.matmul_t(other, false, false)
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::{check_all, GradCheck};
    use crate::Tensor;

    fn t(shape: &[usize], seed: u64) -> Tensor {
        Tensor::rand_uniform(shape, -1.0, 1.0, seed)
    }

    #[test]
    fn values() {
        let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let b = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]);
        assert_eq!(a.matmul(&b).to_vec(), vec![4.0, 5.0, 10.0, 11.0]);
        assert_eq!(a.matmul_t(&a, false, true).to_vec(), vec![14.0, 32.0, 32.0, 77.0]);
        assert_eq!(a.matmul_t(&a, true, false).shape(), &[3, 3]);
        let x = t(&[2, 4, 3], 1);
        assert_eq!(x.matmul(&b).shape(), &[2, 4, 2]);
    }

    #[test]
    #[should_panic(expected = "matmul: shapes [2, 3] and [2, 3] do not multiply")]
    fn mismatch_panics() {
        t(&[2, 3], 1).matmul(&t(&[2, 3], 2));
    }

    #[test]
    fn gradients_all_transpositions() {
        let cfg = GradCheck::default();
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = if ta { t(&[4, 3], 61) } else { t(&[3, 4], 61) };
            let b = if tb { t(&[1, 4], 62) } else { t(&[4, 1], 62) };
            check_all("matmul", |x| x[0].matmul_t(&x[1], ta, tb), [a, b], &cfg);
            let a = if ta { t(&[2, 5, 3], 63) } else { t(&[2, 3, 5], 63) };
            let b = if tb { t(&[2, 2, 5], 64) } else { t(&[2, 5, 2], 64) };
            check_all("bmm", |x| x[0].matmul_t(&x[1], ta, tb), [a, b], &cfg);
        }
        check_all("matmul-3d-2d", |x| x[0].matmul(&x[1]), [t(&[2, 3, 4], 65), t(&[4, 2], 66)], &cfg);
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = if ta { t(&[4, 3], 67) } else { t(&[3, 4], 67) };
            let b = if tb { t(&[2, 4], 68) } else { t(&[4, 2], 68) };
            check_all("matmul_bias", |x| x[0].matmul_t_bias(&x[1], ta, tb, &x[2]), [a.clone(), b.clone(), t(&[2], 69)], &cfg);
            // Inputs whose pre-activations stay away from the ReLU's kink.
            let (a, b, c) = (a.mul_scalar(0.1), b.mul_scalar(0.1), Tensor::from_vec(vec![0.5, -0.5], &[2]));
            check_all("matmul_bias_relu", |x| x[0].matmul_t_bias_relu(&x[1], ta, tb, &x[2]), [a, b, c], &cfg);
        }
    }

    /// The fused bias (and ReLU) give the bits of `matmul_t(..).add(bias)`
    /// (`.relu()`), forward and backward, recorded or not (sizes large enough
    /// for the parallel, multi-slice product).
    #[test]
    fn bias_fused_matches_separate_add() {
        let (x, w, b) = (t(&[70, 300], 1).requires_grad_(), t(&[90, 300], 2).requires_grad_(), t(&[90], 3).requires_grad_());
        let seed = t(&[70, 90], 4);
        let fused = x.matmul_t_bias(&w, false, true, &b);
        let separate = x.matmul_t(&w, false, true).add(&b);
        let same = |p: &Tensor, q: &Tensor| p.data().iter().zip(q.data()).all(|(u, v)| u.to_bits() == v.to_bits());
        assert!(same(&fused, &separate));
        let fused_relu = x.matmul_t_bias_relu(&w, false, true, &b);
        let separate_relu = separate.relu();
        assert!(same(&fused_relu, &separate_relu));
        let inputs = [x, w, b];
        for create_graph in [false, true] {
            for (f, s) in [(&fused, &separate), (&fused_relu, &separate_relu)] {
                let gf = crate::grad_with_seeds(std::slice::from_ref(f), std::slice::from_ref(&seed), &inputs, create_graph);
                let gs = crate::grad_with_seeds(std::slice::from_ref(s), std::slice::from_ref(&seed), &inputs, create_graph);
                assert!(gf.iter().zip(&gs).all(|(p, q)| p.shape() == q.shape() && same(p, q)));
            }
        }
    }
}
