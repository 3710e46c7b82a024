//! Graphs are freed when their loss is dropped: 1,000 forward/backward
//! steps leave no tensor nodes behind.

use autodiff::{grad, live_tensor_count, Tensor};
use std::sync::Mutex;

/// The live-tensor count is process-wide: tests in this file take turns.
static SERIAL: Mutex<()> = Mutex::new(());

/// A small MLP training loop; counts live tensor nodes after every step.
#[test]
fn dropping_the_loss_frees_the_graph() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let x = Tensor::randn(&[16, 8], 1);
    let targets: Vec<usize> = (0..16).map(|i| i % 3).collect();
    let mut w1 = Tensor::randn(&[8, 12], 2).mul_scalar(0.3).requires_grad_();
    let mut w2 = Tensor::randn(&[12, 3], 3).mul_scalar(0.3).requires_grad_();
    let mut baseline = None;
    let mut first_loss = 0.0;
    let mut last_loss = 0.0;
    for step in 0..1000 {
        let loss = x.matmul(&w1).tanh().matmul(&w2).cross_entropy(&targets);
        let g = grad(std::slice::from_ref(&loss), &[w1.clone(), w2.clone()], false);
        last_loss = loss.item();
        if step == 0 {
            first_loss = last_loss;
        }
        w1 = w1.sub(&g[0].mul_scalar(0.1)).detach().requires_grad_();
        w2 = w2.sub(&g[1].mul_scalar(0.1)).detach().requires_grad_();
        drop((loss, g));
        let live = live_tensor_count();
        match baseline {
            None => baseline = Some(live),
            Some(b) => assert!(live <= b, "step {step}: {live} live tensors, started at {b}: the graph is leaking"),
        }
    }
    assert!(last_loss < first_loss, "training did not reduce the loss: {first_loss} -> {last_loss}");
}

/// Second-order graphs are freed too.
#[test]
fn hessian_vector_products_do_not_leak() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let w = Tensor::randn(&[6, 6], 4);
    let v = Tensor::randn(&[6, 6], 5);
    let x = Tensor::randn(&[4, 6], 6);
    let mut baseline = None;
    for step in 0..300 {
        let (_, hv) = autodiff::hvp(|p| x.matmul(&p[0]).tanh().square().sum_all(), std::slice::from_ref(&w), std::slice::from_ref(&v));
        drop(hv);
        let live = live_tensor_count();
        match baseline {
            None => baseline = Some(live),
            Some(b) => assert!(live <= b, "step {step}: {live} live tensors, started at {b}"),
        }
    }
}

/// A very deep chain is dropped without overflowing the stack.
#[test]
fn deep_graph_drops_iteratively() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let x = Tensor::ones(&[2]).requires_grad_();
            let mut y = x.clone();
            for _ in 0..100_000 {
                y = y.mul_scalar(1.0);
            }
            drop(y);
        })
        .unwrap();
    handle.join().expect("dropping a deep graph overflowed the stack");
}
