//! Elementwise kernels: unary maps and binary maps with NumPy broadcasting.

use super::PARALLEL_MIN;
use crate::shape::broadcast_strides;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Chunk length of the parallel loops below.
const CHUNK: usize = PARALLEL_MIN / 4;

/// A vector of `n` elements built without zero-filling first: `fill(offset,
/// chunk)` runs on disjoint chunks covering `0..n` (of `CHUNK` elements, in
/// parallel when `n >= PARALLEL_MIN`; rows of `row` elements when `row > 0`).
///
/// # Safety
/// `fill` must write every element of the chunk it is given.
unsafe fn build(n: usize, row: usize, fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::with_capacity(n);
    let spare = &mut out.spare_capacity_mut()[..n];
    let chunk = if row > 0 { row * (CHUNK / row).max(1) } else { CHUNK };
    if n >= PARALLEL_MIN {
        spare.par_chunks_mut(chunk).enumerate().for_each(|(i, c)| fill(i * chunk, c));
    } else if n > 0 {
        fill(0, spare);
    }
    // SAFETY: `fill` wrote all n elements (the caller's contract).
    unsafe { out.set_len(n) };
    out
}

/// `f` applied to every element.
pub fn map(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    let fill = |off: usize, o: &mut [MaybeUninit<f32>]| {
        let src = &x[off..off + o.len()];
        o.iter_mut().zip(src).for_each(|(o, &v)| {
            o.write(f(v));
        });
    };
    // SAFETY: `src` has the chunk's length, so the zip writes every element.
    unsafe { build(x.len(), 0, fill) }
}

/// Merges adjacent dimensions that both operands walk contiguously (or both
/// broadcast), so rows get as long as possible.  Returns the collapsed output
/// shape and the strides of `a` and `b` over it.
fn collapse(out_shape: &[usize], st_a: &[usize], st_b: &[usize]) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let (mut shape, mut sa, mut sb) = (vec![out_shape[0]], vec![st_a[0]], vec![st_b[0]]);
    for d in 1..out_shape.len() {
        let last = shape.len() - 1;
        let fits = |st: &[usize], cur: usize| cur == st[d] * out_shape[d];
        if fits(st_a, sa[last]) && fits(st_b, sb[last]) {
            shape[last] *= out_shape[d];
            sa[last] = st_a[d];
            sb[last] = st_b[d];
        } else {
            shape.push(out_shape[d]);
            sa.push(st_a[d]);
            sb.push(st_b[d]);
        }
    }
    (shape, sa, sb)
}

/// `f(a, b)` elementwise, with `a` (shape `sa`) and `b` (shape `sb`) both
/// broadcast to `out_shape`.
pub fn zip_map(a: &[f32], sa: &[usize], b: &[f32], sb: &[usize], out_shape: &[usize], f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    let n: usize = out_shape.iter().product();
    if n == 0 {
        return Vec::new();
    }
    if sa == sb {
        let fill = |off: usize, o: &mut [MaybeUninit<f32>]| {
            let (a, b) = (&a[off..off + o.len()], &b[off..off + o.len()]);
            o.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&x, &y))| {
                o.write(f(x, y));
            });
        };
        // SAFETY: both inputs are sliced to the chunk's length, so every element is written.
        return unsafe { build(n, 0, fill) };
    }
    if b.len() == 1 && a.len() == n {
        let y = b[0];
        return map(a, |x| f(x, y));
    }
    if a.len() == 1 && b.len() == n {
        let x = a[0];
        return map(b, |y| f(x, y));
    }
    // General case: walk the (collapsed) output row by row.
    let (shape, st_a, st_b) = collapse(out_shape, &broadcast_strides(sa, out_shape), &broadcast_strides(sb, out_shape));
    let nd = shape.len();
    let row = shape[nd - 1];
    let (ia, ib) = (st_a[nd - 1], st_b[nd - 1]);
    let fill_row = |r: usize, o: &mut [MaybeUninit<f32>]| {
        // Offsets of row r's first element in a and b.
        let (mut oa, mut ob, mut rem) = (0, 0, r);
        for d in (0..nd - 1).rev() {
            let i = rem % shape[d];
            rem /= shape[d];
            oa += i * st_a[d];
            ob += i * st_b[d];
        }
        match (ia, ib) {
            (1, 0) => {
                let y = b[ob];
                o.iter_mut().zip(&a[oa..oa + row]).for_each(|(o, &x)| {
                    o.write(f(x, y));
                });
            }
            (0, 1) => {
                let x = a[oa];
                o.iter_mut().zip(&b[ob..ob + row]).for_each(|(o, &y)| {
                    o.write(f(x, y));
                });
            }
            (1, 1) => {
                o.iter_mut().zip(a[oa..oa + row].iter().zip(&b[ob..ob + row])).for_each(|(o, (&x, &y))| {
                    o.write(f(x, y));
                });
            }
            _ => {
                for (j, o) in o.iter_mut().enumerate() {
                    o.write(f(a[oa + j * ia], b[ob + j * ib]));
                }
            }
        }
    };
    let fill = |off: usize, o: &mut [MaybeUninit<f32>]| {
        for (k, orow) in o.chunks_mut(row).enumerate() {
            assert_eq!(orow.len(), row);
            fill_row(off / row + k, orow);
        }
    };
    // SAFETY: chunks are whole rows (`build` with `row`); each row is written in
    // full: the slices zipped have the row's length, the fallback loop covers it.
    unsafe { build(n, row, fill) }
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

    /// Reference: index each operand through its broadcast strides.
    fn naive(a: &[f32], sa: &[usize], b: &[f32], sb: &[usize], out: &[usize]) -> Vec<f32> {
        let (st_a, st_b) = (broadcast_strides(sa, out), broadcast_strides(sb, out));
        let n: usize = out.iter().product();
        (0..n)
            .map(|i| {
                let (mut rem, mut oa, mut ob) = (i, 0, 0);
                for d in (0..out.len()).rev() {
                    let k = rem % out[d];
                    rem /= out[d];
                    oa += k * st_a[d];
                    ob += k * st_b[d];
                }
                a[oa] * 3.0 - b[ob]
            })
            .collect()
    }

    #[test]
    fn broadcast_patterns_match_naive() {
        let cases: [(&[usize], &[usize]); 7] = [
            (&[2, 3, 4, 5], &[1, 3, 1, 1]),    // per-channel bias
            (&[1, 3, 1, 1], &[2, 3, 4, 5]),    // the other way round
            (&[4, 1], &[1, 5]),                // outer product
            (&[3, 1, 2], &[1, 4, 1]),          // middle broadcast
            (&[64, 16, 8, 8], &[1, 16, 1, 1]), // big enough to run in parallel
            (&[5, 1, 7, 1], &[1, 6, 1, 3]),    // alternating
            (&[130, 1, 300], &[1, 2, 300]),    // long rows, parallel
        ];
        for (k, (sa, sb)) in cases.iter().enumerate() {
            let out = crate::shape::broadcast_shape(sa, sb).unwrap();
            let a: Vec<f32> = (0..sa.iter().product::<usize>()).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..sb.iter().product::<usize>()).map(|i| (i as f32 * 0.11).cos()).collect();
            let got = zip_map(&a, sa, &b, sb, &out, |x, y| x * 3.0 - y);
            assert_eq!(got, naive(&a, sa, &b, sb, &out), "case {k}: {sa:?} with {sb:?}");
        }
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
