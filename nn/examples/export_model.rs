//! Builds a zoo model for MNIST, optionally trains it briefly with plain SGD
//! on the embedded MNIST training split (so weights, BatchNorm statistics and
//! `num_batches_tracked` are all non-trivial), and saves it with
//! `nn::checkpoint::save`: the files `tests/fixtures/check_llv_export.py`
//! loads into PyTorch.
//!
//! `cargo run --release -p nn --example export_model -- MODEL OUT.safetensors [STEPS] [SEED]`

use autodiff::{grad, Tensor};
use datasets::Dataset;
use nn::zoo::{build, ModelConfig};
use nn::{checkpoint, ModuleExt};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: export_model MODEL OUT.safetensors [STEPS] [SEED]");
        std::process::exit(2);
    }
    let steps: usize = args.get(2).map(|s| s.parse().expect("STEPS")).unwrap_or(0);
    let seed: u64 = args.get(3).map(|s| s.parse().expect("SEED")).unwrap_or(0);
    let mut model = build(&args[0], &ModelConfig::mnist(), seed).unwrap_or_else(|e| panic!("{e}"));
    let train = datasets::embedded::mnist().expect("embedded mnist").train;
    let (batch, lr) = (64, 0.05f32);
    model.set_training(true);
    for step in 0..steps {
        let idx: Vec<usize> = (0..batch).map(|i| (step * batch + i) % train.len()).collect();
        let b = train.gather(&idx);
        let params = model.parameters_requiring_grad();
        let loss = model.forward(&Tensor::from_vec(b.inputs, &b.shape)).cross_entropy(&b.targets);
        let grads = grad(std::slice::from_ref(&loss), &params, false);
        let updated: Vec<Tensor> = params.iter().zip(&grads).map(|(p, g)| p.detach().sub(&g.mul_scalar(lr))).collect();
        model.set_parameters(&updated);
        if step % 20 == 0 {
            eprintln!("step {step}: loss {:.4}", loss.item());
        }
    }
    checkpoint::save(&mut model, &args[1]).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("saved {}", args[1]);
}
