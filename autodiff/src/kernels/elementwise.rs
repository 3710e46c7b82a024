//! Elementwise kernels: unary maps and binary maps with NumPy broadcasting.

use super::PARALLEL_MIN;
use crate::shape::broadcast_strides;
use rayon::prelude::*;

/// `f` applied to every element.
pub fn map(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    if x.len() >= PARALLEL_MIN {
        out.par_chunks_mut(PARALLEL_MIN / 4).zip(x.par_chunks(PARALLEL_MIN / 4)).for_each(|(o, i)| {
            o.iter_mut().zip(i).for_each(|(o, &v)| *o = f(v));
        });
    } else {
        out.iter_mut().zip(x).for_each(|(o, &v)| *o = f(v));
    }
    out
}

/// `f(a, b)` elementwise, with `a` (shape `sa`) and `b` (shape `sb`) both
/// broadcast to `out_shape`.
pub fn zip_map(a: &[f32], sa: &[usize], b: &[f32], sb: &[usize], out_shape: &[usize], f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    let n: usize = out_shape.iter().product();
    let mut out = vec![0.0; n];
    if n == 0 {
        return out;
    }
    if sa == sb {
        let run = |o: &mut [f32], a: &[f32], b: &[f32]| o.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&x, &y))| *o = f(x, y));
        if n >= PARALLEL_MIN {
            let c = PARALLEL_MIN / 4;
            out.par_chunks_mut(c).zip(a.par_chunks(c).zip(b.par_chunks(c))).for_each(|(o, (a, b))| run(o, a, b));
        } else {
            run(&mut out, a, b);
        }
        return out;
    }
    if b.len() == 1 && a.len() == n {
        let y = b[0];
        return map(a, |x| f(x, y));
    }
    if a.len() == 1 && b.len() == n {
        let x = a[0];
        return map(b, |y| f(x, y));
    }
    // General case: walk the output row by row (rows = last dimension).
    let st_a = broadcast_strides(sa, out_shape);
    let st_b = broadcast_strides(sb, out_shape);
    let nd = out_shape.len();
    let row = out_shape[nd - 1];
    let (ia, ib) = (st_a[nd - 1], st_b[nd - 1]);
    let fill = |r: usize, o: &mut [f32]| {
        // Offsets of row r's first element in a and b.
        let (mut oa, mut ob, mut rem) = (0, 0, r);
        for d in (0..nd - 1).rev() {
            let i = rem % out_shape[d];
            rem /= out_shape[d];
            oa += i * st_a[d];
            ob += i * st_b[d];
        }
        for (j, o) in o.iter_mut().enumerate() {
            *o = f(a[oa + j * ia], b[ob + j * ib]);
        }
    };
    if n >= PARALLEL_MIN {
        out.par_chunks_mut(row).enumerate().for_each(|(r, o)| fill(r, o));
    } else {
        out.chunks_mut(row).enumerate().for_each(|(r, o)| fill(r, o));
    }
    out
}

/// `x` (shape `sx`) broadcast to `out_shape`, materialized.
pub fn broadcast_to(x: &[f32], sx: &[usize], out_shape: &[usize]) -> Vec<f32> {
    let n: usize = out_shape.iter().product();
    if n == 0 {
        return Vec::new();
    }
    if x.len() == 1 {
        return vec![x[0]; n];
    }
    if x.len() == n {
        return x.to_vec();
    }
    let zeros = vec![0.0; 1];
    zip_map(x, sx, &zeros, &[1], out_shape, |v, _| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rows_and_columns() {
        let a = [1.0, 2.0, 3.0]; // [3, 1]
        let b = [10.0, 20.0]; // [2]
        let out = zip_map(&a, &[3, 1], &b, &[2], &[3, 2], |x, y| x + y);
        assert_eq!(out, vec![11.0, 21.0, 12.0, 22.0, 13.0, 23.0]);
        assert_eq!(broadcast_to(&b, &[2], &[2, 2]), vec![10.0, 20.0, 10.0, 20.0]);
    }

    #[test]
    fn parallel_general_broadcast_matches_serial() {
        let sa = [64, 1, 1024];
        let sb = [1, 3, 1024];
        let a: Vec<f32> = (0..64 * 1024).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..3 * 1024).map(|i| (i as f32).sin()).collect();
        let out = zip_map(&a, &sa, &b, &sb, &[64, 3, 1024], |x, y| x * y);
        for (i, &o) in out.iter().enumerate().step_by(977) {
            let (r, j) = (i / 1024, i % 1024);
            let (p, q) = (r / 3, r % 3);
            assert_eq!(o, a[p * 1024 + j] * b[q * 1024 + j]);
        }
    }
}
