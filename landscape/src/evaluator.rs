//! How one point of a surface is evaluated: the metrics of a model whose
//! weights were set to that point. Surfaces take any [`Evaluator`]; the
//! classifier one gives a loss and an accuracy per evaluation set, the
//! language-model one the loss per character and the next-character
//! accuracy per window set.

use crate::examples::Examples;
use crate::model_data::ModelData;
use datasets::{ClassificationSet, LmWindows};
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
    /// The evaluator of the classification sets of `data`.
    pub fn new(data: &ModelData) -> ClassifierEvaluator<'_> {
        let sets = data
            .sets
            .iter()
            .filter_map(|(n, s)| match s {
                Examples::Classes(set) => Some(EvalSet { name: n.clone(), set }),
                Examples::Windows(_) => None,
            })
            .collect();
        ClassifierEvaluator { sets, batch_size: data.config.batch_size }
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

/// Mean cross-entropy per character (nats) and next-character top-1
/// accuracy of a language model on each window set, in eval mode
/// ([`nn::evaluate_lm`]; zero state per window).
pub struct LmEvaluator<'a> {
    /// `(name, windows)`; each gives `<name>_loss` and `<name>_accuracy`.
    pub sets: Vec<(String, &'a LmWindows)>,
    /// Windows per forward pass.
    pub batch_size: usize,
}

impl LmEvaluator<'_> {
    /// The evaluator of the window sets of `data`.
    pub fn new(data: &ModelData) -> LmEvaluator<'_> {
        let sets = data
            .sets
            .iter()
            .filter_map(|(n, s)| match s {
                Examples::Windows(w) => Some((n.clone(), w)),
                Examples::Classes(_) => None,
            })
            .collect();
        LmEvaluator { sets, batch_size: data.config.batch_size }
    }
}

impl Evaluator for LmEvaluator<'_> {
    fn metric_names(&self) -> Vec<String> {
        self.sets.iter().flat_map(|(n, _)| [format!("{n}_loss"), format!("{n}_accuracy")]).collect()
    }

    fn evaluate(&self, model: &mut dyn Module) -> Vec<f64> {
        self.sets
            .iter()
            .flat_map(|(_, w)| {
                let r = nn::evaluate_lm(&mut *model, w, self.batch_size.max(1));
                [r.loss, r.accuracy]
            })
            .collect()
    }
}

/// The evaluator of `data`'s sets: [`LmEvaluator`] for text windows,
/// [`ClassifierEvaluator`] otherwise.
pub fn for_data(data: &ModelData) -> Box<dyn Evaluator + '_> {
    if data.is_language() {
        Box::new(LmEvaluator::new(data))
    } else {
        Box::new(ClassifierEvaluator::new(data))
    }
}
