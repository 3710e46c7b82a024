//! The training loop on a synthetic set with a model defined here (so this
//! test depends only on the `Module` trait).

use autodiff::Tensor;
use datasets::{blobs, BlobsParams};
use nn::{Kind, Module};
use optim::{train, NoHooks, Schedule, Sgd, SgdConfig, TrainConfig, TrainError};

/// A 2-layer tanh network with names like PyTorch's.
struct Tiny {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
}

impl Tiny {
    fn new(inputs: usize, classes: usize) -> Tiny {
        Tiny {
            w1: Tensor::randn(&[16, inputs], 1).mul_scalar(0.5),
            b1: Tensor::zeros(&[16]),
            w2: Tensor::randn(&[classes, 16], 2).mul_scalar(0.25),
        }
    }
}

impl Module for Tiny {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        x.matmul_t(&self.w1, false, true).add(&self.b1).tanh().matmul_t(&self.w2, false, true)
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        f(&format!("{prefix}fc1.weight"), &mut self.w1, Kind::Parameter);
        f(&format!("{prefix}fc1.bias"), &mut self.b1, Kind::Parameter);
        f(&format!("{prefix}fc2.weight"), &mut self.w2, Kind::Parameter);
    }
    fn set_training(&mut self, _: bool) {}
}

/// SGD with a cosine schedule separates Gaussian blobs.
#[test]
fn sgd_learns_blobs() {
    let data = blobs(&BlobsParams { n: 600, classes: 3, ..Default::default() }).unwrap();
    let mut model = Tiny::new(2, 3);
    let mut opt = Sgd::new(SgdConfig { lr: 0.1, ..Default::default() });
    let cfg = TrainConfig { epochs: 5, batch_size: 32, ..Default::default() };
    let hist = train(&mut model, &data.train, &data.test, &mut opt, &Schedule::Cosine { min_factor: 0.0 }, &cfg, &mut NoHooks).unwrap();
    assert_eq!(hist.len(), 5);
    assert!(hist[4].train_loss < hist[0].train_loss, "{hist:?}");
    assert!(hist[4].test_accuracy >= 0.85, "test accuracy {}", hist[4].test_accuracy);
    assert_eq!(hist[0].steps, 480usize.div_ceil(32));
    // The cosine schedule lowered the rate within the run.
    assert!(hist[4].learning_rate < hist[0].learning_rate);
}

/// An exploding run stops with an error naming the step.
#[test]
fn non_finite_loss_stops_with_the_step() {
    let data = blobs(&BlobsParams { n: 200, ..Default::default() }).unwrap();
    let mut model = Tiny::new(2, 3);
    let mut opt = Sgd::new(SgdConfig { lr: f32::INFINITY, momentum: 0.0, weight_decay: 0.0, ..Default::default() });
    let cfg = TrainConfig { epochs: 2, batch_size: 16, ..Default::default() };
    match train(&mut model, &data.train, &data.test, &mut opt, &Schedule::Constant, &cfg, &mut NoHooks) {
        Err(e @ TrainError::NonFinite { .. }) => assert!(e.to_string().contains("epoch 1, step 2"), "{e}"),
        other => panic!("expected a non-finite loss error, got {other:?}"),
    }
}
