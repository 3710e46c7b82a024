//! Arithmetic with NumPy broadcasting (add, sub, mul, div), elementwise
//! math (neg, exp, log, sqrt, powf, abs, clamp) and scalar shortcuts.

use super::{constant, unary};
use crate::graph::Backward;
use crate::kernels::{elementwise, math};
use crate::shape::broadcast_shape;
use crate::tensor::Tensor;

fn binary(a: &Tensor, b: &Tensor, name: &str, f: impl Fn(f32, f32) -> f32 + Sync, op: impl Backward + 'static) -> Tensor {
    let out_shape = broadcast_shape(a.shape(), b.shape())
        .unwrap_or_else(|| panic!("{name}: shapes {:?} and {:?} do not broadcast", a.shape(), b.shape()));
    let data = elementwise::zip_map(a.data(), a.shape(), b.data(), b.shape(), &out_shape, f);
    Tensor::from_op(data, out_shape, op, vec![a.clone(), b.clone()])
}

struct Add;
impl Backward for Add {
    fn name(&self) -> &'static str {
        "add"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![i[0].requires_grad().then(|| g.sum_to(i[0].shape())), i[1].requires_grad().then(|| g.sum_to(i[1].shape()))]
    }
}

struct Sub;
impl Backward for Sub {
    fn name(&self) -> &'static str {
        "sub"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![i[0].requires_grad().then(|| g.sum_to(i[0].shape())), i[1].requires_grad().then(|| g.neg().sum_to(i[1].shape()))]
    }
}

struct Mul;
impl Backward for Mul {
    fn name(&self) -> &'static str {
        "mul"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![
            i[0].requires_grad().then(|| g.mul(&i[1]).sum_to(i[0].shape())),
            i[1].requires_grad().then(|| g.mul(&i[0]).sum_to(i[1].shape())),
        ]
    }
}

struct Div;
impl Backward for Div {
    fn name(&self) -> &'static str {
        "div"
    }
    fn backward(&self, i: &[Tensor], out: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        // d(a/b)/da = 1/b;  d(a/b)/db = -(a/b)/b
        vec![
            i[0].requires_grad().then(|| g.div(&i[1]).sum_to(i[0].shape())),
            i[1].requires_grad().then(|| g.mul(out).div(&i[1]).neg().sum_to(i[1].shape())),
        ]
    }
}

struct Neg;
impl Backward for Neg {
    fn name(&self) -> &'static str {
        "neg"
    }
    fn backward(&self, _: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.neg())]
    }
}

struct Exp;
impl Backward for Exp {
    fn name(&self) -> &'static str {
        "exp"
    }
    fn backward(&self, _: &[Tensor], out: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.mul(out))]
    }
}

struct Log;
impl Backward for Log {
    fn name(&self) -> &'static str {
        "log"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.div(&i[0]))]
    }
}

struct Sqrt;
impl Backward for Sqrt {
    fn name(&self) -> &'static str {
        "sqrt"
    }
    fn backward(&self, _: &[Tensor], out: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.div(out).mul_scalar(0.5))]
    }
}

struct Powf(f32);
impl Backward for Powf {
    fn name(&self) -> &'static str {
        "powf"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let p = self.0;
        if p == 0.0 {
            return vec![Some(g.zeros_like())];
        }
        vec![Some(g.mul(&i[0].powf(p - 1.0)).mul_scalar(p))]
    }
}

struct Abs;
impl Backward for Abs {
    fn name(&self) -> &'static str {
        "abs"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let sign = i[0]
            .data()
            .iter()
            .map(|&v| {
                if v > 0.0 {
                    1.0
                } else if v < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            })
            .collect();
        vec![Some(g.mul(&constant(sign, i[0].shape())))]
    }
}

struct Clamp(f32, f32);
impl Backward for Clamp {
    fn name(&self) -> &'static str {
        "clamp"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        // PyTorch: the gradient passes where lo <= x <= hi.
        let mask = i[0].data().iter().map(|&v| if v >= self.0 && v <= self.1 { 1.0 } else { 0.0 }).collect();
        vec![Some(g.mul(&constant(mask, i[0].shape())))]
    }
}

struct AddScalar;
impl Backward for AddScalar {
    fn name(&self) -> &'static str {
        "add_scalar"
    }
    fn backward(&self, _: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.clone())]
    }
}

struct MulScalar(f32);
impl Backward for MulScalar {
    fn name(&self) -> &'static str {
        "mul_scalar"
    }
    fn backward(&self, _: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.mul_scalar(self.0))]
    }
}

impl Tensor {
    /// `self + other`, broadcasting.
    pub fn add(&self, other: &Tensor) -> Tensor {
        binary(self, other, "add", |a, b| a + b, Add)
    }
    /// `self - other`, broadcasting.
    pub fn sub(&self, other: &Tensor) -> Tensor {
        binary(self, other, "sub", |a, b| a - b, Sub)
    }
    /// `self * other` elementwise, broadcasting.
    pub fn mul(&self, other: &Tensor) -> Tensor {
        binary(self, other, "mul", |a, b| a * b, Mul)
    }
    /// `self / other` elementwise, broadcasting.
    pub fn div(&self, other: &Tensor) -> Tensor {
        binary(self, other, "div", |a, b| a / b, Div)
    }
    /// `-self`.
    pub fn neg(&self) -> Tensor {
        unary(self, |v| -v, Neg)
    }
    /// `e^self`.
    pub fn exp(&self) -> Tensor {
        unary(self, math::exp, Exp)
    }
    /// Natural logarithm.
    pub fn log(&self) -> Tensor {
        unary(self, f32::ln, Log)
    }
    /// Square root.
    pub fn sqrt(&self) -> Tensor {
        unary(self, f32::sqrt, Sqrt)
    }
    /// `self^p` elementwise for a constant exponent.
    pub fn powf(&self, p: f32) -> Tensor {
        unary(self, move |v| v.powf(p), Powf(p))
    }
    /// `|self|`; its derivative at 0 is taken as 0 (PyTorch's choice).
    pub fn abs(&self) -> Tensor {
        unary(self, f32::abs, Abs)
    }
    /// Values limited to `[lo, hi]`; gradient passes where `lo <= x <= hi`.
    pub fn clamp(&self, lo: f32, hi: f32) -> Tensor {
        assert!(lo <= hi, "clamp: lo {lo} > hi {hi}");
        unary(self, move |v| v.max(lo).min(hi), Clamp(lo, hi))
    }
    /// `self + c`.
    pub fn add_scalar(&self, c: f32) -> Tensor {
        unary(self, move |v| v + c, AddScalar)
    }
    /// `self * c`.
    pub fn mul_scalar(&self, c: f32) -> Tensor {
        unary(self, move |v| v * c, MulScalar(c))
    }
    /// `self²`.
    pub fn square(&self) -> Tensor {
        self.mul(self)
    }

    /// Sums a broadcast result back down to `shape` (the adjoint of
    /// broadcasting): leading axes and axes where `shape` has size 1 are
    /// summed.
    pub fn sum_to(&self, shape: &[usize]) -> Tensor {
        if self.shape() == shape {
            return self.clone();
        }
        let nd = self.ndim();
        assert!(
            shape.len() <= nd && broadcast_shape(shape, self.shape()).as_deref() == Some(self.shape()),
            "sum_to: shape {:?} does not broadcast to {:?}",
            shape,
            self.shape()
        );
        let offset = nd - shape.len();
        let axes: Vec<usize> = (0..nd).filter(|&d| d < offset || (shape[d - offset] == 1 && self.shape()[d] != 1)).collect();
        self.sum_keepdim(&axes).reshape(shape)
    }
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident) => {
        impl std::ops::$trait<&Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$method(self, rhs)
            }
        }
        impl std::ops::$trait<Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$method(&self, &rhs)
            }
        }
    };
}
binary_operator!(Add, add);
binary_operator!(Sub, sub);
binary_operator!(Mul, mul);
binary_operator!(Div, div);

impl std::ops::Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::{check_all, GradCheck};
    use crate::Tensor;

    fn t(shape: &[usize], seed: u64) -> Tensor {
        Tensor::rand_uniform(shape, -1.0, 1.0, seed)
    }
    fn positive(shape: &[usize], seed: u64) -> Tensor {
        Tensor::rand_uniform(shape, 0.5, 2.0, seed)
    }

    #[test]
    fn values() {
        let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let b = Tensor::from_vec(vec![10.0, 20.0], &[2]);
        assert_eq!((&a + &b).to_vec(), vec![11.0, 22.0, 13.0, 24.0]);
        assert_eq!(a.sub(&b).to_vec(), vec![-9.0, -18.0, -7.0, -16.0]);
        assert_eq!(a.div(&b).to_vec(), vec![0.1, 0.1, 0.3, 0.2]);
        assert_eq!(a.clamp(1.5, 3.0).to_vec(), vec![1.5, 2.0, 3.0, 3.0]);
        assert_eq!(a.powf(2.0).to_vec(), vec![1.0, 4.0, 9.0, 16.0]);
        assert_eq!(a.neg().abs().to_vec(), a.to_vec());
        assert_eq!(a.sum_to(&[1, 2]).to_vec(), vec![4.0, 6.0]);
        assert_eq!(a.sum_to(&[]).to_vec(), vec![10.0]);
    }

    #[test]
    #[should_panic(expected = "add: shapes [2, 3] and [2] do not broadcast")]
    fn mismatch_names_op_and_shapes() {
        t(&[2, 3], 1).add(&t(&[2], 2));
    }

    #[test]
    fn broadcasting_binary_ops() {
        let cfg = GradCheck::default();
        // Size-1 dims, rank differences, scalars.
        let cases: [(&[usize], &[usize]); 5] =
            [(&[3, 4], &[3, 4]), (&[3, 1], &[1, 4]), (&[2, 3, 4], &[4]), (&[1], &[2, 3]), (&[], &[2, 2])];
        for (sa, sb) in cases {
            check_all("add", |x| x[0].add(&x[1]), [t(sa, 1), t(sb, 2)], &cfg);
            check_all("sub", |x| x[0].sub(&x[1]), [t(sa, 3), t(sb, 4)], &cfg);
            check_all("mul", |x| x[0].mul(&x[1]), [t(sa, 5), t(sb, 6)], &cfg);
            check_all("div", |x| x[0].div(&x[1]), [t(sa, 7), positive(sb, 8)], &cfg);
        }
    }

    #[test]
    fn unary_ops() {
        let cfg = GradCheck::default();
        let x = t(&[2, 3, 1], 11);
        let p = positive(&[3, 2], 12);
        check_all("neg", |x| x[0].neg(), [x.clone()], &cfg);
        check_all("exp", |x| x[0].exp(), [x.clone()], &cfg);
        check_all("log", |x| x[0].log(), [p.clone()], &cfg);
        check_all("sqrt", |x| x[0].sqrt(), [p.clone()], &cfg);
        check_all("powf", |x| x[0].powf(2.5), [p.clone()], &cfg);
        check_all("powf-neg", |x| x[0].powf(-1.5), [p.clone()], &cfg);
        check_all("add_scalar", |x| x[0].add_scalar(0.3), [x.clone()], &cfg);
        check_all("mul_scalar", |x| x[0].mul_scalar(-1.7), [x.clone()], &cfg);
        // Kinked ops: keep inputs away from the kinks by more than the FD step.
        let away = Tensor::from_vec(vec![-0.9, -0.4, 0.3, 0.7, 1.2, -1.5], &[2, 3]);
        check_all("abs", |x| x[0].abs(), [away.clone()], &cfg);
        check_all("clamp", |x| x[0].clamp(-0.5, 0.5), [away], &cfg);
    }
}
