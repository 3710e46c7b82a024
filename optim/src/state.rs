//! An optimizer's saved state: named slots holding one tensor per
//! parameter (momentum buffers, moments, directions) and integer counters
//! (step counts), and its checkpoint form keyed by parameter name.

use autodiff::Tensor;

/// What [`crate::Optimizer::state`] returns and `load_state` restores.
#[derive(Clone, Debug, Default)]
pub struct OptimizerState {
    /// `(slot, tensors)`: one tensor per parameter, in parameter order; an
    /// empty list before the first step. Slot names hold no `.`.
    pub slots: Vec<(String, Vec<Tensor>)>,
    /// `(name, value)`, e.g. `("step", 120)`.
    pub counters: Vec<(String, u64)>,
}

impl OptimizerState {
    /// Whether nothing is saved.
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(|(_, ts)| ts.is_empty()) && self.counters.is_empty()
    }

    /// The tensors of `slot` (empty when absent).
    pub fn slot(&self, slot: &str) -> &[Tensor] {
        self.slots.iter().find(|(k, _)| k == slot).map(|(_, ts)| &ts[..]).unwrap_or(&[])
    }

    /// The counter `name` (0 when absent).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.iter().find(|(k, _)| k == name).map(|(_, v)| *v).unwrap_or(0)
    }

    /// The state with every name prefixed by `prefix` (for an optimizer
    /// that holds another one, e.g. Entropy-SGD's outer SGD).
    pub fn prefixed(self, prefix: &str) -> OptimizerState {
        OptimizerState {
            slots: self.slots.into_iter().map(|(k, v)| (format!("{prefix}{k}"), v)).collect(),
            counters: self.counters.into_iter().map(|(k, v)| (format!("{prefix}{k}"), v)).collect(),
        }
    }

    /// The part whose names start with `prefix`, with the prefix removed.
    pub fn strip_prefix(&self, prefix: &str) -> OptimizerState {
        OptimizerState {
            slots: self.slots.iter().filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v.clone()))).collect(),
            counters: self.counters.iter().filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), *v))).collect(),
        }
    }

    /// Named tensors for a checkpoint: `optim.<slot>.<parameter name>`,
    /// and counters as `count.<name>` (see [`counter_tensor`]). `names`
    /// are the parameters' names in parameter order.
    pub fn to_named(&self, names: &[String]) -> Result<Vec<(String, Tensor)>, String> {
        let mut out = Vec::new();
        for (slot, ts) in &self.slots {
            if ts.is_empty() {
                continue;
            }
            if ts.len() != names.len() {
                return Err(format!("optimizer slot {slot} holds {} tensors for {} parameters", ts.len(), names.len()));
            }
            out.extend(names.iter().zip(ts).map(|(n, t)| (format!("optim.{slot}.{n}"), t.clone())));
        }
        out.extend(self.counters.iter().map(|(k, v)| (format!("count.{k}"), counter_tensor(*v))));
        Ok(out)
    }

    /// Reads what [`OptimizerState::to_named`] wrote, for `params` (name
    /// and current value, in parameter order): every slot must hold a
    /// tensor of the parameter's shape for every parameter. Errors name
    /// the tensor.
    pub fn from_named(named: &[(String, Tensor)], params: &[(String, Tensor)]) -> Result<OptimizerState, String> {
        let mut state = OptimizerState::default();
        for (key, t) in named {
            if let Some(name) = key.strip_prefix("count.") {
                state.counters.push((name.to_string(), counter_value(t).ok_or_else(|| format!("{key}: not a counter"))?));
            }
        }
        let mut slots: Vec<&str> = named.iter().filter_map(|(k, _)| k.strip_prefix("optim.")?.split_once('.').map(|(s, _)| s)).collect();
        slots.sort_unstable();
        slots.dedup();
        for slot in slots {
            let mut ts = Vec::with_capacity(params.len());
            for (name, p) in params {
                let key = format!("optim.{slot}.{name}");
                match named.iter().find(|(k, _)| *k == key) {
                    Some((_, t)) if t.shape() == p.shape() => ts.push(t.clone()),
                    Some((_, t)) => return Err(format!("{key} has shape {:?}, the parameter {:?}", t.shape(), p.shape())),
                    None => return Err(format!("{key} is missing")),
                }
            }
            let known =
                named.iter().filter(|(k, _)| k.strip_prefix("optim.").and_then(|r| r.split_once('.')).is_some_and(|(s, _)| s == slot));
            if known.count() != params.len() {
                return Err(format!("optimizer slot {slot} has tensors for parameters the model does not have"));
            }
            state.slots.push((slot.to_string(), ts));
        }
        Ok(state)
    }
}

/// An integer as an exact `F32` tensor `[high, low]` of 24-bit halves
/// (checkpoint files hold `F32`, whose integers are exact only below 2²⁴).
pub fn counter_tensor(v: u64) -> Tensor {
    assert!(v < 1 << 48, "counter {v} too large");
    Tensor::from_vec(vec![(v >> 24) as f32, (v & 0xFF_FFFF) as f32], &[2])
}

/// The integer of a [`counter_tensor`] (`None` if `t` is not one).
pub fn counter_value(t: &Tensor) -> Option<u64> {
    let d = t.data();
    let ok = |x: f32| x >= 0.0 && x < (1 << 24) as f32 && x.fract() == 0.0;
    (t.shape() == [2] && ok(d[0]) && ok(d[1])).then(|| ((d[0] as u64) << 24) | d[1] as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_exact() {
        for v in [0, 1, (1 << 24) + 1, (1 << 40) + 12345] {
            assert_eq!(counter_value(&counter_tensor(v)), Some(v));
        }
        assert_eq!(counter_value(&Tensor::scalar(3.0)), None);
    }

    #[test]
    fn named_round_trip_checks_shapes() {
        let params = vec![("a.weight".to_string(), Tensor::zeros(&[2, 3])), ("a.bias".to_string(), Tensor::zeros(&[3]))];
        let names: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
        let s = OptimizerState {
            slots: vec![("m".into(), vec![Tensor::ones(&[2, 3]), Tensor::ones(&[3])])],
            counters: vec![("step".into(), 7)],
        };
        let named = s.to_named(&names).unwrap();
        assert!(named.iter().any(|(k, _)| k == "optim.m.a.weight"));
        let back = OptimizerState::from_named(&named, &params).unwrap();
        assert_eq!(back.counter("step"), 7);
        assert_eq!(back.slot("m")[1].to_vec(), vec![1.0; 3]);
        let wrong = vec![("a.weight".to_string(), Tensor::zeros(&[3, 2])), params[1].clone()];
        assert!(OptimizerState::from_named(&named, &wrong).unwrap_err().contains("optim.m.a.weight"));
    }
}
