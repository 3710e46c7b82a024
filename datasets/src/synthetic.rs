//! Synthetic classification sets: two spirals and Gaussian blobs.
//!
//! Both generate `n` points from `seed`, then split them into train and test
//! with [`ClassificationSet::split`] (a `test` fraction drawn with the same
//! seed). Points alternate classes in generation order. Same parameters,
//! same data, bit for bit.

use crate::dataset::{ClassificationData, ClassificationSet};
use crate::error::{DataError, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

/// Parameters of [`spirals`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpiralsParams {
    /// Total points, train + test (default 2000).
    pub n: usize,
    /// Standard deviation of the Gaussian noise added to each coordinate (default 0.1).
    pub noise: f64,
    /// Turns of each arm (default 1.5).
    pub turns: f64,
    /// Fraction of points held out for test (default 0.2).
    pub test: f64,
    /// Random seed (default 0).
    pub seed: u64,
}

impl Default for SpiralsParams {
    fn default() -> Self {
        SpiralsParams { n: 2000, noise: 0.1, turns: 1.5, test: 0.2, seed: 0 }
    }
}

/// Parameters of [`blobs`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlobsParams {
    /// Total points, train + test (default 2000).
    pub n: usize,
    /// Number of classes / blobs (default 3).
    pub classes: usize,
    /// Dimension of the points (default 2).
    pub dim: usize,
    /// Standard deviation of each blob (default 1.0).
    pub std: f64,
    /// Centres are drawn uniformly from `[-spread, spread]^dim` (default 5.0).
    pub spread: f64,
    /// Fraction of points held out for test (default 0.2).
    pub test: f64,
    /// Random seed (default 0).
    pub seed: u64,
}

impl Default for BlobsParams {
    fn default() -> Self {
        BlobsParams { n: 2000, classes: 3, dim: 2, std: 1.0, spread: 5.0, test: 0.2, seed: 0 }
    }
}

fn check_common(n: usize, test: f64, what: &str) -> Result<()> {
    if n < 2 {
        return Err(DataError::invalid(format!("{what}: n = {n}, need at least 2 points")));
    }
    if !(0.0..1.0).contains(&test) {
        return Err(DataError::invalid(format!("{what}: test fraction {test} is outside [0, 1)")));
    }
    Ok(())
}

fn normal(std: f64, what: &str) -> Result<Normal<f64>> {
    Normal::new(0.0, std)
        .ok()
        .filter(|_| std >= 0.0 && std.is_finite())
        .ok_or_else(|| DataError::invalid(format!("{what}: bad standard deviation {std}")))
}

/// Two interleaved spirals in the plane, classes 0 and 1 (the second arm
/// is the first rotated by half a turn). Point `i` has class `i % 2` and
/// lies at `t = (i / 2) / ceil(n / 2)` along its arm: radius `t`, angle
/// `2 pi turns t + class * pi`, plus `N(0, noise^2)` on each coordinate.
/// Features are `[x, y]`, shape `[2]`.
pub fn spirals(p: &SpiralsParams) -> Result<ClassificationData> {
    check_common(p.n, p.test, "spirals")?;
    let noise = normal(p.noise, "spirals")?;
    let mut rng = StdRng::seed_from_u64(p.seed);
    let per_class = p.n.div_ceil(2) as f64;
    let mut data = Vec::with_capacity(2 * p.n);
    let mut targets = Vec::with_capacity(p.n);
    for i in 0..p.n {
        let class = i % 2;
        let t = (i / 2) as f64 / per_class;
        let angle = 2.0 * std::f64::consts::PI * p.turns * t + class as f64 * std::f64::consts::PI;
        let x = t * angle.cos() + noise.sample(&mut rng);
        let y = t * angle.sin() + noise.sample(&mut rng);
        data.push(x as f32);
        data.push(y as f32);
        targets.push(class);
    }
    let all = ClassificationSet::from_f32(data, vec![2], targets, 2)?;
    let (train, test) = all.split(p.test, p.seed)?;
    Ok(ClassificationData {
        name: "spirals".into(),
        source: format!("generated: n={}, noise={}, turns={}, test={}, seed={}", p.n, p.noise, p.turns, p.test, p.seed),
        train,
        test,
    })
}

/// Gaussian blobs: `classes` centres drawn uniformly from
/// `[-spread, spread]^dim`, then point `i` has class `i % classes` and is
/// its centre plus `N(0, std^2)` noise per coordinate. Shape `[dim]`.
pub fn blobs(p: &BlobsParams) -> Result<ClassificationData> {
    check_common(p.n, p.test, "blobs")?;
    if p.classes == 0 || p.dim == 0 {
        return Err(DataError::invalid(format!("blobs: classes ({}) and dim ({}) must be at least 1", p.classes, p.dim)));
    }
    if !(p.spread >= 0.0 && p.spread.is_finite()) {
        return Err(DataError::invalid(format!("blobs: bad spread {}", p.spread)));
    }
    let noise = normal(p.std, "blobs")?;
    let mut rng = StdRng::seed_from_u64(p.seed);
    let centres: Vec<f64> =
        (0..p.classes * p.dim).map(|_| if p.spread > 0.0 { rng.gen_range(-p.spread..=p.spread) } else { 0.0 }).collect();
    let mut data = Vec::with_capacity(p.n * p.dim);
    let mut targets = Vec::with_capacity(p.n);
    for i in 0..p.n {
        let class = i % p.classes;
        for d in 0..p.dim {
            data.push((centres[class * p.dim + d] + noise.sample(&mut rng)) as f32);
        }
        targets.push(class);
    }
    let all = ClassificationSet::from_f32(data, vec![p.dim], targets, p.classes)?;
    let (train, test) = all.split(p.test, p.seed)?;
    Ok(ClassificationData {
        name: "blobs".into(),
        source: format!(
            "generated: n={}, classes={}, dim={}, std={}, spread={}, test={}, seed={}",
            p.n, p.classes, p.dim, p.std, p.spread, p.test, p.seed
        ),
        train,
        test,
    })
}
