//! Reductions: sums over any set of axes, max / argmax along one axis.

use super::PARALLEL_MIN;
use rayon::prelude::*;

/// Sum of a contiguous slice with 8 independent accumulators (vectorizes,
/// and is more accurate than one running sum). Fixed order: deterministic.
pub fn sum_slice(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] += c[k];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &v in rest {
        s += v;
    }
    s
}

/// Sums `x` (shape `shape`) over the axes where `reduce[axis]` is true; the
/// result is laid out in the order of the kept axes (as with keepdim).
pub fn sum_axes(x: &[f32], shape: &[usize], reduce: &[bool]) -> Vec<f32> {
    assert_eq!(shape.len(), reduce.len());
    // Coalesce neighbouring axes with the same role: (size, reduced).
    let mut dims: Vec<(usize, bool)> = Vec::new();
    for (&s, &r) in shape.iter().zip(reduce) {
        if s == 1 {
            continue;
        }
        match dims.last_mut() {
            Some((size, red)) if *red == r => *size *= s,
            _ => dims.push((s, r)),
        }
    }
    let out_len: usize = dims.iter().filter(|d| !d.1).map(|d| d.0).product();
    if x.is_empty() {
        return vec![0.0; shape.iter().zip(reduce).filter(|(_, &r)| !r).map(|(&s, _)| s).product()];
    }
    if dims.is_empty() {
        return x.to_vec();
    }
    let (inner, inner_reduced) = *dims.last().unwrap();
    let outer_dims = &dims[..dims.len() - 1];
    // Strides of the outer coalesced dims in the input.
    let mut in_strides = vec![0; outer_dims.len()];
    let mut s = inner;
    for i in (0..outer_dims.len()).rev() {
        in_strides[i] = s;
        s *= outer_dims[i].0;
    }
    let kept: Vec<usize> = (0..outer_dims.len()).filter(|&i| !outer_dims[i].1).collect();
    let red: Vec<usize> = (0..outer_dims.len()).filter(|&i| outer_dims[i].1).collect();
    let red_count: usize = red.iter().map(|&i| outer_dims[i].0).product();
    // Base offset of output unit u (kept outer index), then each reduced combo.
    let base_of = |mut u: usize| {
        let mut off = 0;
        for &k in kept.iter().rev() {
            off += (u % outer_dims[k].0) * in_strides[k];
            u /= outer_dims[k].0;
        }
        off
    };
    let red_offset = |mut c: usize| {
        let mut off = 0;
        for &k in red.iter().rev() {
            off += (c % outer_dims[k].0) * in_strides[k];
            c /= outer_dims[k].0;
        }
        off
    };
    let mut out = vec![0.0f32; out_len];
    let parallel = x.len() >= PARALLEL_MIN;
    if inner_reduced {
        // Each output element sums `red_count` contiguous runs of `inner`.
        let unit = |u: usize, o: &mut f32| {
            let b = base_of(u);
            let mut s = 0.0;
            for c in 0..red_count {
                let off = b + red_offset(c);
                s += sum_slice(&x[off..off + inner]);
            }
            *o = s;
        };
        if parallel {
            out.par_iter_mut().enumerate().for_each(|(u, o)| unit(u, o));
        } else {
            out.iter_mut().enumerate().for_each(|(u, o)| unit(u, o));
        }
    } else {
        // Each output block of `inner` adds `red_count` contiguous runs.
        let unit = |u: usize, o: &mut [f32]| {
            let b = base_of(u);
            for c in 0..red_count {
                let off = b + red_offset(c);
                o.iter_mut().zip(&x[off..off + inner]).for_each(|(o, &v)| *o += v);
            }
        };
        if parallel {
            out.par_chunks_mut(inner).enumerate().for_each(|(u, o)| unit(u, o));
        } else {
            out.chunks_mut(inner).enumerate().for_each(|(u, o)| unit(u, o));
        }
    }
    out
}

/// Max and first argmax along the middle axis of `x` viewed as
/// `[outer, dim, inner]`. NaN wins (propagates), as in PyTorch.
pub fn max_axis(x: &[f32], outer: usize, dim: usize, inner: usize) -> (Vec<f32>, Vec<usize>) {
    assert!(dim > 0, "max: cannot reduce an axis of size 0");
    let mut vals = vec![0.0; outer * inner];
    let mut idx = vec![0usize; outer * inner];
    let block = |o: usize, v: &mut [f32], ix: &mut [usize]| {
        let base = o * dim * inner;
        v.copy_from_slice(&x[base..base + inner]);
        ix.iter_mut().for_each(|i| *i = 0);
        for d in 1..dim {
            let row = &x[base + d * inner..base + (d + 1) * inner];
            for j in 0..inner {
                let cur = v[j];
                if row[j] > cur || (row[j].is_nan() && !cur.is_nan()) {
                    v[j] = row[j];
                    ix[j] = d;
                }
            }
        }
    };
    if x.len() >= PARALLEL_MIN && inner > 0 {
        vals.par_chunks_mut(inner).zip(idx.par_chunks_mut(inner)).enumerate().for_each(|(o, (v, ix))| block(o, v, ix));
    } else if inner > 0 {
        vals.chunks_mut(inner).zip(idx.chunks_mut(inner)).enumerate().for_each(|(o, (v, ix))| block(o, v, ix));
    }
    (vals, idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f32], shape: &[usize], reduce: &[bool]) -> Vec<f32> {
        let out_shape: Vec<usize> = shape.iter().zip(reduce).map(|(&s, &r)| if r { 1 } else { s }).collect();
        let mut out = vec![0.0f64; out_shape.iter().product()];
        let st = crate::shape::strides(&out_shape);
        for (i, &v) in x.iter().enumerate() {
            let (mut rem, mut o) = (i, 0);
            for d in (0..shape.len()).rev() {
                let k = rem % shape[d];
                rem /= shape[d];
                if !reduce[d] {
                    o += k * st[d];
                }
            }
            out[o] += v as f64;
        }
        out.into_iter().map(|v| v as f32).collect()
    }

    #[test]
    fn sums_over_every_axis_subset() {
        let shape = [3, 1, 4, 5, 2];
        let x: Vec<f32> = (0..120).map(|i| ((i * 37 % 11) as f32) - 5.0).collect();
        for mask in 0..32u32 {
            let reduce: Vec<bool> = (0..5).map(|d| mask >> d & 1 == 1).collect();
            let got = sum_axes(&x, &shape, &reduce);
            let want = naive(&x, &shape, &reduce);
            assert_eq!(got.len(), want.len(), "mask {mask}");
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-4, "mask {mask}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn max_picks_first_of_ties_and_propagates_nan() {
        let x = [1.0, 5.0, 5.0, 2.0, f32::NAN, 0.0];
        let (v, i) = max_axis(&x, 2, 3, 1);
        assert_eq!(v[0], 5.0);
        assert_eq!(i, vec![1, 1]);
        assert!(v[1].is_nan());
    }
}
