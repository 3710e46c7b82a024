//! The same computation gives bit-identical results whatever the number of
//! worker threads (fixed-order reductions; work split by output, never by
//! thread).

use autodiff::{batch_norm, grad, hvp, BatchNormConfig, Tensor};

/// A conv → BN → ReLU → pool → linear network, big enough that every
/// kernel takes its parallel path; returns loss, gradients and an HVP.
fn run() -> Vec<Vec<f32>> {
    let x = Tensor::randn(&[16, 3, 32, 32], 1);
    let targets: Vec<usize> = (0..16).map(|i| i % 10).collect();
    let w = Tensor::randn(&[16, 3, 3, 3], 2).mul_scalar(0.2);
    let fc = Tensor::randn(&[16 * 16 * 16, 10], 3).mul_scalar(0.02);
    let loss_of = |p: &[Tensor]| {
        let (mut rm, mut rv) = (Tensor::zeros(&[16]), Tensor::ones(&[16]));
        let h = x.conv2d(&p[0], None, (1, 1), (1, 1), (1, 1));
        let h = batch_norm(&h, None, None, &mut rm, &mut rv, BatchNormConfig::default()).relu();
        let h = h.max_pool2d((2, 2), (2, 2), (0, 0), false).flatten_from(1);
        h.matmul(&p[1]).cross_entropy(&targets)
    };
    let params = [w.requires_grad_(), fc.requires_grad_()];
    let loss = loss_of(&params);
    let g = grad(std::slice::from_ref(&loss), &params, false);
    let v = [Tensor::randn(&[16, 3, 3, 3], 4), Tensor::randn(&[4096, 10], 5)];
    let (_, hv) = hvp(loss_of, &params, &v);
    let mut out = vec![loss.to_vec()];
    out.extend(g.iter().chain(&hv).map(|t| t.to_vec()));
    out
}

fn with_threads(n: usize) -> Vec<Vec<f32>> {
    rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap().install(run)
}

/// 1, 2 and 3 threads agree bit for bit.
#[test]
fn results_do_not_depend_on_thread_count() {
    let one = with_threads(1);
    for n in [2, 3] {
        let other = with_threads(n);
        for (k, (a, b)) in one.iter().zip(&other).enumerate() {
            let same = a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "output {k} differs between 1 and {n} threads");
        }
    }
}
