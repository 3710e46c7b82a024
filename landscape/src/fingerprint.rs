//! Short fingerprints of weights and directions: results plans record them
//! instead of whole tensors, so a resumed or merged run can check that it
//! continues the same computation.

use crate::direction::Direction;
use nn::Named;

/// FNV-1a over names, shapes and values of named tensors, as 16 hex digits.
fn fnv<'a>(entries: impl Iterator<Item = (&'a str, &'a autodiff::Tensor)>) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    };
    for (name, t) in entries {
        eat(name.as_bytes());
        for &d in t.shape() {
            eat(&(d as u64).to_le_bytes());
        }
        for v in t.data() {
            eat(&v.to_le_bytes());
        }
    }
    format!("{h:016x}")
}

/// The fingerprint of a model state (names, shapes and bytes of every entry).
pub fn state_fingerprint(state: &[Named]) -> String {
    fnv(state.iter().map(|n| (n.name.as_str(), &n.tensor)))
}

/// The fingerprint of one or two directions (x's entries, then y's).
pub fn directions_fingerprint<'a>(x: &'a Direction, y: Option<&'a Direction>) -> String {
    let entries = |d: &'a Direction| d.names.iter().map(String::as_str).zip(d.tensors.iter());
    fnv(entries(x).chain(y.into_iter().flat_map(entries)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use autodiff::Tensor;

    #[test]
    fn fingerprints_see_names_shapes_and_values() {
        let named = |name: &str, v: Vec<f32>, shape: &[usize]| Named {
            name: name.into(),
            tensor: Tensor::from_vec(v, shape),
            kind: nn::Kind::Parameter,
        };
        let a = vec![named("w", vec![1.0, 2.0], &[2])];
        assert_eq!(state_fingerprint(&a), state_fingerprint(&a.clone()));
        assert_ne!(state_fingerprint(&a), state_fingerprint(&[named("v", vec![1.0, 2.0], &[2])]));
        assert_ne!(state_fingerprint(&a), state_fingerprint(&[named("w", vec![1.0, 2.0], &[1, 2])]));
        assert_ne!(state_fingerprint(&a), state_fingerprint(&[named("w", vec![1.0, 2.5], &[2])]));
        let d = Direction { names: vec!["w".into()], tensors: vec![Tensor::from_vec(vec![1.0, 2.0], &[2])] };
        assert_eq!(directions_fingerprint(&d, None), state_fingerprint(&a), "a direction hashes like the state it mirrors");
        assert_ne!(directions_fingerprint(&d, Some(&d)), directions_fingerprint(&d, None));
    }
}
