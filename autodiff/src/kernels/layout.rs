//! Data movement: permutation, slicing along an axis and its adjoint,
//! index select / add, gather / scatter-add. Axis ops view a tensor as
//! `[outer, dim, inner]` around the axis.

use super::PARALLEL_MIN;
use crate::shape::strides;
use rayon::prelude::*;

/// `x` (shape `shape`) with its axes reordered: output axis `i` is input
/// axis `perm[i]`.
pub fn permute(x: &[f32], shape: &[usize], perm: &[usize]) -> Vec<f32> {
    let nd = shape.len();
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let in_st = strides(shape);
    let st: Vec<usize> = perm.iter().map(|&p| in_st[p]).collect();
    let n = x.len();
    let mut out = vec![0.0; n];
    if n == 0 {
        return out;
    }
    if nd == 0 {
        out[0] = x[0];
        return out;
    }
    let row = out_shape[nd - 1];
    let step = st[nd - 1];
    let fill = |r: usize, o: &mut [f32]| {
        let (mut off, mut rem) = (0, r);
        for d in (0..nd - 1).rev() {
            off += (rem % out_shape[d]) * st[d];
            rem /= out_shape[d];
        }
        for (j, o) in o.iter_mut().enumerate() {
            *o = x[off + j * step];
        }
    };
    if n >= PARALLEL_MIN {
        out.par_chunks_mut(row).enumerate().for_each(|(r, o)| fill(r, o));
    } else {
        out.chunks_mut(row).enumerate().for_each(|(r, o)| fill(r, o));
    }
    out
}

/// Elements `start..start + len` along the middle axis of `[outer, dim, inner]`.
pub fn narrow(x: &[f32], outer: usize, dim: usize, inner: usize, start: usize, len: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(outer * len * inner);
    for o in 0..outer {
        let b = (o * dim + start) * inner;
        out.extend_from_slice(&x[b..b + len * inner]);
    }
    out
}

/// The adjoint of [`narrow`]: `x` (`[outer, len, inner]`) placed at offset
/// `start` of a zero tensor `[outer, dim, inner]`.
pub fn pad_axis(x: &[f32], outer: usize, len: usize, inner: usize, start: usize, dim: usize) -> Vec<f32> {
    let mut out = vec![0.0; outer * dim * inner];
    for o in 0..outer {
        let b = (o * dim + start) * inner;
        out[b..b + len * inner].copy_from_slice(&x[o * len * inner..(o + 1) * len * inner]);
    }
    out
}

/// Rows `idx` of the middle axis: out `[outer, idx.len(), inner]`.
pub fn index_select(x: &[f32], outer: usize, dim: usize, inner: usize, idx: &[usize]) -> Vec<f32> {
    let k = idx.len();
    let mut out = vec![0.0; outer * k * inner];
    if out.is_empty() {
        return out;
    }
    let fill = |o: usize, blk: &mut [f32]| {
        for (j, &i) in idx.iter().enumerate() {
            let src = (o * dim + i) * inner;
            blk[j * inner..(j + 1) * inner].copy_from_slice(&x[src..src + inner]);
        }
    };
    if out.len() >= PARALLEL_MIN {
        out.par_chunks_mut(k * inner).enumerate().for_each(|(o, b)| fill(o, b));
    } else {
        out.chunks_mut(k * inner).enumerate().for_each(|(o, b)| fill(o, b));
    }
    out
}

/// The adjoint of [`index_select`]: rows of `g` (`[outer, idx.len(), inner]`)
/// added into row `idx[j]` of a zero `[outer, dim, inner]`; repeated indices
/// sum, in index order.
pub fn index_add(g: &[f32], outer: usize, dim: usize, inner: usize, idx: &[usize]) -> Vec<f32> {
    let k = idx.len();
    let mut out = vec![0.0; outer * dim * inner];
    if out.is_empty() {
        return out;
    }
    let fill = |o: usize, blk: &mut [f32]| {
        for (j, &i) in idx.iter().enumerate() {
            let src = &g[(o * k + j) * inner..(o * k + j + 1) * inner];
            blk[i * inner..(i + 1) * inner].iter_mut().zip(src).for_each(|(d, &s)| *d += s);
        }
    };
    if g.len() >= PARALLEL_MIN {
        out.par_chunks_mut(dim * inner).enumerate().for_each(|(o, b)| fill(o, b));
    } else {
        out.chunks_mut(dim * inner).enumerate().for_each(|(o, b)| fill(o, b));
    }
    out
}

/// `out[o, j, i] = x[o, idx[o, j, i], i]`, `x` viewed as `[outer, dim, inner]`
/// and `idx` as `[outer, k, inner]`.
pub fn gather(x: &[f32], outer: usize, dim: usize, inner: usize, idx: &[usize], k: usize) -> Vec<f32> {
    let mut out = vec![0.0; outer * k * inner];
    for o in 0..outer {
        for j in 0..k {
            for i in 0..inner {
                let p = (o * k + j) * inner + i;
                out[p] = x[(o * dim + idx[p]) * inner + i];
            }
        }
    }
    out
}

/// The adjoint of [`gather`]: `out[o, idx[o, j, i], i] += g[o, j, i]` into a
/// zero `[outer, dim, inner]`.
pub fn scatter_add(g: &[f32], outer: usize, dim: usize, inner: usize, idx: &[usize], k: usize) -> Vec<f32> {
    let mut out = vec![0.0; outer * dim * inner];
    for o in 0..outer {
        for j in 0..k {
            for i in 0..inner {
                let p = (o * k + j) * inner + i;
                out[(o * dim + idx[p]) * inner + i] += g[p];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_transposes() {
        let x: Vec<f32> = (0..6).map(|i| i as f32).collect();
        assert_eq!(permute(&x, &[2, 3], &[1, 0]), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let y = permute(&x, &[1, 2, 3], &[2, 0, 1]);
        assert_eq!(y, vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }

    #[test]
    fn narrow_and_pad_are_adjoint() {
        let x: Vec<f32> = (0..24).map(|i| i as f32).collect();
        let n = narrow(&x, 2, 4, 3, 1, 2);
        assert_eq!(n[..3], [3.0, 4.0, 5.0]);
        let p = pad_axis(&n, 2, 2, 3, 1, 4);
        assert_eq!(p[3..9], x[3..9]);
        assert_eq!(p[0..3], [0.0; 3]);
    }

    #[test]
    fn index_add_sums_repeats() {
        let g = [1.0, 2.0, 3.0];
        assert_eq!(index_add(&g, 1, 2, 1, &[1, 1, 0]), vec![3.0, 3.0]);
        let x = [10.0, 20.0, 30.0, 40.0];
        assert_eq!(gather(&x, 2, 2, 1, &[1, 0], 1), vec![20.0, 30.0]);
        assert_eq!(scatter_add(&[1.0, 2.0], 2, 2, 1, &[1, 0], 1), vec![0.0, 1.0, 2.0, 0.0]);
    }
}
