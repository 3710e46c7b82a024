//! Hyperparameters as optimizers declare them (name, default, range, help),
//! the values a user gives, and the typed errors of checking them.
//!
//! An optimizer lists its [`Hyper`]s once, next to its code; the registry
//! parses user text against that list, the optimizer's config checks its
//! ranges with [`check`] against the same list, and help text is printed
//! from it. Errors carry the key at fault, so a command line can name its
//! flag.

use std::fmt;
use std::ops::Bound;

/// One hyperparameter of an optimizer.
#[derive(Clone, Copy, Debug)]
pub struct Hyper {
    /// Key, as in `--opt lr=0.1`.
    pub key: &'static str,
    /// Default, as text in the syntax of [`Kind`].
    pub default: &'static str,
    /// Type and valid range.
    pub kind: Kind,
    /// One line for help text.
    pub help: &'static str,
}

/// The type of a hyperparameter and its valid values.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A finite `f32` in the range.
    Float(Range),
    /// A whole number in the range.
    Int(Range),
    /// `true`/`false` (also `1`/`0`).
    Bool,
    /// The name of a registered optimizer that can serve as a base (SAM's `base`).
    Base,
}

/// A range of numbers with open, closed or no bounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// Lower bound.
    pub lo: Bound<f64>,
    /// Upper bound.
    pub hi: Bound<f64>,
}

impl Range {
    /// `> 0`.
    pub const POSITIVE: Range = Range { lo: Bound::Excluded(0.0), hi: Bound::Unbounded };
    /// `>= 0`.
    pub const NONNEG: Range = Range { lo: Bound::Included(0.0), hi: Bound::Unbounded };
    /// `[0, 1)`: decay rates, momenta.
    pub const UNIT: Range = Range { lo: Bound::Included(0.0), hi: Bound::Excluded(1.0) };
    /// `(0, 1]`: mixing weights.
    pub const WEIGHT: Range = Range { lo: Bound::Excluded(0.0), hi: Bound::Included(1.0) };

    /// Whether `v` lies in the range.
    pub fn contains(&self, v: f64) -> bool {
        std::ops::RangeBounds::contains(&(self.lo, self.hi), &v)
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.lo, self.hi) {
            (Bound::Unbounded, Bound::Unbounded) => write!(f, "any"),
            (Bound::Excluded(a), Bound::Unbounded) => write!(f, "> {a}"),
            (Bound::Included(a), Bound::Unbounded) => write!(f, ">= {a}"),
            (lo, hi) => {
                let (l, a) = match lo {
                    Bound::Included(a) => ('[', a.to_string()),
                    Bound::Excluded(a) => ('(', a.to_string()),
                    Bound::Unbounded => ('(', "-inf".to_string()),
                };
                let (h, b) = match hi {
                    Bound::Included(b) => (']', b.to_string()),
                    Bound::Excluded(b) => (')', b.to_string()),
                    Bound::Unbounded => (')', "inf".to_string()),
                };
                write!(f, "in {l}{a}, {b}{h}")
            }
        }
    }
}

/// A parsed hyperparameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A [`Kind::Float`].
    Float(f32),
    /// A [`Kind::Int`].
    Int(u64),
    /// A [`Kind::Bool`].
    Bool(bool),
    /// A [`Kind::Base`]: an optimizer's registered name.
    Name(&'static str),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Float(v) => write!(f, "{v}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Name(v) => write!(f, "{v}"),
        }
    }
}

/// Why an optimizer's configuration was refused. Every variant names the
/// key at fault ([`ConfigError::key`]) where there is one.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigError {
    /// No optimizer of this name is registered.
    UnknownOptimizer {
        /// The name given.
        name: String,
        /// The registered names.
        valid: Vec<&'static str>,
    },
    /// The optimizer has no hyperparameter of this name.
    UnknownKey {
        /// The optimizer.
        optimizer: &'static str,
        /// The key given.
        key: String,
        /// The optimizer's keys.
        valid: Vec<&'static str>,
    },
    /// The same key was given twice.
    Repeated {
        /// The key.
        key: String,
    },
    /// The text is not a value of the key's type.
    Parse {
        /// The key.
        key: String,
        /// The text given.
        text: String,
        /// What was expected.
        expected: String,
    },
    /// A number outside the key's range (or not finite).
    OutOfRange {
        /// The key.
        key: &'static str,
        /// The value given.
        value: f64,
        /// The valid range.
        range: Range,
    },
    /// A value that conflicts with another key's.
    Invalid {
        /// The key.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

impl ConfigError {
    /// The key at fault (`None` for an unknown optimizer).
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownOptimizer { .. } => None,
            ConfigError::UnknownKey { key, .. } | ConfigError::Repeated { key } | ConfigError::Parse { key, .. } => Some(key),
            ConfigError::OutOfRange { key, .. } | ConfigError::Invalid { key, .. } => Some(key),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::UnknownOptimizer { name, valid } => write!(f, "unknown optimizer {name:?}; registered: {}", valid.join(", ")),
            ConfigError::UnknownKey { optimizer, key, valid } => {
                write!(f, "{optimizer} has no hyperparameter {key:?}; its keys: {}", valid.join(", "))
            }
            ConfigError::Repeated { key } => write!(f, "{key} is given twice"),
            ConfigError::Parse { key, text, expected } => write!(f, "{key}: {text:?} is not {expected}"),
            ConfigError::OutOfRange { key, value, range } => write!(f, "{key} must be {range}, got {value}"),
            ConfigError::Invalid { key, reason } => write!(f, "{key}: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Parses `text` as a value of `h`'s type (the range is the config's to
/// check, see [`check`]); `base_ok` tells whether a name can be a base.
pub fn parse(h: &Hyper, text: &str, base_ok: &dyn Fn(&str) -> Option<&'static str>) -> Result<Value, ConfigError> {
    let err = |expected: &str| ConfigError::Parse { key: h.key.to_string(), text: text.to_string(), expected: expected.to_string() };
    match h.kind {
        Kind::Float(_) => text.trim().parse::<f32>().map(Value::Float).map_err(|_| err("a number")),
        Kind::Int(_) => text.trim().parse::<u64>().map(Value::Int).map_err(|_| err("a whole number")),
        Kind::Bool => match text.trim() {
            "true" | "1" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            _ => Err(err("true or false")),
        },
        Kind::Base => base_ok(text.trim()).map(Value::Name).ok_or_else(|| err("an optimizer that updates from a gradient")),
    }
}

/// Checks `value` against the range `params` declares for `key` (and that
/// it is finite): what every config's `validate` calls, so ranges are
/// written once. Panics if `key` is not declared (a programming error).
pub fn check(params: &[Hyper], key: &'static str, value: f64) -> Result<(), ConfigError> {
    let h = params.iter().find(|h| h.key == key).unwrap_or_else(|| panic!("hyperparameter {key} is not declared"));
    let range = match h.kind {
        Kind::Float(r) | Kind::Int(r) => r,
        Kind::Bool | Kind::Base => return Ok(()),
    };
    if value.is_finite() && range.contains(value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange { key: h.key, value, range })
    }
}

/// The common key of optimizers built on [`crate::PerParam`]: whether
/// weight decay also applies to tensors of at most one dimension (biases,
/// batch- and layer-norm scales and shifts). `false` is the usual "no
/// decay" parameter group.
pub const DECAY_1D: Hyper = Hyper {
    key: "decay_1d",
    default: "true",
    kind: Kind::Bool,
    help: "weight decay also on biases and norm parameters (tensors of <= 1 dimension)",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_print_and_contain() {
        assert_eq!(Range::POSITIVE.to_string(), "> 0");
        assert_eq!(Range::UNIT.to_string(), "in [0, 1)");
        assert!(Range::UNIT.contains(0.0) && !Range::UNIT.contains(1.0));
        assert!(!Range::POSITIVE.contains(0.0));
    }

    #[test]
    fn check_names_the_key() {
        let p = [Hyper { key: "lr", default: "1", kind: Kind::Float(Range::POSITIVE), help: "" }];
        assert!(check(&p, "lr", 0.1).is_ok());
        let e = check(&p, "lr", -1.0).unwrap_err();
        assert_eq!(e.key(), Some("lr"));
        assert_eq!(e.to_string(), "lr must be > 0, got -1");
        assert!(check(&p, "lr", f64::NAN).is_err());
    }
}
