//! Colour: the viridis colormap (perceptually uniform, readable in grey and by
//! colour-blind readers) and the value-to-colour scale, linear or logarithmic.

use super::canvas::Color;

/// Viridis at 11 evenly spaced points (matplotlib's values, as published in
/// viridisLite); linear interpolation between them is within a couple of
/// levels of the 256-entry table.
const VIRIDIS: [Color; 11] = [
    [0x44, 0x01, 0x54],
    [0x48, 0x25, 0x76],
    [0x41, 0x44, 0x87],
    [0x35, 0x60, 0x8d],
    [0x2a, 0x78, 0x8e],
    [0x21, 0x90, 0x8c],
    [0x22, 0xa8, 0x84],
    [0x43, 0xbf, 0x71],
    [0x7a, 0xd1, 0x51],
    [0xbb, 0xdf, 0x27],
    [0xfd, 0xe7, 0x25],
];

/// Viridis colour at `t` in [0, 1] (clamped; NaN gives the low end).
pub fn viridis(t: f64) -> Color {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let x = t * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let l = |k: usize| (a[k] as f64 + (b[k] as f64 - a[k] as f64) * f).round() as u8;
    [l(0), l(1), l(2)]
}

/// How values map to colours (and to contour levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ZScale {
    /// Logarithmic when all values are positive and span at least two decades
    /// (loss surfaces usually do), linear otherwise.
    #[default]
    Auto,
    /// Linear.
    Linear,
    /// Logarithmic (falls back to linear when a value is not positive).
    Log,
}

/// A value range mapped onto [0, 1], linearly or logarithmically.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColorScale {
    /// Value at colour 0.
    pub lo: f64,
    /// Value at colour 1.
    pub hi: f64,
    /// Logarithmic mapping.
    pub log: bool,
}

impl ColorScale {
    /// The scale for `values` (NaN and infinities ignored), or for `range` when given.
    /// Degenerate inputs (no finite value, constant value, reversed range) give a valid scale.
    pub fn new(values: &[f64], range: Option<(f64, f64)>, mode: ZScale) -> ColorScale {
        let (mut lo, mut hi) = match range {
            Some((a, b)) if a.is_finite() && b.is_finite() => (a.min(b), a.max(b)),
            _ => finite_range(values).unwrap_or((0.0, 1.0)),
        };
        let log = match mode {
            ZScale::Linear => false,
            ZScale::Log => lo > 0.0,
            ZScale::Auto => lo > 0.0 && hi / lo >= 100.0,
        };
        if hi <= lo {
            if log {
                lo /= 2.0;
                hi *= 2.0;
            } else {
                let d = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
                lo -= d;
                hi += d;
            }
        }
        ColorScale { lo, hi, log }
    }

    /// Position of `v` in [0, 1] (clamped), or `None` for NaN.
    pub fn t(&self, v: f64) -> Option<f64> {
        if v.is_nan() {
            return None;
        }
        let t = if self.log {
            if v <= 0.0 {
                0.0
            } else {
                (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
            }
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        Some(if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) })
    }

    /// The value at position `t` of the scale.
    pub fn value(&self, t: f64) -> f64 {
        if self.log {
            (self.lo.ln() + (self.hi.ln() - self.lo.ln()) * t).exp()
        } else {
            self.lo + (self.hi - self.lo) * t
        }
    }

    /// Viridis colour of `v`, `None` for NaN.
    pub fn color(&self, v: f64) -> Option<Color> {
        self.t(v).map(viridis)
    }
}

/// Smallest and largest finite value.
pub fn finite_range(values: &[f64]) -> Option<(f64, f64)> {
    let mut r: Option<(f64, f64)> = None;
    for &v in values {
        if v.is_finite() {
            r = Some(match r {
                None => (v, v),
                Some((a, b)) => (a.min(v), b.max(v)),
            });
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_endpoints_and_middle() {
        assert_eq!(viridis(0.0), [0x44, 0x01, 0x54]);
        assert_eq!(viridis(1.0), [0xfd, 0xe7, 0x25]);
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(viridis(0.5), [0x21, 0x90, 0x8c]);
        // Luminance rises monotonically.
        let lum = |c: Color| 0.2126 * c[0] as f64 + 0.7152 * c[1] as f64 + 0.0722 * c[2] as f64;
        for k in 0..50 {
            assert!(lum(viridis(k as f64 / 50.0)) < lum(viridis((k + 1) as f64 / 50.0)));
        }
    }

    #[test]
    fn scales() {
        let s = ColorScale::new(&[0.01, 1.0, f64::NAN, 100.0], None, ZScale::Auto);
        assert!(s.log);
        assert!((s.t(1.0).unwrap() - 0.5).abs() < 1e-12);
        assert!((s.value(0.5) - 1.0).abs() < 1e-12);
        assert_eq!(s.t(f64::NAN), None);
        let l = ColorScale::new(&[-1.0, 3.0], None, ZScale::Auto);
        assert!(!l.log);
        assert_eq!(l.t(1.0), Some(0.5));
        let c = ColorScale::new(&[2.0, 2.0], None, ZScale::Auto);
        assert!(c.hi > c.lo);
        let e = ColorScale::new(&[f64::NAN], None, ZScale::Log);
        assert_eq!((e.lo, e.hi, e.log), (0.0, 1.0, false));
        let r = ColorScale::new(&[5.0], Some((10.0, 1.0)), ZScale::Linear);
        assert_eq!((r.lo, r.hi), (1.0, 10.0));
    }
}
