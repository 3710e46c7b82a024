//! Axes: "nice" tick selection (1, 2, 5 x 10^k; decades on log axes), tick
//! label formatting, the layout of a figure (margins computed from measured
//! text so nothing is clipped), frames, grids, axis labels, colour bars and
//! legends.

use super::canvas::{Canvas, Color, Dash, Marker, Rect, GRID, INK, WHITE};
use super::colormap::ColorScale;
use super::text::{self, HAlign, Label, VAlign};

/// Font sizes and spacings for a figure, scaled with its area.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// Title text height.
    pub title: f64,
    /// Axis label text height.
    pub label: f64,
    /// Tick label text height.
    pub tick: f64,
    /// Outer padding.
    pub pad: f64,
    /// Tick mark length.
    pub tick_len: f64,
    /// Data line width.
    pub line_w: f64,
    /// Size factor relative to an 800 x 600 figure.
    pub scale: f64,
}

impl Style {
    /// The style for a figure of `w` x `h` pixels (800 x 600 is the reference size).
    pub fn for_size(w: u32, h: u32) -> Style {
        let s = ((w as f64 * h as f64) / (800.0 * 600.0)).sqrt().clamp(0.85, 2.5);
        Style { title: 19.0 * s, label: 16.0 * s, tick: 15.0 * s, pad: 10.0 * s, tick_len: 4.5 * s, line_w: 2.0 * s, scale: s }
    }
}

/// One tick: value, label (may be empty for minor ticks) and whether it is major.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// Data value.
    pub value: f64,
    /// Text shown next to the tick.
    pub label: String,
    /// Major ticks get a label and a grid line; minor ticks only a short mark.
    pub major: bool,
}

/// The "nice" step (1, 2 or 5 x 10^k) giving at most about `max_ticks` ticks over `span`.
pub fn nice_step(span: f64, max_ticks: usize) -> f64 {
    let raw = span.abs() / max_ticks.max(1) as f64;
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * mag >= raw * (1.0 - 1e-9) {
            return m * mag;
        }
    }
    10.0 * mag
}

/// Multiples of a nice step inside [lo, hi] (at most about `max_ticks + 1` values).
pub fn nice_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) {
        return Vec::new();
    }
    if hi <= lo {
        return vec![lo];
    }
    let step = nice_step(hi - lo, max_ticks);
    let k0 = (lo / step - 1e-9).ceil();
    let k1 = (hi / step + 1e-9).floor();
    if !(k1 - k0).is_finite() || k1 - k0 > 1000.0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut k = k0;
    while k <= k1 {
        let v = k * step;
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        k += 1.0;
    }
    out
}

/// Labels for linear ticks: same number of decimals for all, scientific notation
/// for very large or very small magnitudes, Unicode minus.
pub fn linear_labels(ticks: &[f64]) -> Vec<String> {
    if ticks.is_empty() {
        return Vec::new();
    }
    let step = if ticks.len() > 1 { (ticks[1] - ticks[0]).abs() } else { ticks[0].abs().max(1e-300) };
    let amax = ticks.iter().fold(0f64, |a, v| a.max(v.abs()));
    let labels: Vec<String> = if amax >= 1e5 || (amax < 1e-3 && amax > 0.0) {
        let e = amax.log10().floor() as i32;
        let sc = 10f64.powi(e);
        let d = decimals(step / sc).min(8);
        ticks.iter().map(|&v| if v == 0.0 { "0".to_string() } else { format!("{:.*}e{}", d, v / sc, e) }).collect()
    } else {
        let d = decimals(step);
        ticks.iter().map(|&v| format!("{:.*}", d, v)).collect()
    };
    labels.into_iter().map(|s| fix_minus(&s)).collect()
}

/// Fewest decimals (at most 10) that write multiples of `step` exactly.
fn decimals(step: f64) -> usize {
    (0..10)
        .find(|&d| {
            let v = step * 10f64.powi(d as i32);
            (v - v.round()).abs() < 1e-6 * v.abs().max(1.0)
        })
        .unwrap_or(10)
}

fn fix_minus(s: &str) -> String {
    let s = if s.starts_with('-') && s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') { &s[1..] } else { s };
    s.replace('-', "\u{2212}")
}

/// Short numeric label with up to 3 significant digits ("0.05", "2", "150", "1.2e5").
pub fn fmt_g(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    let s = if !(1e-4..1e5).contains(&a) {
        let e = a.log10().floor() as i32;
        let m = v / 10f64.powi(e);
        let ms = trim_zeros(&format!("{m:.2}"));
        format!("{ms}e{e}")
    } else {
        let digits = (2 - a.log10().floor() as i32).max(0) as usize;
        trim_zeros(&format!("{v:.digits$}"))
    };
    fix_minus(&s)
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// "10" with a superscript exponent, e.g. 10⁻².
pub fn pow10_label(e: i32) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::from("10");
    if e < 0 {
        s.push('⁻');
    }
    for ch in e.unsigned_abs().to_string().chars() {
        s.push(SUP[ch.to_digit(10).unwrap_or(0) as usize]);
    }
    s
}

/// Ticks for a logarithmic axis over [lo, hi] (both > 0): 1-2-5 values when they
/// fit, else decades (every k-th decade when there are many), with unlabelled
/// minor ticks at 2..9 x 10^k; spans below a decade fall back to linear nice ticks.
pub fn log_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<Tick> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let max_ticks = max_ticks.max(2);
    let decades = (hi / lo).log10();
    let inside = |v: f64| v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9);
    if decades < 0.9 {
        let t = nice_ticks(lo, hi, max_ticks);
        let l = linear_labels(&t);
        return t.into_iter().zip(l).map(|(value, label)| Tick { value, label, major: true }).collect();
    }
    let e0 = lo.log10().floor() as i32;
    let e1 = hi.log10().ceil() as i32;
    let one_two_five: Vec<f64> = (e0..=e1).flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e))).filter(|&v| inside(v)).collect();
    if one_two_five.len() <= max_ticks && decades <= 3.5 {
        return one_two_five.into_iter().map(|v| Tick { value: v, label: fmt_g(v), major: true }).collect();
    }
    let n_dec = (e0..=e1).filter(|&e| inside(10f64.powi(e))).count().max(1);
    let every = n_dec.div_ceil(max_ticks).max(1) as i32;
    let plain = e0 >= -3 && e1 <= 4;
    let mut out = Vec::new();
    for e in e0..=e1 {
        let v = 10f64.powi(e);
        if e.rem_euclid(every) == 0 && inside(v) {
            out.push(Tick { value: v, label: if plain { fmt_g(v) } else { pow10_label(e) }, major: true });
        }
        if every == 1 && decades < 7.0 {
            for m in 2..10 {
                let mv = m as f64 * v;
                if inside(mv) {
                    out.push(Tick { value: mv, label: String::new(), major: false });
                }
            }
        }
    }
    out
}

/// One axis: data range and scale type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Axis {
    /// Value at the low end.
    pub lo: f64,
    /// Value at the high end.
    pub hi: f64,
    /// Logarithmic.
    pub log: bool,
}

impl Axis {
    /// An axis over the finite values (positive ones when `log`), padded by `pad` of
    /// the span on each side; `range` overrides. Always valid (lo < hi, positive when log).
    pub fn fit(values: impl IntoIterator<Item = f64>, log: bool, pad: f64, range: Option<(f64, f64)>) -> Axis {
        if let Some((a, b)) = range {
            if a.is_finite() && b.is_finite() && a != b && (!log || a.min(b) > 0.0) {
                return Axis { lo: a.min(b), hi: a.max(b), log };
            }
        }
        let mut r: Option<(f64, f64)> = None;
        for v in values {
            if v.is_finite() && (!log || v > 0.0) {
                r = Some(r.map_or((v, v), |(a, b)| (a.min(v), b.max(v))));
            }
        }
        if log {
            let (a, b) = r.map_or((1.0, 10.0), |(a, b)| (a.log10(), b.log10()));
            let (a, b) = if b - a < 1e-12 { (a - 0.5, b + 0.5) } else { (a, b) };
            let p = (b - a) * pad;
            Axis { lo: 10f64.powf(a - p), hi: 10f64.powf(b + p), log: true }
        } else {
            let (a, b) = r.unwrap_or((0.0, 1.0));
            let (a, b) = if b - a <= (a.abs() + b.abs()) * 1e-12 {
                let d = if a == 0.0 { 0.5 } else { a.abs() * 0.1 };
                (a - d, b + d)
            } else {
                (a, b)
            };
            let p = (b - a) * pad;
            Axis { lo: a - p, hi: b + p, log: false }
        }
    }

    /// Position of `v` along the axis in [0, 1] (outside for values out of range; NaN for
    /// non-positive values on a log axis).
    pub fn frac(&self, v: f64) -> f64 {
        if self.log {
            if v <= 0.0 {
                return f64::NAN;
            }
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// Ticks, about `max_ticks` of them.
    pub fn ticks(&self, max_ticks: usize) -> Vec<Tick> {
        if self.log {
            log_ticks(self.lo, self.hi, max_ticks)
        } else {
            let t = nice_ticks(self.lo, self.hi, max_ticks);
            let l = linear_labels(&t);
            t.into_iter().zip(l).map(|(value, label)| Tick { value, label, major: true }).collect()
        }
    }
}

/// Pick ticks along a `length`-pixel axis so labels (measured) do not crowd.
fn fit_ticks(axis: &Axis, length: f64, px: f64, horizontal: bool) -> Vec<Tick> {
    let mut max = if horizontal { (length / (px * 4.0)).floor() as usize } else { (length / (px * 2.6)).floor() as usize };
    max = max.clamp(2, 12);
    loop {
        let t = axis.ticks(max);
        let need: f64 = if horizontal {
            t.iter().filter(|t| t.major).map(|t| text::measure(&t.label, px).w + px * 1.2).sum()
        } else {
            t.iter().filter(|t| t.major).count() as f64 * px * 1.6
        };
        if need <= length || max <= 2 {
            return t;
        }
        max -= 1;
    }
}

/// What a 2-D figure needs laid out.
#[derive(Clone, Debug)]
pub struct AxesSpec<'a> {
    /// Figure title.
    pub title: &'a str,
    /// Horizontal axis.
    pub x: Axis,
    /// Left vertical axis.
    pub y: Axis,
    /// Optional right vertical axis.
    pub y2: Option<Axis>,
    /// Horizontal axis label.
    pub x_label: &'a str,
    /// Left axis label.
    pub y_label: &'a str,
    /// Right axis label.
    pub y2_label: &'a str,
    /// Colour of the left axis ticks and label.
    pub y_color: Color,
    /// Colour of the right axis ticks and label.
    pub y2_color: Color,
    /// Colour bar: scale, label, optional band boundaries (discrete bar).
    pub colorbar: Option<(ColorScale, &'a str, Option<Vec<f64>>)>,
    /// Extra space above the frame (e.g. for annotations).
    pub extra_top: f64,
    /// Extra space below the x label (e.g. for a legend).
    pub extra_bottom: f64,
    /// Keep one data unit the same length on both axes when the ranges are comparable.
    pub equal_aspect: bool,
    /// Light grid lines at major ticks.
    pub grid: bool,
}

impl<'a> AxesSpec<'a> {
    /// A spec with plain black axes, no right axis, no colour bar.
    pub fn new(title: &'a str, x: Axis, y: Axis, x_label: &'a str, y_label: &'a str) -> AxesSpec<'a> {
        AxesSpec {
            title,
            x,
            y,
            y2: None,
            x_label,
            y_label,
            y2_label: "",
            y_color: INK,
            y2_color: INK,
            colorbar: None,
            extra_top: 0.0,
            extra_bottom: 0.0,
            equal_aspect: false,
            grid: false,
        }
    }
}

/// A laid-out 2-D figure: the frame (plot area) and everything around it.
pub struct Axes<'a> {
    /// The spec it was laid out from.
    pub spec: AxesSpec<'a>,
    /// Sizes.
    pub st: Style,
    /// Plot area in pixels (integer edges).
    pub frame: Rect,
    /// Figure size.
    pub size: (u32, u32),
    xt: Vec<Tick>,
    yt: Vec<Tick>,
    y2t: Vec<Tick>,
    cbar: Option<(Rect, Vec<Tick>)>,
}

/// Width needed right of a colour bar for its ticks and label.
fn colorbar_side(st: &Style, ticks: &[Tick], label: &str) -> f64 {
    let tw = ticks.iter().map(|t| text::measure(&t.label, st.tick).w).fold(0.0, f64::max);
    st.tick_len + 4.0 + tw + if label.is_empty() { 0.0 } else { st.pad * 0.8 + st.label }
}

/// Ticks for a colour bar of height `h`.
pub fn colorbar_ticks(scale: &ColorScale, h: f64, st: &Style) -> Vec<Tick> {
    fit_ticks(&Axis { lo: scale.lo, hi: scale.hi, log: scale.log }, h, st.tick, false)
}

/// Total width a colour bar takes right of its plot: gap, bar, ticks, labels.
pub fn colorbar_width(scale: &ColorScale, label: &str, h: f64, st: &Style) -> f64 {
    let t = colorbar_ticks(scale, h, st);
    colorbar_gap(st) + colorbar_bar(st) + colorbar_side(st, &t, label)
}

fn colorbar_gap(st: &Style) -> f64 {
    (st.pad * 2.0).round()
}

fn colorbar_bar(st: &Style) -> f64 {
    (st.tick * 1.25).round()
}

impl<'a> Axes<'a> {
    /// Lay out a `w` x `h` figure.
    pub fn new(w: u32, h: u32, spec: AxesSpec<'a>) -> Axes<'a> {
        let st = Style::for_size(w, h);
        let (wf, hf) = (w as f64, h as f64);
        let title_h = if spec.title.is_empty() { 0.0 } else { st.title + st.pad * 0.8 };
        let top = (st.pad + title_h + spec.extra_top).round();
        let xl_h = if spec.x_label.is_empty() { 0.0 } else { st.label + st.pad * 0.5 };
        let bottom = (st.tick_len + 3.0 + st.tick + st.pad * 0.5 + xl_h + st.pad + spec.extra_bottom).round();
        let ph = (hf - top - bottom).max(10.0);
        let yt = fit_ticks(&spec.y, ph, st.tick, false);
        let label_w = |t: &[Tick]| t.iter().map(|t| text::measure(&t.label, st.tick).w).fold(0.0, f64::max);
        let side = |t: &[Tick], l: &str| st.pad + if l.is_empty() { 0.0 } else { st.label + st.pad * 0.6 } + label_w(t) + st.tick_len + 4.0;
        let left = side(&yt, spec.y_label).round();
        let y2t = spec.y2.map(|a| fit_ticks(&a, ph, st.tick, false)).unwrap_or_default();
        let mut right = if spec.y2.is_some() { side(&y2t, spec.y2_label) } else { st.pad };
        if let Some((sc, l, _)) = &spec.colorbar {
            right = right.max(colorbar_width(sc, l, ph, &st) + st.pad);
        }
        // Room for half of the last x tick label.
        let last = spec.x.ticks(8).last().map_or(0.0, |t| text::measure(&t.label, st.tick).w);
        right = right.max(st.pad + last / 2.0).round();
        let mut frame = Rect::new(left, top, (wf - right).max(left + 10.0), (hf - bottom).max(top + 10.0));
        if spec.equal_aspect && !spec.x.log && !spec.y.log {
            let ratio = (spec.x.hi - spec.x.lo) / (spec.y.hi - spec.y.lo);
            if (0.5..=2.0).contains(&ratio) {
                if frame.w() / frame.h() > ratio {
                    let nw = (frame.h() * ratio).round();
                    let shift = ((frame.w() - nw) / 2.0).round();
                    frame = Rect::new(frame.x0 + shift, frame.y0, frame.x0 + shift + nw, frame.y1);
                } else {
                    let nh = (frame.w() / ratio).round();
                    frame = Rect::new(frame.x0, frame.y0, frame.x1, frame.y0 + nh);
                }
            }
        }
        let xt = fit_ticks(&spec.x, frame.w(), st.tick, true);
        let yt = fit_ticks(&spec.y, frame.h(), st.tick, false);
        let y2t = spec.y2.map(|a| fit_ticks(&a, frame.h(), st.tick, false)).unwrap_or_default();
        let cbar = spec.colorbar.as_ref().map(|(sc, _, _)| {
            let x0 = frame.x1 + colorbar_gap(&st);
            let r = Rect::new(x0, frame.y0, x0 + colorbar_bar(&st), frame.y1);
            (r, colorbar_ticks(sc, frame.h(), &st))
        });
        Axes { spec, st, frame, size: (w, h), xt, yt, y2t, cbar }
    }

    /// Pixel x of data value `x`.
    pub fn px(&self, x: f64) -> f64 {
        self.frame.x0 + self.spec.x.frac(x) * self.frame.w()
    }

    /// Pixel y of left-axis value `y`.
    pub fn py(&self, y: f64) -> f64 {
        self.frame.y1 - self.spec.y.frac(y) * self.frame.h()
    }

    /// Pixel y of right-axis value `y` (left axis when there is none).
    pub fn py2(&self, y: f64) -> f64 {
        match &self.spec.y2 {
            Some(a) => self.frame.y1 - a.frac(y) * self.frame.h(),
            None => self.py(y),
        }
    }

    /// Bottom of the x-axis label: where a legend may start.
    pub fn below_xlabel(&self) -> f64 {
        let xl_h = if self.spec.x_label.is_empty() { 0.0 } else { self.st.label + self.st.pad * 0.5 };
        self.frame.y1 + self.st.tick_len + 3.0 + self.st.tick + self.st.pad * 0.5 + xl_h
    }

    /// Draw the title and the grid (before the data).
    pub fn draw_background(&self, c: &mut Canvas) {
        draw_title(c, self.spec.title, self.frame.x0 + self.frame.w() / 2.0, &self.st);
        if self.spec.grid {
            for t in self.xt.iter().filter(|t| t.major) {
                let x = snap(self.px(t.value));
                if x > self.frame.x0 + 1.0 && x < self.frame.x1 - 1.0 {
                    c.line(x, self.frame.y0, x, self.frame.y1, 1.0, GRID);
                }
            }
            for t in self.yt.iter().filter(|t| t.major) {
                let y = snap(self.py(t.value));
                if y > self.frame.y0 + 1.0 && y < self.frame.y1 - 1.0 {
                    c.line(self.frame.x0, y, self.frame.x1, y, 1.0, GRID);
                }
            }
        }
    }

    /// Draw the frame, ticks, tick labels, axis labels and colour bar (after the data).
    pub fn draw_frame(&self, c: &mut Canvas) {
        c.set_clip(None);
        let st = &self.st;
        let f = self.frame;
        let (l, r, t, b) = (f.x0 - 0.5, f.x1 + 0.5, f.y0 - 0.5, f.y1 + 0.5);
        c.polyline(&[(l, t), (r, t), (r, b), (l, b), (l, t)], 1.0, INK, 1.0, Dash::Solid);
        for tk in &self.xt {
            let x = snap(self.px(tk.value));
            let len = if tk.major { st.tick_len } else { st.tick_len * 0.55 };
            c.line(x, b, x, b + len, 1.0, INK);
            if tk.major {
                Label::new(&tk.label, st.tick, INK, HAlign::Center, VAlign::Top).draw(c, x, b + st.tick_len + 3.0);
            }
        }
        let ytl = self.axis_ticks(c, &self.yt, l, -1.0, self.spec.y_color, false);
        if !self.spec.y_label.is_empty() {
            let x = l - st.tick_len - 4.0 - ytl - st.pad * 0.6;
            let lab = text::fit(self.spec.y_label, st.label, f.h() + st.pad * 4.0);
            Label::new(&lab, st.label, self.spec.y_color, HAlign::Center, VAlign::Bottom).rotated(90.0).draw(c, x, f.y0 + f.h() / 2.0);
        }
        if self.spec.y2.is_some() {
            let ytr = self.axis_ticks(c, &self.y2t, r, 1.0, self.spec.y2_color, true);
            if !self.spec.y2_label.is_empty() {
                let x = r + st.tick_len + 4.0 + ytr + st.pad * 0.6;
                let lab = text::fit(self.spec.y2_label, st.label, f.h() + st.pad * 4.0);
                Label::new(&lab, st.label, self.spec.y2_color, HAlign::Center, VAlign::Top).rotated(90.0).draw(c, x, f.y0 + f.h() / 2.0);
            }
        }
        if !self.spec.x_label.is_empty() {
            let y = b + st.tick_len + 3.0 + st.tick + st.pad * 0.5;
            let lab = text::fit(self.spec.x_label, st.label, self.size.0 as f64 - 2.0 * st.pad);
            let w = text::measure(&lab, st.label).w;
            let cx = (f.x0 + f.w() / 2.0).clamp(st.pad + w / 2.0, (self.size.0 as f64 - st.pad - w / 2.0).max(st.pad + w / 2.0));
            Label::new(&lab, st.label, INK, HAlign::Center, VAlign::Top).draw(c, cx, y);
        }
        if let (Some((rect, ticks)), Some((sc, label, bands))) = (&self.cbar, &self.spec.colorbar) {
            draw_colorbar(c, *rect, sc, bands.as_deref(), ticks, label, st);
        }
    }

    /// Ticks of a vertical axis at pixel column `x` going `dir` (-1 left, +1 right);
    /// returns the widest label.
    fn axis_ticks(&self, c: &mut Canvas, ticks: &[Tick], x: f64, dir: f64, color: Color, right: bool) -> f64 {
        let st = &self.st;
        let mut widest: f64 = 0.0;
        for tk in ticks {
            let y = snap(if right { self.py2(tk.value) } else { self.py(tk.value) });
            let len = if tk.major { st.tick_len } else { st.tick_len * 0.55 };
            c.line(x, y, x + dir * len, y, 1.0, INK);
            if tk.major {
                widest = widest.max(text::measure(&tk.label, st.tick).w);
                let h = if dir < 0.0 { HAlign::Right } else { HAlign::Left };
                Label::new(&tk.label, st.tick, color, h, VAlign::Center).draw(c, x + dir * (st.tick_len + 3.0), y);
            }
        }
        widest
    }
}

/// Centre of the pixel containing `v` (crisp 1-px lines).
pub fn snap(v: f64) -> f64 {
    v.floor() + 0.5
}

/// Draw a figure title centred at `cx` near the top, kept inside the canvas.
pub fn draw_title(c: &mut Canvas, title: &str, cx: f64, st: &Style) {
    if title.is_empty() {
        return;
    }
    let w = c.width() as f64;
    let avail = w - 2.0 * st.pad;
    // Shrink the font (down to 80 %) before shortening the title with an ellipsis.
    let full = text::measure(title, st.title).w;
    let px = if full > avail { (st.title * avail / full).max(st.title * 0.8) } else { st.title };
    let t = text::fit(title, px, avail);
    let tw = text::measure(&t, px).w;
    let cx = cx.clamp(st.pad + tw / 2.0, (w - st.pad - tw / 2.0).max(st.pad + tw / 2.0));
    Label::new(&t, px, INK, HAlign::Center, VAlign::Top).draw(c, cx, st.pad + (st.title - px) / 2.0);
}

/// Draw a vertical colour bar in `rect`: continuous, or banded when `bands` (boundaries) is given.
pub fn draw_colorbar(c: &mut Canvas, rect: Rect, sc: &ColorScale, bands: Option<&[f64]>, ticks: &[Tick], label: &str, st: &Style) {
    let (y0, y1) = (rect.y0.round() as i64, rect.y1.round() as i64);
    let h = (y1 - y0).max(1) as f64;
    match bands {
        Some(b) if b.len() >= 2 => {
            for w in b.windows(2) {
                let mid = if sc.log && w[0] > 0.0 { (w[0] * w[1]).sqrt() } else { (w[0] + w[1]) / 2.0 };
                let (Some(ta), Some(tb), Some(col)) = (sc.t(w[0]), sc.t(w[1]), sc.color(mid)) else { continue };
                let r = Rect::new(rect.x0, rect.y1 - tb * rect.h(), rect.x1, rect.y1 - ta * rect.h());
                c.fill_rect(r, col, 1.0);
            }
        }
        _ => {
            for y in y0..y1 {
                let t = 1.0 - (y - y0) as f64 / (h - 1.0).max(1.0);
                c.fill_rect(Rect::new(rect.x0, y as f64, rect.x1, y as f64 + 1.0), super::colormap::viridis(t), 1.0);
            }
        }
    }
    let (l, r, t, b) = (rect.x0 - 0.5, rect.x1 + 0.5, rect.y0 - 0.5, rect.y1 + 0.5);
    c.polyline(&[(l, t), (r, t), (r, b), (l, b), (l, t)], 1.0, INK, 1.0, Dash::Solid);
    let mut widest: f64 = 0.0;
    for tk in ticks {
        let Some(tt) = sc.t(tk.value) else { continue };
        let y = snap(rect.y1 - tt * rect.h());
        let len = if tk.major { st.tick_len } else { st.tick_len * 0.55 };
        c.line(r, y, r + len, y, 1.0, INK);
        if tk.major {
            widest = widest.max(text::measure(&tk.label, st.tick).w);
            Label::new(&tk.label, st.tick, INK, HAlign::Left, VAlign::Center).draw(c, r + st.tick_len + 3.0, y);
        }
    }
    if !label.is_empty() {
        let x = r + st.tick_len + 4.0 + widest + st.pad * 0.8;
        let lab = text::fit(label, st.label, rect.h() + st.pad * 6.0);
        Label::new(&lab, st.label, INK, HAlign::Center, VAlign::Top).rotated(90.0).draw(c, x, rect.y0 + rect.h() / 2.0);
    }
}

/// One legend entry: a line sample (and/or a marker) and its text.
#[derive(Clone, Debug)]
pub struct LegendEntry {
    /// Text.
    pub label: String,
    /// Colour of the sample.
    pub color: Color,
    /// Line style of the sample (`None`: marker only).
    pub dash: Option<Dash>,
    /// Marker drawn on the sample.
    pub marker: Option<Marker>,
}

/// A legend laid out in columns, drawn without a box below the plot.
pub struct Legend {
    columns: Vec<Vec<LegendEntry>>,
    px: f64,
}

impl Legend {
    const SAMPLE: f64 = 30.0;

    /// A legend with the given columns at text height `px`.
    pub fn new(columns: Vec<Vec<LegendEntry>>, px: f64) -> Legend {
        Legend { columns: columns.into_iter().filter(|c| !c.is_empty()).collect(), px }
    }

    /// Split entries into as many columns (up to 3) as fit in `max_w`.
    pub fn flowing(entries: Vec<LegendEntry>, px: f64, max_w: f64) -> Legend {
        for ncol in (1..=3usize.min(entries.len().max(1))).rev() {
            let rows = entries.len().div_ceil(ncol);
            let cols: Vec<Vec<LegendEntry>> = entries.chunks(rows.max(1)).map(|c| c.to_vec()).collect();
            let l = Legend::new(cols, px);
            if l.width() <= max_w {
                return l;
            }
        }
        // One column; labels too long for the figure are shortened.
        let room = max_w - Self::SAMPLE * px / 15.0 - px * 0.6;
        let entries = entries.into_iter().map(|e| LegendEntry { label: text::fit(&e.label, px, room), ..e }).collect();
        Legend::new(vec![entries], px)
    }

    fn row_h(&self) -> f64 {
        self.px * 1.45
    }

    fn col_w(&self, col: &[LegendEntry]) -> f64 {
        let s = self.px / 15.0;
        Self::SAMPLE * s + self.px * 0.6 + col.iter().map(|e| text::measure(&e.label, self.px).w).fold(0.0, f64::max)
    }

    /// Total width.
    pub fn width(&self) -> f64 {
        let gap = self.px * 2.5;
        self.columns.iter().map(|c| self.col_w(c)).sum::<f64>() + gap * (self.columns.len().saturating_sub(1)) as f64
    }

    /// Total height.
    pub fn height(&self) -> f64 {
        self.columns.iter().map(|c| c.len()).max().unwrap_or(0) as f64 * self.row_h()
    }

    /// Draw with its top edge at `y`, horizontally centred at `cx` (kept inside the canvas).
    pub fn draw(&self, c: &mut Canvas, cx: f64, y: f64) {
        let s = self.px / 15.0;
        let w = self.width();
        let mut x = (cx - w / 2.0).clamp(2.0, (c.width() as f64 - w - 2.0).max(2.0));
        for col in &self.columns {
            for (i, e) in col.iter().enumerate() {
                let ym = y + (i as f64 + 0.5) * self.row_h();
                let x1 = x + Self::SAMPLE * s;
                if let Some(d) = e.dash {
                    c.polyline(&[(x, ym), (x1, ym)], 2.0 * s, e.color, 1.0, d);
                }
                if let Some(m) = e.marker {
                    c.marker((x + x1) / 2.0, ym, 3.5 * s * if m == Marker::Star { 1.6 } else { 1.0 }, m, e.color);
                }
                Label::new(&e.label, self.px, INK, HAlign::Left, VAlign::Center).draw(c, x1 + self.px * 0.6, ym);
            }
            x += self.col_w(col) + self.px * 2.5;
        }
    }
}

/// Write "no data" in the middle of `r`.
pub fn draw_no_data(c: &mut Canvas, r: Rect, st: &Style) {
    c.fill_rect(r, WHITE, 1.0);
    Label::new("no data", st.label * 1.2, [120, 120, 120], HAlign::Center, VAlign::Center).draw(c, r.x0 + r.w() / 2.0, r.y0 + r.h() / 2.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_are_nice() {
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(linear_labels(&nice_ticks(0.0, 1.0, 5)), vec!["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(nice_ticks(-1.0, 1.0, 8), vec![-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(linear_labels(&[-1.0, -0.75, 0.0])[..2], ["\u{2212}1.00", "\u{2212}0.75"]);
        let t = nice_ticks(-0.25, 1.25, 8);
        assert_eq!(linear_labels(&t), vec!["\u{2212}0.2", "0.0", "0.2", "0.4", "0.6", "0.8", "1.0", "1.2"]);
        let t = nice_ticks(3.0, 97.0, 5);
        assert_eq!(t, vec![20.0, 40.0, 60.0, 80.0]);
        for (lo, hi, m) in [(0.0013, 0.0071, 6), (-5e6, 3e7, 7), (1.0, 1.0 + 1e-9, 4), (-3.3, -3.1, 5)] {
            let t = nice_ticks(lo, hi, m);
            assert!(!t.is_empty() && t.len() <= m + 1, "{lo} {hi} {t:?}");
            let step = t.get(1).map_or(1.0, |b| b - t[0]);
            let mant = step / 10f64.powf(step.log10().floor());
            assert!([1.0, 2.0, 2.5, 5.0].iter().any(|m| (m - mant).abs() < 1e-6), "{step}");
            assert!(t.iter().all(|&v| v >= lo - 1e-12 && v <= hi + 1e-12));
        }
        assert_eq!(nice_ticks(2.0, 2.0, 5), vec![2.0]);
        assert!(nice_ticks(f64::NAN, 1.0, 5).is_empty());
        assert_eq!(linear_labels(&[0.0, 50000.0, 100000.0, 150000.0]), vec!["0", "0.5e5", "1.0e5", "1.5e5"]);
    }

    #[test]
    fn log_ticks_at_decades() {
        let t = log_ticks(0.005, 2e5, 10);
        let majors: Vec<&str> = t.iter().filter(|t| t.major).map(|t| t.label.as_str()).collect();
        assert_eq!(majors, vec!["10⁻²", "10⁻¹", "10⁰", "10¹", "10²", "10³", "10⁴", "10⁵"]);
        assert!(!t.iter().any(|t| !t.major), "no minor ticks over many decades");
        let t = log_ticks(0.005, 2e3, 8);
        assert!(t.iter().any(|t| !t.major && (t.value - 0.02).abs() < 1e-12));
        let t = log_ticks(0.01, 7.0, 12);
        let v: Vec<String> = t.iter().map(|t| t.label.clone()).collect();
        assert_eq!(v, vec!["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2", "5"]);
        let t = log_ticks(1e-30, 1e30, 6);
        assert!(t.iter().filter(|t| t.major).count() <= 7);
        assert!(log_ticks(-1.0, 1.0, 5).is_empty());
        assert!(!log_ticks(2.0, 3.0, 5).is_empty());
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_g(0.05), "0.05");
        assert_eq!(fmt_g(2.0), "2");
        assert_eq!(fmt_g(0.123456), "0.123");
        assert_eq!(fmt_g(150.0), "150");
        assert_eq!(fmt_g(-1.5), "\u{2212}1.5");
        assert_eq!(fmt_g(120000.0), "1.2e5");
        assert_eq!(pow10_label(-12), "10⁻¹²");
    }

    #[test]
    fn axis_fit_is_always_valid() {
        let a = Axis::fit([f64::NAN], false, 0.05, None);
        assert!(a.hi > a.lo);
        let a = Axis::fit([3.0, 3.0], true, 0.05, None);
        assert!(a.lo > 0.0 && a.hi > a.lo);
        let a = Axis::fit([-1.0, 0.0], true, 0.05, None);
        assert!(a.lo > 0.0 && a.hi > a.lo);
        let a = Axis::fit([0.0, 10.0], false, 0.0, Some((0.0, 100.0)));
        assert_eq!((a.lo, a.hi), (0.0, 100.0));
        assert_eq!(a.frac(50.0), 0.5);
    }
}
