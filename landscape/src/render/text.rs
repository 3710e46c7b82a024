//! Text: the embedded DejaVu Sans font (see `assets/DejaVuSans.LICENSE`),
//! measured with kerning and drawn antialiased at any angle.
//!
//! A string is rasterised horizontally into a coverage buffer, then mapped
//! onto the canvas: exactly for 0 and 90 degrees (crisp axis labels), with
//! bilinear sampling for other angles (contour labels along their line).
//! Sizes are "pixel heights": ascent minus descent of the font.

use super::canvas::{Canvas, Color, Rect};
use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use std::sync::OnceLock;

static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).expect("the embedded DejaVu Sans font parses"))
}

/// Horizontal anchor of a text box.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HAlign {
    /// Anchor at the left end.
    Left,
    /// Anchor at the middle.
    Center,
    /// Anchor at the right end.
    Right,
}

/// Vertical anchor of a text box.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VAlign {
    /// Anchor at the top of the box (ascender line).
    Top,
    /// Anchor halfway up the capital letters (digits look centred).
    Center,
    /// Anchor at the baseline.
    Baseline,
    /// Anchor at the bottom of the box (descender line).
    Bottom,
}

/// Metrics of a string at a size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TextSize {
    /// Advance width in pixels.
    pub w: f64,
    /// Box height (ascent - descent) in pixels.
    pub h: f64,
    /// Ascent in pixels (top of box to baseline).
    pub ascent: f64,
}

/// Measure `s` at pixel height `px`.
pub fn measure(s: &str, px: f64) -> TextSize {
    let sf = font().as_scaled(PxScale::from(px as f32));
    let mut w = 0.0f32;
    let mut prev = None;
    for ch in s.chars() {
        let id = sf.glyph_id(ch);
        if let Some(p) = prev {
            w += sf.kern(p, id);
        }
        w += sf.h_advance(id);
        prev = Some(id);
    }
    TextSize { w: w as f64, h: (sf.ascent() - sf.descent()) as f64, ascent: sf.ascent() as f64 }
}

/// Horizontal coverage buffer of a string: (width, height, coverage, metrics); the box
/// origin is at buffer pixel (PAD, PAD).
fn rasterize(s: &str, px: f64) -> (usize, usize, Vec<f32>, TextSize) {
    let m = measure(s, px);
    let f = font();
    let sf = f.as_scaled(PxScale::from(px as f32));
    let w = m.w.ceil() as usize + 2 * PAD;
    let h = m.h.ceil() as usize + 2 * PAD;
    let mut buf = vec![0f32; w * h];
    let mut x = PAD as f32;
    let base = PAD as f32 + sf.ascent();
    let mut prev = None;
    for ch in s.chars() {
        let id = sf.glyph_id(ch);
        if let Some(p) = prev {
            x += sf.kern(p, id);
        }
        let g = id.with_scale_and_position(PxScale::from(px as f32), point(x, base));
        x += sf.h_advance(id);
        prev = Some(id);
        if let Some(og) = f.outline_glyph(g) {
            let b = og.px_bounds();
            og.draw(|gx, gy, c| {
                let bx = b.min.x as i64 + gx as i64;
                let by = b.min.y as i64 + gy as i64;
                if bx >= 0 && by >= 0 && (bx as usize) < w && (by as usize) < h {
                    let v = &mut buf[by as usize * w + bx as usize];
                    *v = (*v + c).min(1.0);
                }
            });
        }
    }
    (w, h, buf, m)
}

const PAD: usize = 2;

/// A text request: string, size, colour, anchor and angle (degrees counter-clockwise).
#[derive(Clone, Debug)]
pub struct Label<'a> {
    /// The string.
    pub text: &'a str,
    /// Pixel height.
    pub px: f64,
    /// Colour.
    pub color: Color,
    /// Horizontal anchor.
    pub h: HAlign,
    /// Vertical anchor.
    pub v: VAlign,
    /// Rotation in degrees, counter-clockwise on screen.
    pub angle: f64,
}

impl<'a> Label<'a> {
    /// A horizontal label.
    pub fn new(text: &'a str, px: f64, color: Color, h: HAlign, v: VAlign) -> Label<'a> {
        Label { text, px, color, h, v, angle: 0.0 }
    }
    /// The same label rotated by `deg` degrees counter-clockwise.
    pub fn rotated(mut self, deg: f64) -> Label<'a> {
        self.angle = deg;
        self
    }

    /// Anchor offset inside the unrotated box (from its top-left corner).
    fn anchor(&self, m: &TextSize) -> (f64, f64) {
        let ax = match self.h {
            HAlign::Left => 0.0,
            HAlign::Center => m.w / 2.0,
            HAlign::Right => m.w,
        };
        let cap = 0.729 * self.px / 1.164; // DejaVu cap height over its ascent-descent
        let ay = match self.v {
            VAlign::Top => 0.0,
            VAlign::Center => m.ascent - cap / 2.0,
            VAlign::Baseline => m.ascent,
            VAlign::Bottom => m.h,
        };
        (ax, ay)
    }

    /// The axis-aligned bounding box the label occupies when anchored at (x, y).
    pub fn bounds(&self, x: f64, y: f64) -> Rect {
        let m = measure(self.text, self.px);
        let (ax, ay) = self.anchor(&m);
        let (s, c) = (-self.angle.to_radians()).sin_cos();
        let corners = [(0.0, 0.0), (m.w, 0.0), (0.0, m.h), (m.w, m.h)];
        let mut r = Rect::new(f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
        for (u, v) in corners {
            let (du, dv) = (u - ax, v - ay);
            let px = x + du * c - dv * s;
            let py = y + du * s + dv * c;
            r = Rect::new(r.x0.min(px), r.y0.min(py), r.x1.max(px), r.y1.max(py));
        }
        r
    }

    /// Draw at anchor point (x, y).
    pub fn draw(&self, canvas: &mut Canvas, x: f64, y: f64) {
        if self.text.is_empty() || !(x.is_finite() && y.is_finite()) || self.px <= 0.0 {
            return;
        }
        let (bw, bh, buf, m) = rasterize(self.text, self.px);
        let (ax, ay) = self.anchor(&m);
        let (ax, ay) = (ax + PAD as f64, ay + PAD as f64);
        let quarter = (self.angle / 90.0).round();
        if (self.angle - quarter * 90.0).abs() < 1e-9 {
            // Exact mapping for multiples of 90 degrees.
            let q = (quarter as i64).rem_euclid(4);
            let ox = x.round() as i64;
            let oy = y.round() as i64;
            let (ax, ay) = (ax.round() as i64, ay.round() as i64);
            for v in 0..bh as i64 {
                for u in 0..bw as i64 {
                    let cov = buf[v as usize * bw + u as usize];
                    if cov <= 0.0 {
                        continue;
                    }
                    let (du, dv) = (u - ax, v - ay);
                    let (dx, dy) = match q {
                        0 => (du, dv),
                        1 => (dv, -du),
                        2 => (-du, -dv),
                        _ => (-dv, du),
                    };
                    canvas.blend(ox + dx, oy + dy, self.color, cov as f64);
                }
            }
            return;
        }
        let (s, c) = (-self.angle.to_radians()).sin_cos();
        let r = self.bounds(x, y).grow(2.0);
        for py in r.y0.floor() as i64..=r.y1.ceil() as i64 {
            for px in r.x0.floor() as i64..=r.x1.ceil() as i64 {
                // Inverse rotation of the pixel centre into buffer coordinates.
                let (dx, dy) = (px as f64 + 0.5 - x, py as f64 + 0.5 - y);
                let u = dx * c + dy * s + ax - 0.5;
                let v = -dx * s + dy * c + ay - 0.5;
                let cov = bilinear(&buf, bw, bh, u, v);
                if cov > 0.0 {
                    canvas.blend(px, py, self.color, cov);
                }
            }
        }
    }
}

fn bilinear(buf: &[f32], w: usize, h: usize, u: f64, v: f64) -> f64 {
    if u < -1.0 || v < -1.0 || u > w as f64 || v > h as f64 {
        return 0.0;
    }
    let (u0, v0) = (u.floor(), v.floor());
    let (fu, fv) = (u - u0, v - v0);
    let at = |i: i64, j: i64| -> f64 {
        if i < 0 || j < 0 || i >= w as i64 || j >= h as i64 {
            0.0
        } else {
            buf[j as usize * w + i as usize] as f64
        }
    };
    let (i, j) = (u0 as i64, v0 as i64);
    at(i, j) * (1.0 - fu) * (1.0 - fv) + at(i + 1, j) * fu * (1.0 - fv) + at(i, j + 1) * (1.0 - fu) * fv + at(i + 1, j + 1) * fu * fv
}

/// Draw a label with a halo of `halo` colour around it (legible over lines and colour).
pub fn draw_with_halo(canvas: &mut Canvas, label: &Label, x: f64, y: f64, halo: Color) {
    let mut h = label.clone();
    h.color = halo;
    for (dx, dy) in [(-1.0, 0.0), (1.0, 0.0), (0.0, -1.0), (0.0, 1.0), (-1.0, -1.0), (1.0, 1.0), (-1.0, 1.0), (1.0, -1.0)] {
        h.draw(canvas, x + dx, y + dy);
    }
    label.draw(canvas, x, y);
}

/// Shorten `s` with an ellipsis so that it fits in `max_w` pixels at size `px`.
pub fn fit(s: &str, px: f64, max_w: f64) -> String {
    if measure(s, px).w <= max_w {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    for n in (0..chars.len()).rev() {
        let t: String = chars[..n].iter().collect::<String>() + "…";
        if measure(&t, px).w <= max_w {
            return t;
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::canvas::{BLACK, WHITE};

    #[test]
    fn measurement_is_monotone_and_scales() {
        let a = measure("loss", 16.0);
        let b = measure("loss landscape", 16.0);
        let c = measure("loss", 32.0);
        assert!(a.w > 10.0 && a.w < 60.0, "{a:?}");
        assert!(b.w > a.w);
        assert!((c.w / a.w - 2.0).abs() < 0.1);
        assert!((a.h - 16.0).abs() < 1.5, "{a:?}");
        assert_eq!(measure("", 16.0).w, 0.0);
    }

    #[test]
    fn drawn_text_stays_in_its_bounds() {
        for angle in [0.0, 90.0, 30.0] {
            let mut c = Canvas::new(200, 200, WHITE);
            let l = Label::new("Wg 0.25", 18.0, BLACK, HAlign::Center, VAlign::Center).rotated(angle);
            l.draw(&mut c, 100.0, 100.0);
            let b = l.bounds(100.0, 100.0).grow(2.0);
            let mut dark = 0;
            for (x, y, p) in c.img.enumerate_pixels() {
                if p.0[0] < 128 {
                    dark += 1;
                    assert!(b.x0 <= x as f64 && (x as f64) <= b.x1 && b.y0 <= y as f64 && (y as f64) <= b.y1, "angle {angle}");
                }
            }
            assert!(dark > 30, "angle {angle}: {dark}");
        }
    }

    #[test]
    fn fit_shortens() {
        let s = fit("a very long title that does not fit", 16.0, 80.0);
        assert!(s.ends_with('…'));
        assert!(measure(&s, 16.0).w <= 80.0);
    }
}
