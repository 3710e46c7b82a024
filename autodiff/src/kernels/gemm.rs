//! Placeholder until the blocked kernel lands: naive GEMM with the final API.

/// C (m×n, row stride ldc) = op(A)·op(B) (+ C if accumulate).
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f32;
            for p in 0..k {
                let av = if trans_a { a[p * lda + i] } else { a[i * lda + p] };
                let bv = if trans_b { b[j * ldb + p] } else { b[p * ldb + j] };
                s += av * bv;
            }
            let cv = &mut c[i * ldc + j];
            *cv = if accumulate { *cv + s } else { s };
        }
    }
}
