//! Pixels: an RGB canvas with a clip rectangle, alpha blending, antialiased
//! strokes (solid or dashed polylines), filled rectangles, polygons, markers,
//! column-wise filled bands, and a supersampled layer for hard-edged polygons
//! (the faces of the 3-D surface).
//!
//! Antialiasing is by coverage: a stroke of width `w` covers a pixel by
//! `clamp(w/2 + 0.5 - d, 0, 1)` where `d` is the distance from the pixel
//! centre to the segment. A polyline accumulates the maximum coverage of its
//! segments in a mask before blending once, so joints are not drawn twice.

use image::{Rgb, RgbImage};

/// An sRGB colour.
pub type Color = [u8; 3];

/// White.
pub const WHITE: Color = [255, 255, 255];
/// Black.
pub const BLACK: Color = [0, 0, 0];
/// Dark grey used for text and frames.
pub const INK: Color = [30, 30, 30];
/// Light grey used for grid lines.
pub const GRID: Color = [225, 225, 225];

/// An axis-aligned rectangle in pixel coordinates (`x0 < x1`, `y0 < y1`, y down).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x0: f64,
    /// Top edge.
    pub y0: f64,
    /// Right edge.
    pub x1: f64,
    /// Bottom edge.
    pub y1: f64,
}

impl Rect {
    /// A rectangle from its edges.
    pub fn new(x0: f64, y0: f64, x1: f64, y1: f64) -> Rect {
        Rect { x0, y0, x1, y1 }
    }
    /// Width in pixels.
    pub fn w(&self) -> f64 {
        self.x1 - self.x0
    }
    /// Height in pixels.
    pub fn h(&self) -> f64 {
        self.y1 - self.y0
    }
    /// True when the two rectangles overlap.
    pub fn intersects(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
    /// True when `o` lies entirely inside `self`.
    pub fn contains_rect(&self, o: &Rect) -> bool {
        o.x0 >= self.x0 && o.x1 <= self.x1 && o.y0 >= self.y0 && o.y1 <= self.y1
    }
    /// The rectangle grown by `d` on every side.
    pub fn grow(&self, d: f64) -> Rect {
        Rect::new(self.x0 - d, self.y0 - d, self.x1 + d, self.y1 + d)
    }
}

/// Linear mix of two colours: `t = 0` gives `a`, `t = 1` gives `b`.
pub fn mix(a: Color, b: Color, t: f64) -> Color {
    let t = t.clamp(0.0, 1.0);
    let f = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * t).round().clamp(0.0, 255.0) as u8;
    [f(a[0], b[0]), f(a[1], b[1]), f(a[2], b[2])]
}

/// Line dash patterns (on, off lengths in units of the line width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dash {
    /// Continuous.
    Solid,
    /// Long dashes.
    Dashed,
    /// Dots.
    Dotted,
    /// Dash, dot.
    DashDot,
}

impl Dash {
    fn pattern(self) -> &'static [f64] {
        match self {
            Dash::Solid => &[],
            Dash::Dashed => &[3.7, 1.6],
            Dash::Dotted => &[1.0, 1.65],
            Dash::DashDot => &[6.4, 1.6, 1.0, 1.6],
        }
    }
}

/// An RGB image being drawn on, with a clip rectangle.
pub struct Canvas {
    /// The pixels.
    pub img: RgbImage,
    clip: (i64, i64, i64, i64),
}

impl Canvas {
    /// A canvas of the given size filled with `bg`.
    pub fn new(width: u32, height: u32, bg: Color) -> Canvas {
        let img = RgbImage::from_pixel(width, height, Rgb(bg));
        Canvas { img, clip: (0, 0, width as i64, height as i64) }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.img.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.img.height()
    }

    /// Restrict drawing to `r` (pixels whose centre lies inside), or lift the restriction.
    pub fn set_clip(&mut self, r: Option<Rect>) {
        let (w, h) = (self.width() as i64, self.height() as i64);
        self.clip = match r {
            None => (0, 0, w, h),
            Some(r) => {
                let x0 = (r.x0.round() as i64).clamp(0, w);
                let y0 = (r.y0.round() as i64).clamp(0, h);
                let x1 = (r.x1.round() as i64).clamp(x0, w);
                let y1 = (r.y1.round() as i64).clamp(y0, h);
                (x0, y0, x1, y1)
            }
        };
    }

    /// The colour at a pixel (black outside the image).
    pub fn get(&self, x: i64, y: i64) -> Color {
        if x < 0 || y < 0 || x >= self.width() as i64 || y >= self.height() as i64 {
            return BLACK;
        }
        self.img.get_pixel(x as u32, y as u32).0
    }

    /// Blend `c` with opacity `a` (0..1) into pixel (x, y), honouring the clip.
    #[inline]
    pub fn blend(&mut self, x: i64, y: i64, c: Color, a: f64) {
        let (cx0, cy0, cx1, cy1) = self.clip;
        if x < cx0 || y < cy0 || x >= cx1 || y >= cy1 || a.is_nan() || a <= 0.0 {
            return;
        }
        let a = a.min(1.0);
        let p = self.img.get_pixel_mut(x as u32, y as u32);
        for (dst, &src) in p.0.iter_mut().zip(c.iter()) {
            let v = *dst as f64 + (src as f64 - *dst as f64) * a;
            *dst = v.round().clamp(0.0, 255.0) as u8;
        }
    }

    /// Fill a rectangle, with fractional coverage on its edges.
    pub fn fill_rect(&mut self, r: Rect, c: Color, alpha: f64) {
        if !(r.x0.is_finite() && r.x1.is_finite() && r.y0.is_finite() && r.y1.is_finite()) || r.w() <= 0.0 || r.h() <= 0.0 {
            return;
        }
        let (cx0, cy0, cx1, cy1) = self.clip;
        let ix0 = (r.x0.floor() as i64).max(cx0);
        let ix1 = (r.x1.ceil() as i64).min(cx1);
        let iy0 = (r.y0.floor() as i64).max(cy0);
        let iy1 = (r.y1.ceil() as i64).min(cy1);
        for y in iy0..iy1 {
            let cy = overlap(y as f64, y as f64 + 1.0, r.y0, r.y1);
            for x in ix0..ix1 {
                let cx = overlap(x as f64, x as f64 + 1.0, r.x0, r.x1);
                self.blend(x, y, c, cx * cy * alpha);
            }
        }
    }

    /// Stroke one antialiased segment.
    pub fn line(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, width: f64, c: Color) {
        self.polyline(&[(x0, y0), (x1, y1)], width, c, 1.0, Dash::Solid);
    }

    /// Stroke an antialiased polyline of the given width, opacity and dash pattern.
    /// Non-finite points break the line.
    pub fn polyline(&mut self, pts: &[(f64, f64)], width: f64, c: Color, alpha: f64, dash: Dash) {
        let mut segs: Vec<[f64; 4]> = Vec::new();
        for run in pts.split(|p| !(p.0.is_finite() && p.1.is_finite())) {
            dash_segments(run, width, dash, &mut segs);
        }
        self.stroke_segments(&segs, width, c, alpha);
    }

    /// Stroke a set of segments `[x0, y0, x1, y1]` as one shape (coverage = max over segments).
    pub fn stroke_segments(&mut self, segs: &[[f64; 4]], width: f64, c: Color, alpha: f64) {
        if segs.is_empty() || width.is_nan() || width <= 0.0 {
            return;
        }
        let hw = width / 2.0;
        let reach = hw + 1.0;
        let (cx0, cy0, cx1, cy1) = self.clip;
        let mut bx0 = f64::INFINITY;
        let mut by0 = f64::INFINITY;
        let mut bx1 = f64::NEG_INFINITY;
        let mut by1 = f64::NEG_INFINITY;
        for s in segs {
            bx0 = bx0.min(s[0].min(s[2]));
            by0 = by0.min(s[1].min(s[3]));
            bx1 = bx1.max(s[0].max(s[2]));
            by1 = by1.max(s[1].max(s[3]));
        }
        let mx0 = ((bx0 - reach).floor() as i64).max(cx0);
        let my0 = ((by0 - reach).floor() as i64).max(cy0);
        let mx1 = ((bx1 + reach).ceil() as i64 + 1).min(cx1);
        let my1 = ((by1 + reach).ceil() as i64 + 1).min(cy1);
        if mx0 >= mx1 || my0 >= my1 {
            return;
        }
        let mw = (mx1 - mx0) as usize;
        let mh = (my1 - my0) as usize;
        let mut mask = vec![0f32; mw * mh];
        for s in segs {
            let (ax, ay, bx, by) = (s[0], s[1], s[2], s[3]);
            let sx0 = ((ax.min(bx) - reach).floor() as i64).max(mx0);
            let sy0 = ((ay.min(by) - reach).floor() as i64).max(my0);
            let sx1 = ((ax.max(bx) + reach).ceil() as i64 + 1).min(mx1);
            let sy1 = ((ay.max(by) + reach).ceil() as i64 + 1).min(my1);
            let (dx, dy) = (bx - ax, by - ay);
            let len2 = dx * dx + dy * dy;
            for y in sy0..sy1 {
                let py = y as f64 + 0.5;
                for x in sx0..sx1 {
                    let px = x as f64 + 0.5;
                    let t = if len2 > 0.0 { (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
                    let (qx, qy) = (ax + t * dx - px, ay + t * dy - py);
                    let d = (qx * qx + qy * qy).sqrt();
                    // Thin lines keep their ink: coverage scaled by width when width < 1.
                    let cov = ((hw + 0.5 - d).clamp(0.0, 1.0) * width.min(1.0)) as f32;
                    let m = &mut mask[(y - my0) as usize * mw + (x - mx0) as usize];
                    if cov > *m {
                        *m = cov;
                    }
                }
            }
        }
        for j in 0..mh {
            for i in 0..mw {
                let m = mask[j * mw + i];
                if m > 0.0 {
                    self.blend(mx0 + i as i64, my0 + j as i64, c, m as f64 * alpha);
                }
            }
        }
    }

    /// Fill a (small) polygon with 4x4 supersampled antialiasing, even-odd rule.
    pub fn fill_polygon(&mut self, pts: &[(f64, f64)], c: Color, alpha: f64) {
        if pts.len() < 3 || pts.iter().any(|p| !(p.0.is_finite() && p.1.is_finite())) {
            return;
        }
        let (cx0, cy0, cx1, cy1) = self.clip;
        let x0 = (pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min).floor() as i64).max(cx0);
        let x1 = (pts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max).ceil() as i64).min(cx1);
        let y0 = (pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min).floor() as i64).max(cy0);
        let y1 = (pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max).ceil() as i64).min(cy1);
        const S: usize = 4;
        for y in y0..y1 {
            for x in x0..x1 {
                let mut n = 0;
                for sy in 0..S {
                    for sx in 0..S {
                        let px = x as f64 + (sx as f64 + 0.5) / S as f64;
                        let py = y as f64 + (sy as f64 + 0.5) / S as f64;
                        if point_in_polygon(px, py, pts) {
                            n += 1;
                        }
                    }
                }
                if n > 0 {
                    self.blend(x, y, c, alpha * n as f64 / (S * S) as f64);
                }
            }
        }
    }

    /// Filled disc with optional outline.
    pub fn disc(&mut self, cx: f64, cy: f64, r: f64, fill: Color, edge: Option<(Color, f64)>) {
        if !(cx.is_finite() && cy.is_finite()) {
            return;
        }
        let reach = r + edge.map_or(0.0, |e| e.1) + 1.0;
        for y in (cy - reach).floor() as i64..=(cy + reach).ceil() as i64 {
            for x in (cx - reach).floor() as i64..=(cx + reach).ceil() as i64 {
                let d = ((x as f64 + 0.5 - cx).powi(2) + (y as f64 + 0.5 - cy).powi(2)).sqrt();
                let inner = (r + 0.5 - d).clamp(0.0, 1.0);
                match edge {
                    None => self.blend(x, y, fill, inner),
                    Some((ec, ew)) => {
                        let outer = (r + ew + 0.5 - d).clamp(0.0, 1.0);
                        self.blend(x, y, ec, outer);
                        let core = (r - ew / 2.0 + 0.5 - d).clamp(0.0, 1.0);
                        self.blend(x, y, fill, core);
                    }
                }
            }
        }
    }

    /// Fill between two curves sampled column by column: for each pixel column
    /// between the first and last x, the span between the interpolated lower and
    /// upper y is filled (with fractional coverage at its ends).
    pub fn fill_between(&mut self, xs: &[f64], lower: &[f64], upper: &[f64], c: Color, alpha: f64) {
        let n = xs.len().min(lower.len()).min(upper.len());
        for k in 1..n {
            let (xa, xb) = (xs[k - 1], xs[k]);
            let vals = [xa, xb, lower[k - 1], lower[k], upper[k - 1], upper[k]];
            if vals.iter().any(|v| !v.is_finite()) || xb <= xa {
                continue;
            }
            let c0 = xa.round() as i64;
            let c1 = if k + 1 == n { xb.round() as i64 } else { xb.round() as i64 - 1 };
            for col in c0..=c1 {
                let px = (col as f64 + 0.5).clamp(xa, xb);
                let t = (px - xa) / (xb - xa);
                let lo = lower[k - 1] + (lower[k] - lower[k - 1]) * t;
                let hi = upper[k - 1] + (upper[k] - upper[k - 1]) * t;
                let (top, bot) = (lo.min(hi), lo.max(hi));
                for row in top.floor() as i64..bot.ceil() as i64 {
                    let cov = overlap(row as f64, row as f64 + 1.0, top, bot);
                    self.blend(col, row, c, alpha * cov);
                }
            }
        }
    }
}

fn overlap(a0: f64, a1: f64, b0: f64, b1: f64) -> f64 {
    (a1.min(b1) - a0.max(b0)).clamp(0.0, 1.0)
}

/// Even-odd point-in-polygon test.
pub fn point_in_polygon(px: f64, py: f64, pts: &[(f64, f64)]) -> bool {
    let mut inside = false;
    let mut j = pts.len() - 1;
    for i in 0..pts.len() {
        let (xi, yi) = pts[i];
        let (xj, yj) = pts[j];
        if (yi > py) != (yj > py) && px < (xj - xi) * (py - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Cut a polyline into the "on" pieces of a dash pattern (pattern lengths scale with the width).
fn dash_segments(run: &[(f64, f64)], width: f64, dash: Dash, out: &mut Vec<[f64; 4]>) {
    if run.len() == 1 {
        out.push([run[0].0, run[0].1, run[0].0, run[0].1]);
        return;
    }
    let pat = dash.pattern();
    if pat.is_empty() {
        for w in run.windows(2) {
            out.push([w[0].0, w[0].1, w[1].0, w[1].1]);
        }
        return;
    }
    let scale = width.max(1.0) * 1.6;
    let mut idx = 0usize;
    let mut left = pat[0] * scale;
    for w in run.windows(2) {
        let (ax, ay) = w[0];
        let (bx, by) = w[1];
        let len = ((bx - ax).powi(2) + (by - ay).powi(2)).sqrt();
        let mut pos = 0.0;
        while pos < len {
            let step = left.min(len - pos);
            if idx.is_multiple_of(2) {
                let (t0, t1) = (pos / len, (pos + step) / len);
                out.push([ax + (bx - ax) * t0, ay + (by - ay) * t0, ax + (bx - ax) * t1, ay + (by - ay) * t1]);
            }
            pos += step;
            left -= step;
            if left <= 1e-9 {
                idx = (idx + 1) % pat.len();
                left = pat[idx] * scale;
            }
        }
    }
}

/// Marker shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// Filled circle.
    Circle,
    /// Filled square.
    Square,
    /// Five-pointed star.
    Star,
    /// Plus sign.
    Plus,
}

impl Canvas {
    /// Draw a marker of "radius" `r` centred at (x, y); filled shapes get a thin white outline.
    pub fn marker(&mut self, x: f64, y: f64, r: f64, kind: Marker, c: Color) {
        match kind {
            Marker::Circle => self.disc(x, y, r, c, Some((WHITE, 0.8))),
            Marker::Square => {
                let sq = [(x - r, y - r), (x + r, y - r), (x + r, y + r), (x - r, y + r), (x - r, y - r)];
                self.polyline(&sq, 2.0, WHITE, 1.0, Dash::Solid);
                self.fill_polygon(&sq[..4], c, 1.0);
            }
            Marker::Star => {
                let pts: Vec<(f64, f64)> = (0..10)
                    .map(|k| {
                        let a = std::f64::consts::PI * (k as f64 / 5.0) - std::f64::consts::FRAC_PI_2;
                        let rr = if k % 2 == 0 { r * 1.25 } else { r * 0.5 };
                        (x + rr * a.cos(), y + rr * a.sin())
                    })
                    .collect();
                self.fill_polygon(&pts, c, 1.0);
            }
            Marker::Plus => {
                self.line(x - r, y, x + r, y, 1.8, c);
                self.line(x, y - r, x, y + r, 1.8, c);
            }
        }
    }
}

/// A supersampled layer for hard-edged polygons drawn in painter's order: each
/// polygon is scan-converted at `scale`x resolution without antialiasing (so
/// neighbouring faces leave no seams), then [`Layer::composite`] averages the
/// samples, giving antialiased silhouettes.
pub struct Layer {
    w: usize,
    h: usize,
    s: usize,
    rgb: Vec<Color>,
    hit: Vec<bool>,
}

impl Layer {
    /// A transparent layer covering a `width` x `height` canvas.
    pub fn new(width: u32, height: u32, scale: usize) -> Layer {
        let s = scale.max(1);
        let (w, h) = (width as usize * s, height as usize * s);
        Layer { w, h, s, rgb: vec![BLACK; w * h], hit: vec![false; w * h] }
    }

    /// Fill a polygon (canvas pixel coordinates), overwriting what is under it.
    pub fn fill_polygon(&mut self, pts: &[(f64, f64)], c: Color) {
        if pts.len() < 3 || pts.iter().any(|p| !(p.0.is_finite() && p.1.is_finite())) {
            return;
        }
        let s = self.s as f64;
        let sp: Vec<(f64, f64)> = pts.iter().map(|p| (p.0 * s, p.1 * s)).collect();
        let ymin = sp.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let ymax = sp.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let r0 = ((ymin - 0.5).ceil().max(0.0)) as usize;
        let r1 = ((ymax - 0.5).floor().min(self.h as f64 - 1.0)).max(-1.0);
        if r1 < 0.0 {
            return;
        }
        let mut xs: Vec<f64> = Vec::with_capacity(8);
        for row in r0..=(r1 as usize) {
            let py = row as f64 + 0.5;
            xs.clear();
            let mut j = sp.len() - 1;
            for i in 0..sp.len() {
                let (xi, yi) = sp[i];
                let (xj, yj) = sp[j];
                if (yi > py) != (yj > py) {
                    xs.push(xi + (py - yi) * (xj - xi) / (yj - yi));
                }
                j = i;
            }
            xs.sort_by(|a, b| a.total_cmp(b));
            for pair in xs.chunks(2) {
                if pair.len() < 2 {
                    continue;
                }
                let c0 = ((pair[0] - 0.5).ceil().max(0.0)) as usize;
                let c1 = (pair[1] - 0.5).floor().min(self.w as f64 - 1.0);
                if c1 < 0.0 {
                    continue;
                }
                for col in c0..=(c1 as usize) {
                    let k = row * self.w + col;
                    self.rgb[k] = c;
                    self.hit[k] = true;
                }
            }
        }
    }

    /// Average the samples of each pixel and blend them onto the canvas.
    pub fn composite(&self, canvas: &mut Canvas) {
        let s = self.s;
        let (cw, ch) = (self.w / s, self.h / s);
        for y in 0..ch {
            for x in 0..cw {
                let mut sum = [0u32; 3];
                let mut n = 0u32;
                for sy in 0..s {
                    let base = (y * s + sy) * self.w + x * s;
                    for sx in 0..s {
                        if self.hit[base + sx] {
                            let c = self.rgb[base + sx];
                            sum[0] += c[0] as u32;
                            sum[1] += c[1] as u32;
                            sum[2] += c[2] as u32;
                            n += 1;
                        }
                    }
                }
                if let (Some(r), Some(g), Some(b)) = (sum[0].checked_div(n), sum[1].checked_div(n), sum[2].checked_div(n)) {
                    let c = [r as u8, g as u8, b as u8];
                    canvas.blend(x as i64, y as i64, c, n as f64 / (s * s) as f64);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_is_antialiased_and_placed() {
        let mut c = Canvas::new(40, 20, WHITE);
        c.line(2.0, 10.0, 38.0, 10.0, 2.0, BLACK);
        // Centre rows 9 and 10 (pixel centres 9.5, 10.5) are fully covered.
        assert_eq!(c.get(20, 9), BLACK);
        assert_eq!(c.get(20, 10), BLACK);
        assert_eq!(c.get(20, 5), WHITE);
        // A diagonal line gives intermediate grey levels.
        let mut d = Canvas::new(40, 40, WHITE);
        d.line(0.0, 0.0, 40.0, 13.0, 1.0, BLACK);
        let greys = d.img.pixels().filter(|p| p.0[0] > 0 && p.0[0] < 255).count();
        assert!(greys > 10);
    }

    #[test]
    fn clip_and_out_of_bounds_are_safe() {
        let mut c = Canvas::new(10, 10, WHITE);
        c.set_clip(Some(Rect::new(2.0, 2.0, 8.0, 8.0)));
        c.line(-100.0, 5.0, 100.0, 5.0, 3.0, BLACK);
        c.fill_rect(Rect::new(-5.0, -5.0, 50.0, 1.0), BLACK, 1.0);
        c.disc(f64::NAN, 0.0, 3.0, BLACK, None);
        c.polyline(&[(0.0, 0.0), (f64::NAN, 1.0), (9.0, 9.0)], 1.0, BLACK, 1.0, Dash::Dashed);
        assert_eq!(c.get(0, 5), WHITE);
        assert_eq!(c.get(5, 5), BLACK);
        assert_eq!(c.get(5, 0), WHITE);
    }

    #[test]
    fn layer_fills_without_seams() {
        let mut c = Canvas::new(20, 20, WHITE);
        let mut l = Layer::new(20, 20, 3);
        l.fill_polygon(&[(0.0, 0.0), (10.3, 0.0), (10.3, 20.0), (0.0, 20.0)], BLACK);
        l.fill_polygon(&[(10.3, 0.0), (20.0, 0.0), (20.0, 20.0), (10.3, 20.0)], BLACK);
        l.composite(&mut c);
        assert!(c.img.pixels().all(|p| p.0 == BLACK));
    }
}
