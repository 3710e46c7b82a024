//! Heat map: one colour cell per grid point (cells centred on the points), with a
//! colour bar; plus the per-pixel grid sampler shared with filled contours.

use super::axes::{Axes, AxesSpec, Axis};
use super::canvas::{Canvas, Color, Rect, WHITE};
use super::colormap::ColorScale;
use super::contour::empty_figure;
use super::{FigureOptions, Grid2, RgbImage};

/// Colour of missing (NaN) cells.
pub const MISSING: Color = [222, 222, 222];

/// Axes spanning a (normalised) grid: from the first to the last point, or, with
/// `cells`, half a cell further on each side so edge cells are whole.
pub(crate) fn grid_axes(g: &Grid2, cells: bool) -> (Axis, Axis) {
    let span = |v: &[f64]| {
        let n = v.len();
        if n == 1 {
            let d = if v[0] == 0.0 { 0.5 } else { v[0].abs() * 0.1 };
            return Axis { lo: v[0] - d, hi: v[0] + d, log: false };
        }
        let (a, b) = if cells { ((v[1] - v[0]) / 2.0, (v[n - 1] - v[n - 2]) / 2.0) } else { (0.0, 0.0) };
        Axis { lo: v[0] - a, hi: v[n - 1] + b, log: false }
    };
    (span(&g.x), span(&g.y))
}

/// Fractional grid index of data value `v` in increasing `coords`: (i0, i1, t).
fn locate(coords: &[f64], v: f64) -> (usize, usize, f64) {
    let n = coords.len();
    if n == 1 || v <= coords[0] {
        return (0, 0, 0.0);
    }
    if v >= coords[n - 1] {
        return (n - 1, n - 1, 0.0);
    }
    let k = coords.partition_point(|&c| c <= v).clamp(1, n - 1);
    let t = (v - coords[k - 1]) / (coords[k] - coords[k - 1]);
    (k - 1, k, t)
}

/// Fill the axes frame pixel by pixel with `sub` x `sub` samples each: the grid value at
/// each sample (bilinear, or nearest cell when `smooth` is false; NaN cells fall back to
/// the nearest corner) is turned into a colour by `color_of` (NaN gives [`MISSING`]).
pub(crate) fn rasterize_grid(c: &mut Canvas, ax: &Axes, g: &Grid2, sub: usize, smooth: bool, color_of: impl Fn(f64) -> Color) {
    let f = ax.frame;
    let (x0, y0, x1, y1) = (f.x0 as i64, f.y0 as i64, f.x1 as i64, f.y1 as i64);
    let (w, h) = ((x1 - x0).max(0) as usize, (y1 - y0).max(0) as usize);
    let s = sub.max(1);
    let nx = g.x.len();
    let xa = &ax.spec.x;
    let ya = &ax.spec.y;
    let cols: Vec<(usize, usize, f64)> =
        (0..w * s).map(|k| locate(&g.x, xa.lo + (k as f64 + 0.5) / (w * s) as f64 * (xa.hi - xa.lo))).collect();
    let rows: Vec<(usize, usize, f64)> =
        (0..h * s).map(|k| locate(&g.y, ya.hi - (k as f64 + 0.5) / (h * s) as f64 * (ya.hi - ya.lo))).collect();
    let value = |cx: (usize, usize, f64), ry: (usize, usize, f64)| -> f64 {
        let z = |i: usize, j: usize| g.z[j * nx + i];
        let near = |cx: (usize, usize, f64), ry: (usize, usize, f64)| {
            z(if cx.2 < 0.5 { cx.0 } else { cx.1 }, if ry.2 < 0.5 { ry.0 } else { ry.1 })
        };
        if !smooth {
            return near(cx, ry);
        }
        let (a, b, cc, d) = (z(cx.0, ry.0), z(cx.1, ry.0), z(cx.0, ry.1), z(cx.1, ry.1));
        if a.is_nan() || b.is_nan() || cc.is_nan() || d.is_nan() {
            return near(cx, ry);
        }
        let top = a + (b - a) * cx.2;
        let bot = cc + (d - cc) * cx.2;
        top + (bot - top) * ry.2
    };
    for py in 0..h {
        for pxl in 0..w {
            let mut sum = [0u32; 3];
            for sy in 0..s {
                for sx in 0..s {
                    let v = value(cols[pxl * s + sx], rows[py * s + sy]);
                    let col = if v.is_nan() { MISSING } else { color_of(v) };
                    for k in 0..3 {
                        sum[k] += col[k] as u32;
                    }
                }
            }
            let n = (s * s) as u32;
            let col = [((sum[0] + n / 2) / n) as u8, ((sum[1] + n / 2) / n) as u8, ((sum[2] + n / 2) / n) as u8];
            c.blend(x0 + pxl as i64, y0 + py as i64, col, 1.0);
        }
    }
}

/// Heat map of a grid: each point a cell of its viridis colour, a colour bar labelled
/// `colorbar_label` (or `opts.z_label` when empty). `range` fixes the colour scale;
/// NaN cells are light grey.
pub fn heatmap(opts: &FigureOptions, grid: &Grid2, range: Option<(f64, f64)>, colorbar_label: &str) -> RgbImage {
    heatmap_impl(opts, grid, range, colorbar_label).0
}

pub(crate) fn heatmap_impl(opts: &FigureOptions, grid: &Grid2, range: Option<(f64, f64)>, colorbar_label: &str) -> (RgbImage, Rect) {
    let (w, h) = opts.size();
    let Some(g) = grid.normalized() else {
        return empty_figure(opts);
    };
    let scale = ColorScale::new(&g.z, range, opts.z_scale);
    let (x, y) = grid_axes(&g, true);
    let label = if colorbar_label.is_empty() { opts.z_label.as_str() } else { colorbar_label };
    let mut spec = AxesSpec::new(&opts.title, x, y, &opts.x_label, &opts.y_label);
    spec.equal_aspect = true;
    spec.colorbar = Some((scale, label, None));
    let ax = Axes::new(w, h, spec);
    let mut c = Canvas::new(w, h, WHITE);
    ax.draw_background(&mut c);
    rasterize_grid(&mut c, &ax, &g, 2, false, |z| scale.color(z).unwrap_or(MISSING));
    ax.draw_frame(&mut c);
    (c.img, ax.frame)
}
