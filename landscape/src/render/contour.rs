//! Contours: marching squares (saddles resolved by the cell-centre average),
//! segments chained into polylines, level labels placed along straight-enough
//! stretches of the lines (with a gap cut into the line), contour-line and
//! filled-contour figures.

use super::axes::{draw_no_data, fmt_g, nice_ticks, Axes, AxesSpec, Axis};
use super::canvas::{Canvas, Color, Dash, Rect, INK, WHITE};
use super::colormap::{finite_range, ColorScale};
use super::heatmap::{grid_axes, rasterize_grid};
use super::text::{self, HAlign, Label, VAlign};
use super::trajectory::{draw_overlay, overlay_axes, path_rects};
use super::{FigureOptions, Grid2, RgbImage, Trajectory};
use std::collections::HashMap;

/// Contour lines of `grid` at `level`, as polylines in data coordinates. Closed
/// curves repeat their first point at the end. Cells with a NaN corner are skipped.
pub fn marching_squares(grid: &Grid2, level: f64) -> Vec<Vec<(f64, f64)>> {
    let (nx, ny) = (grid.x.len(), grid.y.len());
    if nx < 2 || ny < 2 || grid.z.len() < nx * ny || !level.is_finite() {
        return Vec::new();
    }
    let z = |i: usize, j: usize| grid.z[j * nx + i];
    // Edge ids: horizontal edge (i,j)-(i+1,j) is 2*(j*nx+i), vertical (i,j)-(i,j+1) is 2*(j*nx+i)+1.
    let h = |i: usize, j: usize| 2 * (j * nx + i);
    let v = |i: usize, j: usize| 2 * (j * nx + i) + 1;
    let mut segs: Vec<(usize, usize)> = Vec::new();
    for j in 0..ny - 1 {
        for i in 0..nx - 1 {
            let (a, b, c, d) = (z(i, j), z(i + 1, j), z(i + 1, j + 1), z(i, j + 1));
            if a.is_nan() || b.is_nan() || c.is_nan() || d.is_nan() {
                continue;
            }
            let case = (a >= level) as u8 | ((b >= level) as u8) << 1 | ((c >= level) as u8) << 2 | ((d >= level) as u8) << 3;
            let (bottom, right, top, left) = (h(i, j), v(i + 1, j), h(i, j + 1), v(i, j));
            let centre_in = (a + b + c + d) / 4.0 >= level;
            match case {
                1 | 14 => segs.push((left, bottom)),
                2 | 13 => segs.push((bottom, right)),
                3 | 12 => segs.push((left, right)),
                4 | 11 => segs.push((right, top)),
                6 | 9 => segs.push((bottom, top)),
                7 | 8 => segs.push((left, top)),
                5 => {
                    if centre_in {
                        segs.push((bottom, right));
                        segs.push((left, top));
                    } else {
                        segs.push((left, bottom));
                        segs.push((right, top));
                    }
                }
                10 => {
                    if centre_in {
                        segs.push((left, bottom));
                        segs.push((right, top));
                    } else {
                        segs.push((bottom, right));
                        segs.push((left, top));
                    }
                }
                _ => {}
            }
        }
    }
    let point = |e: usize| -> (f64, f64) {
        let k = e / 2;
        let (i, j) = (k % nx, k / nx);
        let (i2, j2) = if e.is_multiple_of(2) { (i + 1, j) } else { (i, j + 1) };
        let (p, q) = (z(i, j), z(i2, j2));
        let t = if q != p { ((level - p) / (q - p)).clamp(0.0, 1.0) } else { 0.5 };
        (grid.x[i] + (grid.x[i2] - grid.x[i]) * t, grid.y[j] + (grid.y[j2] - grid.y[j]) * t)
    };
    chain(&segs).into_iter().map(|edges| edges.into_iter().map(point).collect()).collect()
}

/// Join segments sharing an edge into maximal chains of edge ids.
fn chain(segs: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let mut at: HashMap<usize, Vec<usize>> = HashMap::new();
    for (k, s) in segs.iter().enumerate() {
        at.entry(s.0).or_default().push(k);
        at.entry(s.1).or_default().push(k);
    }
    let mut used = vec![false; segs.len()];
    let mut out = Vec::new();
    let next = |e: usize, used: &[bool]| at.get(&e).and_then(|v| v.iter().copied().find(|&k| !used[k]));
    for start in 0..segs.len() {
        if used[start] {
            continue;
        }
        used[start] = true;
        let mut line = vec![segs[start].0, segs[start].1];
        // Extend forward, then backward.
        for dir in 0..2 {
            loop {
                let end = *line.last().unwrap_or(&0);
                let Some(k) = next(end, &used) else { break };
                used[k] = true;
                let (a, b) = segs[k];
                line.push(if a == end { b } else { a });
            }
            if dir == 0 {
                line.reverse();
            }
        }
        out.push(line);
    }
    out
}

/// Default contour levels over [lo, hi]: 1-2-5 steps when the scale is logarithmic,
/// nice linear steps (about `target` of them) otherwise; the ends themselves excluded.
pub fn auto_levels(scale: &ColorScale, lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    let inside = |v: f64| v > lo * (1.0 + 1e-9) + 1e-300 && v < hi * (1.0 - 1e-9);
    if scale.log && lo > 0.0 {
        let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        for mults in [&[1.0, 2.0, 5.0][..], &[1.0, 3.0][..], &[1.0][..]] {
            let v: Vec<f64> = (e0..=e1).flat_map(|e| mults.iter().map(move |m| m * 10f64.powi(e))).filter(|&v| inside(v)).collect();
            if v.len() <= target * 2 {
                if v.len() < 3 && mults.len() == 3 {
                    // Less than a decade: use the linear nice levels.
                    break;
                }
                return v;
            }
        }
    }
    nice_ticks(lo, hi, target).into_iter().filter(|&v| v > lo && v < hi).collect()
}

fn clean_levels(levels: &[f64]) -> Vec<f64> {
    let mut l: Vec<f64> = levels.iter().copied().filter(|v| v.is_finite()).collect();
    l.sort_by(|a, b| a.total_cmp(b));
    l.dedup();
    l
}

/// Arc length of a polyline.
fn length(p: &[(f64, f64)]) -> f64 {
    p.windows(2).map(|w| ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt()).sum()
}

/// Point at arc length `s` along a polyline.
fn at_length(p: &[(f64, f64)], s: f64) -> (f64, f64) {
    let mut acc = 0.0;
    for w in p.windows(2) {
        let l = ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt();
        if acc + l >= s && l > 0.0 {
            let t = (s - acc) / l;
            return (w[0].0 + (w[1].0 - w[0].0) * t, w[0].1 + (w[1].1 - w[0].1) * t);
        }
        acc += l;
    }
    *p.last().unwrap_or(&(0.0, 0.0))
}

/// A placed contour label.
struct Placed {
    x: f64,
    y: f64,
    angle: f64,
    radius: f64,
    text: String,
    color: Color,
    bounds: Rect,
}

/// Choose label positions: one per long-enough polyline, on a fairly straight stretch,
/// inside `frame`, not overlapping `taken`.
fn place_label(pts: &[(f64, f64)], text: &str, px: f64, frame: &Rect, taken: &mut Vec<Rect>, color: Color) -> Option<Placed> {
    let tw = text::measure(text, px).w;
    let len = length(pts);
    if len < tw * 3.0 {
        return None;
    }
    for frac in [0.5, 0.3, 0.7, 0.15, 0.85, 0.4, 0.6] {
        let s = len * frac;
        let a = at_length(pts, s - tw * 0.6);
        let b = at_length(pts, s + tw * 0.6);
        let m = at_length(pts, s);
        let chord = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        if chord < tw * 1.1 {
            continue;
        }
        let mut angle = (-(b.1 - a.1)).atan2(b.0 - a.0).to_degrees();
        if angle > 90.0 {
            angle -= 180.0;
        } else if angle < -90.0 {
            angle += 180.0;
        }
        let lab = Label::new(text, px, color, HAlign::Center, VAlign::Center).rotated(angle);
        let r = lab.bounds(m.0, m.1);
        if !frame.grow(-3.0).contains_rect(&r) || taken.iter().any(|t| t.intersects(&r.grow(4.0))) {
            continue;
        }
        taken.push(r);
        return Some(Placed { x: m.0, y: m.1, angle, radius: tw / 2.0 + px * 0.35, text: text.to_string(), color, bounds: r });
    }
    None
}

/// Split a polyline into the pieces outside the circle (centre, radius).
fn cut_circle(pts: &[(f64, f64)], cx: f64, cy: f64, r: f64) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (fx, fy) = (a.0 - cx, a.1 - cy);
        let qa = dx * dx + dy * dy;
        let qb = 2.0 * (fx * dx + fy * dy);
        let qc = fx * fx + fy * fy - r * r;
        let disc = qb * qb - 4.0 * qa * qc;
        let lerp = |t: f64| (a.0 + dx * t, a.1 + dy * t);
        if qa == 0.0 || disc <= 0.0 {
            if cur.is_empty() {
                cur.push(a);
            }
            cur.push(b);
            continue;
        }
        let sq = disc.sqrt();
        let (t1, t2) = ((-qb - sq) / (2.0 * qa), (-qb + sq) / (2.0 * qa));
        if t2 <= 0.0 || t1 >= 1.0 {
            if cur.is_empty() {
                cur.push(a);
            }
            cur.push(b);
            continue;
        }
        if t1 > 0.0 {
            if cur.is_empty() {
                cur.push(a);
            }
            cur.push(lerp(t1));
        }
        if cur.len() > 1 {
            out.push(std::mem::take(&mut cur));
        }
        cur.clear();
        if t2 < 1.0 {
            cur.push(lerp(t2));
            cur.push(b);
        }
    }
    if cur.len() > 1 {
        out.push(cur);
    }
    out
}

/// How contour lines are drawn.
pub(crate) struct LineStyle {
    /// Fixed colour (else the level's viridis colour).
    pub color: Option<Color>,
    /// Width in pixels.
    pub width: f64,
    /// Opacity.
    pub alpha: f64,
    /// Label the levels.
    pub labels: bool,
}

/// Draw contour lines of `g` at `levels` inside the axes frame.
/// Labels avoid the rectangles in `avoid`; returns the rectangles of the labels placed.
pub(crate) fn draw_contours(
    c: &mut Canvas,
    ax: &Axes,
    g: &Grid2,
    levels: &[f64],
    scale: &ColorScale,
    style: &LineStyle,
    avoid: &[Rect],
) -> Vec<Rect> {
    let f = ax.frame;
    let px = ax.st.tick * 0.85;
    let mut taken: Vec<Rect> = avoid.to_vec();
    // (pixel polyline, colour, index of its label in `placed`)
    type Line = (Vec<(f64, f64)>, Color, Option<usize>);
    let mut lines: Vec<Line> = Vec::new();
    let mut placed: Vec<Placed> = Vec::new();
    for &lv in levels {
        let base = style.color.unwrap_or_else(|| scale.color(lv).unwrap_or(INK));
        let text_color = match style.color {
            Some(col) if luminance(col) > 200.0 => {
                if luminance(scale.color(lv).unwrap_or(INK)) > 170.0 {
                    INK
                } else {
                    WHITE
                }
            }
            Some(col) => col,
            None => super::canvas::mix(base, INK, 0.25),
        };
        for poly in marching_squares(g, lv) {
            let pts: Vec<(f64, f64)> = poly.iter().map(|&(x, y)| (ax.px(x), ax.py(y))).collect();
            let lab = if style.labels { place_label(&pts, &fmt_g(lv), px, &f, &mut taken, text_color) } else { None };
            if let Some(p) = lab {
                placed.push(p);
                lines.push((pts, base, Some(placed.len() - 1)));
            } else {
                lines.push((pts, base, None));
            }
        }
    }
    c.set_clip(Some(f));
    for (pts, col, lab) in &lines {
        match lab {
            Some(k) => {
                let p = &placed[*k];
                for piece in cut_circle(pts, p.x, p.y, p.radius) {
                    c.polyline(&piece, style.width, *col, style.alpha, Dash::Solid);
                }
            }
            None => c.polyline(pts, style.width, *col, style.alpha, Dash::Solid),
        }
    }
    for p in &placed {
        debug_assert!(f.contains_rect(&p.bounds));
        Label::new(&p.text, px, p.color, HAlign::Center, VAlign::Center).rotated(p.angle).draw(c, p.x, p.y);
    }
    placed.iter().map(|p| p.bounds).collect()
}

fn luminance(c: Color) -> f64 {
    0.2126 * c[0] as f64 + 0.7152 * c[1] as f64 + 0.0722 * c[2] as f64
}

/// Contour lines of a 2-D grid, coloured by level (viridis), with a colour bar. `levels`
/// default to [`auto_levels`] (1-2-5 steps on a log scale); `label_levels` writes the level
/// value on the lines; `overlay` draws a trajectory on top. The colour-bar label is
/// `opts.z_label`.
pub fn contour_plot(
    opts: &FigureOptions,
    grid: &Grid2,
    levels: Option<&[f64]>,
    label_levels: bool,
    overlay: Option<&Trajectory>,
) -> RgbImage {
    contour_impl(opts, grid, levels, label_levels, overlay, false).0
}

pub(crate) fn contour_impl(
    opts: &FigureOptions,
    grid: &Grid2,
    levels: Option<&[f64]>,
    label_levels: bool,
    overlay: Option<&Trajectory>,
    quiet_lines: bool,
) -> (RgbImage, Rect) {
    let (w, h) = opts.size();
    let g = grid.normalized();
    let zs: &[f64] = g.as_ref().map_or(&[], |g| &g.z);
    let scale = ColorScale::new(zs, None, opts.z_scale);
    let (x, y) = match &g {
        Some(g) => grid_axes(g, false),
        None => (Axis::fit([], false, 0.0, None), Axis::fit([], false, 0.0, None)),
    };
    let (x, y) = overlay_axes(x, y, overlay, g.is_none());
    let mut spec = AxesSpec::new(&opts.title, x, y, &opts.x_label, &opts.y_label);
    spec.equal_aspect = true;
    spec.grid = true;
    if g.is_some() {
        spec.colorbar = Some((scale, &opts.z_label, None));
    }
    let ax = Axes::new(w, h, spec);
    let mut c = Canvas::new(w, h, WHITE);
    ax.draw_background(&mut c);
    let mut contour_labels = Vec::new();
    match &g {
        Some(g) => {
            let (dlo, dhi) = finite_range(&g.z).unwrap_or((0.0, 1.0));
            let lv = match levels {
                Some(l) => clean_levels(l),
                None => auto_levels(&scale, dlo, dhi, 10),
            };
            let style =
                LineStyle { color: None, width: ax.st.line_w * 0.8, alpha: if quiet_lines { 0.75 } else { 1.0 }, labels: label_levels };
            let avoid = overlay.map(|t| path_rects(&ax, t)).unwrap_or_default();
            contour_labels = draw_contours(&mut c, &ax, g, &lv, &scale, &style, &avoid);
        }
        None if overlay.is_none_or(|t| t.x.is_empty()) => draw_no_data(&mut c, ax.frame.grow(-1.0), &ax.st),
        None => {}
    }
    if let Some(t) = overlay {
        draw_overlay(&mut c, &ax, t, &contour_labels);
    }
    ax.draw_frame(&mut c);
    (c.img, ax.frame)
}

/// Filled contours: colour bands between levels (each level interval split in two for a
/// smoother picture), thin white lines with labels at the levels, and a banded colour
/// bar. `range` fixes the colour scale (share it between panels that are compared);
/// values outside it take the end colours. NaN cells are drawn light grey.
pub fn filled_contour_plot(opts: &FigureOptions, grid: &Grid2, levels: Option<&[f64]>, range: Option<(f64, f64)>) -> RgbImage {
    filled_impl(opts, grid, levels, range).0
}

pub(crate) fn filled_impl(opts: &FigureOptions, grid: &Grid2, levels: Option<&[f64]>, range: Option<(f64, f64)>) -> (RgbImage, Rect) {
    let (w, h) = opts.size();
    let Some(g) = grid.normalized() else {
        return empty_figure(opts);
    };
    let scale = ColorScale::new(&g.z, range, opts.z_scale);
    let lv = match levels {
        Some(l) => clean_levels(l),
        None => auto_levels(&scale, scale.lo, scale.hi, 10),
    };
    let bounds = band_bounds(&scale, &lv);
    let colors: Vec<Color> = bounds
        .windows(2)
        .map(|b| {
            let mid = if scale.log { (b[0] * b[1]).sqrt() } else { (b[0] + b[1]) / 2.0 };
            scale.color(mid).unwrap_or(INK)
        })
        .collect();
    let (x, y) = grid_axes(&g, false);
    let mut spec = AxesSpec::new(&opts.title, x, y, &opts.x_label, &opts.y_label);
    spec.equal_aspect = true;
    spec.colorbar = Some((scale, &opts.z_label, Some(bounds.clone())));
    let ax = Axes::new(w, h, spec);
    let mut c = Canvas::new(w, h, WHITE);
    ax.draw_background(&mut c);
    rasterize_grid(&mut c, &ax, &g, 3, true, |z| {
        let k = bounds.partition_point(|&b| b <= z).clamp(1, colors.len()) - 1;
        colors[k]
    });
    let lines: Vec<f64> = lv.iter().copied().filter(|&v| v > scale.lo && v < scale.hi).collect();
    let style = LineStyle { color: Some(WHITE), width: 1.0 * ax.st.scale, alpha: 0.85, labels: true };
    draw_contours(&mut c, &ax, &g, &lines, &scale, &style, &[]);
    ax.draw_frame(&mut c);
    (c.img, ax.frame)
}

/// Band boundaries: the scale ends, the levels strictly inside, each interval halved
/// (geometrically on a log scale).
fn band_bounds(scale: &ColorScale, levels: &[f64]) -> Vec<f64> {
    let mut b = vec![scale.lo];
    b.extend(levels.iter().copied().filter(|&v| v > scale.lo && v < scale.hi));
    b.push(scale.hi);
    let mut out = vec![b[0]];
    for w in b.windows(2) {
        let mid = if scale.log { (w[0] * w[1]).sqrt() } else { (w[0] + w[1]) / 2.0 };
        if b.len() < 24 {
            out.push(mid);
        }
        out.push(w[1]);
    }
    out
}

/// A figure with a title, empty axes and "no data".
pub(crate) fn empty_figure(opts: &FigureOptions) -> (RgbImage, Rect) {
    let (w, h) = opts.size();
    let a = Axis::fit([], false, 0.0, None);
    let ax = Axes::new(w, h, AxesSpec::new(&opts.title, a, a, &opts.x_label, &opts.y_label));
    let mut c = Canvas::new(w, h, WHITE);
    ax.draw_background(&mut c);
    draw_no_data(&mut c, ax.frame.grow(-1.0), &ax.st);
    ax.draw_frame(&mut c);
    (c.img, ax.frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_circle_from_paraboloid() {
        let xs = Grid2::linspace(-2.0, 2.0, 41);
        let g = Grid2::from_fn(xs.clone(), xs, |x, y| x * x + y * y);
        let lines = marching_squares(&g, 1.0);
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert!(l.len() > 30);
        assert_eq!(l.first(), l.last(), "closed");
        for &(x, y) in l {
            assert!(((x * x + y * y).sqrt() - 1.0).abs() < 0.01, "({x}, {y})");
        }
        // Perimeter close to 2 pi.
        assert!((length(l) - 2.0 * std::f64::consts::PI).abs() < 0.05);
    }

    #[test]
    fn open_lines_saddles_and_nan() {
        let xs = Grid2::linspace(-1.0, 1.0, 21);
        // Saddle z = x*y: level 0.1 gives two open branches.
        let g = Grid2::from_fn(xs.clone(), xs.clone(), |x, y| x * y);
        let lines = marching_squares(&g, 0.1);
        assert_eq!(lines.len(), 2);
        for l in &lines {
            assert_ne!(l.first(), l.last());
            for &(x, y) in l {
                assert!((x * y - 0.1).abs() < 0.01);
            }
        }
        // A NaN hole breaks the circle but does not panic.
        let mut g = Grid2::from_fn(xs.clone(), xs, |x, y| x * x + y * y);
        g.z[10 * 21 + 15] = f64::NAN;
        assert!(!marching_squares(&g, 0.25).is_empty());
        assert!(marching_squares(&Grid2::default(), 0.0).is_empty());
    }

    #[test]
    fn levels() {
        let s = ColorScale::new(&[0.0101, 7.26], None, super::super::ZScale::Auto);
        assert_eq!(auto_levels(&s, 0.0101, 7.26, 10), vec![0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0]);
        let s = ColorScale::new(&[0.0, 1.0], None, super::super::ZScale::Auto);
        assert_eq!(auto_levels(&s, 0.0, 1.0, 5), vec![0.2, 0.4, 0.6000000000000001, 0.8]);
        assert!(auto_levels(&s, 1.0, 1.0, 5).is_empty());
    }

    #[test]
    fn cut_leaves_a_gap() {
        let p = vec![(0.0, 0.0), (10.0, 0.0), (20.0, 0.0)];
        let parts = cut_circle(&p, 10.0, 0.0, 3.0);
        assert_eq!(parts.len(), 2);
        assert!((parts[0].last().unwrap().0 - 7.0).abs() < 1e-9);
        assert!((parts[1][0].0 - 13.0).abs() < 1e-9);
    }
}
