//! 1-D curves: loss (left axis, linear or log) and accuracy (right axis) along
//! a line in parameter space, with optional shaded bands, vertical marker
//! lines with captions, and one legend under the plot.

use super::axes::{draw_no_data, snap, Axes, AxesSpec, Axis, Legend, LegendEntry};
use super::canvas::{Canvas, Color, Dash, Rect, WHITE};
use super::text::{HAlign, Label, VAlign};
use super::{FigureOptions, RgbImage, Series};

/// matplotlib's "tab10" colours.
pub const TAB10: [Color; 10] = [
    [0x1f, 0x77, 0xb4],
    [0xff, 0x7f, 0x0e],
    [0x2c, 0xa0, 0x2c],
    [0xd6, 0x27, 0x28],
    [0x94, 0x67, 0xbd],
    [0x8c, 0x56, 0x4b],
    [0xe3, 0x77, 0xc2],
    [0x7f, 0x7f, 0x7f],
    [0xbc, 0xbd, 0x22],
    [0x17, 0xbe, 0xcf],
];

const DASHES: [Dash; 4] = [Dash::Solid, Dash::Dashed, Dash::Dotted, Dash::DashDot];

/// Style of the k-th series: with two axes, each axis has one colour family
/// (blue left, red right) and the series of an axis differ by dash pattern
/// (train solid, test dashed, ...); with one axis, colours cycle through tab10.
fn series_style(k: usize, right: bool, twin: bool) -> (Color, Dash) {
    if !twin {
        return (TAB10[k % 10], Dash::Solid);
    }
    let fam: [Color; 3] = if right { [TAB10[3], TAB10[1], TAB10[5]] } else { [TAB10[0], TAB10[4], TAB10[9]] };
    (fam[(k / 4) % 3], DASHES[k % 4])
}

/// Finite (x, y) values of a series, bands included.
fn series_values(s: &Series) -> impl Iterator<Item = (f64, f64)> + '_ {
    let band = s.band.iter().flat_map(|(lo, hi)| s.x.iter().zip(lo).chain(s.x.iter().zip(hi)).map(|(&x, &y)| (x, y)));
    s.x.iter().zip(&s.y).map(|(&x, &y)| (x, y)).chain(band).filter(|(x, y)| x.is_finite() && y.is_finite())
}

/// Plot 1-D curves: `left` series against the left axis (log scale when `log_left`;
/// non-positive values are then skipped), `right` series against a second axis on the
/// right (e.g. accuracy). The left axis label is `left_label` (or `opts.y_label` when
/// empty). A legend is drawn under the plot when there is more than one series; with
/// two axes it has one column per axis. `opts.vlines` draws dotted marker lines with
/// captions above the plot; `opts.y_range` / `opts.right_range` fix the axis ranges.
pub fn line_plot(opts: &FigureOptions, left: &[Series], left_label: &str, right: &[Series], right_label: &str, log_left: bool) -> RgbImage {
    plot_lines(opts, left, left_label, right, right_label, log_left, false).0
}

/// The engine behind [`line_plot`] and [`super::density_plot`]; `fill_under` shades
/// the area under left curves.
pub(crate) fn plot_lines(
    opts: &FigureOptions,
    left: &[Series],
    left_label: &str,
    right: &[Series],
    right_label: &str,
    log_left: bool,
    fill_under: bool,
) -> (RgbImage, Rect) {
    let (w, h) = opts.size();
    let twin = !right.is_empty();
    let keep = |y: f64| !log_left || y > 0.0;
    let lv: Vec<(f64, f64)> = left.iter().flat_map(series_values).filter(|p| keep(p.1)).collect();
    let rv: Vec<(f64, f64)> = right.iter().flat_map(series_values).collect();
    let has_data = !lv.is_empty() || !rv.is_empty();
    let x = Axis::fit(lv.iter().chain(&rv).map(|p| p.0), false, 0.0, None);
    let y = Axis::fit(lv.iter().map(|p| p.1), log_left, 0.05, opts.y_range);
    let y2 = twin.then(|| Axis::fit(rv.iter().map(|p| p.1), false, 0.05, opts.right_range));

    let st = super::axes::Style::for_size(w, h);
    let entry = |s: &Series, k: usize, r: bool| {
        let (color, dash) = series_style(k, r, twin);
        LegendEntry { label: s.label.clone(), color, dash: Some(dash), marker: None }
    };
    let le: Vec<LegendEntry> = left.iter().enumerate().map(|(k, s)| entry(s, k, false)).collect();
    let re: Vec<LegendEntry> = right.iter().enumerate().map(|(k, s)| entry(s, k, true)).collect();
    let legend = (left.len() + right.len() > 1).then(|| {
        let max_w = w as f64 - 2.0 * st.pad;
        if twin {
            // One column per axis when it fits, else one column.
            let two = Legend::new(vec![le.clone(), re.clone()], st.tick);
            if two.width() <= max_w {
                two
            } else {
                Legend::flowing(le.into_iter().chain(re).collect(), st.tick, max_w)
            }
        } else {
            Legend::flowing(le, st.tick, max_w)
        }
    });
    let y_label = if left_label.is_empty() { opts.y_label.as_str() } else { left_label };
    let mut spec = AxesSpec::new(&opts.title, x, y, &opts.x_label, y_label);
    spec.grid = true;
    spec.y2 = y2;
    spec.y2_label = right_label;
    if twin {
        spec.y_color = TAB10[0];
        spec.y2_color = TAB10[3];
    }
    if let Some(l) = &legend {
        spec.extra_bottom = l.height() + st.pad;
    }
    let vlines: Vec<&(f64, String)> = opts.vlines.iter().filter(|v| v.0.is_finite() && v.0 >= x.lo && v.0 <= x.hi).collect();
    if vlines.iter().any(|v| !v.1.is_empty()) {
        spec.extra_top = st.tick * 1.3;
    }
    let ax = Axes::new(w, h, spec);
    let mut c = Canvas::new(w, h, WHITE);
    ax.draw_background(&mut c);
    let f = ax.frame;
    if !has_data {
        draw_no_data(&mut c, f.grow(-1.0), &st);
    }
    for (vx, cap) in &vlines {
        let px = snap(ax.px(*vx));
        c.set_clip(Some(f));
        c.polyline(&[(px, f.y0), (px, f.y1)], 1.0, [90, 90, 90], 1.0, Dash::Dotted);
        c.set_clip(None);
        Label::new(cap, st.tick * 0.9, [70, 70, 70], HAlign::Center, VAlign::Bottom).draw(&mut c, px, f.y0 - 3.0);
    }
    c.set_clip(Some(f));
    let all = left.iter().enumerate().map(|(k, s)| (k, s, false)).chain(right.iter().enumerate().map(|(k, s)| (k, s, true)));
    for (k, s, r) in all {
        let (color, dash) = series_style(k, r, twin);
        let map = |xv: f64, yv: f64| {
            if !(xv.is_finite() && yv.is_finite()) || (!r && !keep(yv)) {
                return (f64::NAN, f64::NAN);
            }
            (ax.px(xv), if r { ax.py2(yv) } else { ax.py(yv) })
        };
        let n = s.x.len().min(s.y.len());
        let pts: Vec<(f64, f64)> = (0..n).map(|i| map(s.x[i], s.y[i])).collect();
        if let Some((lo, hi)) = &s.band {
            let m = n.min(lo.len()).min(hi.len());
            let xs: Vec<f64> = (0..m).map(|i| map(s.x[i], lo[i]).0).collect();
            let l: Vec<f64> = (0..m).map(|i| map(s.x[i], lo[i]).1).collect();
            let u: Vec<f64> = (0..m).map(|i| map(s.x[i], hi[i]).1).collect();
            c.fill_between(&xs, &l, &u, color, 0.22);
        }
        if fill_under && !r {
            let xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
            let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
            let base = vec![f.y1; ys.len()];
            c.fill_between(&xs, &ys, &base, color, 0.18);
        }
        c.polyline(&pts, st.line_w, color, 1.0, dash);
        let finite: Vec<&(f64, f64)> = pts.iter().filter(|p| p.0.is_finite()).collect();
        let spacing = if finite.len() > 1 { f.w() / finite.len() as f64 } else { f64::INFINITY };
        if !fill_under && finite.len() <= 60 && spacing > 6.0 {
            for p in finite {
                c.disc(p.0, p.1, st.line_w * 1.4, color, None);
            }
        }
    }
    ax.draw_frame(&mut c);
    if let Some(l) = &legend {
        l.draw(&mut c, f.x0 + f.w() / 2.0, ax.below_xlabel() + st.pad * 0.8);
    }
    (c.img, f)
}
