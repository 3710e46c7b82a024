//! Directions in parameter space and their normalizations.
//!
//! A [`Direction`] holds one tensor per named entry of a model's state
//! (`Module::state()` order). What is perturbed, and how it is scaled,
//! follows Li et al. 2018 and their code:
//!
//! * **`--norm filter`** (default): for every tensor with two or more axes,
//!   each slice along axis 0 (an output channel of a convolution, a neuron of
//!   a linear layer) is scaled to the Frobenius norm of the same slice of the
//!   weights. For an LSTM (`char-lstm`), `weight_ih_l*` and `weight_hh_l*`
//!   are `[4·hidden, in]` matrices in PyTorch's gate order (i, f, g, o), so a
//!   filter is one row: the input (or recurrent) weights of one unit of one
//!   gate, scaled to that row's norm; the embedding's filters are the vectors
//!   of single characters, the head's those of single output characters; the
//!   LSTM biases are one-dimensional and follow `--ignore`.
//!   `layer`: each tensor scaled to its weight's norm. `model`: the
//!   whole direction scaled to the norm of all perturbed weights. `none`: raw
//!   Gaussian draws.
//! * **`--ignore biasbn`** (default): one-dimensional tensors (biases,
//!   batch-norm γ and β) get a zero direction, so they stay at the center.
//!   **`--ignore none`**: they move too; as in Li et al.'s code, their
//!   direction is the weight vector itself (the filter normalization of a
//!   tensor whose filters are single numbers, up to sign).
//! * **`--dir-type weights`** (default): batch-norm running statistics are
//!   never perturbed (they are buffers, not weights; every point is evaluated
//!   with the center's statistics). **`states`**: buffers get a direction too,
//!   by the same rules, so with `--ignore biasbn` they are zero anyway (as in
//!   Li et al.'s code) and with `--ignore none` they move along themselves.
//!   Integer counters (`num_batches_tracked`) never move.

use crate::error::{LandscapeError, Result};
use autodiff::Tensor;
use nn::{Kind, Named};
use rand::{rngs::StdRng, SeedableRng};

/// How a random direction is scaled against the weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// Per filter (slice along axis 0) to the weight filter's norm.
    Filter,
    /// Per tensor to the weight tensor's norm.
    Layer,
    /// Whole direction to the norm of all perturbed weights.
    Model,
    /// No scaling.
    None,
}

/// Which one-dimensional tensors are left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignore {
    /// Biases and batch-norm parameters get a zero direction.
    BiasBn,
    /// Nothing is left out.
    None,
}

/// Which named tensors a direction covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirType {
    /// Parameters only.
    Weights,
    /// Parameters and buffers (batch-norm running statistics).
    States,
}

macro_rules! parse_enum {
    ($ty:ident, $flag:expr, $($s:expr => $v:path),+) => {
        impl $ty {
            /// The name this value is written as (in plans and on the command line).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($v => $s,)+
                }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> std::result::Result<Self, String> {
                match s {
                    $($s => Ok($v),)+
                    _ => Err(format!("{} {s:?}: expected one of {}", $flag, [$($s),+].join(", "))),
                }
            }
        }
    };
}
parse_enum!(Norm, "--norm", "filter" => Norm::Filter, "layer" => Norm::Layer, "model" => Norm::Model, "none" => Norm::None);
parse_enum!(Ignore, "--ignore", "biasbn" => Ignore::BiasBn, "none" => Ignore::None);
parse_enum!(DirType, "--dir-type", "weights" => DirType::Weights, "states" => DirType::States);

/// How to make a random direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectionOptions {
    /// Normalization.
    pub norm: Norm,
    /// One-dimensional tensors.
    pub ignore: Ignore,
    /// Weights only or weights and buffers.
    pub dir_type: DirType,
}

impl Default for DirectionOptions {
    fn default() -> Self {
        DirectionOptions { norm: Norm::Filter, ignore: Ignore::BiasBn, dir_type: DirType::Weights }
    }
}

/// A direction: one tensor per named entry of a model's state, aligned with
/// `Module::state()`; entries that do not move are zero.
#[derive(Clone, Debug)]
pub struct Direction {
    /// Entry names, as in the model's state.
    pub names: Vec<String>,
    /// One tensor per entry.
    pub tensors: Vec<Tensor>,
}

fn covered(n: &Named, dir_type: DirType) -> bool {
    match n.kind {
        Kind::Parameter => true,
        Kind::Buffer => dir_type == DirType::States,
        Kind::Counter => false,
    }
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt()
}

impl Direction {
    /// The zero direction over `state`.
    pub fn zeros(state: &[Named]) -> Direction {
        Direction { names: state.iter().map(|n| n.name.clone()).collect(), tensors: state.iter().map(|n| n.tensor.zeros_like()).collect() }
    }

    /// A flat vector over the parameters of `state` (in state order, the
    /// layout of Hessian eigenvectors) as a direction; buffers and counters
    /// get zero.
    pub fn from_flat_parameters(v: &[f64], state: &[Named]) -> Direction {
        let mut d = Direction::zeros(state);
        let mut at = 0;
        for (n, t) in state.iter().zip(d.tensors.iter_mut()) {
            if n.kind == Kind::Parameter {
                let len = n.tensor.numel();
                *t = Tensor::from_vec(v[at..at + len].iter().map(|&x| x as f32).collect(), n.tensor.shape());
                at += len;
            }
        }
        d
    }

    /// A Gaussian direction, normalized against `state`'s weights.
    pub fn random(state: &[Named], opts: DirectionOptions, seed: u64) -> Result<Direction> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut d = Direction::zeros(state);
        for (i, n) in state.iter().enumerate() {
            // Draw for every entry (fixed order), so a direction does not
            // depend on which entries the options keep.
            let draw = Tensor::randn_with(n.tensor.shape(), &mut rng);
            if covered(n, opts.dir_type) {
                d.tensors[i] = draw;
            }
        }
        d.normalize(state, opts)?;
        Ok(d)
    }

    /// Applies the normalization rules of the module docs in place.
    pub fn normalize(&mut self, state: &[Named], opts: DirectionOptions) -> Result<()> {
        for (i, n) in state.iter().enumerate() {
            if !covered(n, opts.dir_type) {
                self.tensors[i] = n.tensor.zeros_like();
                continue;
            }
            let w = n.tensor.data();
            if n.tensor.ndim() <= 1 {
                self.tensors[i] = match opts.ignore {
                    Ignore::BiasBn => n.tensor.zeros_like(),
                    Ignore::None => n.tensor.detach(),
                };
                continue;
            }
            let mut d = self.tensors[i].to_vec();
            match opts.norm {
                Norm::Filter => {
                    let f = d.len() / n.tensor.shape()[0].max(1);
                    for (dc, wc) in d.chunks_mut(f.max(1)).zip(w.chunks(f.max(1))) {
                        let scale = norm(wc) / (norm(dc) + 1e-10);
                        dc.iter_mut().for_each(|v| *v = (*v as f64 * scale) as f32);
                    }
                }
                Norm::Layer => {
                    let scale = norm(w) / (norm(&d) + 1e-10);
                    d.iter_mut().for_each(|v| *v = (*v as f64 * scale) as f32);
                }
                Norm::Model | Norm::None => {}
            }
            self.tensors[i] = Tensor::from_vec(d, n.tensor.shape());
        }
        if opts.norm == Norm::Model {
            let moves = |n: &&Named| covered(n, opts.dir_type) && (n.tensor.ndim() >= 2 || opts.ignore == Ignore::None);
            let weights: f64 = state.iter().filter(moves).map(|n| norm(n.tensor.data()).powi(2)).sum::<f64>().sqrt();
            let scale = weights / (self.norm() + 1e-10);
            self.scale(scale);
        }
        Ok(())
    }

    /// The direction from `a` to `b` (`b − a`, entry by entry), e.g. the
    /// line from initialization to solution. Errors when the two are equal.
    pub fn between(a: &[Named], b: &[Named]) -> Result<Direction> {
        check_same_entries(a, b)?;
        let tensors: Vec<Tensor> = a
            .iter()
            .zip(b)
            .map(|(x, y)| {
                if x.kind == Kind::Counter {
                    x.tensor.zeros_like()
                } else {
                    let _g = autodiff::no_grad();
                    y.tensor.sub(&x.tensor)
                }
            })
            .collect();
        let d = Direction { names: a.iter().map(|n| n.name.clone()).collect(), tensors };
        if d.norm() == 0.0 {
            return Err(LandscapeError::ZeroDirection("the direction between the two checkpoints (they are identical)".into()));
        }
        Ok(d)
    }

    /// Euclidean norm over all entries.
    pub fn norm(&self) -> f64 {
        self.tensors.iter().map(|t| norm(t.data()).powi(2)).sum::<f64>().sqrt()
    }

    /// Inner product with another direction over the same entries.
    pub fn dot(&self, other: &Direction) -> f64 {
        self.tensors.iter().zip(&other.tensors).flat_map(|(a, b)| a.data().iter().zip(b.data())).map(|(&x, &y)| x as f64 * y as f64).sum()
    }

    /// Multiplies every entry by `s`.
    pub fn scale(&mut self, s: f64) {
        for t in &mut self.tensors {
            *t = Tensor::from_vec(t.data().iter().map(|&v| (v as f64 * s) as f32).collect(), t.shape());
        }
    }

    /// Removes the component along `other` (Gram–Schmidt), keeping this
    /// direction's norm. Errors if it was parallel to `other`.
    pub fn orthogonalize_against(&mut self, other: &Direction) -> Result<()> {
        let before = self.norm();
        let c = self.dot(other) / other.dot(other).max(f64::MIN_POSITIVE);
        for (t, o) in self.tensors.iter_mut().zip(&other.tensors) {
            *t = Tensor::from_vec(t.data().iter().zip(o.data()).map(|(&a, &b)| (a as f64 - c * b as f64) as f32).collect(), t.shape());
        }
        let after = self.norm();
        if after <= 1e-12 * before.max(1e-30) {
            return Err(LandscapeError::ZeroDirection("the second direction after orthogonalization".into()));
        }
        self.scale(before / after);
        Ok(())
    }

    /// Errors unless this direction has non-zero norm; `what` names it.
    pub fn check_nonzero(&self, what: &str) -> Result<()> {
        if self.norm() > 0.0 && self.norm().is_finite() {
            Ok(())
        } else {
            Err(LandscapeError::ZeroDirection(what.to_string()))
        }
    }
}

/// Errors unless `a` and `b` have the same entry names and shapes.
pub fn check_same_entries(a: &[Named], b: &[Named]) -> Result<()> {
    if a.len() != b.len() {
        return Err(LandscapeError::Invalid(format!("the two models have {} and {} named tensors", a.len(), b.len())));
    }
    for (x, y) in a.iter().zip(b) {
        if x.name != y.name || x.tensor.shape() != y.tensor.shape() {
            return Err(LandscapeError::Invalid(format!(
                "{} {:?} does not match {} {:?}",
                x.name,
                x.tensor.shape(),
                y.name,
                y.tensor.shape()
            )));
        }
    }
    Ok(())
}

/// `center + Σ cᵢ·dᵢ`, entry by entry: the state at a point of a plane.
pub fn point(center: &[Named], dirs: &[(&Direction, f64)]) -> Vec<Tensor> {
    center
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if n.kind == Kind::Counter {
                return n.tensor.clone();
            }
            let mut v: Vec<f32> = n.tensor.to_vec();
            for (d, c) in dirs {
                let c = *c as f32;
                if c != 0.0 {
                    v.iter_mut().zip(d.tensors[i].data()).for_each(|(x, &dv)| *x += c * dv);
                }
            }
            Tensor::from_vec(v, n.tensor.shape())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Vec<Named> {
        vec![
            Named { name: "conv.weight".into(), tensor: Tensor::randn(&[3, 2, 2, 2], 1), kind: Kind::Parameter },
            Named { name: "conv.bias".into(), tensor: Tensor::randn(&[3], 2), kind: Kind::Parameter },
            Named { name: "bn.running_mean".into(), tensor: Tensor::randn(&[3], 3), kind: Kind::Buffer },
            Named { name: "bn.num_batches_tracked".into(), tensor: Tensor::scalar(5.0), kind: Kind::Counter },
            Named { name: "fc.weight".into(), tensor: Tensor::randn(&[4, 6], 4), kind: Kind::Parameter },
        ]
    }

    #[test]
    fn filter_normalization_matches_each_filter_norm() {
        let s = state();
        let d = Direction::random(&s, DirectionOptions::default(), 7).unwrap();
        for (i, n) in s.iter().enumerate() {
            let dv = d.tensors[i].data();
            if n.tensor.ndim() >= 2 {
                let f = dv.len() / n.tensor.shape()[0];
                for (dc, wc) in dv.chunks(f).zip(n.tensor.data().chunks(f)) {
                    assert!((norm(dc) - norm(wc)).abs() < 1e-5 * norm(wc), "{}: filter norm {} vs {}", n.name, norm(dc), norm(wc));
                }
            } else {
                assert!(dv.iter().all(|&v| v == 0.0), "{} must be zero under biasbn", n.name);
            }
        }
    }

    /// An LSTM's gate matrices are normalized row by row (one row per gate
    /// unit); its biases stay under `biasbn` and move along themselves under `none`.
    #[test]
    fn lstm_filters_are_gate_rows() {
        let cfg = nn::zoo::ModelConfig { vocab: 7, ..nn::zoo::ModelConfig::default() };
        let s = nn::ModuleExt::state(&mut *nn::zoo::build("char-lstm", &cfg, 3).unwrap());
        let d = Direction::random(&s, DirectionOptions::default(), 11).unwrap();
        let mut gates = 0;
        for (n, t) in s.iter().zip(&d.tensors) {
            if n.name.contains("weight_ih") || n.name.contains("weight_hh") {
                let (rows, cols) = (n.tensor.shape()[0], n.tensor.shape()[1]);
                assert_eq!(rows % 4, 0, "{}: {rows} rows", n.name);
                for (r, (dr, wr)) in t.data().chunks(cols).zip(n.tensor.data().chunks(cols)).enumerate() {
                    assert!((norm(dr) - norm(wr)).abs() <= 1e-5 * norm(wr), "{} row {r}: {} vs {}", n.name, norm(dr), norm(wr));
                }
                gates += 1;
            } else if n.tensor.ndim() == 1 {
                assert!(t.data().iter().all(|&v| v == 0.0), "{} must stay under biasbn", n.name);
            }
        }
        assert_eq!(gates, 4, "two layers of weight_ih and weight_hh");
        let opts = DirectionOptions { ignore: Ignore::None, ..DirectionOptions::default() };
        let d = Direction::random(&s, opts, 11).unwrap();
        for (n, t) in s.iter().zip(&d.tensors).filter(|(n, _)| n.name.contains("bias_")) {
            let dot: f64 = t.data().iter().zip(n.tensor.data()).map(|(&a, &b)| a as f64 * b as f64).sum();
            assert!((dot.abs() - norm(n.tensor.data()).powi(2)).abs() <= 1e-4 * dot.abs(), "{}: not along the bias", n.name);
        }
    }

    #[test]
    fn ignore_none_and_states_follow_li_et_al() {
        let s = state();
        let opts = DirectionOptions { ignore: Ignore::None, dir_type: DirType::States, ..Default::default() };
        let d = Direction::random(&s, opts, 7).unwrap();
        assert_eq!(d.tensors[1].to_vec(), s[1].tensor.to_vec(), "1-D direction is the weight itself");
        assert_eq!(d.tensors[2].to_vec(), s[2].tensor.to_vec(), "buffers move under states");
        assert_eq!(d.tensors[3].to_vec(), vec![0.0], "counters never move");
        let w = Direction::random(&s, DirectionOptions { ignore: Ignore::None, ..Default::default() }, 7).unwrap();
        assert!(w.tensors[2].data().iter().all(|&v| v == 0.0), "buffers stay under weights");
    }

    #[test]
    fn layer_and_model_norms() {
        let s = state();
        let d = Direction::random(&s, DirectionOptions { norm: Norm::Layer, ..Default::default() }, 3).unwrap();
        assert!((norm(d.tensors[4].data()) - norm(s[4].tensor.data())).abs() < 1e-4);
        let m = Direction::random(&s, DirectionOptions { norm: Norm::Model, ..Default::default() }, 3).unwrap();
        let w = (norm(s[0].tensor.data()).powi(2) + norm(s[4].tensor.data()).powi(2)).sqrt();
        assert!((m.norm() - w).abs() < 1e-4 * w);
    }

    #[test]
    fn between_orthogonalize_and_zero_errors() {
        let a = state();
        assert!(matches!(Direction::between(&a, &a), Err(LandscapeError::ZeroDirection(_))));
        let mut d1 = Direction::random(&a, DirectionOptions::default(), 1).unwrap();
        let mut d2 = Direction::random(&a, DirectionOptions::default(), 2).unwrap();
        let n2 = d2.norm();
        d2.orthogonalize_against(&d1).unwrap();
        assert!(d2.dot(&d1).abs() < 1e-4 * d1.norm() * n2);
        assert!((d2.norm() - n2).abs() < 1e-4 * n2);
        let copy = d1.clone();
        assert!(d1.orthogonalize_against(&copy).is_err());
        let p = point(&a, &[(&copy, 0.5)]);
        assert_eq!(p[3].to_vec(), vec![5.0]);
        assert!((p[0].data()[0] - (a[0].tensor.data()[0] + 0.5 * copy.tensors[0].data()[0])).abs() < 1e-6);
    }
}
