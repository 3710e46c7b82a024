//! Figures and exports of a results file: what `llv plot` draws and what
//! every landscape run leaves next to its results (PNG figures, CSV, one NPY
//! per metric, VTK for planes).

use crate::error::{LandscapeError, Result};
use crate::export;
use crate::grid_order::{axis_levels, GridOrder};
use crate::plan::{Around, DirectionSource};
use crate::render::{self, FigureOptions, Grid2, RgbImage, Series, ZScale};
use crate::results::Results;
use std::path::{Path, PathBuf};

/// The part of a grid a figure draws: the finest complete level of the
/// coarse-to-fine order ([`crate::grid_order`]) among the points present,
/// the whole grid once every point is there. Judged by the set of points,
/// so it works for any order, resumed, sharded or merged file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrawnLevel {
    /// Indices of the x values drawn.
    pub xs: Vec<usize>,
    /// Indices of the y values drawn (`[0]` for a line).
    pub ys: Vec<usize>,
    /// Points of the whole grid per axis.
    pub grid: (usize, usize),
}

impl DrawnLevel {
    /// Whether this is the whole grid.
    pub fn is_complete(&self) -> bool {
        (self.xs.len(), self.ys.len()) == self.grid
    }

    /// What part of the grid is drawn, e.g. `9×9 of 41×41 (81 of 1681
    /// points)` (`9 of 51 points` for a line).
    pub fn describe(&self) -> String {
        let ((nx, ny), (lx, ly)) = (self.grid, (self.xs.len(), self.ys.len()));
        if ny == 1 {
            format!("{lx} of {nx} points")
        } else {
            format!("{lx}×{ly} of {nx}×{ny} ({} of {} points)", lx * ly, nx * ny)
        }
    }
}

/// Which figure to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FigureKind {
    /// 1-D curves: loss (left axis) and accuracy (right axis).
    Line,
    /// Contour lines with level labels.
    Contour,
    /// Filled contours.
    Filled,
    /// Heat map.
    Heatmap,
    /// Shaded 3-D surface.
    Surface3d,
    /// Trajectory over contours (results of a trajectory run).
    Trajectory,
}

impl FigureKind {
    /// Every kind by name, as `llv plot --kind` takes them.
    pub const NAMES: [&'static str; 6] = ["line", "contour", "filled", "heatmap", "surface3d", "trajectory"];
    const ALL: [FigureKind; 6] =
        [FigureKind::Line, FigureKind::Contour, FigureKind::Filled, FigureKind::Heatmap, FigureKind::Surface3d, FigureKind::Trajectory];
}

impl std::str::FromStr for FigureKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<FigureKind, String> {
        let i = FigureKind::NAMES
            .iter()
            .position(|n| *n == s)
            .ok_or_else(|| format!("{s:?}: expected one of {}", FigureKind::NAMES.join(", ")))?;
        Ok(FigureKind::ALL[i])
    }
}

/// How to draw a figure.
#[derive(Clone, Debug, PartialEq)]
pub struct FigureRequest {
    /// The kind.
    pub kind: FigureKind,
    /// The metric of 2-D figures (default: the first loss).
    pub metric: Option<String>,
    /// Width and height in pixels.
    pub size: (u32, u32),
    /// Log scale for the values.
    pub log: bool,
    /// 3-D view: elevation and azimuth in degrees.
    pub view: (f64, f64),
}

impl FigureRequest {
    /// A figure of `kind` with the defaults: first loss, linear scale, view (30°, −60°).
    pub fn new(kind: FigureKind, size: (u32, u32)) -> FigureRequest {
        FigureRequest { kind, metric: None, size, log: false, view: (30.0, -60.0) }
    }
}

/// Smallest and largest side of a figure, in pixels.
pub const SIZE_LIMITS: (u32, u32) = (200, 4000);

/// Checks a figure size (each side within [`SIZE_LIMITS`]); errors name the field `size`.
pub fn check_size(size: (u32, u32)) -> Result<()> {
    let ok = |v: u32| (SIZE_LIMITS.0..=SIZE_LIMITS.1).contains(&v);
    if ok(size.0) && ok(size.1) {
        Ok(())
    } else {
        Err(LandscapeError::config(
            "size",
            format!("{}x{}: each side must be {} to {} pixels", size.0, size.1, SIZE_LIMITS.0, SIZE_LIMITS.1),
        ))
    }
}

/// Saves a PNG atomically; errors name the file.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    render::save_png(img, path).map_err(|e| LandscapeError::io(path, e))
}

impl Results {
    /// Whether the grid is a plane.
    pub fn is_2d(&self) -> bool {
        self.plan.y.is_some()
    }

    /// The grid's x values and y values (empty for lines).
    pub fn grid_axes(&self) -> (Vec<f64>, Vec<f64>) {
        (self.plan.x.values(), self.plan.y.map(|y| y.values()).unwrap_or_default())
    }

    /// Number of points of the whole grid.
    pub fn grid_len(&self) -> usize {
        self.plan.x.num * self.plan.y.map_or(1, |y| y.num)
    }

    /// A metric as a grid (NaN where a point is missing); errors name the field `metric`.
    pub fn grid(&self, metric: &str) -> Result<Grid2> {
        let (x, y) = self.grid_axes();
        let z = self.column(metric, self.grid_len()).ok_or_else(|| {
            LandscapeError::config("metric", format!("{metric}: not in the results (it has {})", self.metrics.join(", ")))
        })?;
        Ok(Grid2 { x, y, z })
    }

    /// The finest complete level of the grid ([`DrawnLevel`]); an error when
    /// not even the coarsest level (the grid's corners) is complete.
    pub fn drawn_level(&self) -> Result<DrawnLevel> {
        let grid = (self.plan.x.num, self.plan.y.map_or(1, |y| y.num));
        let order = GridOrder::new(grid.0, grid.1);
        let (level, _) = order.finest_complete(|i| self.points.contains_key(&i)).ok_or_else(|| {
            LandscapeError::Invalid(format!(
                "nothing to draw yet: {} of {} points, and the coarsest level ({} points: the grid's corners) is not complete",
                self.points.len(),
                self.grid_len(),
                order.ends[0]
            ))
        })?;
        let (lx, ly) = (axis_levels(grid.0), axis_levels(grid.1));
        Ok(DrawnLevel { xs: lx[level.min(lx.len() - 1)].clone(), ys: ly[level.min(ly.len() - 1)].clone(), grid })
    }

    /// A metric on a level's points (from [`Results::drawn_level`]); errors name the field `metric`.
    pub fn level_grid(&self, metric: &str, level: &DrawnLevel) -> Result<Grid2> {
        let full = self.grid(metric)?;
        let nx = full.x.len();
        Ok(Grid2 {
            x: level.xs.iter().map(|&i| full.x[i]).collect(),
            y: if full.y.is_empty() { Vec::new() } else { level.ys.iter().map(|&i| full.y[i]).collect() },
            z: level.ys.iter().flat_map(|&iy| level.xs.iter().map(move |&ix| iy * nx + ix)).map(|i| full.z[i]).collect(),
        })
    }

    /// The first loss metric (`test_loss` or `train_loss`).
    pub fn loss_metric(&self) -> String {
        self.metrics.iter().find(|m| m.ends_with("_loss")).cloned().unwrap_or_else(|| self.metrics[0].clone())
    }

    /// Writes the results as CSV: `x_name` (and `y` for planes) then the
    /// metric columns, one row per point in grid order.
    pub fn write_csv(&self, path: &Path, x_name: &str) -> Result<()> {
        let two_d = self.is_2d();
        let mut text = String::from(x_name);
        if two_d {
            text.push_str(",y");
        }
        for m in &self.metrics {
            text.push(',');
            text.push_str(m);
        }
        text.push('\n');
        for (x, y, v) in self.points.values() {
            text.push_str(&format!("{x}"));
            if two_d {
                text.push_str(&format!(",{y}"));
            }
            for val in v {
                text.push_str(&format!(",{val}"));
            }
            text.push('\n');
        }
        export::write_atomic(path, text.as_bytes())
    }
}

/// The axis labels of a results file's grid.
fn axis_labels(r: &Results) -> (String, String) {
    match &r.plan.around {
        Around::Line { .. } => ("α (0 = --from, 1 = --to)".into(), "y".into()),
        Around::Trajectory(_) => ("PC 1".into(), "PC 2".into()),
        Around::Slice(s) => match s.source {
            DirectionSource::Hessian => ("x (Hessian eigenvector 1)".into(), "y (Hessian eigenvector 2)".into()),
            DirectionSource::Through => ("x (toward the first --through model)".into(), "y (toward the second --through model)".into()),
            DirectionSource::Normalized(n) => (format!("x ({n}-normalized direction)"), format!("y ({n}-normalized direction)")),
        },
    }
}

/// Draws one figure of a results file: of an unfinished file, its finest
/// complete level ([`Results::drawn_level`]), said in the title. A kind
/// that does not fit the grid (a line of a plane, a contour of a line, a
/// trajectory without a path) is an error naming the field `kind`.
pub fn draw(r: &Results, req: &FigureRequest) -> Result<RgbImage> {
    check_size(req.size)?;
    let model = &r.plan.model;
    let (x_label, y_label) = axis_labels(r);
    let metric = req.metric.clone().unwrap_or_else(|| r.loss_metric());
    // A language model's losses are mean cross-entropies per character.
    let loss_label = if r.plan.seq_len.is_some() { "loss (nats/char)" } else { "loss" };
    let pretty = match metric.strip_suffix("_loss") {
        Some(split) if r.plan.seq_len.is_some() => format!("{split} {loss_label}"),
        _ => metric.replace('_', " "),
    };
    let mut opts = FigureOptions::new("", &x_label, "y").with_size(req.size.0, req.size.1).with_z_label(&pretty);
    if req.log {
        opts.z_scale = ZScale::Log;
    }
    let kind = req.kind;
    if kind != FigureKind::Line && !r.is_2d() {
        return Err(LandscapeError::config("kind", format!("{kind:?}: this results file is 1-D; use line")));
    }
    if kind == FigureKind::Line && r.is_2d() {
        return Err(LandscapeError::config("kind", "line: this results file is 2-D; use contour, filled, heatmap or surface3d"));
    }
    let line = matches!(r.plan.around, Around::Line { .. });
    let level = r.drawn_level()?;
    let part = if level.is_complete() { String::new() } else { format!(" — {}", level.describe()) };
    let img = match kind {
        FigureKind::Line => {
            let mut left = Vec::new();
            let mut right = Vec::new();
            for m in &r.metrics {
                let Grid2 { x, z: col, .. } = r.level_grid(m, &level)?;
                if m.ends_with("_loss") {
                    left.push(Series::new(&m.replace('_', " "), x.clone(), col));
                } else if m.ends_with("_accuracy") {
                    right.push(Series::new(&m.replace('_', " "), x.clone(), col.iter().map(|v| 100.0 * v).collect()));
                }
            }
            opts.title = format!("{model}: loss and accuracy along {}{part}", if line { "the line" } else { "a random direction" });
            opts.y_label = loss_label.into();
            opts.right_range = Some((0.0, 100.0));
            opts.vlines = if line { vec![(0.0, "from".into()), (1.0, "to".into())] } else { vec![(0.0, "center".into())] };
            render::line_plot(&opts, &left, loss_label, &right, "accuracy (%)", req.log)
        }
        FigureKind::Contour | FigureKind::Filled | FigureKind::Heatmap | FigureKind::Surface3d => {
            let g = r.level_grid(&metric, &level)?;
            opts.y_label = y_label;
            opts.title = format!("{model}: {pretty}{part}");
            match kind {
                FigureKind::Contour => render::contour_plot(&opts, &g, None, true, None),
                FigureKind::Filled => render::filled_contour_plot(&opts, &g, None, None),
                FigureKind::Heatmap => render::heatmap(&opts, &g, None, &pretty),
                _ => {
                    // Short axis names: long ones collide with the box and the colour bar.
                    opts.x_label = "x".into();
                    opts.y_label = "y".into();
                    render::surface3d(&opts, &g, req.view.0, req.view.1, None)
                }
            }
        }
        FigureKind::Trajectory => {
            let g = r.level_grid(&metric, &level)?;
            let Around::Trajectory(plane) = &r.plan.around else {
                return Err(LandscapeError::config(
                    "kind",
                    "trajectory: these results have no trajectory (make them with `llv trajectory`)",
                ));
            };
            let mut t = render::Trajectory::default();
            for p in &plane.path {
                t.x.push(p.x);
                t.y.push(p.y);
                t.labels.push(p.label.clone());
            }
            let ev = plane.explained;
            opts.x_label = format!("PC 1 ({:.1}% of variance)", 100.0 * ev[0]);
            opts.y_label = format!("PC 2 ({:.1}% of variance)", 100.0 * ev[1]);
            opts.title = format!("{model}: training path on the PCA plane{part}");
            render::trajectory_plot(&opts, &g, &t)
        }
    };
    Ok(img)
}

/// Writes the default figures and exports of a complete results file into
/// `out`: line.png (1-D) or contour/filled/heatmap/surface3d.png (2-D), plus
/// surface.csv (interpolation.csv for lines between checkpoints, first
/// column `alpha`), one NPY per metric and, for planes, surface.vtk.
/// Returns the files written.
pub fn default_figures(r: &Results, out: &Path, size: (u32, u32)) -> Result<Vec<PathBuf>> {
    let mut written = default_pngs(r, out, size)?;
    let two_d = r.is_2d();
    let interpolation = matches!(r.plan.around, Around::Line { .. });
    let csv = out.join(if interpolation { "interpolation.csv" } else { "surface.csv" });
    r.write_csv(&csv, if interpolation { "alpha" } else { "x" })?;
    written.push(csv);
    let (x, y) = r.grid_axes();
    let shape: Vec<usize> = if two_d { vec![y.len(), x.len()] } else { vec![x.len()] };
    let mut fields = Vec::new();
    for m in &r.metrics {
        let col = r.column(m, shape.iter().product()).expect("listed");
        let p = out.join(format!("{m}.npy"));
        export::write_npy(&p, &shape, &col)?;
        written.push(p);
        fields.push((m.clone(), col));
    }
    if two_d {
        let p = out.join("surface.vtk");
        let f: Vec<(&str, &[f64])> = fields.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect();
        export::write_vtk(&p, &x, &y, &f)?;
        written.push(p);
    }
    Ok(written)
}

/// Writes the default figures (PNGs only) of a results file into `out`,
/// each of its finest complete level: what a run in progress redraws.
pub fn default_pngs(r: &Results, out: &Path, size: (u32, u32)) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let kinds: &[(FigureKind, &str)] = if r.is_2d() {
        &[
            (FigureKind::Contour, "contour.png"),
            (FigureKind::Filled, "filled.png"),
            (FigureKind::Heatmap, "heatmap.png"),
            (FigureKind::Surface3d, "surface3d.png"),
        ]
    } else {
        &[(FigureKind::Line, "line.png")]
    };
    for (kind, name) in kinds {
        let img = draw(r, &FigureRequest::new(*kind, size))?;
        let p = out.join(name);
        save_png(&img, &p)?;
        written.push(p);
    }
    Ok(written)
}
