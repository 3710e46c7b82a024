//! `llv train`: trains a zoo model with any optimizer and writes
//! everything needed to study the run afterwards (config, per-epoch
//! metrics, checkpoints for trajectories), resumably.
//!
//! The optimizer comes from `optim`'s registry (`--optimizer NAME`,
//! `--opt KEY=VALUE`; `--lr`, `--momentum`, `--weight-decay`, `--nesterov`
//! and `--rho` are shorthands for their keys); errors name the flag.
//!
//! Classification data (`mnist`, `cifar10:DIR`, ...) runs `optim::train`;
//! a text corpus (`shakespeare`, `text:FILE`) with `char-lstm` runs
//! `optim::train_lm` on truncated-BPTT windows of `--seq-len` tokens
//! (`--batch-size` parallel streams, zero state per window, optional
//! `--clip`). For language models an epoch is one pass over the training
//! windows, or `--steps-per-epoch` minibatches (the data then wraps
//! around), and `metrics.csv` has the columns [`LM_METRICS_HEADER`]:
//! `val_loss` is the mean next-token cross-entropy (nats) over all
//! positions of the validation windows and `val_perplexity = exp(val_loss)`.

use super::{check_model_fits, load_classification, out_dir, unknown_model, CliError};
use clap::Args;
use datasets::{BpttBatches, DataSpec, TextData};
use nn::checkpoint;
use nn::zoo::{InputKind, ModelConfig};
use nn::{zoo, ModuleExt};
use optim::registry::{self, Hypers};
use optim::{
    ConfigError, EpochMetrics, LmConfig, LmEpochMetrics, LmHooks, Optimizer, ResumeState, Schedule, StepReport, TrainConfig, TrainHooks,
    Value,
};
use serde_json::json;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `--optimizer`'s help: the registered names.
fn optimizer_help() -> String {
    let names: Vec<&str> = registry::all().iter().map(|s| s.name).collect();
    format!("Optimizer: {} (--list-optimizers shows their hyperparameters)", names.join(", "))
}

/// `--opt`'s long help: every optimizer's keys with defaults and ranges.
fn opt_long_help() -> String {
    format!(
        "A hyperparameter of the optimizer, KEY=VALUE (repeatable; several may be joined by commas). \
         An unknown key, or another optimizer's, is an error. SAM takes its base's keys too.\n\n{}",
        registry::describe()
    )
}

/// Old flags that stand for `--opt` keys: (flag, key).
const ALIASES: [(&str, &str); 5] =
    [("lr", "lr"), ("momentum", "momentum"), ("weight-decay", "weight_decay"), ("nesterov", "nesterov"), ("rho", "rho")];

/// Arguments of `llv train`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  llv train --model lenet --data mnist --optimizer sgd --out runs/lenet-sgd
  llv train --model lenet --optimizer adam --epochs 5 --batch-size 128 --out runs/lenet-adam
  llv train --model lenet --optimizer adamw --opt lr=1e-3,weight_decay=0.05 --opt decay_1d=false --out runs/lenet-adamw
  llv train --model resnet20 --data cifar10:~/data/cifar --optimizer sam --opt rho=0.05 --opt base=adam --out runs/r20-sam
  llv train --list-optimizers                      # every optimizer, its keys, defaults and ranges
  llv train --model char-lstm --data shakespeare --optimizer adam --epochs 3 --steps-per-epoch 100 --clip 5 --out runs/lstm
  llv train --out runs/lenet-sgd --resume          # continue an interrupted run")]
pub struct TrainArgs {
    /// Zoo model (see `llv models`).
    #[arg(long, default_value = "lenet")]
    pub model: String,
    /// Data set (see `llv data --help`): mnist, mnist:DIR, fashion-mnist:DIR, cifar10:DIR, spirals, blobs; for char-lstm shakespeare[:val=F] or text:FILE.
    #[arg(long, default_value = "mnist")]
    pub data: String,
    #[arg(long, default_value = "sgd", help = optimizer_help())]
    pub optimizer: String,
    /// A hyperparameter of the optimizer, KEY=VALUE (repeatable; see --list-optimizers).
    #[arg(long = "opt", value_name = "KEY=VALUE", long_help = opt_long_help())]
    pub opt: Vec<String>,
    /// Prints every optimizer with its hyperparameters (defaults, ranges) and exits.
    #[arg(long)]
    pub list_optimizers: bool,
    /// Same as --opt lr=VALUE.
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<String>,
    /// Same as --opt momentum=VALUE.
    #[arg(long, allow_hyphen_values = true)]
    pub momentum: Option<String>,
    /// Same as --opt weight_decay=VALUE.
    #[arg(long, allow_hyphen_values = true)]
    pub weight_decay: Option<String>,
    /// Same as --opt nesterov=true.
    #[arg(long)]
    pub nesterov: bool,
    /// Same as --opt rho=VALUE (SAM's radius).
    #[arg(long, allow_hyphen_values = true)]
    pub rho: Option<String>,
    /// Learning-rate schedule over all minibatches: constant, step:EVERY:GAMMA, multistep:M1,M2:GAMMA, cosine or cosine:MIN, warmup:STEPS:SCHEDULE. Default: the optimizer's (see --list-optimizers).
    #[arg(long)]
    pub schedule: Option<String>,
    /// Passes over the training data [default: 10]; for language models see --steps-per-epoch. With --resume, a larger value extends the run.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Minibatch size (language models: parallel token streams).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Language models: tokens per window (the BPTT length) [default: 64].
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Language models: minibatches per epoch (metrics row, validation and checkpoint cadence) [default: one pass over the training windows]. The windows are walked in order and wrap around.
    #[arg(long)]
    pub steps_per_epoch: Option<usize>,
    /// Language models: clip each gradient to this global norm (PyTorch's clip_grad_norm_) [default: no clipping].
    #[arg(long)]
    pub clip: Option<f32>,
    /// Seed of the model's initialization, the shuffling and any optimizer noise.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Use only the first N training examples (language models: tokens).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Write a checkpoint every N epochs (the initial weights and the last epoch are always written).
    #[arg(long, default_value_t = 1)]
    pub checkpoint_every: usize,
    /// Output folder.
    #[arg(long, required_unless_present = "list_optimizers")]
    pub out: Option<PathBuf>,
    /// Continue an interrupted run in --out from its last checkpoint (other flags are taken from its config.json).
    #[arg(long)]
    pub resume: bool,
    /// Overwrite a non-empty --out.
    #[arg(long)]
    pub force: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

fn check_positive(name: &str, v: f32) -> Result<(), CliError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(CliError::new(format!("--{name} must be a positive number, got {v}")))
    }
}

/// The optimizer settings given on the command line: `(key, value, flag)`,
/// the flag being an alias (`--lr`) or `--opt KEY`.
fn optimizer_settings(a: &TrainArgs) -> Result<Vec<(String, String, String)>, CliError> {
    let mut out = Vec::new();
    let alias_values = [a.lr.clone(), a.momentum.clone(), a.weight_decay.clone(), a.nesterov.then(|| "true".to_string()), a.rho.clone()];
    for ((flag, key), v) in ALIASES.iter().zip(alias_values) {
        if let Some(v) = v {
            out.push((key.to_string(), v, format!("--{flag}")));
        }
    }
    for item in a.opt.iter().flat_map(|o| o.split(',')) {
        let (k, v) =
            item.split_once('=').ok_or_else(|| CliError::new(format!("--opt {item}: expected KEY=VALUE (see --list-optimizers)")))?;
        out.push((k.trim().to_string(), v.trim().to_string(), format!("--opt {}", k.trim())));
    }
    Ok(out)
}

/// Resolves and builds the optimizer and its schedule from the flags; a
/// configuration error names the flag that set the key at fault.
fn build_optimizer(a: &TrainArgs) -> Result<(Hypers, Box<dyn Optimizer>, Schedule), CliError> {
    let given = optimizer_settings(a)?;
    let to_cli = |e: ConfigError| {
        let flag = match e.key() {
            None => "--optimizer".to_string(),
            Some(k) => given.iter().find(|(key, _, _)| key == k).map_or_else(|| format!("--opt {k}"), |(_, _, f)| f.clone()),
        };
        CliError::new(format!("{flag}: {e}"))
    };
    let pairs: Vec<(String, String)> = given.iter().map(|(k, v, _)| (k.clone(), v.clone())).collect();
    let mut hypers = registry::resolve(&a.optimizer, &pairs).map_err(to_cli)?;
    hypers.seed = a.seed;
    let opt = hypers.build().map_err(to_cli)?;
    let schedule = a.schedule.as_deref().unwrap_or(hypers.spec.schedule);
    let schedule = Schedule::parse(schedule).map_err(|e| CliError::new(format!("--schedule: {e}")))?;
    Ok((hypers, opt, schedule))
}

/// An f32 as the JSON number of its shortest decimal form (`0.05`, not
/// `0.05000000074505806`).
fn f32_json(x: f32) -> serde_json::Value {
    x.to_string().parse::<f64>().map_or(serde_json::Value::Null, |v| json!(v))
}

/// The resolved hyperparameters as a JSON object (for `config.json`).
fn hypers_json(h: &Hypers) -> serde_json::Value {
    let map = h.resolved().into_iter().map(|(k, v)| {
        let v = match v {
            Value::Float(x) => f32_json(x),
            Value::Int(x) => json!(x),
            Value::Bool(x) => json!(x),
            Value::Name(x) => json!(x),
        };
        (k.to_string(), v)
    });
    serde_json::Value::Object(map.collect())
}

/// Writes checkpoints, metrics.csv and the progress bar as training runs
/// (classification and language models alike).
struct Recorder {
    out: PathBuf,
    every: usize,
    epochs: usize,
    bar: Option<indicatif::ProgressBar>,
    step_loss: f64,
}

fn checkpoint_path(out: &Path, epoch: usize) -> PathBuf {
    out.join("checkpoints").join(format!("epoch-{epoch:03}.safetensors"))
}

/// The resume state ([`ResumeState`]), rewritten atomically after every
/// epoch (trajectory checkpoints may be sparser).
fn resume_path(out: &Path) -> PathBuf {
    out.join("checkpoints").join("resume.safetensors")
}

/// Loads the resume state into `model` and `opt`; returns its epoch.
fn load_resume(out: &Path, model: &mut dyn nn::Module, opt: &mut dyn Optimizer) -> Result<usize, CliError> {
    let path = resume_path(out);
    let state = ResumeState::load(&path, model).map_err(|e| CliError::new(format!("--resume: {e}")))?;
    state.restore(model, opt).map_err(|e| CliError::new(format!("--resume: {}: {e}", path.display())))?;
    Ok(state.epoch)
}

/// The columns of `metrics.csv` for classification.
const METRICS_HEADER: &str = "epoch,train_loss,train_accuracy,test_loss,test_accuracy,learning_rate,steps,seconds";

/// The columns of `metrics.csv` for language models: `train_loss` is the
/// mean loss of the epoch's minibatches during training, `val_loss` the
/// mean next-token cross-entropy (nats) over all positions of the
/// validation windows after the epoch, `val_perplexity = exp(val_loss)`;
/// `learning_rate`, `steps` and `seconds` as for classification.
pub const LM_METRICS_HEADER: &str = "epoch,train_loss,val_loss,val_perplexity,learning_rate,steps,seconds";

impl Recorder {
    fn step(&mut self, epoch: usize, step: usize, per_epoch: usize, report: &StepReport) {
        self.step_loss = if step == 1 { report.loss as f64 } else { 0.9 * self.step_loss + 0.1 * report.loss as f64 };
        if let Some(bar) = &self.bar {
            bar.set_position(((epoch - 1) * per_epoch + step.min(per_epoch)) as u64);
            bar.set_message(format!("epoch {epoch}/{} loss {:.4}", self.epochs, self.step_loss));
        }
    }

    /// Checkpoint first (atomic), optimizer state next, then the metrics
    /// row: a kill at any point leaves a consistent last completed epoch.
    fn epoch_done(
        &mut self,
        model: &mut dyn nn::Module,
        opt: &dyn Optimizer,
        epoch: usize,
        row: &str,
        summary: String,
    ) -> Result<(), String> {
        if epoch.is_multiple_of(self.every) || epoch == self.epochs {
            checkpoint::save(model, checkpoint_path(&self.out, epoch)).map_err(|e| e.to_string())?;
        }
        ResumeState::capture(model, opt, epoch).save(&resume_path(&self.out))?;
        let path = self.out.join("metrics.csv");
        let mut f = fs::OpenOptions::new().append(true).open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        f.write_all(row.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
        match &self.bar {
            Some(bar) => bar.println(summary),
            None => eprintln!("{summary}"),
        }
        Ok(())
    }
}

impl TrainHooks for Recorder {
    fn on_step(&mut self, epoch: usize, step: usize, per_epoch: usize, report: &StepReport) {
        self.step(epoch, step, per_epoch, report);
    }

    fn on_epoch(&mut self, model: &mut dyn nn::Module, opt: &dyn Optimizer, m: &EpochMetrics) -> Result<(), String> {
        let row = format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.6e},{},{:.3}\n",
            m.epoch, m.train_loss, m.train_accuracy, m.test_loss, m.test_accuracy, m.learning_rate, m.steps, m.seconds
        );
        let summary = format!(
            "epoch {:>3}: train loss {:.4} acc {:.2}%  test loss {:.4} acc {:.2}%  ({:.1}s)",
            m.epoch,
            m.train_loss,
            100.0 * m.train_accuracy,
            m.test_loss,
            100.0 * m.test_accuracy,
            m.seconds
        );
        self.epoch_done(model, opt, m.epoch, &row, summary)
    }
}

impl LmHooks for Recorder {
    fn on_step(&mut self, epoch: usize, step: usize, per_epoch: usize, report: &StepReport) {
        self.step(epoch, step, per_epoch, report);
    }

    fn on_epoch(&mut self, model: &mut dyn nn::Module, opt: &dyn Optimizer, m: &LmEpochMetrics) -> Result<(), String> {
        let row = format!(
            "{},{:.6},{:.6},{:.4},{:.6e},{},{:.3}\n",
            m.epoch,
            m.train_loss,
            m.val_loss,
            m.val_perplexity(),
            m.learning_rate,
            m.steps,
            m.seconds
        );
        let summary = format!(
            "epoch {:>3}: train loss {:.4}  val loss {:.4} (perplexity {:.2}, {:.3} bits/char)  ({:.1}s)",
            m.epoch,
            m.train_loss,
            m.val_loss,
            m.val_perplexity(),
            m.val_bits_per_token(),
            m.seconds
        );
        self.epoch_done(model, opt, m.epoch, &row, summary)
    }
}

/// Drops metrics rows after `epoch` (written after the resume state, so
/// normally there are none; a kill between the two leaves one). `header`
/// is the run's column line.
fn truncate_metrics(out: &Path, epoch: usize, header: &str) -> Result<(), CliError> {
    let path = out.join("metrics.csv");
    let text = fs::read_to_string(&path).map_err(|e| CliError::new(format!("--resume: {}: {e}", path.display())))?;
    let mut kept = format!("{header}\n");
    for line in text.lines().skip(1) {
        match line.split(',').next().and_then(|e| e.parse::<usize>().ok()) {
            Some(e) if e <= epoch && line.split(',').count() == header.split(',').count() => {
                kept.push_str(line);
                kept.push('\n');
            }
            _ => break,
        }
    }
    super::write_atomic(&path, kept.as_bytes())
}

/// `argv` with its `--epochs` value replaced by (or extended with) `epochs`.
fn with_epochs(argv: &[String], epochs: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len() + 2);
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if a == "--epochs" {
            it.next();
        } else if !a.starts_with("--epochs=") {
            out.push(a.clone());
        }
    }
    out.extend(["--epochs".to_string(), epochs.to_string()]);
    out
}

/// What `llv train` trains on, loaded and checked.
enum Task {
    /// A classification set and the model configuration derived from it.
    Classify(Box<datasets::ClassificationData>),
    /// A text corpus for a language model, with its (checked) settings.
    Language { text: TextData, lm: LmConfig },
}

/// Loads `--data` and checks it against `--model` and the task-specific
/// flags; errors name the flag at fault.
fn load_task(args: &TrainArgs, epochs: usize) -> Result<(Task, ModelConfig), CliError> {
    let spec = DataSpec::parse(&args.data).map_err(|e| CliError::new(format!("--data: {e}")))?;
    if !spec.is_text() {
        for (flag, given) in
            [("seq-len", args.seq_len.is_some()), ("steps-per-epoch", args.steps_per_epoch.is_some()), ("clip", args.clip.is_some())]
        {
            if given {
                return Err(CliError::new(format!(
                    "--{flag} applies to language models only (--model char-lstm --data shakespeare or text:FILE)"
                )));
            }
        }
        let (mut data, cfg) = load_classification(&args.data)?;
        check_model_fits(&args.model, &data, &args.data)?;
        match args.limit {
            Some(0) => return Err(CliError::new("--limit must be at least 1")),
            Some(n) => data.train = data.train.first(n),
            None => {}
        }
        return Ok((Task::Classify(Box::new(data)), cfg));
    }
    match nn::zoo::input_kind(&args.model) {
        None => return Err(unknown_model(&args.model)),
        Some(InputKind::Image) => {
            return Err(CliError::new(format!(
                "--model {}: an image model; it cannot run on the text corpus {} (use --model char-lstm)",
                args.model, args.data
            )))
        }
        Some(InputKind::Tokens) => {}
    }
    let seq_len = args.seq_len.unwrap_or(64);
    if seq_len == 0 {
        return Err(CliError::new("--seq-len must be at least 1"));
    }
    if args.steps_per_epoch == Some(0) {
        return Err(CliError::new("--steps-per-epoch must be at least 1"));
    }
    if let Some(c) = args.clip {
        check_positive("clip", c)?;
    }
    let data = spec.load().map_err(|e| CliError::new(format!("--data {spec}: {e}")))?;
    let mut text = data.as_text().expect("a text spec loads text").clone();
    match args.limit {
        Some(0) => return Err(CliError::new("--limit must be at least 1")),
        Some(n) => text.train.truncate(n),
        None => {}
    }
    let b = args.batch_size;
    BpttBatches::new(&text.train, b, seq_len)
        .map_err(|e| CliError::new(format!("--data {spec}: training text: {e}; lower --batch-size or --seq-len (or raise --limit)")))?;
    BpttBatches::new(&text.valid, b, seq_len).map_err(|e| {
        CliError::new(format!(
            "--data {spec}: validation text: {e}; lower --batch-size or --seq-len, or hold out more with shakespeare:val=F"
        ))
    })?;
    let lm = LmConfig {
        epochs,
        batch_size: b,
        seq_len,
        steps_per_epoch: args.steps_per_epoch,
        clip: args.clip,
        eval_batch_size: b,
        start_epoch: 1,
    };
    let cfg = ModelConfig { vocab: text.vocab.len(), ..ModelConfig::default() };
    Ok((Task::Language { text, lm }, cfg))
}

/// Runs `llv train`.
pub fn run(mut args: TrainArgs) -> Result<(), CliError> {
    if args.list_optimizers {
        super::print(&registry::describe());
        return Ok(());
    }
    let out = args.out.clone().ok_or_else(|| CliError::new("--out is required"))?;
    let mut start_epoch = 1;
    // A resumed run locks its folder before touching anything in it.
    // (A missing folder is reported below, as a missing config.json.)
    let resumed_lock = if args.resume && out.is_dir() { Some(out_dir::open(&out, true, false)?) } else { None };
    if args.resume {
        let cfg_path = out.join("config.json");
        let text = fs::read_to_string(&cfg_path).map_err(|e| CliError::new(format!("--resume: {}: {e}", cfg_path.display())))?;
        let cfg: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| CliError::new(format!("--resume: {}: {e}", cfg_path.display())))?;
        let argv: Vec<String> = cfg["argv"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect();
        let saved = <crate::Cli as clap::Parser>::try_parse_from(&argv)
            .map_err(|e| CliError::new(format!("--resume: {}: {e}", cfg_path.display())))?;
        let crate::Command::Train(saved) = saved.command else {
            return Err(CliError::new(format!("--resume: {} is not a training config", cfg_path.display())));
        };
        if let Some(e) = args.epochs.filter(|&e| Some(e) != saved.epochs) {
            // Extending the run: record the new length so later resumes see it.
            let mut cfg = cfg.clone();
            cfg["argv"] = json!(with_epochs(&argv, e));
            cfg["epochs"] = json!(e);
            super::write_atomic(&cfg_path, serde_json::to_string_pretty(&cfg).expect("json").as_bytes())?;
        }
        args = TrainArgs { resume: true, quiet: args.quiet, out: Some(out.clone()), epochs: args.epochs.or(saved.epochs), ..saved };
    }
    let epochs = args.epochs.unwrap_or(10);
    if epochs == 0 || args.batch_size == 0 || args.checkpoint_every == 0 {
        return Err(CliError::new("--epochs, --batch-size and --checkpoint-every must be at least 1"));
    }
    let (task, cfg) = load_task(&args, epochs)?;
    let mut model = zoo::build(&args.model, &cfg, args.seed).map_err(|e| CliError::new(format!("--model: {e}")))?;
    let (hypers, mut opt, schedule) = build_optimizer(&args)?;
    let header = match task {
        Task::Classify(_) => METRICS_HEADER,
        Task::Language { .. } => LM_METRICS_HEADER,
    };
    // Held until the run ends.
    let _lock = match resumed_lock {
        Some(l) => l,
        None => out_dir::open(&out, false, args.force)?,
    };
    fs::create_dir_all(out.join("checkpoints")).map_err(|e| CliError::new(format!("{}: {e}", out.display())))?;

    if args.resume {
        let done = load_resume(&out, &mut *model, opt.as_mut())?;
        truncate_metrics(&out, done, header)?;
        start_epoch = done + 1;
        if start_epoch > epochs {
            eprintln!("{}: all {epochs} epochs are done; nothing to resume (pass a larger --epochs to extend the run)", out.display());
            return Ok(());
        }
        eprintln!("resuming {} at epoch {start_epoch} of {epochs}", out.display());
    } else {
        let argv: Vec<String> = std::env::args().collect();
        let mut config = json!({
            "llv_version": env!("CARGO_PKG_VERSION"),
            "argv": argv,
            "model": args.model, "data": args.data, "optimizer": hypers.spec.name,
            "optimizer_config": hypers_json(&hypers),
            "epochs": epochs, "batch_size": args.batch_size, "seed": args.seed, "limit": args.limit,
            "learning_rate": f32_json(opt.learning_rate()), "schedule": format!("{schedule:?}"),
            "parameters": model.num_parameters(),
            "metrics_columns": header,
        });
        match &task {
            Task::Classify(_) => {
                config["model_config"] =
                    json!({"in_channels": cfg.in_channels, "image_size": cfg.image_size, "num_classes": cfg.num_classes});
            }
            Task::Language { text, lm } => {
                let per_epoch =
                    lm.steps_per_epoch.unwrap_or_else(|| text.train_batches(lm.batch_size, lm.seq_len).expect("checked").num_batches());
                config["model_config"] = json!({"vocab": cfg.vocab});
                config["seq_len"] = json!(lm.seq_len);
                config["steps_per_epoch"] = json!(per_epoch);
                config["clip"] = json!(lm.clip);
                config["train_tokens"] = json!(text.train.len());
                config["valid_tokens"] = json!(text.valid.len());
                config["state"] = json!("zero initial state per window");
            }
        }
        let text = serde_json::to_string_pretty(&config).expect("json");
        super::write_atomic(&out.join("config.json"), text.as_bytes())?;
        super::write_atomic(&out.join("metrics.csv"), format!("{header}\n").as_bytes())?;
        checkpoint::save(&mut *model, checkpoint_path(&out, 0)).map_err(|e| CliError::new(e.to_string()))?;
    }

    let per_epoch = match &task {
        Task::Classify(data) => data.train.len().div_ceil(args.batch_size),
        Task::Language { text, lm } => {
            lm.steps_per_epoch.unwrap_or_else(|| text.train_batches(lm.batch_size, lm.seq_len).expect("checked").num_batches())
        }
    };
    let bar = (!args.quiet).then(|| {
        let bar = indicatif::ProgressBar::new((per_epoch * epochs) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} batches, {per_sec}, ETA {eta}")
                .expect("template")
                .progress_chars("=> "),
        );
        bar.set_position((per_epoch * (start_epoch - 1)) as u64);
        bar
    });
    let mut rec = Recorder { out: out.clone(), every: args.checkpoint_every, epochs, bar, step_loss: 0.0 };
    let summary = match &task {
        Task::Classify(data) => {
            let train_cfg = TrainConfig { epochs, batch_size: args.batch_size, seed: args.seed, eval_batch_size: 500, start_epoch };
            optim::train(&mut *model, &data.train, &data.test, opt.as_mut(), &schedule, &train_cfg, &mut rec).map(|h| {
                h.last().map(|m| {
                    format!("final test accuracy {:.2}% (loss {:.4}) after {} epochs", 100.0 * m.test_accuracy, m.test_loss, m.epoch)
                })
            })
        }
        Task::Language { text, lm } => {
            let lm = LmConfig { start_epoch, ..lm.clone() };
            optim::train_lm(&mut *model, &text.train, &text.valid, opt.as_mut(), &schedule, &lm, &mut rec).map(|h| {
                h.last().map(|m| {
                    format!("final validation loss {:.4} (perplexity {:.2}) after {} epochs", m.val_loss, m.val_perplexity(), m.epoch)
                })
            })
        }
    };
    if let Some(bar) = &rec.bar {
        bar.finish_and_clear();
    }
    let summary = summary.map_err(|e| CliError::new(e.to_string()))?;
    checkpoint::save(&mut *model, out.join("final.safetensors")).map_err(|e| CliError::new(e.to_string()))?;
    if let Some(line) = summary {
        println!("{line}");
    }
    println!("wrote {}", out.display());
    Ok(())
}
