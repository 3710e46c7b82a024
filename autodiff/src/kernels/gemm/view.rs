//! Matrix views: the operands of a product as one value each instead of
//! (data, rows, cols, row stride, transposed) argument runs.

use std::mem::MaybeUninit;

/// A read-only strided row-major matrix, possibly used transposed: element
/// `(i, j)` of the view is `data[i·ld + j]`, or `data[j·ld + i]` after
/// [`MatRef::t`].  `rows` and `cols` are the view's (after any transpose).
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    /// Row stride of the stored matrix.
    pub(crate) ld: usize,
    /// Whether the view is the transpose of the stored matrix.
    pub(crate) trans: bool,
}

impl<'a> MatRef<'a> {
    /// `rows × cols`, row `i` starting at `data[i·ld]`.
    pub fn new(data: &'a [f32], rows: usize, cols: usize, ld: usize) -> Self {
        MatRef { data, rows, cols, ld, trans: false }
    }

    /// The transpose (a view of the same data; nothing moves).
    pub fn t(self) -> Self {
        MatRef { rows: self.cols, cols: self.rows, trans: !self.trans, ..self }
    }

    /// The transpose if `trans`, else the same view.
    pub fn t_if(self, trans: bool) -> Self {
        if trans {
            self.t()
        } else {
            self
        }
    }

    /// Rows of the view.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the view.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Panics unless the stored matrix fits in `data` with `ld` at least
    /// its width; `name` says which operand.
    pub(crate) fn check(&self, name: &str) {
        let (rows, cols) = if self.trans { (self.cols, self.rows) } else { (self.rows, self.cols) };
        check_fits(name, rows, cols, self.ld, self.data.len());
    }
}

/// A writable strided row-major matrix, `rows × cols`, row `i` starting at
/// `data[i·ld]`; `T` is `f32`, or `MaybeUninit<f32>` for outputs that start
/// uninitialized.
#[derive(Debug)]
pub struct MatMut<'a, T = f32> {
    pub(crate) data: &'a mut [T],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) ld: usize,
}

impl<'a, T> MatMut<'a, T> {
    /// `rows × cols`, row `i` starting at `data[i·ld]`.
    pub fn new(data: &'a mut [T], rows: usize, cols: usize, ld: usize) -> Self {
        MatMut { data, rows, cols, ld }
    }

    /// Panics unless the matrix fits in `data` with `ld` at least its width.
    pub(crate) fn check(&self, name: &str) {
        check_fits(name, self.rows, self.cols, self.ld, self.data.len());
    }
}

impl<'a> MatMut<'a, f32> {
    /// The same matrix as possibly uninitialized values, for the kernels
    /// that write either kind.
    pub(crate) fn into_uninit(self) -> MatMut<'a, MaybeUninit<f32>> {
        // SAFETY (as_uninit): the kernels write only initialized f32 values.
        MatMut { data: unsafe { crate::kernels::as_uninit(self.data) }, rows: self.rows, cols: self.cols, ld: self.ld }
    }
}

/// Checks that a row-major matrix with `rows × cols` elements and row stride `ld`
/// fits into `len` elements.
fn check_fits(name: &str, rows: usize, cols: usize, ld: usize, len: usize) {
    assert!(ld >= cols, "gemm: leading dimension of {name} ({ld}) < {cols}");
    if rows > 0 && cols > 0 {
        assert!(len >= (rows - 1) * ld + cols, "gemm: {name} has {len} elements, needs {}", (rows - 1) * ld + cols);
    }
}
