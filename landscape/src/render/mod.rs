//! # render: loss-landscape figures as PNG, drawn from scratch
//!
//! Plain data in, an [`RgbImage`] out; no plotting library. Every figure has a
//! title, axis labels, "nice" numeric ticks (1, 2, 5 x 10^k; decades on log
//! axes) and, where colour carries a value, a colour bar (viridis). Margins are
//! computed from measured text, so labels are not clipped; degenerate input
//! (empty series, NaN cells, a constant surface, a single point) still gives a
//! valid figure, with "no data" where there is nothing to draw.
//!
//! Figures:
//! - [`line_plot`]: 1-D curves, optional shaded bands, a second (right) axis,
//!   log scale on the left axis, a legend under the plot (Goodfellow-style
//!   interpolation: loss and accuracy against alpha).
//! - [`contour_plot`], [`filled_contour_plot`], [`heatmap()`]: a 2-D grid of values
//!   (Li et al. planes), with contour labels and an optional trajectory overlay.
//! - [`surface3d()`]: a shaded 3-D surface seen from an elevation and azimuth.
//! - [`trajectory_plot`]: an optimisation path over contours, labelled checkpoints.
//! - [`density_plot`]: a spectral density (Hessian eigenvalues) on a log axis.
//! - [`side_by_side`]: panels in a row under a common title (give them a shared
//!   colour `range` so the colours compare).
//!
//! Colour scales ([`ZScale`]) are logarithmic by default when the values are
//! positive and span two decades or more, as loss surfaces do; contour levels
//! then follow 1-2-5 steps.
//!
//! Layout of the code: [`canvas`] (pixels, antialiased strokes, polygons,
//! markers), [`text`] (embedded DejaVu Sans, measured and rotated text),
//! [`axes`] (ticks, layout, frames, colour bar, legend), [`colormap`],
//! and one module per figure kind.

pub mod axes;
pub mod canvas;
pub mod colormap;
pub mod contour;
pub mod density;
pub mod heatmap;
pub mod line;
pub mod surface3d;
pub mod text;
pub mod trajectory;

#[cfg(test)]
mod tests;

pub use colormap::{viridis, ZScale};
pub use contour::{contour_plot, filled_contour_plot};
pub use density::density_plot;
pub use heatmap::heatmap;
pub use image::RgbImage;
pub use line::line_plot;
pub use surface3d::surface3d;
pub use trajectory::trajectory_plot;

use axes::{draw_title, Style};
use canvas::{Canvas, WHITE};
use std::path::Path;

/// Size, title and axis labels of a figure, and a few optional settings.
#[derive(Clone, Debug, PartialEq)]
pub struct FigureOptions {
    /// Image width in pixels (at least 16 is used).
    pub width: u32,
    /// Image height in pixels (at least 16 is used).
    pub height: u32,
    /// Title drawn at the top.
    pub title: String,
    /// Horizontal axis label.
    pub x_label: String,
    /// Vertical axis label.
    pub y_label: String,
    /// Label of the value axis: the colour bar of 2-D figures and the vertical axis of [`surface3d()`].
    pub z_label: String,
    /// Colour scale of 2-D and 3-D figures.
    pub z_scale: ZScale,
    /// Fixed range of the left axis of [`line_plot`] (default: fit the data).
    pub y_range: Option<(f64, f64)>,
    /// Fixed range of the right axis of [`line_plot`] (e.g. `(0, 100)` for accuracy in %).
    pub right_range: Option<(f64, f64)>,
    /// Vertical marker lines with a caption above the plot (x value, caption), e.g. "init" at 0.
    pub vlines: Vec<(f64, String)>,
}

impl Default for FigureOptions {
    fn default() -> Self {
        FigureOptions {
            width: 800,
            height: 600,
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            z_label: String::new(),
            z_scale: ZScale::Auto,
            y_range: None,
            right_range: None,
            vlines: Vec::new(),
        }
    }
}

impl FigureOptions {
    /// An 800 x 600 figure with this title and axis labels.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> FigureOptions {
        FigureOptions { title: title.into(), x_label: x_label.into(), y_label: y_label.into(), ..Default::default() }
    }

    /// The same options with the colour-bar / vertical-axis label `z_label`.
    pub fn with_z_label(mut self, z_label: &str) -> FigureOptions {
        self.z_label = z_label.into();
        self
    }

    /// The same options at another size.
    pub fn with_size(mut self, width: u32, height: u32) -> FigureOptions {
        self.width = width;
        self.height = height;
        self
    }

    pub(crate) fn size(&self) -> (u32, u32) {
        (self.width.max(16), self.height.max(16))
    }
}

/// One curve of a [`line_plot`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates (same length as `x`; extra values on either side are ignored; NaN breaks the line).
    pub y: Vec<f64>,
    /// Optional shaded band: (lower, upper), same length as `x`.
    pub band: Option<(Vec<f64>, Vec<f64>)>,
}

impl Series {
    /// A curve without a band.
    pub fn new(label: &str, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series { label: label.into(), x, y, band: None }
    }
}

/// Values on a rectangular grid: `z[j * x.len() + i]` is the value at `(x[i], y[j])`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grid2 {
    /// Grid abscissae (increasing or decreasing).
    pub x: Vec<f64>,
    /// Grid ordinates (increasing or decreasing).
    pub y: Vec<f64>,
    /// Row-major values, `y.len()` rows of `x.len()`; NaN marks a missing point.
    pub z: Vec<f64>,
}

impl Grid2 {
    /// Tabulate `f(x, y)` on a grid.
    pub fn from_fn(x: Vec<f64>, y: Vec<f64>, f: impl Fn(f64, f64) -> f64) -> Grid2 {
        let z = y.iter().flat_map(|&yy| x.iter().map(|&xx| f(xx, yy)).collect::<Vec<_>>()).collect();
        Grid2 { x, y, z }
    }

    /// `n` evenly spaced values from `lo` to `hi` (inclusive).
    pub fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
        match n {
            0 => Vec::new(),
            1 => vec![lo],
            _ => (0..n).map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64).collect(),
        }
    }

    /// The value at column `i`, row `j`.
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.z[j * self.x.len() + i]
    }

    /// A clean copy: finite, strictly increasing coordinates (decreasing ones reversed with
    /// their values), `z` padded with NaN or cut to size; `None` when there is nothing to draw.
    pub(crate) fn normalized(&self) -> Option<Grid2> {
        let (nx, ny) = (self.x.len(), self.y.len());
        if nx == 0 || ny == 0 || self.x.iter().chain(&self.y).any(|v| !v.is_finite()) {
            return None;
        }
        let mono = |v: &[f64]| v.windows(2).all(|w| w[1] > w[0]) || v.windows(2).all(|w| w[1] < w[0]);
        if !mono(&self.x) || !mono(&self.y) {
            return None;
        }
        let rx = nx > 1 && self.x[1] < self.x[0];
        let ry = ny > 1 && self.y[1] < self.y[0];
        let mut g = Grid2 { x: self.x.clone(), y: self.y.clone(), z: vec![f64::NAN; nx * ny] };
        if rx {
            g.x.reverse();
        }
        if ry {
            g.y.reverse();
        }
        for j in 0..ny {
            for i in 0..nx {
                let (si, sj) = (if rx { nx - 1 - i } else { i }, if ry { ny - 1 - j } else { j });
                let v = self.z.get(sj * nx + si).copied().unwrap_or(f64::NAN);
                g.z[j * nx + i] = if v.is_finite() { v } else { f64::NAN };
            }
        }
        if g.z.iter().all(|v| v.is_nan()) {
            return None;
        }
        Some(g)
    }
}

/// An optimisation path in the plane of a 2-D plot, with a caption per checkpoint.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trajectory {
    /// Checkpoint abscissae.
    pub x: Vec<f64>,
    /// Checkpoint ordinates.
    pub y: Vec<f64>,
    /// Caption per checkpoint (e.g. "ep 3: 0.12"); missing or empty captions are not drawn.
    pub labels: Vec<String>,
}

/// Panels in a row, top-aligned, under a common title (the panels keep their own titles).
/// Give the panels the same colour `range` so their colours compare.
pub fn side_by_side(panels: &[RgbImage], title: &str) -> RgbImage {
    let w: u32 = panels.iter().map(|p| p.width()).sum::<u32>().max(16);
    let ph = panels.iter().map(|p| p.height()).max().unwrap_or(0);
    let st = Style::for_size(w.min(1000), ph.clamp(300, 800));
    let title_h = if title.is_empty() { 0 } else { (st.title * 1.3 + st.pad * 1.5).round() as u32 };
    let h = (ph + title_h).max(16);
    let mut c = Canvas::new(w, h, WHITE);
    draw_title(&mut c, title, w as f64 / 2.0, &Style { title: st.title * 1.1, ..st });
    let mut x0 = 0u32;
    for p in panels {
        image::imageops::replace(&mut c.img, p, x0 as i64, title_h as i64);
        x0 += p.width();
    }
    if panels.is_empty() {
        axes::draw_no_data(&mut c, canvas::Rect::new(0.0, title_h as f64, w as f64, h as f64), &st);
    }
    c.img
}

/// Write a PNG atomically: to `path` + ".tmp", then rename over `path`.
pub fn save_png(img: &RgbImage, path: &Path) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let res = img.save_with_format(&tmp, image::ImageFormat::Png).map_err(|e| match e {
        image::ImageError::IoError(e) => e,
        other => std::io::Error::other(other.to_string()),
    });
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path)
}
