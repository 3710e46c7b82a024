// llv view: draws llv results on canvases with no library. 2-D results get
// a shaded 3-D surface (painter's algorithm, the camera of the PNG renderer)
// or a contour view (marching squares); 1-D results a line chart. All panels
// share one value scale, one camera and the hovered point, so side-by-side
// results compare directly. Data: the JSON block #llv-data (landscape::view).
(function () {
  'use strict';
  const DATA = JSON.parse(document.getElementById('llv-data').textContent);
  const RESULTS = DATA.results;

  // Viridis at 11 points and linear interpolation, as render/colormap.rs.
  const VIRIDIS = [[0x44, 0x01, 0x54], [0x48, 0x25, 0x76], [0x41, 0x44, 0x87], [0x35, 0x60, 0x8d], [0x2a, 0x78, 0x8e],
    [0x21, 0x90, 0x8c], [0x22, 0xa8, 0x84], [0x43, 0xbf, 0x71], [0x7a, 0xd1, 0x51], [0xbb, 0xdf, 0x27], [0xfd, 0xe7, 0x25]];
  function viridis(t, shade) {
    const x = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1);
    const i = Math.min(Math.floor(x), VIRIDIS.length - 2), f = x - i;
    const c = [0, 1, 2].map(k => Math.round((VIRIDIS[i][k] + (VIRIDIS[i + 1][k] - VIRIDIS[i][k]) * f) * (shade || 1)));
    return 'rgb(' + c.join(',') + ')';
  }
  const INK = '#222', PANE = '#f2f2f2', PANE_EDGE = '#bebebe', GRID = '#d4d4d4', MISSING = '#ececec', PATH = '#d62728';
  const ZH = 0.75; // half height of the 3-D box; x and y span [-1, 1] (matplotlib's 4:4:3 box)

  // What every panel reads: changing it and calling drawAll() keeps the views linked.
  const state = { metric: DATA.metric, log: null, mode: '3d', elev: 30, azim: -60, zoom: 1, hover: null };

  const isNum = v => typeof v === 'number' && isFinite(v);
  const clamp01 = t => Math.min(Math.max(t, 0), 1);
  const fmt = v => (isNum(v) ? String(Number(v.toPrecision(6))) : 'n/a');
  const fmtTick = v => (Math.abs(v) < 1e-12 ? '0' : String(Number(v.toPrecision(3))));

  // The value scale of the current metric over all results: linear or log
  // (log only when every value is positive), mapping values onto [0, 1].
  function valueScale() {
    let lo = Infinity, hi = -Infinity;
    for (const r of RESULTS) for (const v of r.values[state.metric] || []) if (isNum(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (!(lo <= hi)) { lo = 0; hi = 1; }
    const canLog = lo > 0;
    if (state.log === null) state.log = DATA.scale === 'log' || (DATA.scale === 'auto' && canLog && hi / lo >= 100);
    const log = state.log && canLog;
    if (hi <= lo) {
      if (log) { lo /= 2; hi *= 2; } else { const d = lo === 0 ? 0.5 : Math.abs(lo) * 0.1; lo -= d; hi += d; }
    }
    const f = log ? Math.log : (v => v);
    const a = f(lo), b = f(hi);
    return {
      lo, hi, log, canLog,
      t: v => (isNum(v) ? clamp01((f(v) - a) / (b - a)) : null),
      value: t => (log ? Math.exp(a + (b - a) * t) : a + (b - a) * t),
    };
  }

  // "Nice" ticks: 1-2-5 steps between lo and hi; decades on a log scale.
  function niceTicks(lo, hi, n) {
    const span = hi - lo;
    if (!(span > 0)) return [lo];
    const raw = span / Math.max(1, n), mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw * (1 - 1e-9));
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }
  function scaleTicks(s, n) {
    if (!s.log || s.hi / s.lo < 10) return niceTicks(s.lo, s.hi, n);
    const out = [];
    for (let k = Math.ceil(Math.log10(s.lo) - 1e-9); k <= Math.floor(Math.log10(s.hi) + 1e-9); k++) {
      for (const m of s.hi / s.lo < 1000 ? [1, 2, 5] : [1]) { const v = m * Math.pow(10, k); if (v >= s.lo && v <= s.hi) out.push(v); }
    }
    return out;
  }

  // Orthographic camera at an elevation and azimuth (degrees), as render/surface3d.rs.
  function camera(elev, azim, rect) {
    const e = elev * Math.PI / 180, a = azim * Math.PI / 180;
    const eye = [Math.cos(e) * Math.cos(a), Math.cos(e) * Math.sin(a), Math.sin(e)];
    const right = [-Math.sin(a), Math.cos(a), 0];
    const up = [-Math.sin(e) * Math.cos(a), -Math.sin(e) * Math.sin(a), Math.cos(e)];
    const dot = (p, q) => p[0] * q[0] + p[1] * q[1] + p[2] * q[2];
    // A constant fit (the box's bounding sphere) so rotating never rescales the picture.
    const k = state.zoom * Math.min(rect.w, rect.h) / (2 * Math.sqrt(2 + ZH * ZH));
    const cx = rect.x + rect.w / 2, cy = rect.y + rect.h / 2;
    return { eye, right, up, dot, screen: p => [cx + k * dot(p, right), cy - k * dot(p, up)], depth: p => dot(p, eye) };
  }

  // One panel per results file: heading, info line, canvas, readout.
  const panels = RESULTS.map((r, k) => {
    const el = document.createElement('div');
    el.className = 'panel';
    const h = document.createElement('h2');
    h.textContent = r.name + (r.model ? ' (' + r.model + ')' : '');
    const info = document.createElement('div');
    info.className = 'info';
    const grid = r.dims === 2 ? r.x.length + '×' + r.y.length + ' grid' : r.x.length + ' points on a line';
    const missing = r.cells - r.points;
    info.textContent = r.kind + ', ' + grid + ', ' + r.points + ' of ' + r.cells + ' points' + (missing > 0 ? ' (' + missing + ' missing)' : '');
    const canvas = document.createElement('canvas');
    canvas.id = 'canvas-' + k;
    const readout = document.createElement('div');
    readout.className = 'readout';
    readout.id = 'readout-' + k;
    el.append(h, info, canvas, readout);
    document.getElementById('panels').append(el);
    return { r, k, canvas, readout, w: 0, h: 0, spots: [] };
  });

  // The grid point of results r nearest data coordinates (x, y): [ix, iy].
  function nearestCell(r, x, y) {
    const near = (axis, c) => { let b = 0; axis.forEach((a, i) => { if (Math.abs(a - c) < Math.abs(axis[b] - c)) b = i; }); return b; };
    return [near(r.x, x), r.dims === 2 ? near(r.y, y) : 0];
  }
  const at = (r, metric, ix, iy) => { const v = r.values[metric][iy * r.x.length + ix]; return isNum(v) ? v : null; };

  // The readout of the hovered point in panel p: coordinates and every metric.
  function showReadout(p) {
    const r = p.r;
    if (!state.hover || r.x.length === 0) { p.readout.textContent = r.dims === 2 ? 'hover the surface for values' : 'hover the chart for values'; return; }
    const [ix, iy] = nearestCell(r, state.hover.x, state.hover.y);
    const where = r.x_label + ' = ' + fmt(r.x[ix]) + (r.dims === 2 ? ', ' + r.y_label + ' = ' + fmt(r.y[iy]) : '');
    const vals = r.metrics.map(m => m + ' = ' + fmt(at(r, m, ix, iy)));
    p.readout.textContent = at(r, r.metrics[0], ix, iy) === null ? where + ': no point here' : where + '\n' + vals.join(', ');
  }

  // Sizes the canvas to its box at the device's pixel density; returns the context.
  function prepare(p) {
    const dpr = window.devicePixelRatio || 1;
    p.w = Math.max(280, p.canvas.clientWidth || 400);
    p.h = Math.round(Math.min(p.w * 0.82, 600));
    p.canvas.style.height = p.h + 'px';
    p.canvas.width = Math.round(p.w * dpr);
    p.canvas.height = Math.round(p.h * dpr);
    const ctx = p.canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, p.w, p.h);
    ctx.font = '11px system-ui, sans-serif';
    return ctx;
  }

  function line(ctx, pts, color, width, dash) {
    ctx.beginPath();
    pts.forEach((q, i) => (i ? ctx.lineTo(q[0], q[1]) : ctx.moveTo(q[0], q[1])));
    ctx.strokeStyle = color; ctx.lineWidth = width || 1; ctx.setLineDash(dash || []);
    ctx.stroke(); ctx.setLineDash([]);
  }
  function text(ctx, s, x, y, align, base, color) {
    ctx.fillStyle = color || INK; ctx.textAlign = align || 'center'; ctx.textBaseline = base || 'middle';
    ctx.fillText(s, x, y);
  }

  // A vertical colour bar of the scale with ticks, right of x0, from y0 to y1.
  function colorbar(ctx, s, x0, y0, y1, label) {
    for (let y = y0; y < y1; y++) { ctx.fillStyle = viridis((y1 - y) / (y1 - y0)); ctx.fillRect(x0, y, 12, 1.5); }
    ctx.strokeStyle = INK; ctx.lineWidth = 1; ctx.strokeRect(x0 + 0.5, y0 + 0.5, 12, y1 - y0);
    for (const v of scaleTicks(s, 6)) {
      const y = y1 - s.t(v) * (y1 - y0);
      line(ctx, [[x0 + 12, y], [x0 + 16, y]], INK);
      text(ctx, fmtTick(v), x0 + 18, y, 'left');
    }
    ctx.save(); ctx.translate(x0 - 6, (y0 + y1) / 2); ctx.rotate(-Math.PI / 2);
    text(ctx, label + (s.log ? ' (log)' : ''), 0, 0, 'center', 'bottom'); ctx.restore();
  }

  // Shaded 3-D surface: the back panes of the box, then cells far to near.
  function draw3d(p, ctx, s) {
    const r = p.r, nx = r.x.length, ny = r.y.length;
    const cam = camera(state.elev, state.azim, { x: 10, y: 10, w: p.w - 90, h: p.h - 20 });
    const span = (a) => [a[0], a[a.length - 1] === a[0] ? a[0] + 1 : a[a.length - 1]];
    const [x0, x1] = span(r.x), [y0, y1] = span(r.y);
    const X = x => 2 * (x - x0) / (x1 - x0) - 1, Y = y => 2 * (y - y0) / (y1 - y0) - 1, Z = v => (2 * s.t(v) - 1) * ZH;
    const sgn = v => (v < 0 ? -1 : 1);
    const xb = -sgn(cam.eye[0]), yb = -sgn(cam.eye[1]), zb = cam.eye[2] >= 0 ? -ZH : ZH;
    const poly = (ps, fill, stroke) => {
      ctx.beginPath(); ps.map(cam.screen).forEach((q, i) => (i ? ctx.lineTo(q[0], q[1]) : ctx.moveTo(q[0], q[1]))); ctx.closePath();
      ctx.fillStyle = fill; ctx.fill();
      if (stroke) { ctx.strokeStyle = stroke; ctx.lineWidth = 0.6; ctx.stroke(); }
    };
    const panes = [[[xb, -1, -ZH], [xb, 1, -ZH], [xb, 1, ZH], [xb, -1, ZH]], [[-1, yb, -ZH], [1, yb, -ZH], [1, yb, ZH], [-1, yb, ZH]],
      [[-1, -1, zb], [1, -1, zb], [1, 1, zb], [-1, 1, zb]]];
    for (const q of panes) poly(q, PANE, PANE_EDGE);
    const seg = (a, b, c) => line(ctx, [cam.screen(a), cam.screen(b)], c || GRID);
    for (const v of scaleTicks(s, 5)) { const z = Z(v); seg([xb, -1, z], [xb, 1, z]); seg([-1, yb, z], [1, yb, z]); }
    const xt = niceTicks(x0, x1, 4), yt = niceTicks(y0, y1, 4);
    for (const v of xt) seg([X(v), -1, zb], [X(v), 1, zb]);
    for (const v of yt) seg([-1, Y(v), zb], [1, Y(v), zb]);

    // Cells: quads where all four corners exist, triangles where three do.
    const light = (() => { const l = [0, 1, 2].map(i => cam.eye[i] + 0.6 * cam.up[i] - 0.4 * cam.right[i]); const n = Math.hypot(...l); return l.map(c => c / n); })();
    const cells = [], used = new Set();
    const corner = (i, j) => { const v = at(r, state.metric, i, j); return v === null ? null : { p: [X(r.x[i]), Y(r.y[j]), Z(v)], v, key: j * nx + i }; };
    for (let j = 0; j + 1 < ny; j++) for (let i = 0; i + 1 < nx; i++) {
      const cs = [corner(i, j), corner(i + 1, j), corner(i + 1, j + 1), corner(i, j + 1)].filter(c => c);
      if (cs.length < 3) continue;
      cs.forEach(c => used.add(c.key));
      cells.push({ cs, depth: cs.reduce((d, c) => d + cam.depth(c.p), 0) / cs.length, v: cs.reduce((d, c) => d + c.v, 0) / cs.length });
    }
    cells.sort((a, b) => a.depth - b.depth);
    for (const c of cells) {
      const [a, b, d] = [c.cs[0].p, c.cs[1].p, c.cs[c.cs.length - 1].p];
      const u = [0, 1, 2].map(i => b[i] - a[i]), w = [0, 1, 2].map(i => d[i] - a[i]);
      const n = [u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0]];
      const shade = 0.5 + 0.5 * Math.abs(cam.dot(n, light)) / (Math.hypot(...n) || 1);
      const col = viridis(s.t(c.v), shade);
      poly(c.cs.map(q => q.p), col, col); // the stroke in the fill colour hides seams between cells
    }
    // Points that belong to no cell (sparse grids) as dots, so nothing held is hidden.
    p.spots = [];
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
      const c = corner(i, j);
      if (!c) continue;
      const q = cam.screen(c.p);
      p.spots.push({ sx: q[0], sy: q[1], ix: i, iy: j });
      if (!used.has(c.key)) { ctx.beginPath(); ctx.arc(q[0], q[1], 3, 0, 2 * Math.PI); ctx.fillStyle = viridis(s.t(c.v)); ctx.fill(); }
    }
    // Trajectory: the checkpoints at their own loss (when a loss is shown).
    if (r.path && /_loss$/.test(state.metric)) {
      const pts = r.path.filter(q => isNum(q.loss)).map(q => cam.screen([X(q.x), Y(q.y), Z(q.loss)]));
      line(ctx, pts, PATH, 2);
      pts.forEach(q => { ctx.beginPath(); ctx.arc(q[0], q[1], 3, 0, 2 * Math.PI); ctx.fillStyle = PATH; ctx.fill(); });
    }
    // Tick labels on the front floor edges, pushed away from the box centre;
    // one that would overlap a label already drawn (at a corner) is left out.
    const taken = [];
    const label = (pt, s2) => {
      const q = cam.screen(pt), c = cam.screen([0, 0, zb]), d = Math.hypot(q[0] - c[0], q[1] - c[1]) || 1;
      const x = q[0] + (q[0] - c[0]) / d * 14, y = q[1] + (q[1] - c[1]) / d * 14, hw = ctx.measureText(s2).width / 2 + 2;
      if (taken.some(t => Math.abs(t[0] - x) < hw + t[2] && Math.abs(t[1] - y) < 12)) return;
      taken.push([x, y, hw]);
      text(ctx, s2, x, y);
    };
    for (const v of xt) label([X(v), -yb, zb], fmtTick(v));
    for (const v of yt) label([-xb, Y(v), zb], fmtTick(v));
    label([0, -yb * 1.25, zb], r.x_label);
    label([-xb * 1.25, 0, zb], r.y_label);
    if (cells.length === 0 && p.spots.length === 0) text(ctx, 'no data', p.w / 2, p.h / 2);
    if (state.hover) {
      const [ix, iy] = nearestCell(r, state.hover.x, state.hover.y), v = at(r, state.metric, ix, iy);
      if (v !== null) { const q = cam.screen([X(r.x[ix]), Y(r.y[iy]), Z(v)]); marker(ctx, q); }
    }
    colorbar(ctx, s, p.w - 62, 30, p.h - 30, state.metric);
  }

  function marker(ctx, q) {
    ctx.beginPath(); ctx.arc(q[0], q[1], 5, 0, 2 * Math.PI);
    ctx.fillStyle = '#fff'; ctx.fill(); ctx.strokeStyle = PATH; ctx.lineWidth = 2; ctx.stroke();
  }

  // Axes frame with ticks for 2-D figures: returns data-to-screen maps.
  function frame(ctx, p, xs, ys, xLabel, yLabel, plot) {
    const X = v => plot.x + (v - xs[0]) / (xs[1] - xs[0]) * plot.w, Y = v => plot.y + plot.h - (v - ys[0]) / (ys[1] - ys[0]) * plot.h;
    ctx.strokeStyle = INK; ctx.lineWidth = 1; ctx.strokeRect(plot.x + 0.5, plot.y + 0.5, plot.w, plot.h);
    for (const v of niceTicks(xs[0], xs[1], 5)) { line(ctx, [[X(v), plot.y + plot.h], [X(v), plot.y + plot.h + 4]], INK); text(ctx, fmtTick(v), X(v), plot.y + plot.h + 12); }
    text(ctx, xLabel, plot.x + plot.w / 2, plot.y + plot.h + 28);
    ctx.save(); ctx.translate(plot.x - 40, plot.y + plot.h / 2); ctx.rotate(-Math.PI / 2); text(ctx, yLabel, 0, 0); ctx.restore();
    return { X, Y };
  }

  // Contour view: cells coloured by value (missing ones grey), marching-squares
  // contour lines at ten levels evenly spaced on the current scale, the path.
  function drawContour(p, ctx, s) {
    const r = p.r, nx = r.x.length, ny = r.y.length;
    const plot = { x: 58, y: 12, w: p.w - 58 - 92, h: p.h - 12 - 46 };
    const ext = a => (a.length > 1 ? [a[0], a[a.length - 1]] : [a[0] - 0.5, a[0] + 0.5]);
    const xs = ext(r.x), ys = ext(r.y);
    const { X, Y } = frame(ctx, p, xs, ys, r.x_label, r.y_label, plot);
    for (const v of niceTicks(ys[0], ys[1], 5)) { line(ctx, [[plot.x - 4, Y(v)], [plot.x, Y(v)]], INK); text(ctx, fmtTick(v), plot.x - 6, Y(v), 'right'); }
    // Cell edges halfway between grid values, so non-uniform grids tile exactly.
    const edges = a => a.map((v, i) => [i ? (a[i - 1] + v) / 2 : ext(a)[0], i + 1 < a.length ? (v + a[i + 1]) / 2 : ext(a)[1]]);
    const ex = edges(r.x), ey = edges(r.y);
    ctx.save(); ctx.beginPath(); ctx.rect(plot.x, plot.y, plot.w, plot.h); ctx.clip();
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
      const v = at(r, state.metric, i, j);
      ctx.fillStyle = v === null ? MISSING : viridis(s.t(v));
      const xa = X(ex[i][0]), xb = X(ex[i][1]), ya = Y(ey[j][1]), yb = Y(ey[j][0]);
      ctx.fillRect(Math.floor(xa), Math.floor(ya), Math.ceil(xb - xa) + 1, Math.ceil(yb - ya) + 1);
    }
    ctx.strokeStyle = 'rgba(255,255,255,0.85)'; ctx.lineWidth = 1;
    for (let l = 1; l < 10; l++) {
      const lv = l / 10;
      ctx.beginPath();
      for (let j = 0; j + 1 < ny; j++) for (let i = 0; i + 1 < nx; i++) {
        const c = [[i, j], [i + 1, j], [i + 1, j + 1], [i, j + 1]].map(([a, b]) => ({ x: r.x[a], y: r.y[b], t: s.t(at(r, state.metric, a, b)) }));
        if (c.some(q => q.t === null)) continue;
        // Where the level crosses each edge (linear in the scale's coordinate).
        const hits = [];
        for (let e = 0; e < 4; e++) {
          const a = c[e], b = c[(e + 1) % 4];
          if ((a.t < lv) !== (b.t < lv)) { const f = (lv - a.t) / (b.t - a.t); hits.push([X(a.x + (b.x - a.x) * f), Y(a.y + (b.y - a.y) * f)]); }
        }
        for (let h = 0; h + 1 < hits.length; h += 2) { ctx.moveTo(hits[h][0], hits[h][1]); ctx.lineTo(hits[h + 1][0], hits[h + 1][1]); }
      }
      ctx.stroke();
    }
    if (r.path) {
      const pts = r.path.map(q => [X(q.x), Y(q.y)]);
      line(ctx, pts, PATH, 2);
      r.path.forEach((q, i) => { ctx.beginPath(); ctx.arc(pts[i][0], pts[i][1], 3, 0, 2 * Math.PI); ctx.fillStyle = PATH; ctx.fill(); });
      // The first and last checkpoints named (the middle ones crowd near the start).
      for (const i of r.path.length > 1 ? [0, r.path.length - 1] : [0]) text(ctx, 'epoch ' + r.path[i].epoch, pts[i][0] + 6, pts[i][1] - 8, 'left', 'middle', '#fff');
    }
    ctx.restore();
    ctx.strokeStyle = INK; ctx.lineWidth = 1; ctx.strokeRect(plot.x + 0.5, plot.y + 0.5, plot.w, plot.h);
    p.spots = [];
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) if (at(r, state.metric, i, j) !== null) p.spots.push({ sx: X(r.x[i]), sy: Y(r.y[j]), ix: i, iy: j });
    if (state.hover) { const [ix, iy] = nearestCell(r, state.hover.x, state.hover.y); marker(ctx, [X(r.x[ix]), Y(r.y[iy])]); }
    colorbar(ctx, s, p.w - 62, plot.y, plot.y + plot.h, state.metric);
  }

  // 1-D chart: the metric on the shared scale (left) and, for a loss, the
  // matching accuracy in % (right, dashed). Missing points break the line.
  function drawLine(p, ctx, s) {
    const r = p.r, acc = state.metric.replace(/_loss$/, '_accuracy');
    const right = acc !== state.metric && r.values[acc] ? acc : null;
    const plot = { x: 62, y: 24, w: p.w - 62 - (right ? 52 : 16), h: p.h - 24 - 46 };
    const xs = r.x.length > 1 ? [r.x[0], r.x[r.x.length - 1]] : [(r.x[0] || 0) - 0.5, (r.x[0] || 0) + 0.5];
    const { X } = frame(ctx, p, xs, [0, 1], r.x_label, state.metric + (s.log ? ' (log)' : ''), plot);
    const Yt = t => plot.y + plot.h - t * plot.h, Ya = v => plot.y + plot.h - v * plot.h;
    for (const v of scaleTicks(s, 6)) { line(ctx, [[plot.x - 4, Yt(s.t(v))], [plot.x, Yt(s.t(v))]], INK); text(ctx, fmtTick(v), plot.x - 6, Yt(s.t(v)), 'right'); }
    const series = (metric, y, color, dash) => {
      let run = [];
      r.x.forEach((x, i) => { const v = at(r, metric, i, 0); if (v === null) { line(ctx, run, color, 2, dash); run = []; } else run.push([X(x), y(v)]); });
      line(ctx, run, color, 2, dash);
    };
    series(state.metric, v => Yt(s.t(v)), '#35608d');
    if (right) {
      for (const v of [0, 25, 50, 75, 100]) { line(ctx, [[plot.x + plot.w, Ya(v / 100)], [plot.x + plot.w + 4, Ya(v / 100)]], INK); text(ctx, v + '%', plot.x + plot.w + 6, Ya(v / 100), 'left'); }
      series(right, v => Ya(clamp01(v)), '#e07b00', [6, 4]);
      text(ctx, '— ' + state.metric + '   - - ' + right + ' (right, %)', plot.x, 10, 'left', 'middle', '#555');
    }
    p.spots = r.x.map((x, i) => ({ sx: X(x), sy: at(r, state.metric, i, 0) === null ? plot.y + plot.h : Yt(s.t(at(r, state.metric, i, 0))), ix: i, iy: 0, line: true }));
    if (state.hover && r.x.length) {
      const [ix] = nearestCell(r, state.hover.x, 0), v = at(r, state.metric, ix, 0);
      line(ctx, [[X(r.x[ix]), plot.y], [X(r.x[ix]), plot.y + plot.h]], '#999', 1, [3, 3]);
      if (v !== null) marker(ctx, [X(r.x[ix]), Yt(s.t(v))]);
    }
  }

  let redraws = 0;
  function drawAll() {
    const s = valueScale();
    for (const p of panels) {
      const ctx = prepare(p);
      if (p.r.dims === 2 && p.r.x.length && p.r.y.length) (state.mode === '3d' ? draw3d : drawContour)(p, ctx, s);
      else if (p.r.x.length) drawLine(p, ctx, s);
      else text(ctx, 'no data', p.w / 2, p.h / 2);
      showReadout(p);
    }
    updateControls(s);
    redraws++;
  }

  // Controls: metric, 3-D / contour, linear / log, reset.
  const controls = document.getElementById('controls');
  function group(label, buttons) {
    const g = document.createElement('span');
    g.className = 'group';
    const l = document.createElement('span'); l.textContent = label; g.append(l);
    const out = buttons.map(([id, name, act]) => {
      const b = document.createElement('button'); b.id = id; b.textContent = name; b.type = 'button';
      b.addEventListener('click', () => { act(); drawAll(); }); g.append(b); return b;
    });
    controls.append(g);
    return out;
  }
  const metricSel = document.createElement('select');
  metricSel.id = 'metric';
  for (const m of [...new Set(RESULTS.flatMap(r => r.metrics))]) { const o = document.createElement('option'); o.value = o.textContent = m; metricSel.append(o); }
  metricSel.value = state.metric;
  metricSel.addEventListener('change', () => { state.metric = metricSel.value; drawAll(); });
  const mg = document.createElement('span'); mg.className = 'group'; mg.append(Object.assign(document.createElement('span'), { textContent: 'metric' }), metricSel);
  controls.append(mg);
  const has2d = RESULTS.some(r => r.dims === 2);
  const [b3d, bcon] = has2d ? group('view', [['mode-3d', '3-D surface', () => { state.mode = '3d'; }], ['mode-contour', 'contours', () => { state.mode = 'contour'; }]]) : [null, null];
  const [blin, blog] = group('scale', [['scale-linear', 'linear', () => { state.log = false; }], ['scale-log', 'log', () => { state.log = true; }]]);
  if (has2d) group('', [['reset', 'reset camera', () => { Object.assign(state, { elev: 30, azim: -60, zoom: 1 }); }]]);
  function updateControls(s) {
    if (b3d) { b3d.classList.toggle('on', state.mode === '3d'); bcon.classList.toggle('on', state.mode === 'contour'); }
    blin.classList.toggle('on', !s.log); blog.classList.toggle('on', s.log);
    blog.disabled = !s.canLog;
    blog.title = s.canLog ? '' : 'log needs every value positive';
  }

  // Mouse: drag rotates and the wheel zooms (3-D), hovering picks the nearest
  // drawn point within 30 px; every panel then shows that point.
  for (const p of panels) {
    let drag = null;
    p.canvas.addEventListener('pointerdown', e => {
      if (p.r.dims !== 2 || state.mode !== '3d') return;
      drag = { x: e.clientX, y: e.clientY }; p.canvas.setPointerCapture(e.pointerId); p.canvas.classList.add('dragging');
    });
    p.canvas.addEventListener('pointerup', e => {
      if (!drag) return;
      drag = null; p.canvas.releasePointerCapture(e.pointerId); p.canvas.classList.remove('dragging');
    });
    p.canvas.addEventListener('pointermove', e => {
      if (drag) {
        state.azim -= (e.clientX - drag.x) * 0.5;
        state.elev = Math.min(90, Math.max(-90, state.elev + (e.clientY - drag.y) * 0.5));
        drag = { x: e.clientX, y: e.clientY };
        drawAll();
        return;
      }
      const b = p.canvas.getBoundingClientRect(), mx = e.clientX - b.left, my = e.clientY - b.top;
      let best = null, bd = 30;
      for (const q of p.spots) { const d = q.line ? Math.abs(q.sx - mx) : Math.hypot(q.sx - mx, q.sy - my); if (d < bd) { bd = d; best = q; } }
      const hover = best ? { x: p.r.x[best.ix], y: p.r.dims === 2 ? p.r.y[best.iy] : 0 } : null;
      if (JSON.stringify(hover) !== JSON.stringify(state.hover)) { state.hover = hover; drawAll(); }
    });
    p.canvas.addEventListener('pointerleave', () => { if (!drag && state.hover) { state.hover = null; drawAll(); } });
    p.canvas.addEventListener('wheel', e => {
      if (p.r.dims !== 2 || state.mode !== '3d') return;
      e.preventDefault();
      state.zoom = Math.min(6, Math.max(0.3, state.zoom * Math.exp(-e.deltaY * 0.0015)));
      drawAll();
    }, { passive: false });
  }
  window.addEventListener('resize', drawAll);

  // A small hook for tests and scripts: where grid point (x, y) of panel k is
  // drawn now, in page coordinates (for hovering it), and the redraw count.
  window.llvView = {
    state,
    panels: panels.length,
    redraws: () => redraws,
    pointOnScreen(k, x, y) {
      const p = panels[k];
      const [ix, iy] = nearestCell(p.r, x, y);
      const q = p.spots.find(s2 => s2.ix === ix && s2.iy === iy);
      if (!q) return null;
      const b = p.canvas.getBoundingClientRect();
      return { x: b.left + q.sx, y: b.top + q.sy };
    },
  };
  drawAll();
})();
