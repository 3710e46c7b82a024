//! [`Dropout`]: seeded inverted dropout, PyTorch's `nn.Dropout`.

use crate::{Kind, Module};
use autodiff::Tensor;

/// Zeroes each element with probability `p` in training mode and scales
/// the rest by `1 / (1 − p)`; the identity in eval mode.
///
/// **Seeding.** The layer has a `seed` and a call counter `k` (starting at
/// 0). The `k`-th training forward draws its mask with seed
/// [`Dropout::seed_for_call`]`(k)` = SplitMix64 of `seed + (k + 1)·φ`
/// (φ = `0x9E3779B97F4A7C15`), then increments `k`; eval forwards do not
/// count. So a run is reproducible from the seed, every batch gets a fresh
/// mask, and a step can be replayed by resetting the counter
/// ([`Dropout::set_calls`]), as PAL's line search needs.
#[derive(Clone, Debug)]
pub struct Dropout {
    /// Drop probability, in `[0, 1)`.
    pub p: f32,
    /// Base seed of the mask stream.
    pub seed: u64,
    calls: u64,
    training: bool,
}

/// SplitMix64's output function.
fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}

impl Dropout {
    /// Dropout with probability `p` and mask seed `seed`, in training mode.
    /// Panics unless `0 <= p < 1`.
    pub fn new(p: f32, seed: u64) -> Dropout {
        assert!((0.0..1.0).contains(&p), "Dropout: probability {p} not in [0, 1)");
        Dropout { p, seed, calls: 0, training: true }
    }

    /// The mask seed of the `k`-th training forward (from 0).
    pub fn seed_for_call(&self, k: u64) -> u64 {
        splitmix64(self.seed.wrapping_add(k.wrapping_add(1).wrapping_mul(0x9E3779B97F4A7C15)))
    }

    /// Training forwards run so far.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Sets the call counter (e.g. back by one to replay a step's mask).
    pub fn set_calls(&mut self, k: u64) {
        self.calls = k;
    }
}

impl Module for Dropout {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        if !self.training || self.p == 0.0 {
            return x.clone();
        }
        let seed = self.seed_for_call(self.calls);
        self.calls += 1;
        x.dropout(self.p, seed)
    }

    fn visit_mut(&mut self, _prefix: &str, _f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {}

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use autodiff::gradcheck::{check_gradients, check_second_order, GradCheck};

    #[test]
    fn masks_scale_and_replay() {
        let x = Tensor::ones(&[1000]);
        let mut d = Dropout::new(0.25, 7);
        let a = d.forward(&x).to_vec();
        let kept = a.iter().filter(|&&v| v != 0.0).count();
        assert!(a.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
        assert!((700..800).contains(&kept), "kept {kept} of 1000 at p = 0.25");
        let b = d.forward(&x).to_vec();
        assert_ne!(a, b, "each call draws a fresh mask");
        d.set_calls(0);
        assert_eq!(d.forward(&x).to_vec(), a, "replaying call 0 gives the same mask");
        assert_eq!(Dropout::new(0.25, 7).forward(&x).to_vec(), a, "same seed, same masks");
        assert_ne!(Dropout::new(0.25, 8).forward(&x).to_vec(), a);
        d.set_training(false);
        assert_eq!(d.forward(&x).to_vec(), x.to_vec());
        assert_eq!(d.calls(), 1);
    }

    #[test]
    fn gradients() {
        let x = Tensor::rand_uniform(&[3, 4], -1.0, 1.0, 13);
        // The same mask for every evaluation: a fresh layer per call.
        let f = |t: &[Tensor]| Dropout::new(0.5, 3).forward(&t[0]);
        check_gradients(f, std::slice::from_ref(&x), &GradCheck::default()).unwrap();
        check_second_order(f, &[x], &GradCheck::default()).unwrap();
    }
}
