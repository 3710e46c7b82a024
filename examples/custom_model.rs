//! A model defined outside llv's crates, trained and looked at with the
//! library alone: a small residual MLP on the two spirals, trained with
//! Adam, then the test loss on a filter-normalized random plane around the
//! solution, drawn as a contour plot.
//!
//! cargo run --release --example custom_model -- [OUT.png]

use autodiff::Tensor;
use landscape::render::{contour_plot, FigureOptions, Grid2};
use landscape::{ClassifierEvaluator, Direction, DirectionOptions, EvalSet, Range, SurfaceJob};
use nn::layers::Linear;
use nn::{Kind, Module, ModuleExt};
use rand::{rngs::StdRng, SeedableRng};
use std::sync::Mutex;

/// `x → h = W₁x → h + relu(W₂h) → W₃(·)`: one residual block between two
/// linear maps. A `Module` is a forward pass, a visitor over its named
/// tensors (what checkpoints, optimizers and directions are built on) and a
/// training switch.
struct ResidualMlp {
    input: Linear,
    block: Linear,
    output: Linear,
}

impl ResidualMlp {
    fn new(seed: u64) -> ResidualMlp {
        let mut rng = StdRng::seed_from_u64(seed);
        ResidualMlp {
            input: Linear::new(2, 64, true, &mut rng),
            block: Linear::new(64, 64, true, &mut rng),
            output: Linear::new(64, 2, true, &mut rng),
        }
    }
}

impl Module for ResidualMlp {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let h = self.input.forward(x);
        let h = h.add(&self.block.forward(&h).relu());
        self.output.forward(&h)
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        self.input.visit_mut(&format!("{prefix}input."), f);
        self.block.visit_mut(&format!("{prefix}block."), f);
        self.output.visit_mut(&format!("{prefix}output."), f);
    }
    fn set_training(&mut self, _training: bool) {}
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).unwrap_or_else(|| "custom_model_contour.png".into());
    let data = datasets::spirals(&datasets::SpiralsParams::default())?;

    // Train: the same loop `llv train` runs.
    let mut model = ResidualMlp::new(0);
    let mut opt = optim::Adam::new(optim::AdamConfig::default());
    let cfg = optim::TrainConfig { epochs: 150, ..optim::TrainConfig::default() };
    let history = optim::train(&mut model, &data.train, &data.test, &mut opt, &optim::Schedule::Constant, &cfg, &mut optim::NoHooks)?;
    let last = history.last().expect("one epoch at least");
    println!("trained {} parameters: test accuracy {:.1}%", model.num_parameters(), 100.0 * last.test_accuracy);

    // The plane: two filter-normalized random directions around the solution.
    let center = model.state();
    let (x_dir, y_dir) =
        (Direction::random(&center, DirectionOptions::default(), 1)?, Direction::random(&center, DirectionOptions::default(), 2)?);
    let evaluator = ClassifierEvaluator { sets: vec![EvalSet { name: "test".into(), set: &data.test }], batch_size: 400 };
    let (x, y): (Range, Range) = ("-1:1:21".parse()?, "-1:1:21".parse()?);
    let job = SurfaceJob { center: &center, x_dir: &x_dir, y_dir: Some(&y_dir), x, y: Some(y), evaluator: &evaluator, shard: None };
    let loss = Mutex::new(vec![f64::NAN; x.num * y.num]);
    let points: Vec<usize> = (0..x.num * y.num).collect();
    landscape::compute(&job, &|| Box::new(ResidualMlp::new(0)) as Box<dyn Module>, &points, &|i, _, _, values| {
        loss.lock().expect("sink")[i] = values[0];
        Ok(())
    })?;

    let grid = Grid2 { x: x.values(), y: y.values(), z: loss.into_inner()? };
    let opts =
        FigureOptions { title: "A residual MLP on the spirals: test loss".into(), z_label: "test loss".into(), ..FigureOptions::default() };
    contour_plot(&opts, &grid, None, true, None).save(&out)?;
    println!("center loss {:.4}; wrote {out}", grid.z[10 * 21 + 10]);
    Ok(())
}
