//! `llv bench`: the cases of `../shared/bench/torch_ref.py` (same names,
//! inputs and timing rules), llv's own SGEMM as `gemm_llv`, as JSON lines
//! or a table, so the two can be compared side by side on one machine.

use super::CliError;
use autodiff::kernels::gemm::{flop_count, gemm, MatMut, MatRef};
use autodiff::Tensor;
use clap::Args;
use landscape::{direction::point, Direction, DirectionOptions};
use nn::{zoo, Module, ModuleExt};
use optim::{GradientStep, Sgd, SgdConfig};
use serde_json::{json, Value};
use std::time::Instant;

/// Arguments of `llv bench`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  llv bench --json > llv_bench.jsonl          # every case, 2 s per case at least
  llv bench --case lenet,gemm_llv --threads 1
  python3 ../shared/bench/summarize.py zoo_ref_results.jsonl llv_bench.jsonl")]
pub struct BenchArgs {
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Only cases whose name starts with one of these (comma-separated), e.g. resnet20,gemm_llv.
    #[arg(long, value_delimiter = ',')]
    pub case: Vec<String>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Minimum timed repetitions.
    #[arg(long, default_value_t = 10)]
    pub reps: usize,
    /// Untimed warm-up calls.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Minimum timed seconds per case.
    #[arg(long, default_value_t = 2.0)]
    pub min_time: f64,
    /// A fast run with torch_ref.py --quick's settings (3 repetitions,
    /// 1 warm-up, at least 0.2 s per case).
    #[arg(long)]
    pub quick: bool,
}

/// Median, min, max and mean of repeated timings.
struct Timing {
    median: f64,
    min: f64,
    max: f64,
    mean: f64,
    reps: usize,
}

struct Bench {
    reps: usize,
    warmup: usize,
    min_time: f64,
    threads: usize,
    json: bool,
}

impl Bench {
    fn time(&self, mut f: impl FnMut()) -> Timing {
        for _ in 0..self.warmup {
            f();
        }
        let start = Instant::now();
        let mut t = Vec::new();
        // As torch_ref.py: at least `reps`, then on until `min_time` (at most 1000).
        while t.len() < self.reps || (start.elapsed().as_secs_f64() < self.min_time && t.len() < 1000) {
            let s = Instant::now();
            f();
            t.push(s.elapsed().as_secs_f64());
        }
        let mean = t.iter().sum::<f64>() / t.len() as f64;
        t.sort_by(f64::total_cmp);
        let n = t.len();
        let median = if n % 2 == 1 { t[n / 2] } else { (t[n / 2 - 1] + t[n / 2]) / 2.0 };
        Timing { median, min: t[0], max: t[n - 1], mean, reps: n }
    }

    fn emit(&self, bench: &str, t: &Timing, mut extra: Value) {
        let obj = extra.as_object_mut().expect("object");
        obj.insert("bench".into(), json!(bench));
        obj.insert("label".into(), json!("llv"));
        obj.insert("threads".into(), json!(self.threads));
        for (k, v) in [("median_s", t.median), ("min_s", t.min), ("max_s", t.max), ("mean_s", t.mean)] {
            obj.insert(k.into(), json!(v));
        }
        obj.insert("reps".into(), json!(t.reps));
        obj.insert("warmup".into(), json!(self.warmup));
        obj.insert("max_rss_mb".into(), json!(max_rss_mb()));
        if self.json {
            println!("{extra}");
        } else {
            let keys = ["batch", "eval_batch", "n", "images_per_s", "tokens_per_s", "gflops_median", "hvp_over_grad"];
            let more: Vec<String> = keys.iter().filter_map(|k| extra.get(*k).map(|v| format!("{k}={}", short(v)))).collect();
            println!("{bench:<28} {:>10.3} ms  {}  rss {:.0} MB", 1e3 * t.median, more.join(" "), max_rss_mb());
        }
    }
}

fn short(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() != 0.0 => format!("{x:.1}"),
        _ => v.to_string(),
    }
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in MB.
fn max_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

fn model(name: &str, channels: usize, size: usize) -> Box<dyn Module> {
    let cfg = zoo::ModelConfig { in_channels: channels, image_size: size, num_classes: 10, vocab: 76 };
    zoo::build(name, &cfg, 0).expect("zoo model")
}

fn labels(n: usize, classes: usize, seed: u64) -> Vec<usize> {
    let r = Tensor::rand_uniform(&[n], 0.0, classes as f32, seed);
    r.data().iter().map(|&v| (v as usize).min(classes - 1)).collect()
}

/// Conv + linear FLOPs of one forward pass of `x`, divided by `per`.
fn forward_gflop(m: &mut dyn Module, x: &Tensor, per: usize) -> f64 {
    let _g = autodiff::no_grad();
    m.set_training(false);
    let before = flop_count();
    m.forward(x);
    (flop_count() - before) as f64 / per as f64 / 1e9
}

/// One SGD step (lr 0.01, momentum 0.9, weight decay 5e-4) on `loss(model(x))`.
fn train_step(m: &mut dyn Module, opt: &mut Sgd, x: &Tensor, loss: &dyn Fn(&Tensor) -> Tensor) {
    let params = m.parameters_requiring_grad();
    let l = loss(&m.forward(x));
    let g = autodiff::grad(std::slice::from_ref(&l), &params, false);
    let mut p: Vec<Tensor> = params.iter().map(|t| t.detach()).collect();
    opt.apply(&mut p, &g);
    m.set_parameters(&p);
}

fn sgd() -> Sgd {
    Sgd::new(SgdConfig { lr: 0.01, momentum: 0.9, weight_decay: 5e-4, dampening: 0.0, nesterov: false })
}

fn image_cases(b: &Bench, name: &str, zoo_name: &str, c: usize, s: usize, evals: &[usize]) {
    let mut m = model(zoo_name, c, s);
    let params = m.num_parameters();
    let shape = |n: usize| if zoo_name == "mlp" { vec![n, c * s * s] } else { vec![n, c, s, s] };
    let gflop = forward_gflop(&mut *m, &Tensor::randn(&shape(1), 9), 1);
    let info = json!({"zoo_model": zoo_name, "params": params, "fwd_gflop_per_image": gflop, "input_shape": shape(1)[1..].to_vec()});
    let x = Tensor::randn(&shape(128), 1);
    let y = labels(128, 10, 2);
    let mut opt = sgd();
    m.set_training(true);
    let t = b.time(|| train_step(&mut *m, &mut opt, &x, &|o| o.cross_entropy(&y)));
    let mut rec = info.clone();
    rec["batch"] = json!(128);
    rec["images_per_s"] = json!(128.0 / t.median);
    b.emit(&format!("{name}.train_step"), &t, rec);
    m.set_training(false);
    for &n in evals {
        let x = Tensor::randn(&shape(n), 3);
        let t = b.time(|| {
            let _g = autodiff::no_grad();
            m.forward(&x);
        });
        let mut rec = info.clone();
        rec["batch"] = json!(n);
        rec["images_per_s"] = json!(n as f64 / t.median);
        rec["achieved_gflops"] = json!(gflop * n as f64 / t.median);
        b.emit(&format!("{name}.eval"), &t, rec);
    }
}

fn lstm_case(b: &Bench) {
    let mut m = model("char-lstm", 1, 1);
    let ids = Tensor::from_vec(labels(32 * 64, 76, 4).iter().map(|&v| v as f32).collect(), &[32, 64]);
    let targets = labels(32 * 64, 76, 5);
    let gflop = forward_gflop(&mut *m, &Tensor::from_vec(ids.data()[..64].to_vec(), &[1, 64]), 1);
    let mut opt = sgd();
    m.set_training(true);
    let t = b.time(|| train_step(&mut *m, &mut opt, &ids, &|o| o.reshape(&[32 * 64, 76]).cross_entropy(&targets)));
    let rec = json!({"zoo_model": "char-lstm", "params": m.num_parameters(), "fwd_gflop_per_sequence": gflop, "batch": 32, "seq_len": 64, "tokens_per_s": 2048.0 / t.median});
    b.emit("lstm.train_step", &t, rec);
}

fn landscape_case(b: &Bench) {
    let mut m = model("resnet20", 3, 32);
    m.set_training(false);
    let center = m.state();
    let d1 = Direction::random(&center, DirectionOptions::default(), 1).expect("direction");
    let d2 = Direction::random(&center, DirectionOptions::default(), 2).expect("direction");
    let x = Tensor::randn(&[1000, 3, 32, 32], 6);
    let y = labels(1000, 10, 7);
    let grid: Vec<f64> = (0..51).map(|i| -1.0 + 2.0 * i as f64 / 50.0).collect();
    for eval_batch in [1000usize, 125] {
        let mut k = 0usize;
        let mut set_times = Vec::new();
        let t = b.time(|| {
            let (a, c) = (grid[k % 51], grid[(k / 51) % 51]);
            k += 1;
            let s = Instant::now();
            m.set_state(&point(&center, &[(&d1, a), (&d2, c)]));
            set_times.push(s.elapsed().as_secs_f64());
            let _g = autodiff::no_grad();
            let mut total = 0.0f64;
            for j in (0..1000).step_by(eval_batch) {
                let xb = x.narrow(0, j, eval_batch);
                total += m.forward(&xb).cross_entropy(&y[j..j + eval_batch]).item() as f64 * eval_batch as f64;
            }
            std::hint::black_box(total);
        });
        set_times.sort_by(f64::total_cmp);
        let rec = json!({
            "zoo_model": "resnet20", "eval_batch": eval_batch, "images_per_point": 1000, "s_per_grid_point": t.median,
            "set_weights_median_s": set_times[set_times.len() / 2], "extrapolated_51x51_min": t.median * 2601.0 / 60.0,
            "extrapolated_51x51_50k_images_h": t.median * 50.0 * 2601.0 / 3600.0,
        });
        b.emit("landscape.resnet20", &t, rec);
    }
}

fn hvp_cases(b: &Bench) {
    let mut m = model("resnet20", 3, 32);
    let x = Tensor::randn(&[128, 3, 32, 32], 8);
    let y = labels(128, 10, 9);
    let params = m.parameters();
    let v: Vec<Tensor> = params.iter().enumerate().map(|(i, p)| Tensor::randn(p.shape(), 100 + i as u64)).collect();
    for (name, training) in [("hvp.resnet20.bn_eval", false), ("hvp.resnet20.bn_train", true)] {
        m.set_training(training);
        let grad_only = b.time(|| {
            let leaves = m.parameters_requiring_grad();
            let l = m.forward(&x).cross_entropy(&y);
            std::hint::black_box(autodiff::grad(&[l], &leaves, false));
        });
        let t = b.time(|| {
            let model = &mut *m;
            let (_, hv) = autodiff::hvp(
                |p| {
                    model.set_parameters(p);
                    model.forward(&x).cross_entropy(&y)
                },
                &params,
                &v,
            );
            std::hint::black_box(hv);
        });
        m.set_parameters(&params);
        let rec = json!({"zoo_model": "resnet20", "batch": 128, "s_per_hvp": t.median, "grad_only_median_s": grad_only.median, "hvp_over_grad": t.median / grad_only.median});
        b.emit(name, &t, rec);
    }
}

fn gemm_cases(b: &Bench) {
    for n in [256usize, 512, 1024, 2048] {
        let a = Tensor::randn(&[n, n], 1).to_vec();
        let bm = Tensor::randn(&[n, n], 2).to_vec();
        let mut c = vec![0.0f32; n * n];
        let t = b.time(|| gemm(MatRef::new(&a, n, n, n), MatRef::new(&bm, n, n, n), MatMut::new(&mut c, n, n, n), false));
        b.emit("gemm_llv", &t, json!({"n": n, "gflops_median": 2.0 * (n as f64).powi(3) / t.median / 1e9}));
    }
}

/// Runs `llv bench`.
pub fn run(a: BenchArgs) -> Result<(), CliError> {
    let threads = a.threads.unwrap_or_else(rayon::current_num_threads);
    if threads == 0 {
        return Err(CliError::new("--threads must be at least 1"));
    }
    let bench = Bench {
        reps: if a.quick { 3 } else { a.reps.max(1) },
        warmup: if a.quick { 1 } else { a.warmup },
        min_time: if a.quick { 0.2 } else { a.min_time },
        threads,
        json: a.json,
    };
    type Case = (&'static str, fn(&Bench));
    let cases: [Case; 9] = [
        ("gemm_llv", gemm_cases),
        ("mlp", |b| image_cases(b, "mlp", "mlp", 1, 28, &[1000])),
        ("lenet", |b| image_cases(b, "lenet", "lenet", 1, 28, &[128, 1000])),
        ("resnet20", |b| image_cases(b, "resnet20", "resnet20", 3, 32, &[128, 1000])),
        ("resnet20_noshort", |b| image_cases(b, "resnet20_noshort", "resnet20-noshort", 3, 32, &[128, 1000])),
        ("vgg9", |b| image_cases(b, "vgg9", "vgg9", 3, 32, &[128, 1000])),
        ("lstm", lstm_case),
        ("landscape", landscape_case),
        ("hvp", hvp_cases),
    ];
    let selected: Vec<&Case> =
        cases.iter().filter(|(n, _)| a.case.is_empty() || a.case.iter().any(|c| n.starts_with(c.as_str()) || c.starts_with(n))).collect();
    if selected.is_empty() {
        let names: Vec<&str> = cases.iter().map(|c| c.0).collect();
        return Err(CliError::new(format!("--case {:?}: no such case (cases: {})", a.case, names.join(", "))));
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| CliError::new(format!("--threads: {e}")))?;
    pool.install(|| {
        for (_, f) in selected {
            f(&bench);
        }
    });
    Ok(())
}
