//! Shape helpers: NumPy broadcasting and row-major strides.

/// Row-major strides (in elements) of a contiguous tensor of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// The NumPy broadcast of two shapes (aligned at the right; a dimension of
/// size 1 stretches), or `None` when they are incompatible.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Strides for reading a tensor of `shape` as if it had `target` shape
/// (broadcast dimensions get stride 0). `shape` must broadcast to `target`.
pub fn broadcast_strides(shape: &[usize], target: &[usize]) -> Vec<usize> {
    let own = strides(shape);
    let offset = target.len() - shape.len();
    (0..target.len()).map(|i| if i < offset || shape[i - offset] == 1 { 0 } else { own[i - offset] }).collect()
}

/// Normalizes a possibly negative axis against `ndim` (Python style:
/// `-1` is the last axis). Panics naming `op` when out of range.
pub fn normalize_axis(axis: isize, ndim: usize, op: &str) -> usize {
    let a = if axis < 0 { axis + ndim as isize } else { axis };
    assert!(a >= 0 && (a as usize) < ndim, "{op}: axis {axis} out of range for a {ndim}-d tensor");
    a as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shape(&[3, 1], &[4]), Some(vec![3, 4]));
        assert_eq!(broadcast_shape(&[], &[2, 2]), Some(vec![2, 2]));
        assert_eq!(broadcast_shape(&[2, 3], &[3, 2]), None);
        assert_eq!(broadcast_strides(&[3, 1], &[2, 3, 4]), vec![0, 1, 0]);
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(normalize_axis(-1, 3, "t"), 2);
    }

    #[test]
    #[should_panic(expected = "sum: axis 3 out of range")]
    fn bad_axis_names_the_op() {
        normalize_axis(3, 3, "sum");
    }
}
