//! The PCA plane of a training trajectory (Li et al. 2018, §7).
//!
//! Given checkpoints `w₀ … w_T` and the final weights `w*`, the rows
//! `wᵢ − w*` (with one-dimensional entries zeroed under `--ignore biasbn`,
//! as in Li et al.'s code) are mean-centred and their top two principal
//! components become the plane's directions (unit vectors). Each checkpoint
//! is projected onto them *without* centring, so the final weights sit at the
//! origin. Explained-variance ratios say how much of the path the plane
//! holds; compare them with a random walk of the same number of steps
//! (Antognini & Sohl-Dickstein 2018): in high dimensions even a random walk
//! puts most of its variance in the first components, so a high ratio alone
//! is not evidence of structure.

use crate::direction::{Direction, Ignore};
use crate::error::{LandscapeError, Result};
use crate::linalg::symmetric_eigen;
use autodiff::Tensor;
use nn::{Kind, Named};
use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// The PCA plane of a trajectory.
#[derive(Clone, Debug)]
pub struct PcaPlane {
    /// First and second principal directions (unit norm).
    pub directions: [Direction; 2],
    /// Explained-variance ratio of each (of the centred data's total).
    pub explained: [f64; 2],
    /// Coordinates of each checkpoint in the plane (final weights at 0, 0).
    pub projections: Vec<(f64, f64)>,
}

fn flatten(d: &Direction) -> Vec<f64> {
    d.tensors.iter().flat_map(|t| t.data().iter().map(|&v| v as f64)).collect()
}

fn unflatten(like: &Direction, v: &[f64]) -> Direction {
    let mut at = 0;
    let tensors = like
        .tensors
        .iter()
        .map(|t| {
            let n = t.numel();
            let out = Tensor::from_vec(v[at..at + n].iter().map(|&x| x as f32).collect(), t.shape());
            at += n;
            out
        })
        .collect();
    Direction { names: like.names.clone(), tensors }
}

/// Top-two principal components of the rows of `x` (`t` rows of length
/// `p`), by the eigen-decomposition of the `t×t` Gram matrix of the centred
/// rows (cheap when `t ≪ p`). Returns unit components and variance ratios.
pub fn top2_components(x: &[Vec<f64>]) -> Result<([Vec<f64>; 2], [f64; 2])> {
    let t = x.len();
    if t < 2 {
        return Err(LandscapeError::Invalid(format!("PCA needs at least 2 checkpoints besides the final weights, got {t}")));
    }
    let p = x[0].len();
    let mean: Vec<f64> = (0..p).map(|j| x.iter().map(|r| r[j]).sum::<f64>() / t as f64).collect();
    let c: Vec<Vec<f64>> = x.iter().map(|r| r.iter().zip(&mean).map(|(a, m)| a - m).collect()).collect();
    let mut gram = vec![0.0; t * t];
    for i in 0..t {
        for j in 0..=i {
            let g: f64 = c[i].iter().zip(&c[j]).map(|(a, b)| a * b).sum();
            gram[i * t + j] = g;
            gram[j * t + i] = g;
        }
    }
    let (vals, vecs) = symmetric_eigen(&gram, t);
    let total: f64 = vals.iter().map(|v| v.max(0.0)).sum();
    let mut comps: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut ratios = [0.0; 2];
    for k in 0..2 {
        if vals[k] <= 1e-12 * total.max(f64::MIN_POSITIVE) {
            return Err(LandscapeError::ZeroDirection(format!(
                "principal component {} of the trajectory (the checkpoints span fewer than 2 dimensions)",
                k + 1
            )));
        }
        // Component = Cᵀ u / ‖Cᵀ u‖.
        let mut v = vec![0.0; p];
        for (i, row) in c.iter().enumerate() {
            v.iter_mut().zip(row).for_each(|(a, b)| *a += vecs[k][i] * b);
        }
        let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        v.iter_mut().for_each(|a| *a /= n);
        comps[k] = v;
        ratios[k] = vals[k] / total;
    }
    Ok((comps, ratios))
}

/// The PCA plane of `checkpoints` around `final_state` (all with the same
/// entries). One-dimensional entries are zeroed under `Ignore::BiasBn`;
/// buffers and counters never enter.
pub fn pca_plane(checkpoints: &[Vec<Named>], final_state: &[Named], ignore: Ignore) -> Result<PcaPlane> {
    let diffs: Vec<Direction> = checkpoints
        .iter()
        .map(|c| {
            crate::direction::check_same_entries(c, final_state)?;
            let tensors = c
                .iter()
                .zip(final_state)
                .map(|(a, f)| {
                    let skip = a.kind != Kind::Parameter || (a.tensor.ndim() <= 1 && ignore == Ignore::BiasBn);
                    if skip {
                        a.tensor.zeros_like()
                    } else {
                        let _g = autodiff::no_grad();
                        a.tensor.sub(&f.tensor)
                    }
                })
                .collect();
            Ok(Direction { names: c.iter().map(|n| n.name.clone()).collect(), tensors })
        })
        .collect::<Result<_>>()?;
    let rows: Vec<Vec<f64>> = diffs.iter().map(flatten).collect();
    let (comps, explained) = top2_components(&rows)?;
    let projections = rows
        .iter()
        .map(|r| (r.iter().zip(&comps[0]).map(|(a, b)| a * b).sum(), r.iter().zip(&comps[1]).map(|(a, b)| a * b).sum()))
        .collect();
    let like = &diffs[0];
    Ok(PcaPlane { directions: [unflatten(like, &comps[0]), unflatten(like, &comps[1])], explained, projections })
}

/// Explained-variance ratios of the top two components of a Gaussian
/// random walk with `steps` steps in `dim` dimensions, seeded: the baseline
/// to compare a trajectory's ratios with.
pub fn random_walk_baseline(steps: usize, dim: usize, seed: u64) -> Result<[f64; 2]> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pos = vec![0.0f64; dim];
    let mut rows = Vec::with_capacity(steps);
    for _ in 0..steps {
        pos.iter_mut().for_each(|p| {
            let step: f64 = StandardNormal.sample(&mut rng);
            *p += step
        });
        rows.push(pos.clone());
    }
    Ok(top2_components(&rows)?.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PCA from the Gram matrix agrees with a direct eigen-decomposition of
    /// the covariance matrix on a small trajectory.
    #[test]
    fn matches_direct_covariance_pca() {
        let p = 5;
        let rows: Vec<Vec<f64>> =
            (0..7).map(|i| (0..p).map(|j| ((i * 7 + j * 3) % 11) as f64 * 0.3 + (i as f64) * (j as f64 + 1.0) * 0.1).collect()).collect();
        let (comps, ratios) = top2_components(&rows).unwrap();
        let mean: Vec<f64> = (0..p).map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / 7.0).collect();
        let mut cov = vec![0.0; p * p];
        for r in &rows {
            for a in 0..p {
                for b in 0..p {
                    cov[a * p + b] += (r[a] - mean[a]) * (r[b] - mean[b]);
                }
            }
        }
        let (vals, vecs) = symmetric_eigen(&cov, p);
        let total: f64 = vals.iter().sum();
        for k in 0..2 {
            assert!((ratios[k] - vals[k] / total).abs() < 1e-10);
            let dot: f64 = comps[k].iter().zip(&vecs[k]).map(|(a, b)| a * b).sum();
            assert!((dot.abs() - 1.0).abs() < 1e-9, "component {k} differs (|cos| = {})", dot.abs());
        }
    }

    #[test]
    fn plane_of_a_straight_line_is_rejected_and_random_walks_concentrate() {
        let rows: Vec<Vec<f64>> = (0..4).map(|i| vec![i as f64, 2.0 * i as f64]).collect();
        assert!(matches!(top2_components(&rows), Err(LandscapeError::ZeroDirection(_))));
        let r = random_walk_baseline(20, 2000, 1).unwrap();
        assert!(r[0] > 0.45 && r[0] + r[1] > 0.7, "random walk ratios {r:?}");
    }
}
