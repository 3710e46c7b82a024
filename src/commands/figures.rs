//! What the landscape commands share: directions files, fingerprints for
//! plans, CSV/NPY/VTK export, figure sizes, and the default figures of a
//! results file.

use super::CliError;
use autodiff::Tensor;
use landscape::{Direction, Results};
use nn::{checkpoint, Named};
use std::path::{Path, PathBuf};

/// Parses `--size WxH` (each 200..=4000 pixels).
pub fn parse_size(s: &str) -> Result<(u32, u32), CliError> {
    let bad = || CliError::new(format!("--size {s:?}: expected WIDTHxHEIGHT, e.g. 800x600, each 200 to 4000 pixels"));
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.trim().parse().map_err(|_| bad())?, h.trim().parse().map_err(|_| bad())?);
    if !(200..=4000).contains(&w) || !(200..=4000).contains(&h) {
        return Err(bad());
    }
    Ok((w, h))
}

/// A short fingerprint (FNV-1a, hex) of named tensors: names, shapes and
/// bytes. Plans compare fingerprints instead of whole weights.
pub fn fingerprint(state: &[Named]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    };
    for n in state {
        eat(n.name.as_bytes());
        for &d in n.tensor.shape() {
            eat(&(d as u64).to_le_bytes());
        }
        for v in n.tensor.data() {
            eat(&v.to_le_bytes());
        }
    }
    format!("{h:016x}")
}

fn as_named(d: &Direction) -> Vec<Named> {
    d.names.iter().zip(&d.tensors).map(|(n, t)| Named { name: n.clone(), tensor: t.clone(), kind: nn::Kind::Parameter }).collect()
}

/// The fingerprint of one or two directions.
pub fn direction_fingerprint(x: &Direction, y: Option<&Direction>) -> String {
    let mut all = as_named(x);
    if let Some(y) = y {
        all.extend(as_named(y));
    }
    fingerprint(&all)
}

/// Writes directions as `x.<name>` / `y.<name>` tensors (safetensors).
pub fn save_directions(path: &Path, x: &Direction, y: Option<&Direction>) -> Result<(), CliError> {
    let mut named: Vec<(String, Tensor)> = x.names.iter().zip(&x.tensors).map(|(n, t)| (format!("x.{n}"), t.clone())).collect();
    if let Some(y) = y {
        named.extend(y.names.iter().zip(&y.tensors).map(|(n, t)| (format!("y.{n}"), t.clone())));
    }
    checkpoint::save_named(&named, path).map_err(|e| CliError::new(e.to_string()))
}

/// Reads directions saved by [`save_directions`] for a model with state
/// `center`: every parameter needs its `x.` (and, for planes, `y.`) tensor
/// with the right shape; absent buffers and counters are zero.
pub fn load_directions(path: &Path, center: &[Named], need_y: bool) -> Result<(Direction, Option<Direction>), CliError> {
    let named = checkpoint::load_named(path).map_err(|e| CliError::new(format!("--directions: {e}")))?;
    let get = |axis: &str| -> Result<Direction, CliError> {
        let mut d = Direction::zeros(center);
        for (i, n) in center.iter().enumerate() {
            let key = format!("{axis}.{}", n.name);
            match named.iter().find(|(k, _)| *k == key) {
                Some((_, t)) if t.shape() == n.tensor.shape() => d.tensors[i] = t.clone(),
                Some((_, t)) => {
                    return Err(CliError::new(format!(
                        "--directions {}: {key} has shape {:?}, the model's {} has {:?}",
                        path.display(),
                        t.shape(),
                        n.name,
                        n.tensor.shape()
                    )))
                }
                None if n.kind == nn::Kind::Parameter => {
                    return Err(CliError::new(format!("--directions {}: no tensor {key} for parameter {}", path.display(), n.name)))
                }
                None => {}
            }
        }
        d.check_nonzero(&format!("the {axis} direction in {}", path.display())).map_err(|e| CliError::new(e.to_string()))?;
        Ok(d)
    };
    let x = get("x")?;
    let y = if need_y { Some(get("y")?) } else { None };
    Ok((x, y))
}

/// Writes a results file as CSV: `x_name` (and `y` for planes) then the
/// metric columns, one row per point in grid order.
pub fn write_csv(results: &Results, path: &Path, x_name: &str) -> Result<(), CliError> {
    let two_d = results.points.values().any(|p| p.1 != 0.0) || results.plan["y"].is_string();
    let mut text = String::from(x_name);
    if two_d {
        text.push_str(",y");
    }
    for m in &results.metrics {
        text.push(',');
        text.push_str(m);
    }
    text.push('\n');
    for (x, y, v) in results.points.values() {
        text.push_str(&format!("{x}"));
        if two_d {
            text.push_str(&format!(",{y}"));
        }
        for val in v {
            text.push_str(&format!(",{val}"));
        }
        text.push('\n');
    }
    super::write_atomic(path, text.as_bytes())
}

/// " and a, b, c" for a list of written files (empty when none).
pub fn list(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        String::new()
    } else {
        format!(" and {}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
    }
}

/// Which figure `llv plot` draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
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
    /// Trajectory over contours (results of `llv trajectory`).
    Trajectory,
}

/// The grid of a results file (from its plan's ranges) and whether it is 2-D.
pub fn grid_axes(r: &Results) -> Result<(Vec<f64>, Vec<f64>), CliError> {
    let parse = |key: &str| -> Result<Option<landscape::Range>, CliError> {
        match r.plan[key].as_str() {
            Some(s) => s.parse::<landscape::Range>().map(Some).map_err(|e| CliError::new(format!("results plan: {e}"))),
            None => Ok(None),
        }
    };
    let x = parse("x")?.ok_or_else(|| CliError::new("results plan has no x range"))?;
    let y = parse("y")?;
    Ok((x.values(), y.map(|y| y.values()).unwrap_or_default()))
}

/// A metric of a results file as a grid (NaN where a point is missing).
pub fn grid(r: &Results, metric: &str) -> Result<landscape::render::Grid2, CliError> {
    let (x, y) = grid_axes(r)?;
    let ny = y.len().max(1);
    let z = r
        .column(metric, x.len() * ny)
        .ok_or_else(|| CliError::new(format!("--metric {metric}: not in the results (it has {})", r.metrics.join(", "))))?;
    Ok(landscape::render::Grid2 { x, y, z })
}

/// The first loss metric of a results file (`test_loss` or `train_loss`).
pub fn loss_metric(r: &Results) -> String {
    r.metrics.iter().find(|m| m.ends_with("_loss")).cloned().unwrap_or_else(|| r.metrics[0].clone())
}

fn describe(r: &Results) -> (String, String) {
    let model = r.plan["model"].as_str().unwrap_or("model").to_string();
    let kind = r.plan["kind"].as_str().unwrap_or("surface");
    let x_label = match kind {
        "interpolation" => "α (0 = --from, 1 = --to)".to_string(),
        "trajectory" => "PC 1".to_string(),
        _ => match r.plan["norm"].as_str().unwrap_or("filter") {
            "hessian" => "x (Hessian eigenvector 1)".to_string(),
            "through" => "x (toward the first --through model)".to_string(),
            norm => format!("x ({norm}-normalized direction)"),
        },
    };
    (model, x_label)
}

/// Draws one figure of `kind` from a results file.
pub fn draw(
    r: &Results,
    kind: Kind,
    metric: Option<&str>,
    size: (u32, u32),
    log: bool,
    view: (f64, f64),
) -> Result<landscape::render::RgbImage, CliError> {
    use landscape::render::{self, FigureOptions, Series, ZScale};
    let (model, x_label) = describe(r);
    let metric = metric.map(String::from).unwrap_or_else(|| loss_metric(r));
    let pretty = metric.replace('_', " ");
    let mut opts = FigureOptions::new("", &x_label, "y").with_size(size.0, size.1).with_z_label(&pretty);
    if log {
        opts.z_scale = ZScale::Log;
    }
    let two_d = r.plan["y"].is_string();
    if kind != Kind::Line && !two_d {
        return Err(CliError::new(format!("--kind {kind:?}: this results file is 1-D; use --kind line")));
    }
    if kind == Kind::Line && two_d {
        return Err(CliError::new("--kind line: this results file is 2-D; use contour, filled, heatmap or surface3d"));
    }
    let img = match kind {
        Kind::Line => {
            let (x, _) = grid_axes(r)?;
            let n = x.len();
            let mut left = Vec::new();
            let mut right = Vec::new();
            for m in &r.metrics {
                let col = r.column(m, n).expect("metric listed");
                if m.ends_with("_loss") {
                    left.push(Series::new(&m.replace('_', " "), x.clone(), col));
                } else if m.ends_with("_accuracy") {
                    right.push(Series::new(&m.replace('_', " "), x.clone(), col.iter().map(|v| 100.0 * v).collect()));
                }
            }
            opts.title = format!(
                "{model}: loss and accuracy along {}",
                if r.plan["kind"] == "interpolation" { "the line" } else { "a random direction" }
            );
            opts.y_label = "loss".into();
            opts.right_range = Some((0.0, 100.0));
            if r.plan["kind"] == "interpolation" {
                opts.vlines = vec![(0.0, "from".into()), (1.0, "to".into())];
            } else {
                opts.vlines = vec![(0.0, "center".into())];
            }
            render::line_plot(&opts, &left, "loss", &right, "accuracy (%)", log)
        }
        Kind::Contour | Kind::Filled | Kind::Heatmap | Kind::Surface3d => {
            let g = grid(r, &metric)?;
            opts.y_label = match r.plan["norm"].as_str() {
                Some("hessian") => "y (Hessian eigenvector 2)".to_string(),
                Some("through") => "y (toward the second --through model)".to_string(),
                _ => x_label.replace("x (", "y ("),
            };
            opts.title = format!("{model}: {pretty}");
            match kind {
                Kind::Contour => render::contour_plot(&opts, &g, None, true, None),
                Kind::Filled => render::filled_contour_plot(&opts, &g, None, None),
                Kind::Heatmap => render::heatmap(&opts, &g, None, &pretty),
                _ => {
                    // Short axis names: long ones collide with the box and the colour bar.
                    opts.x_label = "x".into();
                    opts.y_label = "y".into();
                    render::surface3d(&opts, &g, view.0, view.1, None)
                }
            }
        }
        Kind::Trajectory => {
            let g = grid(r, &metric)?;
            let path = r.plan["path"]
                .as_array()
                .ok_or_else(|| CliError::new("--kind trajectory: these results have no trajectory (make them with `llv trajectory`)"))?;
            let mut t = landscape::render::Trajectory::default();
            for p in path {
                t.x.push(p["x"].as_f64().unwrap_or(f64::NAN));
                t.y.push(p["y"].as_f64().unwrap_or(f64::NAN));
                t.labels.push(p["label"].as_str().unwrap_or("").to_string());
            }
            let ev = r.plan["explained"].as_array().map(|v| v.iter().filter_map(|x| x.as_f64()).collect::<Vec<_>>()).unwrap_or_default();
            if ev.len() == 2 {
                opts.x_label = format!("PC 1 ({:.1}% of variance)", 100.0 * ev[0]);
                opts.y_label = format!("PC 2 ({:.1}% of variance)", 100.0 * ev[1]);
            }
            opts.title = format!("{model}: training path on the PCA plane");
            render::trajectory_plot(&opts, &g, &t)
        }
    };
    Ok(img)
}

fn save(img: &landscape::render::RgbImage, path: &Path) -> Result<(), CliError> {
    landscape::render::save_png(img, path).map_err(|e| CliError::new(format!("{}: {e}", path.display())))
}

/// Writes the default figures and exports of a complete results file into
/// `out`: line.png (1-D) or contour/filled/heatmap/surface3d.png (2-D), plus
/// surface.csv (interpolation.csv for lines between checkpoints, first
/// column `alpha`), one NPY per metric and, for planes, surface.vtk.
pub fn default_figures(r: &Results, out: &Path, size: (u32, u32)) -> Result<Vec<PathBuf>, CliError> {
    let mut written = Vec::new();
    let two_d = r.plan["y"].is_string();
    let kinds: &[(Kind, &str)] = if two_d {
        &[(Kind::Contour, "contour.png"), (Kind::Filled, "filled.png"), (Kind::Heatmap, "heatmap.png"), (Kind::Surface3d, "surface3d.png")]
    } else {
        &[(Kind::Line, "line.png")]
    };
    for (kind, name) in kinds {
        let img = draw(r, *kind, None, size, false, (30.0, -60.0))?;
        let p = out.join(name);
        save(&img, &p)?;
        written.push(p);
    }
    let interpolation = r.plan["kind"] == "interpolation";
    let csv = out.join(if interpolation { "interpolation.csv" } else { "surface.csv" });
    write_csv(r, &csv, if interpolation { "alpha" } else { "x" })?;
    written.push(csv);
    let (x, y) = grid_axes(r)?;
    let shape: Vec<usize> = if two_d { vec![y.len(), x.len()] } else { vec![x.len()] };
    let mut fields = Vec::new();
    for m in &r.metrics {
        let col = r.column(m, shape.iter().product()).expect("listed");
        let p = out.join(format!("{m}.npy"));
        landscape::export::write_npy(&p, &shape, &col).map_err(|e| CliError::new(e.to_string()))?;
        written.push(p);
        fields.push((m.clone(), col));
    }
    if two_d {
        let p = out.join("surface.vtk");
        let f: Vec<(&str, &[f64])> = fields.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect();
        landscape::export::write_vtk(&p, &x, &y, &f).map_err(|e| CliError::new(e.to_string()))?;
        written.push(p);
    }
    Ok(written)
}
