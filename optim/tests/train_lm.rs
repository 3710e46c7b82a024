//! The language-model training loop (`optim::train_lm`) on slices of the
//! embedded Shakespeare with small LSTMs, so CI stays fast; plus an ignored
//! per-step timing of the full zoo `char-lstm` (for speed work).

use autodiff::Tensor;
use datasets::{BpttBatches, TextData};
use nn::zoo::CharLstm;
use nn::{Module, ModuleExt};
use optim::{
    clip_grad_norm, evaluate_lm, lm_loss, token_tensor, train_lm, Adam, AdamConfig, EntropySgd, EntropySgdConfig, GradientStep, LmConfig,
    LmObjective, NoHooks, Objective, Optimizer, Pal, PalConfig, Sam, SamConfig, Schedule, Sgd, SgdConfig, TrainError,
};
use rand::{rngs::StdRng, SeedableRng};
use std::time::Instant;

/// The first 24,000 training bytes and 4,000 validation bytes of the plays.
fn slice() -> TextData {
    let mut t = datasets::embedded::shakespeare(0.1).unwrap();
    t.train.truncate(24_000);
    t.valid.truncate(4_000);
    t
}

fn small_model(vocab: usize) -> CharLstm {
    CharLstm::with_sizes(vocab, 16, 32, 1, &mut StdRng::seed_from_u64(3))
}

fn cfg(epochs: usize, steps: usize) -> LmConfig {
    LmConfig { epochs, batch_size: 8, seq_len: 16, steps_per_epoch: Some(steps), clip: Some(5.0), eval_batch_size: 8, start_epoch: 1 }
}

/// Adam on a small LSTM: the training loss falls from epoch to epoch and
/// the validation loss ends well below its initial value (≈ ln 76).
#[test]
fn adam_learns_a_shakespeare_slice() {
    let data = slice();
    let mut model = small_model(data.vocab.len());
    let before = evaluate_lm(&mut model, &BpttBatches::new(&data.valid, 8, 16).unwrap());
    assert!((before - (data.vocab.len() as f64).ln()).abs() < 0.3, "initial validation loss {before}");
    let mut opt = Adam::new(AdamConfig { lr: 1e-2, ..Default::default() });
    let hist = train_lm(&mut model, &data.train, &data.valid, &mut opt, &Schedule::Constant, &cfg(3, 25), &mut NoHooks).unwrap();
    assert_eq!(hist.len(), 3);
    assert!(hist.iter().all(|m| m.steps == 25));
    assert!(hist[2].train_loss < hist[0].train_loss, "{hist:?}");
    assert!(hist[2].val_loss < before - 0.8, "validation loss {} from {before}", hist[2].val_loss);
    assert!((hist[2].val_perplexity() - hist[2].val_loss.exp()).abs() < 1e-9);
    // The learning rate was restored after the run.
    assert_eq!(opt.learning_rate(), 1e-2);
}

/// Every optimizer goes through the `Objective` and makes progress
/// (PAL's extra forward, SAM's second gradient, Entropy-SGD's fresh
/// minibatches).
#[test]
fn every_optimizer_trains() {
    let data = slice();
    let sgd = || SgdConfig { lr: 0.5, momentum: 0.9, weight_decay: 0.0, ..Default::default() };
    let opts: Vec<Box<dyn Optimizer>> = vec![
        Box::new(Sgd::new(sgd())),
        Box::new(Adam::new(AdamConfig { lr: 1e-2, ..Default::default() })),
        Box::new(Pal::new(PalConfig::default())),
        Box::new(Sam::new(SamConfig { rho: 0.05 }, Box::new(Sgd::new(sgd())) as Box<dyn GradientStep>)),
        Box::new(EntropySgd::new(EntropySgdConfig { inner_steps: 3, ..Default::default() })),
    ];
    for mut opt in opts {
        let mut model = small_model(data.vocab.len());
        let windows = BpttBatches::new(&data.valid, 8, 16).unwrap();
        let before = evaluate_lm(&mut model, &windows);
        let hist = train_lm(&mut model, &data.train, &data.valid, opt.as_mut(), &Schedule::Constant, &cfg(1, 30), &mut NoHooks).unwrap();
        let name = opt.name();
        assert!(hist[0].val_loss.is_finite() && hist[0].val_loss < before - 0.05, "{name}: {} from {before}", hist[0].val_loss);
        // Entropy-SGD consumes 3 minibatches per outer step.
        let want_steps = if name == "entropy-sgd" { 10 } else { 30 };
        assert_eq!(hist[0].steps, want_steps, "{name}");
    }
}

/// Windows are consumed in order and wrap around: an epoch longer than the
/// data is fine, and a run split at an epoch boundary (model and optimizer
/// state carried over) ends with exactly the weights of an uninterrupted one.
#[test]
fn epochs_wrap_around_and_resume_exactly() {
    let mut data = slice();
    data.train.truncate(8 * 100); // 8 streams of 100 tokens: 6 windows of 16
    assert_eq!(BpttBatches::new(&data.train, 8, 16).unwrap().num_batches(), 6);
    let schedule = Schedule::Cosine { min_factor: 0.0 };
    let mut whole = small_model(data.vocab.len());
    let mut opt = Adam::new(AdamConfig { lr: 5e-3, ..Default::default() });
    let h = train_lm(&mut whole, &data.train, &data.valid, &mut opt, &schedule, &cfg(2, 10), &mut NoHooks).unwrap();
    assert_eq!(h.len(), 2);

    let mut split = small_model(data.vocab.len());
    let mut opt1 = Adam::new(AdamConfig { lr: 5e-3, ..Default::default() });
    let first = LmConfig { epochs: 2, ..cfg(2, 10) };
    // Stop after epoch 1 by running with epochs = 2 but a hook that errors.
    struct StopAfterOne;
    impl optim::LmHooks for StopAfterOne {
        fn on_epoch(&mut self, _: &mut dyn Module, _: &dyn Optimizer, m: &optim::LmEpochMetrics) -> Result<(), String> {
            if m.epoch == 1 {
                Err("stop".into())
            } else {
                Ok(())
            }
        }
    }
    let e = train_lm(&mut split, &data.train, &data.valid, &mut opt1, &schedule, &first, &mut StopAfterOne).unwrap_err();
    assert!(matches!(e, TrainError::Hook(ref s) if s == "stop"));
    let mut opt2 = Adam::new(AdamConfig { lr: 5e-3, ..Default::default() });
    opt2.load_state(&opt1.state()).unwrap();
    let h2 =
        train_lm(&mut split, &data.train, &data.valid, &mut opt2, &schedule, &LmConfig { start_epoch: 2, ..first }, &mut NoHooks).unwrap();
    assert_eq!(h2.len(), 1);
    assert_eq!(h2[0].val_loss, h[1].val_loss);
    for (a, b) in whole.parameters().iter().zip(split.parameters()) {
        assert_eq!(a.to_vec(), b.to_vec());
    }
}

/// The objective serves windows `k mod n` from the requested start, and its
/// loss is the mean over all positions (targets = inputs shifted by one).
#[test]
fn objective_windows_and_loss() {
    let data = slice();
    let windows = BpttBatches::new(&data.train, 4, 8).unwrap();
    let n = windows.num_batches();
    let mut model = small_model(data.vocab.len());
    let params = model.parameters();
    let direct = {
        let b = windows.batch(1).unwrap();
        let _g = autodiff::no_grad();
        lm_loss(&mut model, &token_tensor(&b), &b.targets).item()
    };
    let mut obj = LmObjective::new(&mut model, windows.clone(), n + 1, 2, None);
    assert!(obj.next_batch());
    assert_eq!(obj.loss(&params), direct, "global minibatch n + 1 is window 1");
    let (l, g) = obj.loss_grad(&params, true);
    assert_eq!(l, direct);
    assert_eq!(g.len(), params.len());
    assert!(obj.next_batch());
    assert!(!obj.next_batch(), "only 2 minibatches were requested");
    assert_eq!(obj.passes, 1);
    // The mean over positions equals the mean of per-position losses.
    let b = windows.batch(0).unwrap();
    let _g = autodiff::no_grad();
    let logits = model.forward(&token_tensor(&b));
    let per = logits.reshape(&[4 * 8, data.vocab.len()]).cross_entropy_per_example(&b.targets).to_vec();
    let mean = per.iter().map(|&v| v as f64).sum::<f64>() / per.len() as f64;
    let got = lm_loss(&mut model, &token_tensor(&b), &b.targets).item() as f64;
    assert!((got - mean).abs() < 1e-5, "{got} vs {mean}");
}

/// Clipping follows `torch.nn.utils.clip_grad_norm_`.
#[test]
fn clipping_is_pytorchs() {
    let mut g = vec![Tensor::from_vec(vec![3.0], &[1]), Tensor::from_vec(vec![4.0], &[1])];
    let norm = clip_grad_norm(&mut g, 1.0);
    assert_eq!(norm, 5.0);
    let coef = (1.0 / (5.0 + 1e-6)) as f32;
    assert_eq!(g[0].to_vec(), vec![3.0 * coef]);
    assert_eq!(g[1].to_vec(), vec![4.0 * coef]);
    let mut small = vec![Tensor::from_vec(vec![0.3, 0.4], &[2])];
    clip_grad_norm(&mut small, 1.0);
    assert_eq!(small[0].to_vec(), vec![0.3, 0.4]);
}

/// Too little text for one window is a data error; a diverging run stops
/// naming the step.
#[test]
fn errors() {
    let data = slice();
    let mut model = small_model(data.vocab.len());
    let mut opt = Sgd::new(SgdConfig { lr: 0.1, ..Default::default() });
    let short = &data.valid[..50];
    let e = train_lm(&mut model, &data.train, short, &mut opt, &Schedule::Constant, &cfg(1, 2), &mut NoHooks).unwrap_err();
    assert!(matches!(e, TrainError::Data(_)), "{e}");
    let mut opt = Sgd::new(SgdConfig { lr: f32::INFINITY, momentum: 0.0, weight_decay: 0.0, ..Default::default() });
    match train_lm(&mut model, &data.train, &data.valid, &mut opt, &Schedule::Constant, &LmConfig { clip: None, ..cfg(1, 5) }, &mut NoHooks)
    {
        Err(e @ TrainError::NonFinite { .. }) => assert!(e.to_string().contains("epoch 1, step 2"), "{e}"),
        other => panic!("expected a non-finite loss error, got {other:?}"),
    }
}

/// Per-step time of the zoo `char-lstm` (batch B = 32, window T = 64 unless
/// set in the environment), split into forward, backward and the Adam
/// update, and the validation pass. Run with
/// `cargo test --release -p optim --test train_lm -- --ignored --nocapture step_time`.
#[test]
#[ignore]
fn step_time() {
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (b, t) = (env("B", 32), env("T", 64));
    let data = datasets::embedded::shakespeare(0.1).unwrap();
    let mut model = nn::zoo::build("char-lstm", &nn::zoo::ModelConfig { vocab: data.vocab.len(), ..Default::default() }, 1).unwrap();
    let windows = data.train_batches(b, t).unwrap();
    let mut params = model.parameters();
    let mut opt = Adam::new(AdamConfig { lr: 2e-3, ..Default::default() });
    let (mut fwd, mut bwd, mut upd) = (0.0, 0.0, 0.0);
    let steps = env("STEPS", 8);
    for i in 0..steps {
        let batch = windows.batch(i).unwrap();
        let leaves: Vec<Tensor> = params.iter().map(|p| p.detach().requires_grad_()).collect();
        model.set_parameters(&leaves);
        let s = Instant::now();
        let loss = lm_loss(&mut *model, &token_tensor(&batch), &batch.targets);
        let f = s.elapsed().as_secs_f64();
        let g = autodiff::grad(std::slice::from_ref(&loss), &leaves, false);
        let bk = s.elapsed().as_secs_f64() - f;
        drop(loss);
        opt.apply(&mut params, &g);
        let u = s.elapsed().as_secs_f64() - f - bk;
        if i > 0 {
            (fwd, bwd, upd) = (fwd + f, bwd + bk, upd + u);
        }
    }
    let n = (steps - 1).max(1) as f64;
    println!("char-lstm b{b} t{t}: forward {:.3}s, backward {:.3}s, adam {:.4}s per step", fwd / n, bwd / n, upd / n);
    model.set_parameters(&params);
    let v = data.valid_batches(b, t).unwrap();
    let s = Instant::now();
    let l = evaluate_lm(&mut *model, &v);
    println!("validation loss {l:.4}: {} windows in {:.2}s", v.num_batches(), s.elapsed().as_secs_f64());
}
