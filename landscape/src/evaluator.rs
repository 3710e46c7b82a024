//! How one point of a surface is evaluated: the metrics of a model whose
//! weights were set to that point. Surfaces take any [`Evaluator`]; the
//! classifier one gives a loss and an accuracy per evaluation set.

use datasets::ClassificationSet;
use nn::Module;

/// The metrics of a model at its current weights.
pub trait Evaluator: Sync {
    /// Metric names, in the order [`Evaluator::evaluate`] returns values.
    fn metric_names(&self) -> Vec<String>;
    /// Evaluates `model` (its weights already set), one value per metric.
    fn evaluate(&self, model: &mut dyn Module) -> Vec<f64>;
}

/// An evaluation set of a surface, e.g. `("test", &set)`.
pub struct EvalSet<'a> {
    /// `train` or `test`: metric names are `<name>_loss`, `<name>_accuracy`.
    pub name: String,
    /// The examples.
    pub set: &'a ClassificationSet,
}

/// Mean cross-entropy and top-1 accuracy on each set, in eval mode
/// ([`nn::eval::evaluate`]).
pub struct ClassifierEvaluator<'a> {
    /// The sets; each gives `<name>_loss` and `<name>_accuracy`.
    pub sets: Vec<EvalSet<'a>>,
    /// Examples per forward pass.
    pub batch_size: usize,
}

impl ClassifierEvaluator<'_> {
    /// The evaluator of the sets of `data`.
    pub fn new(data: &crate::model_data::ModelData) -> ClassifierEvaluator<'_> {
        ClassifierEvaluator {
            sets: data.sets.iter().map(|(n, s)| EvalSet { name: n.clone(), set: s }).collect(),
            batch_size: data.config.batch_size,
        }
    }
}

impl Evaluator for ClassifierEvaluator<'_> {
    fn metric_names(&self) -> Vec<String> {
        self.sets.iter().flat_map(|s| [format!("{}_loss", s.name), format!("{}_accuracy", s.name)]).collect()
    }

    fn evaluate(&self, model: &mut dyn Module) -> Vec<f64> {
        let mut values = Vec::with_capacity(2 * self.sets.len());
        for s in &self.sets {
            let r = nn::evaluate(model, s.set, self.batch_size.max(1));
            values.push(r.loss);
            values.push(r.accuracy);
        }
        values
    }
}
