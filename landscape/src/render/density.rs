//! Spectral density: a smoothed density of Hessian eigenvalues (e.g. from
//! stochastic Lanczos quadrature), usually on a log density axis so both the
//! bulk near zero and the few outliers show.

use super::line::plot_lines;
use super::{FigureOptions, RgbImage, Series};

/// Plot `density` against `x` (eigenvalue), shaded underneath; with `log_y` the density
/// axis is logarithmic and non-positive densities are left out. Axis labels default to
/// "eigenvalue" and "density" when `opts` leaves them empty.
pub fn density_plot(opts: &FigureOptions, x: &[f64], density: &[f64], log_y: bool) -> RgbImage {
    let mut o = opts.clone();
    if o.x_label.is_empty() {
        o.x_label = "eigenvalue".into();
    }
    if o.y_label.is_empty() {
        o.y_label = if log_y { "density (log scale)".into() } else { "density".into() };
    }
    let s = Series::new("density", x.to_vec(), density.to_vec());
    plot_lines(&o, &[s], "", &[], "", log_y, true).0
}
