//! 2-D pooling (NCHW) with PyTorch semantics: max (with argmax indices), average,
//! adaptive average, and the gather/scatter pair used for max-pool gradients.
//!
//! Every kernel is parallel over planes (`n * c`); each plane is produced by one
//! task in a fixed order, so results do not depend on the rayon thread count.

use rayon::prelude::*;

/// Geometry of 2-D pooling (PyTorch semantics), NCHW.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dGeom {
    /// Batch size.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Window height.
    pub kh: usize,
    /// Window width.
    pub kw: usize,
    /// Stride (vertical, horizontal); each >= 1.
    pub stride: (usize, usize),
    /// Implicit padding (vertical, horizontal) on both sides; must be <= k/2.
    pub padding: (usize, usize),
    /// Round the output size up instead of down.
    pub ceil_mode: bool,
}

impl Pool2dGeom {
    /// Output height (PyTorch `pooling_output_shape`).
    pub fn out_h(&self) -> usize {
        pool_out_dim(self.h, self.kh, self.stride.0, self.padding.0, self.ceil_mode)
    }

    /// Output width (PyTorch `pooling_output_shape`).
    pub fn out_w(&self) -> usize {
        pool_out_dim(self.w, self.kw, self.stride.1, self.padding.1, self.ceil_mode)
    }

    fn check(&self, x: usize, y: usize) {
        assert!(self.stride.0 > 0 && self.stride.1 > 0, "pool2d: stride must be >= 1");
        assert_eq!(x, self.n * self.c * self.h * self.w, "pool2d: input length");
        assert_eq!(y, self.n * self.c * self.out_h() * self.out_w(), "pool2d: output length");
    }

    /// Clipped windows along the height and width axes.
    fn windows(&self) -> (Vec<Window>, Vec<Window>) {
        let rows = (0..self.out_h()).map(|o| Window::new(o, self.stride.0, self.padding.0, self.kh, self.h)).collect();
        let cols = (0..self.out_w()).map(|o| Window::new(o, self.stride.1, self.padding.1, self.kw, self.w)).collect();
        (rows, cols)
    }
}

/// `floor/ceil((len + 2p - k)/s) + 1`, minus one in ceil mode when the last window
/// would start in the right padding (or beyond).  0 when the window does not fit.
fn pool_out_dim(len: usize, k: usize, s: usize, p: usize, ceil: bool) -> usize {
    if len + 2 * p < k {
        return 0;
    }
    let span = len + 2 * p - k;
    let mut out = if ceil { span.div_ceil(s) } else { span / s } + 1;
    if ceil && (out - 1) * s >= len + p {
        out -= 1;
    }
    out
}

/// One pooling window along an axis.
#[derive(Clone, Copy, Debug)]
struct Window {
    /// First in-bounds input index.
    start: usize,
    /// One past the last in-bounds input index (`end <= start` means empty).
    end: usize,
    /// Window length clipped to the padded extent `[-p, len + p)`.
    padded_len: usize,
}

impl Window {
    fn new(o: usize, s: usize, p: usize, k: usize, len: usize) -> Self {
        let start0 = (o * s) as isize - p as isize;
        let end0 = (start0 + k as isize).min((len + p) as isize);
        Window { start: start0.max(0) as usize, end: end0.clamp(0, len as isize) as usize, padded_len: (end0 - start0).max(0) as usize }
    }

    fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }
}

/// Minimum number of planes per rayon task so that tiny planes are batched.
fn min_planes(plane: usize) -> usize {
    (4096 / plane.max(1)).max(1)
}

/// Max pooling.  `idx` receives the flat index `h*W + w` of the maximum inside
/// the input plane.  Padding never wins; ties go to the first element in
/// row-major window order; a NaN wins (the last NaN of the window, as PyTorch).
pub fn max_pool2d(g: &Pool2dGeom, x: &[f32], y: &mut [f32], idx: &mut [u32]) {
    g.check(x.len(), y.len());
    assert_eq!(idx.len(), y.len(), "max_pool2d: index length");
    let (ip, op) = (g.h * g.w, g.out_h() * g.out_w());
    if op == 0 || g.n * g.c == 0 {
        return;
    }
    let (rows, cols) = g.windows();
    let ow = cols.len();
    y.par_chunks_mut(op).zip(idx.par_chunks_mut(op)).enumerate().with_min_len(min_planes(op)).for_each(|(p, (yp, ip_idx))| {
        let xp = &x[p * ip..(p + 1) * ip];
        for (oy, r) in rows.iter().enumerate() {
            for (ox, c) in cols.iter().enumerate() {
                let mut best = f32::NEG_INFINITY;
                let mut at = r.start * g.w + c.start;
                for iy in r.start..r.end {
                    let row = &xp[iy * g.w..(iy + 1) * g.w];
                    for (ix, &v) in row.iter().enumerate().take(c.end).skip(c.start) {
                        if v > best || v.is_nan() {
                            best = v;
                            at = iy * g.w + ix;
                        }
                    }
                }
                yp[oy * ow + ox] = best;
                ip_idx[oy * ow + ox] = at as u32;
            }
        }
    });
}

/// `y[p*out_plane + i] = x[p*in_plane + idx[p*out_plane + i]]` for every plane `p`.
pub fn gather_plane(planes: usize, in_plane: usize, out_plane: usize, x: &[f32], idx: &[u32], y: &mut [f32]) {
    assert_eq!(x.len(), planes * in_plane, "gather_plane: input length");
    assert_eq!(y.len(), planes * out_plane, "gather_plane: output length");
    assert_eq!(idx.len(), y.len(), "gather_plane: index length");
    if y.is_empty() {
        return;
    }
    y.par_chunks_mut(out_plane).zip(idx.par_chunks(out_plane)).enumerate().with_min_len(min_planes(out_plane)).for_each(|(p, (yp, ip))| {
        let xp = &x[p * in_plane..(p + 1) * in_plane];
        for (d, &i) in yp.iter_mut().zip(ip) {
            *d = xp[i as usize];
        }
    });
}

/// Adjoint of [`gather_plane`]: `gx` is zeroed, then
/// `gx[p*in_plane + idx[p*out_plane + i]] += gy[p*out_plane + i]` in order of `i`.
/// Parallel over planes.
pub fn scatter_add_plane(planes: usize, in_plane: usize, out_plane: usize, gy: &[f32], idx: &[u32], gx: &mut [f32]) {
    assert_eq!(gx.len(), planes * in_plane, "scatter_add_plane: gx length");
    assert_eq!(gy.len(), planes * out_plane, "scatter_add_plane: gy length");
    assert_eq!(idx.len(), gy.len(), "scatter_add_plane: index length");
    if gx.is_empty() {
        return;
    }
    if out_plane == 0 {
        gx.fill(0.0);
        return;
    }
    gx.par_chunks_mut(in_plane).zip(gy.par_chunks(out_plane).zip(idx.par_chunks(out_plane))).with_min_len(min_planes(in_plane)).for_each(
        |(gxp, (gyp, ip))| {
            gxp.fill(0.0);
            for (&v, &i) in gyp.iter().zip(ip) {
                gxp[i as usize] += v;
            }
        },
    );
}

/// Divisor of an average-pooling window (PyTorch rule).
fn avg_divisor(r: &Window, c: &Window, count_include_pad: bool) -> f32 {
    if count_include_pad {
        (r.padded_len * c.padded_len) as f32
    } else {
        (r.len() * c.len()) as f32
    }
}

/// Average pooling.  The sum runs over the window clipped to the input; the
/// divisor is the window clipped to the padded extent `[-p, len + p)` when
/// `count_include_pad`, else the number of summed elements.  A window with no
/// input element gives 0.
pub fn avg_pool2d(g: &Pool2dGeom, count_include_pad: bool, x: &[f32], y: &mut [f32]) {
    g.check(x.len(), y.len());
    let (ip, op) = (g.h * g.w, g.out_h() * g.out_w());
    if op == 0 || g.n * g.c == 0 {
        return;
    }
    let (rows, cols) = g.windows();
    let ow = cols.len();
    y.par_chunks_mut(op).enumerate().with_min_len(min_planes(op)).for_each(|(p, yp)| {
        let xp = &x[p * ip..(p + 1) * ip];
        for (oy, r) in rows.iter().enumerate() {
            for (ox, c) in cols.iter().enumerate() {
                let out = &mut yp[oy * ow + ox];
                if r.len() == 0 || c.len() == 0 {
                    *out = 0.0;
                    continue;
                }
                let mut s = 0.0f32;
                for iy in r.start..r.end {
                    for &v in &xp[iy * g.w + c.start..iy * g.w + c.end] {
                        s += v;
                    }
                }
                *out = s / avg_divisor(r, c, count_include_pad);
            }
        }
    });
}

/// Adjoint of [`avg_pool2d`]: `gx` is overwritten with, for every input element,
/// the sum of `gy / divisor` over the windows that contain it.
pub fn avg_pool2d_adjoint(g: &Pool2dGeom, count_include_pad: bool, gy: &[f32], gx: &mut [f32]) {
    g.check(gx.len(), gy.len());
    let (ip, op) = (g.h * g.w, g.out_h() * g.out_w());
    if gx.is_empty() {
        return;
    }
    if op == 0 {
        gx.fill(0.0);
        return;
    }
    let (rows, cols) = g.windows();
    let ow = cols.len();
    gx.par_chunks_mut(ip).zip(gy.par_chunks(op)).with_min_len(min_planes(ip)).for_each(|(gxp, gyp)| {
        gxp.fill(0.0);
        for (oy, r) in rows.iter().enumerate() {
            for (ox, c) in cols.iter().enumerate() {
                if r.len() == 0 || c.len() == 0 {
                    continue;
                }
                let v = gyp[oy * ow + ox] / avg_divisor(r, c, count_include_pad);
                for iy in r.start..r.end {
                    for d in &mut gxp[iy * g.w + c.start..iy * g.w + c.end] {
                        *d += v;
                    }
                }
            }
        }
    });
}

/// Adaptive windows along one axis: `[floor(i*len/out), ceil((i+1)*len/out))`.
fn adaptive_windows(len: usize, out: usize) -> Vec<(usize, usize)> {
    (0..out).map(|i| (i * len / out, ((i + 1) * len).div_ceil(out))).collect()
}

/// Adaptive average pooling of `x [n, c, h, w]` to `y [n, c, oh, ow]`, with
/// `(h, w)` and `(oh, ow)` given as pairs (PyTorch
/// windows: start `floor(i*h/oh)`, end `ceil((i+1)*h/oh)`).
pub fn adaptive_avg_pool2d(n: usize, c: usize, (h, w): (usize, usize), (oh, ow): (usize, usize), x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), n * c * h * w, "adaptive_avg_pool2d: input length");
    assert_eq!(y.len(), n * c * oh * ow, "adaptive_avg_pool2d: output length");
    if y.is_empty() {
        return;
    }
    let (rows, cols) = (adaptive_windows(h, oh), adaptive_windows(w, ow));
    let (ip, op) = (h * w, oh * ow);
    y.par_chunks_mut(op).enumerate().with_min_len(min_planes(op)).for_each(|(p, yp)| {
        let xp = &x[p * ip..(p + 1) * ip];
        for (oy, &(h0, h1)) in rows.iter().enumerate() {
            for (ox, &(w0, w1)) in cols.iter().enumerate() {
                let mut s = 0.0f32;
                for iy in h0..h1 {
                    for &v in &xp[iy * w + w0..iy * w + w1] {
                        s += v;
                    }
                }
                yp[oy * ow + ox] = s / ((h1 - h0) * (w1 - w0)) as f32;
            }
        }
    });
}

/// Adjoint of [`adaptive_avg_pool2d`]: `gx [n, c, h, w]` is overwritten from
/// `gy [n, c, oh, ow]`.
pub fn adaptive_avg_pool2d_adjoint(n: usize, c: usize, (h, w): (usize, usize), (oh, ow): (usize, usize), gy: &[f32], gx: &mut [f32]) {
    assert_eq!(gx.len(), n * c * h * w, "adaptive_avg_pool2d_adjoint: gx length");
    assert_eq!(gy.len(), n * c * oh * ow, "adaptive_avg_pool2d_adjoint: gy length");
    if gx.is_empty() {
        return;
    }
    if oh * ow == 0 {
        gx.fill(0.0);
        return;
    }
    let (rows, cols) = (adaptive_windows(h, oh), adaptive_windows(w, ow));
    let (ip, op) = (h * w, oh * ow);
    gx.par_chunks_mut(ip).zip(gy.par_chunks(op)).with_min_len(min_planes(ip)).for_each(|(gxp, gyp)| {
        gxp.fill(0.0);
        for (oy, &(h0, h1)) in rows.iter().enumerate() {
            for (ox, &(w0, w1)) in cols.iter().enumerate() {
                let v = gyp[oy * ow + ox] / ((h1 - h0) * (w1 - w0)) as f32;
                for iy in h0..h1 {
                    for d in &mut gxp[iy * w + w0..iy * w + w1] {
                        *d += v;
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kernels::TestRng as Rng;

    #[allow(clippy::too_many_arguments)]
    fn geom(
        n: usize,
        c: usize,
        h: usize,
        w: usize,
        kh: usize,
        kw: usize,
        stride: (usize, usize),
        padding: (usize, usize),
        ceil_mode: bool,
    ) -> Pool2dGeom {
        Pool2dGeom { n, c, h, w, kh, kw, stride, padding, ceil_mode }
    }

    fn geometries() -> Vec<Pool2dGeom> {
        vec![
            geom(1, 1, 1, 1, 1, 1, (1, 1), (0, 0), false),
            geom(2, 3, 5, 5, 2, 2, (2, 2), (0, 0), true),
            geom(2, 3, 5, 5, 2, 2, (2, 2), (0, 0), false),
            geom(1, 2, 7, 7, 3, 3, (2, 2), (1, 1), true),
            geom(3, 1, 7, 6, 3, 2, (2, 2), (1, 1), true),
            geom(2, 2, 8, 9, 2, 3, (3, 4), (0, 1), false), // stride > kernel
            geom(2, 2, 8, 9, 2, 3, (3, 4), (1, 1), true),
            geom(1, 3, 1, 6, 1, 3, (1, 2), (0, 1), true), // height 1
            geom(2, 1, 6, 1, 4, 1, (3, 1), (2, 0), true), // width 1
            geom(1, 1, 4, 4, 4, 4, (1, 1), (2, 2), true),
            geom(2, 2, 10, 11, 5, 3, (2, 3), (2, 1), true),
            geom(64, 8, 3, 3, 2, 2, (1, 1), (0, 0), false), // many tiny planes
        ]
    }

    /// Naive reference windows: every (iy, ix) in the padded window, in order.
    fn window_ref(g: &Pool2dGeom, oy: usize, ox: usize) -> (Vec<(usize, usize)>, usize) {
        let (h0, w0) = ((oy * g.stride.0) as isize - g.padding.0 as isize, (ox * g.stride.1) as isize - g.padding.1 as isize);
        let mut inside = vec![];
        let mut padded = 0;
        for iy in h0..h0 + g.kh as isize {
            for ix in w0..w0 + g.kw as isize {
                let in_padded = iy < (g.h + g.padding.0) as isize && ix < (g.w + g.padding.1) as isize;
                padded += in_padded as usize;
                if iy >= 0 && ix >= 0 && iy < g.h as isize && ix < g.w as isize {
                    inside.push((iy as usize, ix as usize));
                }
            }
        }
        (inside, padded)
    }

    fn naive_max(g: &Pool2dGeom, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
        let (oh, ow) = (g.out_h(), g.out_w());
        let (mut y, mut idx) = (vec![], vec![]);
        for p in 0..g.n * g.c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (win, _) = window_ref(g, oy, ox);
                    let (mut best, mut at) = (f32::NEG_INFINITY, win[0].0 * g.w + win[0].1);
                    for (iy, ix) in win {
                        let v = x[p * g.h * g.w + iy * g.w + ix];
                        if v > best || v.is_nan() {
                            best = v;
                            at = iy * g.w + ix;
                        }
                    }
                    y.push(best);
                    idx.push(at as u32);
                }
            }
        }
        (y, idx)
    }

    fn naive_avg(g: &Pool2dGeom, include_pad: bool, x: &[f32]) -> Vec<f64> {
        let (oh, ow) = (g.out_h(), g.out_w());
        let mut y = vec![];
        for p in 0..g.n * g.c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (win, padded) = window_ref(g, oy, ox);
                    let s: f64 = win.iter().map(|&(iy, ix)| x[p * g.h * g.w + iy * g.w + ix] as f64).sum();
                    let d = if include_pad { padded } else { win.len() };
                    y.push(if win.is_empty() { 0.0 } else { s / d as f64 });
                }
            }
        }
        y
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
    }

    #[test]
    fn output_sizes() {
        let g = geom(1, 1, 5, 5, 2, 2, (2, 2), (0, 0), true);
        assert_eq!(g.out_h(), 3);
        assert_eq!(Pool2dGeom { ceil_mode: false, ..g }.out_h(), 2);
        let g = geom(1, 1, 7, 7, 3, 3, (2, 2), (1, 1), true);
        assert_eq!(g.out_h(), 4);
        let g = geom(1, 1, 6, 6, 2, 2, (2, 2), (1, 1), true);
        assert_eq!(g.out_h(), 4);
        // Last window would start inside the right padding: dropped.
        let g = geom(1, 1, 5, 5, 2, 2, (2, 2), (1, 1), true);
        assert_eq!(g.out_h(), 3);
        let g = geom(1, 1, 4, 4, 2, 2, (3, 3), (1, 1), true);
        assert_eq!(g.out_h(), 2);
        assert_eq!(geom(1, 1, 1, 1, 1, 1, (1, 1), (0, 0), true).out_w(), 1);
    }

    #[test]
    fn max_pool_matches_naive() {
        let mut rng = Rng::new(0x0123_4567_89ab_cdef);
        for g in geometries() {
            let mut x = rng.vec(g.n * g.c * g.h * g.w);
            // Quantize to create ties.
            for v in x.iter_mut() {
                *v = (*v * 3.0).round();
            }
            let len = g.n * g.c * g.out_h() * g.out_w();
            let (mut y, mut idx) = (vec![0.0; len], vec![0u32; len]);
            max_pool2d(&g, &x, &mut y, &mut idx);
            let (ry, ridx) = naive_max(&g, &x);
            assert_eq!(y, ry, "{g:?}");
            assert_eq!(idx, ridx, "{g:?}");
        }
    }

    #[test]
    fn max_pool_ties_nan_and_infinities() {
        let g = geom(1, 1, 2, 3, 2, 3, (1, 1), (0, 0), false);
        let mut y = [0.0];
        let mut idx = [9u32];
        max_pool2d(&g, &[1.0, 2.0, 0.0, 2.0, -1.0, 2.0], &mut y, &mut idx);
        assert_eq!((y[0], idx[0]), (2.0, 1));
        max_pool2d(&g, &[1.0, f32::NAN, 5.0, 0.0, 0.0, 0.0], &mut y, &mut idx);
        assert!(y[0].is_nan());
        assert_eq!(idx[0], 1);
        let ninf = f32::NEG_INFINITY;
        max_pool2d(&g, &[ninf; 6], &mut y, &mut idx);
        assert_eq!((y[0], idx[0]), (ninf, 0));
        // Padding never wins, even over -inf inputs.
        let g = geom(1, 1, 1, 1, 3, 3, (1, 1), (1, 1), false);
        max_pool2d(&g, &[ninf], &mut y, &mut idx);
        assert_eq!((y[0], idx[0]), (ninf, 0));
    }

    #[test]
    fn avg_pool_matches_naive_and_adjoint() {
        let mut rng = Rng::new(0xfeed_face_dead_beef);
        for g in geometries() {
            for include_pad in [false, true] {
                let x = rng.vec(g.n * g.c * g.h * g.w);
                let gy = rng.vec(g.n * g.c * g.out_h() * g.out_w());
                let mut y = vec![f32::NAN; gy.len()];
                avg_pool2d(&g, include_pad, &x, &mut y);
                for (a, b) in y.iter().zip(naive_avg(&g, include_pad, &x)) {
                    assert!((*a as f64 - b).abs() < 1e-5, "{a} {b} {g:?}");
                }
                let mut gx = vec![f32::NAN; x.len()];
                avg_pool2d_adjoint(&g, include_pad, &gy, &mut gx);
                let (l, r) = (dot(&y, &gy), dot(&x, &gx));
                assert!((l - r).abs() < 1e-4 * (1.0 + l.abs()), "{l} {r} {g:?}");
            }
        }
    }

    #[test]
    fn avg_pool_ceil_divisor() {
        // h=w=3, k=2, s=2, ceil: last window covers one real element; with p=0 the
        // pad-inclusive count is clipped to h+p, so the divisor is 1 either way.
        let g = geom(1, 1, 3, 3, 2, 2, (2, 2), (0, 0), true);
        let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let mut y = vec![0.0; 4];
        avg_pool2d(&g, true, &x, &mut y);
        assert_eq!(y, vec![2.0, 3.5, 6.5, 8.0]);
        // With p=1 the corner window [-1,1)² holds one real element, divisor 4.
        let g = geom(1, 1, 3, 3, 2, 2, (2, 2), (1, 1), true);
        let mut y = vec![0.0; 4];
        avg_pool2d(&g, true, &x, &mut y);
        assert_eq!(y[0], 0.0 / 4.0);
        assert_eq!(y[3], (4.0 + 5.0 + 7.0 + 8.0) / 4.0);
        avg_pool2d(&g, false, &x, &mut y);
        assert_eq!(y[1], (1.0 + 2.0) / 2.0);
    }

    #[test]
    fn gather_scatter_adjoint() {
        let mut rng = Rng::new(99);
        for g in geometries() {
            let x = rng.vec(g.n * g.c * g.h * g.w);
            let len = g.n * g.c * g.out_h() * g.out_w();
            let (mut y, mut idx) = (vec![0.0; len], vec![0u32; len]);
            max_pool2d(&g, &x, &mut y, &mut idx);
            let (planes, ip, op) = (g.n * g.c, g.h * g.w, g.out_h() * g.out_w());
            let mut y2 = vec![f32::NAN; len];
            gather_plane(planes, ip, op, &x, &idx, &mut y2);
            assert_eq!(y, y2);
            let gy = rng.vec(len);
            let mut gx = vec![f32::NAN; x.len()];
            scatter_add_plane(planes, ip, op, &gy, &idx, &mut gx);
            let (l, r) = (dot(&y2, &gy), dot(&x, &gx));
            assert!((l - r).abs() < 1e-4 * (1.0 + l.abs()), "{l} {r} {g:?}");
        }
    }

    #[test]
    fn adaptive_matches_naive_and_adjoint() {
        let mut rng = Rng::new(0xabcdef);
        for &(n, c, h, w, oh, ow) in &[
            (1, 1, 1, 1, 1, 1),
            (2, 3, 7, 5, 3, 2),
            (1, 2, 5, 5, 7, 8), // upsampling: overlapping windows
            (3, 1, 10, 9, 4, 4),
            (1, 1, 6, 6, 1, 1),
            (2, 2, 1, 7, 1, 3),
        ] {
            let x = rng.vec(n * c * h * w);
            let gy = rng.vec(n * c * oh * ow);
            let mut y = vec![f32::NAN; gy.len()];
            adaptive_avg_pool2d(n, c, (h, w), (oh, ow), &x, &mut y);
            for p in 0..n * c {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let (h0, h1) = ((oy * h) / oh, ((oy + 1) * h).div_ceil(oh));
                        let (w0, w1) = ((ox * w) / ow, ((ox + 1) * w).div_ceil(ow));
                        let mut s = 0.0f64;
                        for iy in h0..h1 {
                            for ix in w0..w1 {
                                s += x[p * h * w + iy * w + ix] as f64;
                            }
                        }
                        let want = s / ((h1 - h0) * (w1 - w0)) as f64;
                        let got = y[p * oh * ow + oy * ow + ox] as f64;
                        assert!((got - want).abs() < 1e-5, "{got} {want}");
                    }
                }
            }
            let mut gx = vec![f32::NAN; x.len()];
            adaptive_avg_pool2d_adjoint(n, c, (h, w), (oh, ow), &gy, &mut gx);
            let (l, r) = (dot(&y, &gy), dot(&x, &gx));
            assert!((l - r).abs() < 1e-4 * (1.0 + l.abs()), "{l} {r}");
        }
    }

    #[test]
    fn bit_identical_across_thread_counts() {
        let g = geom(4, 16, 33, 31, 3, 3, (2, 2), (1, 1), true);
        let x = Rng::new(5).vec(g.n * g.c * g.h * g.w);
        let len = g.n * g.c * g.out_h() * g.out_w();
        let gy = Rng::new(6).vec(len);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let (mut y, mut idx) = (vec![0.0; len], vec![0u32; len]);
                max_pool2d(&g, &x, &mut y, &mut idx);
                let mut gx = vec![0.0; x.len()];
                scatter_add_plane(g.n * g.c, g.h * g.w, len / (g.n * g.c), &gy, &idx, &mut gx);
                let mut a = vec![0.0; len];
                avg_pool2d(&g, true, &x, &mut a);
                let mut ga = vec![0.0; x.len()];
                avg_pool2d_adjoint(&g, false, &gy, &mut ga);
                [y, gx, a, ga].concat()
            })
        };
        let (a, b) = (run(1), run(3));
        assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
    }
}
