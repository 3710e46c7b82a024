//! Figure-level tests: every kind renders a synthetic landscape and its pixels are
//! checked; degenerate inputs still give valid figures. `gallery` (ignored) writes
//! every kind to /tmp/llv-render-gallery/ for a person to look at.

use super::canvas::{Color, Rect};
use super::colormap::{viridis, ColorScale};
use super::line::TAB10;
use super::*;
use std::path::PathBuf;

/// The synthetic landscape of the tests: a bowl with a ripple (has negative values).
fn ripple_grid(n: usize) -> Grid2 {
    let xs = Grid2::linspace(-1.0, 1.0, n);
    Grid2::from_fn(xs.clone(), xs, |x, y| (1.0 + x * x + 3.0 * y * y).ln() + 0.3 * (3.0 * x).sin())
}

/// A loss-like landscape spanning decades (log colour scale), minimum 0.01 at (0, 0.1).
fn loss_grid(n: usize) -> Grid2 {
    let xs = Grid2::linspace(-1.0, 1.0, n);
    Grid2::from_fn(xs.clone(), xs, |x, y| 0.01 + 6.0 * (x * x + 1.5 * (y - 0.1).powi(2)).powf(1.5) + 0.3 * (x * y).abs())
}

fn opts(title: &str) -> FigureOptions {
    FigureOptions::new(title, "direction 1", "direction 2").with_z_label("train loss")
}

fn tmp_dir() -> PathBuf {
    let d = std::env::temp_dir().join("llv-render-test");
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn px(img: &RgbImage, x: f64, y: f64) -> Color {
    img.get_pixel((x as u32).min(img.width() - 1), (y as u32).min(img.height() - 1)).0
}

fn lum(c: Color) -> f64 {
    0.2126 * c[0] as f64 + 0.7152 * c[1] as f64 + 0.0722 * c[2] as f64
}

fn close(a: Color, b: Color, tol: i32) -> bool {
    (0..3).all(|k| (a[k] as i32 - b[k] as i32).abs() <= tol)
}

/// The title band (top 40 px) holds dark text pixels.
fn assert_title(img: &RgbImage) {
    let dark = (0..40.min(img.height()))
        .flat_map(|y| (0..img.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| lum(img.get_pixel(x, y).0) < 90.0)
        .count();
    assert!(dark > 60, "title band has {dark} dark pixels");
}

/// A vertical colour bar right of `frame`: viridis(1) at its top, viridis(0) at its bottom.
fn assert_colorbar(img: &RgbImage, frame: &Rect, tol: i32) {
    let y_mid = frame.y0 + frame.h() / 2.0;
    let x = (frame.x1 as u32 + 2..img.width()).find(|&x| {
        let c = px(img, x as f64, y_mid);
        lum(c) < 200.0 && c[1] > 60 && c[2] > 60 && c[0] < 120
    });
    let x = x.expect("colour bar column") as f64 + 4.0;
    let (mut top, mut bot) = (None, None);
    for y in frame.y0 as u32..frame.y1 as u32 + 1 {
        let c = px(img, x, y as f64);
        if close(c, viridis(1.0), tol) && top.is_none() {
            top = Some(y);
        }
        if close(c, viridis(0.0), tol) {
            bot = Some(y);
        }
    }
    let (top, bot) = (top.expect("viridis(1) at the top"), bot.expect("viridis(0) at the bottom"));
    assert!((top as f64 - frame.y0).abs() <= 3.0, "top {top} vs frame {}", frame.y0);
    assert!((bot as f64 - frame.y1).abs() <= 3.0, "bottom {bot} vs frame {}", frame.y1);
}

#[test]
fn line_plot_places_curves() {
    let x = Grid2::linspace(0.0, 1.0, 50);
    let a = Series::new("a", x.clone(), vec![0.25; 50]);
    let b = Series::new("b", x.clone(), vec![0.75; 50]);
    let o = FigureOptions { y_range: Some((0.0, 1.0)), ..FigureOptions::new("Two lines", "alpha", "value") };
    let (img, f) = line::plot_lines(&o, &[a, b], "", &[], "", false, false);
    assert_eq!(img.dimensions(), (800, 600));
    assert_title(&img);
    let xc = f.x0 + f.w() * 0.37;
    let rows = |col: Color| -> f64 {
        let r: Vec<u32> = (0..img.height()).filter(|&y| close(px(&img, xc, y as f64), col, 10)).collect();
        assert!(!r.is_empty());
        r.iter().sum::<u32>() as f64 / r.len() as f64
    };
    let (ya, yb) = (rows(TAB10[0]), rows(TAB10[1]));
    assert!((ya - (f.y1 - 0.25 * f.h())).abs() < 2.0, "{ya} {f:?}");
    assert!((yb - (f.y1 - 0.75 * f.h())).abs() < 2.0, "{yb} {f:?}");
    // The legend (two series) sits below the frame: both colours appear there.
    let below = |col: Color| (f.y1 as u32 + 30..img.height()).any(|y| (0..img.width()).any(|x| close(img.get_pixel(x, y).0, col, 10)));
    assert!(below(TAB10[0]) && below(TAB10[1]));
    // Twin axes with a log left axis and a band.
    let loss = Series {
        band: Some((vec![0.5; 50], vec![2.0; 50])),
        ..Series::new("loss", x.clone(), x.iter().map(|v| 10f64.powf(4.0 * v - 2.0)).collect())
    };
    let acc = Series::new("acc", x.clone(), x.iter().map(|v| 100.0 * v).collect());
    let img = line_plot(&o, &[loss], "loss", &[acc], "accuracy (%)", true);
    assert_title(&img);
    save_png(&img, &tmp_dir().join("line.png")).expect("write png");
}

#[test]
fn contour_plot_draws_the_unit_circle() {
    let xs = Grid2::linspace(-2.0, 2.0, 41);
    let g = Grid2::from_fn(xs.clone(), xs, |x, y| x * x + y * y);
    let (img, f) = contour::contour_impl(&opts("Paraboloid"), &g, Some(&[1.0]), false, None, false);
    assert_title(&img);
    let scale = ColorScale::new(&g.z, None, ZScale::Auto);
    let col = scale.color(1.0).expect("colour");
    let (cx, cy) = (f.x0 + f.w() / 2.0, f.y0 + f.h() / 2.0);
    let mut n = 0;
    for y in f.y0 as u32..f.y1 as u32 {
        for x in f.x0 as u32..f.x1 as u32 {
            if close(img.get_pixel(x, y).0, col, 8) {
                let r = ((x as f64 + 0.5 - cx).powi(2) + (y as f64 + 0.5 - cy).powi(2)).sqrt();
                assert!((r - f.w() / 4.0).abs() < 3.0, "pixel ({x}, {y}) at radius {r}, expected {}", f.w() / 4.0);
                n += 1;
            }
        }
    }
    assert!(n as f64 > f.w(), "{n} circle pixels");
    assert!((f.w() - f.h()).abs() <= 1.0, "equal aspect");
    assert_colorbar(&img, &f, 3);
    // Labelled, auto levels, on the test landscape.
    let img = contour_plot(&opts("Ripple"), &ripple_grid(41), None, true, None);
    save_png(&img, &tmp_dir().join("contour.png")).expect("write png");
}

#[test]
fn filled_contours_colour_by_value_with_shared_range() {
    let g = loss_grid(41);
    let (img, f) = contour::filled_impl(&opts("Filled"), &g, None, None);
    assert_title(&img);
    let centre = px(&img, f.x0 + f.w() / 2.0, f.y0 + f.h() * 0.45);
    let corner = px(&img, f.x0 + 3.0, f.y0 + 3.0);
    assert!(lum(centre) < 60.0 && centre[2] > centre[1], "centre {centre:?} is dark purple");
    assert!(lum(corner) > 150.0, "corner {corner:?} is bright");
    // A shared range: the same surface drawn with a range twice as wide has a darker corner.
    let (_, hi) = colormap::finite_range(&g.z).expect("range");
    let (img2, f2) = contour::filled_impl(&opts("Filled"), &g, None, Some((0.01, hi * 100.0)));
    assert!(lum(px(&img2, f2.x0 + 3.0, f2.y0 + 3.0)) < lum(corner) - 30.0);
    save_png(&img, &tmp_dir().join("filled.png")).expect("write png");
}

#[test]
fn heatmap_cells_and_colorbar() {
    let g = ripple_grid(41);
    let (img, f) = heatmap::heatmap_impl(&opts("Heat"), &g, None, "value");
    assert_title(&img);
    assert_colorbar(&img, &f, 2);
    let scale = ColorScale::new(&g.z, None, ZScale::Auto);
    // The centre cell (x = y = 0, index 20) has its own colour.
    let c = px(&img, f.x0 + f.w() / 2.0, f.y0 + f.h() / 2.0);
    assert!(close(c, scale.color(g.at(20, 20)).expect("colour"), 3), "{c:?}");
    save_png(&img, &tmp_dir().join("heatmap.png")).expect("write png");
}

#[test]
fn surface_has_shaded_viridis_faces_and_colorbar() {
    let g = ripple_grid(41);
    let img = surface3d(&opts("Surface"), &g, 30.0, -60.0, None);
    assert_eq!(img.dimensions(), (800, 600));
    assert_title(&img);
    // Many coloured (non-grey) pixels in the plot region: the surface.
    let coloured =
        img.pixels().filter(|p| (p.0[0] as i32 - p.0[1] as i32).abs() > 25 || (p.0[1] as i32 - p.0[2] as i32).abs() > 25).count();
    assert!(coloured > 60_000, "{coloured}");
    // The colour bar holds both viridis ends, yellow above purple.
    let find =
        |col: Color| img.enumerate_pixels().filter(|(x, _, p)| *x > 600 && close(p.0, col, 2)).map(|(_, y, _)| y).collect::<Vec<_>>();
    let (top, bot) = (find(viridis(1.0)), find(viridis(0.0)));
    assert!(!top.is_empty() && !bot.is_empty());
    assert!(top.iter().max() < bot.iter().min());
    save_png(&img, &tmp_dir().join("surface.png")).expect("write png");
}

#[test]
fn trajectory_path_markers_and_labels() {
    let g = loss_grid(31);
    let t = Trajectory {
        x: vec![-0.8, -0.5, -0.2, 0.0],
        y: vec![0.8, 0.5, 0.3, 0.1],
        labels: vec!["ep 0: 4.1".into(), "ep 1: 1.2".into(), "ep 2: 0.3".into(), "ep 3: 0.01".into()],
    };
    let (img, f) = contour::contour_impl(&opts("Path"), &g, None, true, Some(&t), true);
    assert_title(&img);
    let to_px = |x: f64, y: f64| (f.x0 + (x + 1.0) / 2.0 * f.w(), f.y1 - (y + 1.0) / 2.0 * f.h());
    // The middle of the first segment is path-red.
    let (ax, ay) = to_px(-0.65, 0.65);
    let c = px(&img, ax, ay);
    assert!(close(c, trajectory::PATH, 40), "{c:?}");
    // Caption text (dark pixels) near the first checkpoint.
    let (sx, sy) = to_px(-0.8, 0.8);
    let dark = (0..60)
        .flat_map(|dy| (0..120).map(move |dx| (dx, dy)))
        .filter(|&(dx, dy)| lum(px(&img, sx - 60.0 + dx as f64, sy - 30.0 + dy as f64)) < 80.0)
        .count();
    assert!(dark > 20, "{dark}");
    save_png(&trajectory_plot(&opts("Path"), &g, &t), &tmp_dir().join("trajectory.png")).expect("write png");
}

#[test]
fn density_and_side_by_side() {
    let x = Grid2::linspace(-5.0, 50.0, 200);
    let d: Vec<f64> = x.iter().map(|v| (-(v * v) / 2.0).exp() + 1e-4 * (-(v - 40.0).powi(2)).exp() + 1e-9).collect();
    let img = density_plot(&FigureOptions::new("Spectrum", "", ""), &x, &d, true);
    assert_title(&img);
    let blue = img.pixels().filter(|p| close(p.0, TAB10[0], 10)).count();
    assert!(blue > 300, "{blue}");
    let a = RgbImage::from_pixel(300, 200, image::Rgb([255, 0, 0]));
    let b = RgbImage::from_pixel(200, 250, image::Rgb([0, 0, 255]));
    let s = side_by_side(&[a, b], "Two panels");
    assert_eq!(s.width(), 500);
    assert!(s.height() > 250);
    assert_title(&s);
    assert_eq!(s.get_pixel(10, s.height() - 20).0, [255, 255, 255]);
    assert_eq!(s.get_pixel(10, s.height() - 80).0, [255, 0, 0]);
    assert_eq!(s.get_pixel(400, s.height() - 1).0, [0, 0, 255]);
}

#[test]
fn degenerate_inputs_give_valid_figures() {
    let o = opts("Degenerate").with_size(320, 240);
    let grids = vec![
        Grid2::default(),
        Grid2 { x: vec![0.0, 1.0], y: vec![0.0, 1.0], z: vec![f64::NAN; 4] },
        Grid2 { x: vec![0.0, 1.0, 2.0], y: vec![0.0, 1.0], z: vec![3.0; 6] },
        Grid2 { x: vec![5.0], y: vec![1.0], z: vec![2.0] },
        Grid2 { x: vec![2.0, 1.0, 0.0], y: vec![1.0, 0.0], z: vec![1.0, f64::NAN] },
        Grid2 { x: vec![0.0, 0.0], y: vec![0.0, 1.0], z: vec![1.0; 4] },
        Grid2 { x: vec![0.0, f64::INFINITY], y: vec![0.0, 1.0], z: vec![1.0; 4] },
        Grid2 { x: vec![0.0, 1.0], y: vec![0.0, 1.0], z: vec![f64::INFINITY, -1e300, 1e300, 0.0] },
    ];
    let traj = Trajectory { x: vec![0.5], y: vec![f64::NAN], labels: vec![] };
    for g in &grids {
        for img in [
            contour_plot(&o, g, None, true, Some(&traj)),
            contour_plot(&o, g, Some(&[f64::NAN]), true, None),
            filled_contour_plot(&o, g, Some(&[]), Some((1.0, 1.0))),
            heatmap(&o, g, None, ""),
            surface3d(&o, g, f64::NAN, 1e9, Some((5.0, -5.0))),
            trajectory_plot(&o, g, &Trajectory::default()),
        ] {
            assert_eq!(img.dimensions(), (320, 240));
        }
    }
    let one = Series::new("one", vec![1.0], vec![2.0]);
    let empty = Series::default();
    let nan = Series { band: Some((vec![], vec![1.0])), ..Series::new("nan", vec![f64::NAN, 1.0], vec![1.0, f64::NAN]) };
    for (l, r) in [(vec![], vec![]), (vec![one.clone()], vec![]), (vec![empty.clone()], vec![empty]), (vec![nan], vec![one])] {
        assert_eq!(line_plot(&o, &l, "", &r, "", true).dimensions(), (320, 240));
        assert_eq!(line_plot(&o, &l, "", &r, "", false).dimensions(), (320, 240));
    }
    assert_eq!(density_plot(&o, &[], &[], true).dimensions(), (320, 240));
    assert_eq!(density_plot(&o, &[1.0, 2.0], &[0.0, -1.0], true).dimensions(), (320, 240));
    let tiny = FigureOptions { width: 0, height: 3, ..opts("a title much longer than the figure") };
    assert_eq!(surface3d(&tiny, &ripple_grid(5), 30.0, -60.0, None).dimensions(), (16, 16));
    assert_eq!(line_plot(&tiny, &[], "", &[], "", false).dimensions(), (16, 16));
    assert_eq!(side_by_side(&[], "").dimensions(), (16, 16));
}

#[test]
fn sizes_are_honoured_and_png_is_atomic() {
    let g = ripple_grid(11);
    let o = opts("Size").with_size(640, 480);
    for img in [
        contour_plot(&o, &g, None, true, None),
        heatmap(&o, &g, None, ""),
        surface3d(&o, &g, 20.0, 30.0, None),
        filled_contour_plot(&o, &g, None, None),
    ] {
        assert_eq!(img.dimensions(), (640, 480));
    }
    let p = tmp_dir().join("atomic.png");
    save_png(&heatmap(&o, &g, None, ""), &p).expect("write");
    assert!(p.exists() && !tmp_dir().join("atomic.png.tmp").exists());
    let back = image::open(&p).expect("read back").to_rgb8();
    assert_eq!(back.dimensions(), (640, 480));
    assert!(save_png(&back, &tmp_dir().join("no/such/dir.png")).is_err());
}

/// Writes every figure kind to /tmp/llv-render-gallery/ for a person to look at:
/// `cargo test -p landscape --release -- --ignored gallery`.
#[test]
#[ignore]
fn gallery() {
    let dir = PathBuf::from("/tmp/llv-render-gallery");
    std::fs::create_dir_all(&dir).expect("gallery dir");
    let save = |img: &RgbImage, name: &str| save_png(img, &dir.join(name)).expect("write png");

    // 1-D: Goodfellow-style interpolation with loss and accuracy on two axes.
    let a = Grid2::linspace(-0.25, 1.25, 31);
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let train: Vec<f64> = a.iter().map(|&t| 2.3 * (1.0 - sig(10.0 * (t - 0.45))) + 0.01 + 3.0 * (-t * 12.0 - 1.0).exp()).collect();
    let test: Vec<f64> =
        a.iter().map(|&t| 2.3 * (1.0 - sig(10.0 * (t - 0.45))) + 0.1 + 0.15 * (t - 0.9).powi(2) + 3.0 * (-t * 12.0 - 1.0).exp()).collect();
    let tr_acc: Vec<f64> = a.iter().map(|&t| 10.0 + 89.5 * sig(14.0 * (t - 0.15))).collect();
    let te_acc: Vec<f64> = a.iter().map(|&t| 10.0 + 87.7 * sig(13.0 * (t - 0.16))).collect();
    let o = FigureOptions {
        right_range: Some((0.0, 100.0)),
        vlines: vec![(0.0, "init".into()), (1.0, "trained (batch 64)".into())],
        ..FigureOptions::new(
            "LeNet on MNIST: loss along the line from initial to trained weights",
            "α   (θ = (1 − α) θ_init + α θ_trained)",
            "",
        )
    };
    let l = [
        Series::new("train loss (1,000 images)", a.clone(), train.clone()),
        Series::new("test loss (2,000 images)", a.clone(), test.clone()),
    ];
    let r =
        [Series::new("train accuracy (1,000 images)", a.clone(), tr_acc), Series::new("test accuracy (2,000 images)", a.clone(), te_acc)];
    save(&line_plot(&o, &l, "cross-entropy loss", &r, "accuracy (%)", false), "line_twin.png");
    let b = Grid2::linspace(-0.5, 1.5, 41);
    let big: Vec<f64> = b
        .iter()
        .map(|&t| 0.013 + 2.2 * (std::f64::consts::PI * t).sin().powi(2) + 1e5 * (-(t + 0.5) * 14.0).exp() + 0.08 * t * t)
        .collect();
    let o2 = FigureOptions {
        vlines: vec![(0.0, "batch 64".into()), (1.0, "batch 2048".into())],
        ..FigureOptions::new("Interpolation between small- and large-batch solutions", "α", "")
    };
    let band = Series {
        band: Some((big.iter().map(|v| v * 0.6).collect(), big.iter().map(|v| v * 1.6).collect())),
        ..Series::new("train loss ± seeds", b.clone(), big.clone())
    };
    save(&line_plot(&o2, &[band], "cross-entropy loss (log scale)", &[], "", true), "line_log_band.png");
    let xs = Grid2::linspace(0.0, 10.0, 200);
    let many: Vec<Series> = (0..5)
        .map(|k| {
            Series::new(
                &format!("lr = {}", 0.01 * (k + 1) as f64),
                xs.clone(),
                xs.iter().map(|x| (-(x * (k + 1) as f64 / 8.0)).exp() + 0.05).collect(),
            )
        })
        .collect();
    save(
        &line_plot(&FigureOptions::new("Training loss for five learning rates", "epoch", "train loss"), &many, "", &[], "", false),
        "line_many.png",
    );

    let g = loss_grid(41);
    let o = opts("LeNet (batch 64): train loss around the solution, contour lines");
    save(&contour_plot(&o, &g, None, true, None), "contour.png");
    save(
        &contour_plot(&opts("Ripple landscape z = log(1 + x² + 3y²) + 0.3 sin 3x"), &ripple_grid(41), None, true, None),
        "contour_linear.png",
    );
    save(
        &filled_contour_plot(
            &opts("LeNet (batch 64): train loss, filled contours").with_z_label("train loss (log colour scale)"),
            &g,
            None,
            None,
        ),
        "filled.png",
    );
    save(&heatmap(&opts("Train loss heat map"), &g, None, "train loss (log colour scale)"), "heatmap.png");
    save(
        &heatmap(
            &opts("Ripple heat map, 15 x 15, NaN hole"),
            &{
                let mut r = ripple_grid(15);
                r.z[7 * 15 + 7] = f64::NAN;
                r
            },
            None,
            "value",
        ),
        "heatmap_small.png",
    );
    save(&surface3d(&opts("LeNet (batch 64): train loss surface"), &g, 30.0, -60.0, None), "surface.png");
    save(&surface3d(&opts("Ripple surface, elevation 50, azimuth 30"), &ripple_grid(41), 50.0, 30.0, None), "surface_ripple.png");
    let t = Trajectory {
        x: vec![-0.85, -0.7, -0.5, -0.32, -0.2, -0.1, -0.03, 0.0],
        y: vec![0.9, 0.62, 0.5, 0.35, 0.25, 0.17, 0.12, 0.1],
        labels: (0..8).map(|k| format!("ep {k}: {:.3}", 4.0 * (0.5f64).powi(k * 2) + 0.01)).collect(),
    };
    save(&trajectory_plot(&opts("SGD trajectory on the PCA plane"), &g, &t), "trajectory.png");
    let xs = Grid2::linspace(-3.0, 60.0, 400);
    let d: Vec<f64> = xs
        .iter()
        .map(|v| 0.4 * (-(v * v) / 0.5).exp() + 3e-4 * (-(v - 25.0).powi(2) / 2.0).exp() + 1e-5 * (-(v - 52.0).powi(2)).exp() + 1e-10)
        .collect();
    save(
        &density_plot(&FigureOptions::new("Hessian eigenvalue spectral density (LeNet, batch 64)", "eigenvalue", ""), &xs, &d, true),
        "density.png",
    );
    let large = Grid2 { z: g.z.iter().map(|v| v * 12.0 + 0.08).collect(), ..g.clone() };
    let (_, hi) = colormap::finite_range(&large.z).expect("range");
    let range = Some((0.01, hi));
    let p = |t: &str, gg: &Grid2| {
        filled_contour_plot(
            &FigureOptions::new(t, "direction 1", "direction 2").with_z_label("train loss").with_size(520, 450),
            gg,
            None,
            range,
        )
    };
    save(
        &side_by_side(
            &[p("batch 64 (test acc 97.7 %)", &g), p("batch 2048 (test acc 94.7 %)", &large)],
            "Small- vs large-batch solution, one colour scale",
        ),
        "side_by_side.png",
    );
    let small = opts("Small 400 x 300 figure with a long title that must not be clipped").with_size(400, 300);
    save(&contour_plot(&small, &g, None, true, None), "small_contour.png");
    save(&line_plot(&small, &l, "cross-entropy loss", &r, "accuracy (%)", false), "small_line.png");
    let wide = Grid2::from_fn(Grid2::linspace(0.0, 12000.0, 60), Grid2::linspace(-0.001, 0.001, 20), |x, y| (x / 3000.0).sin() + y * 800.0);
    save(
        &heatmap(&FigureOptions::new("Wide ranges: x in [0, 12000], y in [-0.001, 0.001]", "step", "offset"), &wide, None, "value"),
        "heatmap_wide.png",
    );
    save(
        &contour_plot(
            &opts("Degenerate: all NaN"),
            &Grid2 { x: vec![0.0, 1.0], y: vec![0.0, 1.0], z: vec![f64::NAN; 4] },
            None,
            true,
            None,
        ),
        "no_data.png",
    );
}
