//! Shaded 3-D surface: an orthographic view from an elevation and azimuth (as in
//! matplotlib: azimuth -60, elevation 30 is the usual view), quads sorted far to
//! near (painter's algorithm) and scan-converted into a supersampled layer,
//! coloured by height (viridis) and shaded by a Lambert term with a light tied
//! to the viewer; behind the surface the three back panes of the axes box with
//! grid lines; ticks and labels on the front edges; a colour bar.

use super::axes::{colorbar_ticks, colorbar_width, draw_colorbar, draw_no_data, draw_title, linear_labels, nice_ticks, Axis, Style};
use super::canvas::{Canvas, Color, Layer, Rect, INK, WHITE};
use super::colormap::{ColorScale, ZScale};
use super::contour::empty_figure;
use super::text::{self, HAlign, Label, VAlign};
use super::{FigureOptions, Grid2, RgbImage};

type V3 = [f64; 3];

fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: V3, b: V3) -> V3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn norm(a: V3) -> V3 {
    let l = dot(a, a).sqrt();
    if l > 0.0 {
        [a[0] / l, a[1] / l, a[2] / l]
    } else {
        [0.0, 0.0, 1.0]
    }
}

/// Half height of the box (x and y span [-1, 1]): matplotlib's 4:4:3 box.
const ZH: f64 = 0.75;

/// An orthographic camera fitted to a screen rectangle.
struct Camera {
    eye: V3,
    right: V3,
    up: V3,
    k: f64,
    c: (f64, f64),
    b: (f64, f64),
}

impl Camera {
    fn new(elev: f64, azim: f64) -> Camera {
        let (e, a) = (elev.to_radians(), azim.to_radians());
        let eye = [e.cos() * a.cos(), e.cos() * a.sin(), e.sin()];
        let right = [-a.sin(), a.cos(), 0.0];
        let up = [-e.sin() * a.cos(), -e.sin() * a.sin(), e.cos()];
        Camera { eye, right, up, k: 1.0, c: (0.0, 0.0), b: (0.0, 0.0) }
    }

    /// Scale and centre so the box fits `r`.
    fn fit(&mut self, r: Rect) {
        let mut lo = (f64::INFINITY, f64::INFINITY);
        let mut hi = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for x in [-1.0, 1.0] {
            for y in [-1.0, 1.0] {
                for z in [-ZH, ZH] {
                    let p = [x, y, z];
                    let (sx, sy) = (dot(p, self.right), dot(p, self.up));
                    lo = (lo.0.min(sx), lo.1.min(sy));
                    hi = (hi.0.max(sx), hi.1.max(sy));
                }
            }
        }
        self.k = (r.w() / (hi.0 - lo.0)).min(r.h() / (hi.1 - lo.1)).max(1e-3);
        self.b = ((lo.0 + hi.0) / 2.0, (lo.1 + hi.1) / 2.0);
        self.c = (r.x0 + r.w() / 2.0, r.y0 + r.h() / 2.0);
    }

    fn screen(&self, p: V3) -> (f64, f64) {
        (self.c.0 + self.k * (dot(p, self.right) - self.b.0), self.c.1 - self.k * (dot(p, self.up) - self.b.1))
    }

    fn depth(&self, p: V3) -> f64 {
        dot(p, self.eye)
    }
}

fn sgn(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else {
        1.0
    }
}

/// A shaded 3-D surface of `grid` seen from `elevation_deg` above the x-y plane and
/// `azimuth_deg` around the vertical axis (matplotlib's convention; -60 / 30 is its
/// default view). Height is linear; `range` fixes the height and colour limits (values
/// outside are clamped). Colours follow `opts.z_scale`, except that `Auto` means linear
/// here, so colour and height agree. Axis labels: `opts.x_label`, `opts.y_label`,
/// `opts.z_label` (also on the colour bar). NaN cells leave holes.
pub fn surface3d(opts: &FigureOptions, grid: &Grid2, elevation_deg: f64, azimuth_deg: f64, range: Option<(f64, f64)>) -> RgbImage {
    let (w, h) = opts.size();
    let Some(g) = grid.normalized() else {
        return empty_figure(opts).0;
    };
    let st = Style::for_size(w, h);
    let mode = if opts.z_scale == ZScale::Log { ZScale::Log } else { ZScale::Linear };
    let scale = ColorScale::new(&g.z, range, mode);
    let mut zax = Axis::fit(g.z.iter().copied(), false, 0.0, range);
    if range.is_none() {
        // Round the height range out to nice numbers, as the tick labels are.
        let step = super::axes::nice_step(zax.hi - zax.lo, 6);
        zax = Axis { lo: (zax.lo / step).floor() * step, hi: (zax.hi / step).ceil() * step, log: false };
    }
    let xax = Axis::fit(g.x.iter().copied(), false, 0.0, None);
    let yax = Axis::fit(g.y.iter().copied(), false, 0.0, None);
    let (elev, azim) = (
        if elevation_deg.is_finite() { elevation_deg.clamp(-90.0, 90.0) } else { 30.0 },
        if azimuth_deg.is_finite() { azimuth_deg } else { -60.0 },
    );

    let mut c = Canvas::new(w, h, WHITE);
    let title_h = if opts.title.is_empty() { 0.0 } else { st.title + st.pad };
    let top = st.pad + title_h;
    // Colour bar: 60 % of the height, on the right.
    let avail_h = h as f64 - top - st.pad;
    let cb_h = (avail_h * 0.6).max(20.0);
    let cbw = colorbar_width(&scale, &opts.z_label, cb_h, &st);
    let plot = Rect::new(st.pad, top, (w as f64 - cbw - st.pad).max(st.pad + 20.0), h as f64 - st.pad);
    draw_title(&mut c, &opts.title, plot.x0 + plot.w() / 2.0, &st);
    let cb_x0 = plot.x1 + (st.pad * 2.0).round();
    let cb_rect = Rect::new(cb_x0, top + (avail_h - cb_h) / 2.0, cb_x0 + (st.tick * 1.25).round(), top + (avail_h + cb_h) / 2.0);
    draw_colorbar(&mut c, cb_rect, &scale, None, &colorbar_ticks(&scale, cb_h, &st), &opts.z_label, &st);

    // Fit the box, leaving room for tick labels and axis labels around it.
    let mut cam = Camera::new(elev, azim);
    let margin = st.tick * 3.2 + st.label * 1.6;
    cam.fit(Rect::new(plot.x0 + margin * 0.8, plot.y0 + st.pad, plot.x1 - margin, plot.y1 - margin));
    let nx3 = |x: f64| 2.0 * xax.frac(x) - 1.0;
    let ny3 = |y: f64| 2.0 * yax.frac(y) - 1.0;
    let nz3 = |z: f64| (2.0 * zax.frac(z.clamp(zax.lo, zax.hi)) - 1.0) * ZH;

    // Back panes and their grid lines.
    let xb = -sgn(cam.eye[0]);
    let yb = -sgn(cam.eye[1]);
    let zb = if cam.eye[2] >= 0.0 { -ZH } else { ZH };
    let pane = [242, 242, 242];
    let pane_edge = [190, 190, 190];
    let gridc = [212, 212, 212];
    let quad = |cam: &Camera, ps: [V3; 4]| -> Vec<(f64, f64)> { ps.iter().map(|&p| cam.screen(p)).collect() };
    let panes = [
        [[xb, -1.0, -ZH], [xb, 1.0, -ZH], [xb, 1.0, ZH], [xb, -1.0, ZH]],
        [[-1.0, yb, -ZH], [1.0, yb, -ZH], [1.0, yb, ZH], [-1.0, yb, ZH]],
        [[-1.0, -1.0, zb], [1.0, -1.0, zb], [1.0, 1.0, zb], [-1.0, 1.0, zb]],
    ];
    for p in panes {
        c.fill_polygon(&quad(&cam, p), pane, 1.0);
    }
    let xlen = {
        let (a, b) = (cam.screen([-1.0, -yb, zb]), cam.screen([1.0, -yb, zb]));
        ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt()
    };
    let ylen = {
        let (a, b) = (cam.screen([-xb, -1.0, zb]), cam.screen([-xb, 1.0, zb]));
        ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt()
    };
    let zlen = 2.0 * ZH * cam.k * cam.up[2].abs().max(0.2);
    let ticks_for = |a: &Axis, len: f64, per: f64| {
        let v = nice_ticks(a.lo, a.hi, (len / per).floor().clamp(2.0, 9.0) as usize);
        let l = linear_labels(&v);
        v.into_iter().zip(l).collect::<Vec<(f64, String)>>()
    };
    let xt = ticks_for(&xax, xlen, st.tick * 2.6);
    let yt = ticks_for(&yax, ylen, st.tick * 2.6);
    let zt = ticks_for(&zax, zlen, st.tick * 2.2);
    let seg = |c: &mut Canvas, a: V3, b: V3, col: Color| {
        let (p, q) = (cam.screen(a), cam.screen(b));
        c.line(p.0, p.1, q.0, q.1, 1.0, col);
    };
    for (v, _) in &xt {
        let x = nx3(*v);
        seg(&mut c, [x, yb, -ZH], [x, yb, ZH], gridc);
        seg(&mut c, [x, -1.0, zb], [x, 1.0, zb], gridc);
    }
    for (v, _) in &yt {
        let y = ny3(*v);
        seg(&mut c, [xb, y, -ZH], [xb, y, ZH], gridc);
        seg(&mut c, [-1.0, y, zb], [1.0, y, zb], gridc);
    }
    for (v, _) in &zt {
        let z = nz3(*v);
        seg(&mut c, [xb, -1.0, z], [xb, 1.0, z], gridc);
        seg(&mut c, [-1.0, yb, z], [1.0, yb, z], gridc);
    }
    for p in panes {
        let q = quad(&cam, p);
        let mut closed = q.clone();
        closed.push(q[0]);
        c.polyline(&closed, 1.0, pane_edge, 1.0, super::canvas::Dash::Solid);
    }

    // The surface.
    let (nx, ny) = (g.x.len(), g.y.len());
    let light = norm([
        cam.eye[0] + 0.6 * cam.up[0] - 0.4 * cam.right[0],
        cam.eye[1] + 0.6 * cam.up[1] - 0.4 * cam.right[1],
        cam.eye[2] + 0.6 * cam.up[2] - 0.4 * cam.right[2],
    ]);
    let mut quads: Vec<(f64, [V3; 4], f64)> = Vec::new();
    for j in 0..ny.saturating_sub(1) {
        for i in 0..nx.saturating_sub(1) {
            let zs = [g.at(i, j), g.at(i + 1, j), g.at(i + 1, j + 1), g.at(i, j + 1)];
            if zs.iter().any(|z| z.is_nan()) {
                continue;
            }
            let ps = [
                [nx3(g.x[i]), ny3(g.y[j]), nz3(zs[0])],
                [nx3(g.x[i + 1]), ny3(g.y[j]), nz3(zs[1])],
                [nx3(g.x[i + 1]), ny3(g.y[j + 1]), nz3(zs[2])],
                [nx3(g.x[i]), ny3(g.y[j + 1]), nz3(zs[3])],
            ];
            let depth = ps.iter().map(|&p| cam.depth(p)).sum::<f64>() / 4.0;
            quads.push((depth, ps, zs.iter().sum::<f64>() / 4.0));
        }
    }
    if quads.is_empty() {
        draw_no_data(
            &mut c,
            Rect::new(plot.x0 + plot.w() * 0.3, plot.y0 + plot.h() * 0.4, plot.x1 - plot.w() * 0.3, plot.y1 - plot.h() * 0.4),
            &st,
        );
    }
    quads.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut layer = Layer::new(w, h, 3);
    for (_, ps, zm) in &quads {
        let n = {
            let u = [ps[2][0] - ps[0][0], ps[2][1] - ps[0][1], ps[2][2] - ps[0][2]];
            let v = [ps[3][0] - ps[1][0], ps[3][1] - ps[1][1], ps[3][2] - ps[1][2]];
            let n = norm(cross(u, v));
            if n[2] < 0.0 {
                [-n[0], -n[1], -n[2]]
            } else {
                n
            }
        };
        let shade = 0.5 + 0.5 * dot(n, light).abs();
        let base = scale.color(*zm).unwrap_or(INK);
        let col = [(base[0] as f64 * shade) as u8, (base[1] as f64 * shade) as u8, (base[2] as f64 * shade) as u8];
        layer.fill_polygon(&quad(&cam, *ps), col);
    }
    layer.composite(&mut c);

    // Ticks and labels on the front edges.
    let tick_len = st.tick_len * 1.2;
    // Labels are placed along `dir` from `anchor`; one that would overlap a label
    // already drawn is left out (ticks meeting at a corner of the box).
    let mut taken: Vec<Rect> = Vec::new();
    let mut place = |c: &mut Canvas, anchor: (f64, f64), dir: (f64, f64), text: &str, px: f64, extra: f64, rotated: bool| -> f64 {
        let m = text::measure(text, px);
        let (tw, th) = if rotated { (m.h, m.w) } else { (m.w, m.h * 0.8) };
        let ext = dir.0.abs() * tw / 2.0 + dir.1.abs() * th / 2.0;
        let d = extra + ext;
        let l = Label::new(text, px, INK, HAlign::Center, VAlign::Center);
        let l = if rotated { l.rotated(90.0) } else { l };
        let (x, y) = (anchor.0 + dir.0 * d, anchor.1 + dir.1 * d);
        let b = l.bounds(x, y);
        if !taken.iter().any(|t| t.intersects(&b.grow(1.0))) {
            l.draw(c, x, y);
            taken.push(b);
        }
        2.0 * ext
    };
    let outward = |from: V3, to: V3| {
        let (a, b) = (cam.screen(from), cam.screen(to));
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let l = (dx * dx + dy * dy).sqrt().max(1e-9);
        (dx / l, dy / l)
    };
    // z ticks on the vertical edge farthest to the right on screen.
    let corner = [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]
        .into_iter()
        .max_by(|a, b| cam.screen([a[0], a[1], 0.0]).0.total_cmp(&cam.screen([b[0], b[1], 0.0]).0))
        .unwrap_or([1.0, 1.0]);
    let dir_z = (1.0, 0.0);
    let mut widest: f64 = 0.0;
    for (v, lab) in &zt {
        let p = cam.screen([corner[0], corner[1], nz3(*v)]);
        c.line(p.0, p.1, p.0 + tick_len, p.1, 1.0, INK);
        widest = widest.max(place(&mut c, p, dir_z, lab, st.tick, tick_len + 3.0, false));
    }
    if !opts.z_label.is_empty() {
        let p = cam.screen([corner[0], corner[1], 0.0]);
        place(&mut c, p, dir_z, &opts.z_label, st.label, tick_len + 3.0 + st.pad + widest, true);
    }
    // x ticks on the front edge y = -yb, z = zb.
    let yf = -yb;
    let dir_x = outward([0.0, yf, zb], [0.0, yf * 1.5, zb]);
    let mut widest: f64 = 0.0;
    for (v, lab) in &xt {
        let p = cam.screen([nx3(*v), yf, zb]);
        c.line(p.0, p.1, p.0 + dir_x.0 * tick_len, p.1 + dir_x.1 * tick_len, 1.0, INK);
        widest = widest.max(place(&mut c, p, dir_x, lab, st.tick, tick_len + 3.0, false));
    }
    if !opts.x_label.is_empty() {
        let p = cam.screen([0.0, yf, zb]);
        place(&mut c, p, dir_x, &opts.x_label, st.label, tick_len + 6.0 + widest, false);
    }
    let xf = -xb;
    let dir_y = outward([xf, 0.0, zb], [xf * 1.5, 0.0, zb]);
    let mut widest: f64 = 0.0;
    for (v, lab) in &yt {
        let p = cam.screen([xf, ny3(*v), zb]);
        c.line(p.0, p.1, p.0 + dir_y.0 * tick_len, p.1 + dir_y.1 * tick_len, 1.0, INK);
        widest = widest.max(place(&mut c, p, dir_y, lab, st.tick, tick_len + 3.0, false));
    }
    if !opts.y_label.is_empty() {
        let p = cam.screen([xf, 0.0, zb]);
        place(&mut c, p, dir_y, &opts.y_label, st.label, tick_len + 6.0 + widest, false);
    }
    c.img
}
