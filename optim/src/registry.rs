//! The registry of optimizers: each declares, next to its code, an
//! [`OptimizerSpec`] (name, hyperparameters, default schedule, builder),
//! listed once in `optimizers/mod.rs`. Command lines, help text, saved
//! run configurations, SAM's choice of base and the conformance tests all
//! read this list.
//!
//! ```
//! let h = optim::registry::resolve("sam", &[("base".into(), "adam".into()), ("lr".into(), "1e-3".into())]).unwrap();
//! let opt = h.build().unwrap();
//! assert_eq!((opt.name(), opt.learning_rate()), ("sam", 1e-3));
//! let e = optim::registry::resolve("sgd", &[("nosuch".into(), "1".into())]).err().expect("no such key");
//! assert_eq!(e.key(), Some("nosuch"));
//! ```

use crate::hyper::{parse, ConfigError, Hyper, Kind, Value};
use crate::optimizer::{GradientStep, Optimizer};

/// A built optimizer, or the error naming the key at fault.
pub type Built<T> = Result<Box<T>, ConfigError>;

/// How a registered optimizer is built from its resolved hyperparameters.
#[derive(Clone, Copy)]
pub enum Build {
    /// Updates from a gradient alone: usable by itself and as a wrapper's base.
    Gradient(fn(&Hypers) -> Built<dyn GradientStep>),
    /// Evaluates the model itself during a step (line searches, inner loops).
    Full(fn(&Hypers) -> Built<dyn Optimizer>),
    /// Wraps a [`Build::Gradient`] optimizer, chosen with the key `base`.
    Wrapper(fn(&Hypers, Box<dyn GradientStep>) -> Built<dyn Optimizer>),
}

/// What an optimizer declares about itself.
pub struct OptimizerSpec {
    /// Name, as in `--optimizer NAME`.
    pub name: &'static str,
    /// One line for help text.
    pub about: &'static str,
    /// Its hyperparameters (a wrapper also takes its base's).
    pub params: &'static [Hyper],
    /// Its default learning-rate schedule, in [`crate::Schedule::parse`] syntax.
    pub schedule: &'static str,
    /// Its builder.
    pub build: Build,
}

impl OptimizerSpec {
    /// The declared hyperparameter `key`.
    pub fn param(&self, key: &str) -> Option<&'static Hyper> {
        self.params.iter().find(|h| h.key == key)
    }

    /// Whether it can serve as a wrapper's base.
    pub fn is_gradient_step(&self) -> bool {
        matches!(self.build, Build::Gradient(_))
    }
}

/// Every registered optimizer, in the order of help text.
pub fn all() -> &'static [&'static OptimizerSpec] {
    crate::optimizers::REGISTRY
}

/// The optimizer registered as `name`.
pub fn find(name: &str) -> Result<&'static OptimizerSpec, ConfigError> {
    all()
        .iter()
        .copied()
        .find(|s| s.name == name)
        .ok_or_else(|| ConfigError::UnknownOptimizer { name: name.to_string(), valid: all().iter().map(|s| s.name).collect() })
}

/// The registered name of a possible base (see [`Kind::Base`]).
fn base_name(name: &str) -> Option<&'static str> {
    find(name).ok().filter(|s| s.is_gradient_step()).map(|s| s.name)
}

/// An optimizer's hyperparameters, resolved: every declared key with its
/// given or default value, and a wrapper's base.
#[derive(Clone)]
pub struct Hypers {
    /// The optimizer.
    pub spec: &'static OptimizerSpec,
    /// `(key, value)` for every declared key, in declaration order.
    pub values: Vec<(&'static str, Value)>,
    /// A wrapper's base.
    pub base: Option<Box<Hypers>>,
    /// Seed of any randomness of the optimizer (Entropy-SGD's noise).
    pub seed: u64,
}

impl Hypers {
    /// `spec`'s defaults (and its default base's). Panics on a default
    /// that does not parse (caught by the conformance tests).
    pub fn defaults(spec: &'static OptimizerSpec) -> Hypers {
        let values: Vec<(&'static str, Value)> = spec
            .params
            .iter()
            .map(|h| (h.key, parse(h, h.default, &base_name).unwrap_or_else(|e| panic!("{}: default of {e}", spec.name))))
            .collect();
        let base = values.iter().find_map(|(_, v)| match v {
            Value::Name(b) => Some(Box::new(Hypers::defaults(find(b).expect("a parsed base is registered")))),
            _ => None,
        });
        Hypers { spec, values, base, seed: 0 }
    }

    /// The value of `key`. Panics if `key` is not declared.
    pub fn get(&self, key: &str) -> &Value {
        self.values.iter().find(|(k, _)| *k == key).map(|(_, v)| v).unwrap_or_else(|| panic!("{}: no key {key}", self.spec.name))
    }

    /// A [`Kind::Float`] value.
    pub fn f32(&self, key: &str) -> f32 {
        match self.get(key) {
            Value::Float(v) => *v,
            v => panic!("{}: {key} = {v} is not a number", self.spec.name),
        }
    }

    /// A [`Kind::Int`] value.
    pub fn usize(&self, key: &str) -> usize {
        match self.get(key) {
            Value::Int(v) => *v as usize,
            v => panic!("{}: {key} = {v} is not a whole number", self.spec.name),
        }
    }

    /// A [`Kind::Bool`] value.
    pub fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            Value::Bool(v) => *v,
            v => panic!("{}: {key} = {v} is not a flag", self.spec.name),
        }
    }

    /// Every key with its value, a wrapper's base's keys after its own
    /// (what a run's configuration records).
    pub fn resolved(&self) -> Vec<(&'static str, Value)> {
        let mut out = self.values.clone();
        if let Some(b) = &self.base {
            out.extend(b.resolved().into_iter().filter(|(k, _)| self.spec.param(k).is_none()));
        }
        out
    }

    /// Builds the optimizer (validating its configuration).
    pub fn build(&self) -> Result<Box<dyn Optimizer>, ConfigError> {
        match self.spec.build {
            Build::Gradient(f) => f(self).map(|b| Box::new(b) as Box<dyn Optimizer>),
            Build::Full(f) => f(self),
            Build::Wrapper(f) => f(self, self.base.as_ref().expect("a wrapper has a base").build_step()?),
        }
    }

    /// Builds a [`Build::Gradient`] optimizer as a base. Panics for others
    /// (resolving refuses them as bases).
    pub fn build_step(&self) -> Result<Box<dyn GradientStep>, ConfigError> {
        match self.spec.build {
            Build::Gradient(f) => f(self),
            _ => panic!("{} cannot be a base", self.spec.name),
        }
    }

    fn set(&mut self, key: &str, text: &str) -> Result<bool, ConfigError> {
        let Some(h) = self.spec.param(key) else { return Ok(false) };
        let v = parse(h, text, &base_name)?;
        if let Value::Name(b) = v {
            self.base = Some(Box::new(Hypers::defaults(find(b)?)));
        }
        *self.values.iter_mut().find(|(k, _)| *k == key).map(|(_, v)| v).expect("declared") = v;
        Ok(true)
    }
}

/// Resolves the `(key, value)` settings of optimizer `name` against its
/// declared hyperparameters (and a wrapper's base's: `base` is applied
/// first). Unknown and repeated keys are errors naming the key; ranges are
/// checked when building.
pub fn resolve(name: &str, settings: &[(String, String)]) -> Result<Hypers, ConfigError> {
    let mut h = Hypers::defaults(find(name)?);
    for (i, (k, _)) in settings.iter().enumerate() {
        if settings[..i].iter().any(|(j, _)| j == k) {
            return Err(ConfigError::Repeated { key: k.clone() });
        }
    }
    let (base, rest): (Vec<_>, Vec<_>) = settings.iter().partition(|(k, _)| k == "base" && h.spec.param("base").is_some());
    for (k, v) in base.into_iter().chain(rest) {
        if h.set(k, v)? {
            continue;
        }
        let done = match h.base.as_deref_mut() {
            Some(b) => b.set(k, v)?,
            None => false,
        };
        if !done {
            let mut valid: Vec<&'static str> = h.spec.params.iter().map(|p| p.key).collect();
            valid.extend(h.base.iter().flat_map(|b| b.spec.params.iter().map(|p| p.key)));
            return Err(ConfigError::UnknownKey { optimizer: h.spec.name, key: k.clone(), valid });
        }
    }
    Ok(h)
}

/// Every registered optimizer with its hyperparameters (key, default,
/// range, help) and default schedule, as a table for `--help` and
/// `llv train --list-optimizers`.
pub fn describe() -> String {
    let mut out = String::new();
    for s in all() {
        out.push_str(&format!("{}: {} [schedule {}]\n", s.name, s.about, s.schedule));
        for h in s.params {
            let range = match h.kind {
                Kind::Float(r) | Kind::Int(r) => format!(" ({r})"),
                Kind::Bool => " (true/false)".to_string(),
                Kind::Base => {
                    let bases: Vec<&str> = all().iter().filter(|b| b.is_gradient_step()).map(|b| b.name).collect();
                    format!(" ({}; its keys are accepted too)", bases.join(", "))
                }
            };
            out.push_str(&format!("    {:<22} {}{range}\n", format!("{}={}", h.key, h.default), h.help));
        }
    }
    out
}
