//! Losses: cross-entropy from logits with integer targets, and MSE.

use crate::tensor::Tensor;

impl Tensor {
    /// Per-example cross-entropy `-log softmax(logits)[target]` for logits
    /// `[n, classes]` and `n` integer targets; returns `[n]`.
    pub fn cross_entropy_per_example(&self, targets: &[usize]) -> Tensor {
        assert!(
            self.ndim() == 2 && self.shape()[0] == targets.len(),
            "cross_entropy: logits {:?} need shape [n, classes] with n = {} targets",
            self.shape(),
            targets.len()
        );
        let classes = self.shape()[1];
        if let Some(&bad) = targets.iter().find(|&&t| t >= classes) {
            panic!("cross_entropy: target {bad} out of range for {classes} classes");
        }
        self.log_softmax(1).gather(1, targets).reshape(&[targets.len()]).neg()
    }

    /// Mean cross-entropy over the batch (PyTorch's `F.cross_entropy`).
    pub fn cross_entropy(&self, targets: &[usize]) -> Tensor {
        self.cross_entropy_per_example(targets).mean_all()
    }

    /// Mean squared error `mean((self - target)²)`.
    pub fn mse(&self, target: &Tensor) -> Tensor {
        assert_eq!(self.shape(), target.shape(), "mse: prediction {:?} and target {:?} differ", self.shape(), target.shape());
        self.sub(target).square().mean_all()
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::{check_all, GradCheck};
    use crate::Tensor;

    #[test]
    fn values() {
        // Uniform logits: loss = ln(classes).
        let l = Tensor::zeros(&[2, 4]).cross_entropy(&[0, 3]).item();
        assert!((l - 4f32.ln()).abs() < 1e-6);
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0], &[2, 3]);
        let want = 3.0 - (1f32.exp() + 2f32.exp() + 3f32.exp()).ln();
        let per = x.cross_entropy_per_example(&[2, 2]).to_vec();
        assert!((per[0] + want).abs() < 1e-6 && (per[1] + want).abs() < 1e-6);
        let m = Tensor::from_vec(vec![1.0, 3.0], &[2]).mse(&Tensor::zeros(&[2])).item();
        assert_eq!(m, 5.0);
    }

    #[test]
    #[should_panic(expected = "cross_entropy: target 4 out of range for 4 classes")]
    fn bad_target_panics() {
        Tensor::zeros(&[1, 4]).cross_entropy(&[4]);
    }

    #[test]
    fn gradients() {
        let cfg = GradCheck::default();
        let x = Tensor::rand_uniform(&[5, 4], -2.0, 2.0, 71);
        check_all("cross_entropy", |x| x[0].cross_entropy(&[0, 3, 1, 1, 2]), [x.clone()], &cfg);
        check_all("cross_entropy_per_example", |x| x[0].cross_entropy_per_example(&[2, 2, 0, 1, 3]), [x.clone()], &cfg);
        check_all("mse", |x| x[0].mse(&x[1]), [x, Tensor::rand_uniform(&[5, 4], -1.0, 1.0, 72)], &cfg);
    }
}
