//! The geometry of a convolution and the index arithmetic derived from it.

/// Geometry of a 2-D convolution, NCHW input, weights `[c_out, c_in, kh, kw]` (groups = 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeom {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c_in: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride (vertical, horizontal); each >= 1.
    pub stride: (usize, usize),
    /// Zero padding (vertical, horizontal) added on both sides.
    pub padding: (usize, usize),
    /// Dilation (vertical, horizontal); each >= 1.
    pub dilation: (usize, usize),
}

impl Conv2dGeom {
    /// Output height: `(h + 2p - d(k-1) - 1)/s + 1` (0 if the kernel does not fit).
    pub fn out_h(&self) -> usize {
        out_dim(self.h, self.kh, self.stride.0, self.padding.0, self.dilation.0)
    }

    /// Output width: `(w + 2p - d(k-1) - 1)/s + 1` (0 if the kernel does not fit).
    pub fn out_w(&self) -> usize {
        out_dim(self.w, self.kw, self.stride.1, self.padding.1, self.dilation.1)
    }

    /// Rows of the im2col matrix: `c_in * kh * kw`.
    pub(crate) fn k_dim(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Elements of one input image.
    pub(crate) fn x_size(&self) -> usize {
        self.c_in * self.h * self.w
    }

    /// Elements of one output plane.
    pub(crate) fn out_plane(&self) -> usize {
        self.out_h() * self.out_w()
    }

    /// 1×1 kernel, stride 1, no padding: the input image already is the im2col matrix.
    pub(crate) fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == (1, 1) && self.padding == (0, 0)
    }

    pub(crate) fn check(&self, x: usize, w: usize, y: usize) {
        assert!(self.stride.0 > 0 && self.stride.1 > 0, "conv2d: stride must be >= 1");
        assert!(self.dilation.0 > 0 && self.dilation.1 > 0, "conv2d: dilation must be >= 1");
        assert_eq!(x, self.n * self.x_size(), "conv2d: input length");
        assert_eq!(w, self.c_out * self.k_dim(), "conv2d: weight length");
        assert_eq!(y, self.n * self.c_out * self.out_plane(), "conv2d: output length");
    }
}

pub(super) fn out_dim(i: usize, k: usize, s: usize, p: usize, d: usize) -> usize {
    let span = d * (k.max(1) - 1) + 1;
    if k == 0 || i + 2 * p < span {
        0
    } else {
        (i + 2 * p - span) / s + 1
    }
}

/// Range `[lo, hi)` of output positions `o < out` whose input index
/// `o*s + off - p` lies in `[0, len)`.
pub(super) fn valid_range(out: usize, off: usize, p: usize, s: usize, len: usize) -> (usize, usize) {
    let lo = if off >= p { 0 } else { (p - off).div_ceil(s) };
    let hi = if len + p <= off { 0 } else { (len + p - off).div_ceil(s) };
    let lo = lo.min(out);
    (lo, hi.clamp(lo, out))
}
