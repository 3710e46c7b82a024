// The page `llv view` writes, in a real browser (Debian's chromium driven by
// playwright-core): it loads from a file with no console error and no
// request, draws, turns when dragged, zooms on the wheel, and hovering a
// known grid point shows that point's values from surface.jsonl.
//
// Run: cargo build --release && (cd tests/browser && npm ci && node --test)
// The llv binary is taken from $CARGO_TARGET_DIR/release (default target/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launch } from './browser.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LLV = path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target'), 'release', 'llv');
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'llv-view-browser-'));
const llv = (...args) => execFileSync(LLV, args, { cwd: DIR, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

// Every complete point of a results file: [{x, y, values: {metric: v}}].
function points(file) {
  const parse = l => { try { return JSON.parse(l); } catch { return null; } };
  const lines = fs.readFileSync(path.join(DIR, file), 'utf8').split('\n').map(parse).filter(l => l);
  const metrics = lines[0].metrics;
  return lines.slice(1).map(p => ({ x: p.x, y: p.y, values: Object.fromEntries(metrics.map((m, i) => [m, p.values[i]])) }));
}
const pointAt = (file, x, y) => points(file).find(p => Math.abs(p.x - x) < 1e-9 && Math.abs(p.y - y) < 1e-9);

let browser;
before(() => {
  assert.ok(fs.existsSync(LLV), `${LLV} not found: run cargo build --release first`);
  const common = ['--model', 'mlp', '--data', 'spirals', '--limit', '200'];
  llv('train', '--model', 'mlp', '--data', 'spirals', '--optimizer', 'adam', '--epochs', '3', '--out', 'run');
  const w = ['--weights', 'run/final.safetensors'];
  llv('surface', ...common, ...w, '--x', '-1:1:9', '--y', '-1:1:9', '--seed', '1', '--out', 'a');
  llv('surface', ...common, ...w, '--x', '-1:1:9', '--y', '-1:1:9', '--seed', '2', '--out', 'b');
  llv('surface', ...common, ...w, '--x', '-1:1:21', '--seed', '3', '--out', 'line');
  // A grid with holes and a partial last line, as a run still computing leaves it.
  const lines = fs.readFileSync(path.join(DIR, 'a/surface.jsonl'), 'utf8').trim().split('\n');
  const kept = [lines[0], ...lines.slice(1).filter((_, i) => i % 3 !== 1)];
  fs.mkdirSync(path.join(DIR, 'partial'));
  fs.writeFileSync(path.join(DIR, 'partial/surface.jsonl'), kept.join('\n') + '\n{"i":80,"x":1.0,');
  llv('view', 'a', 'b', '--out', 'two.html');
  llv('view', 'line', '--out', 'line.html');
  llv('view', 'partial', '--out', 'partial.html');
  return launch().then(b => { browser = b; });
});
after(() => browser && browser.close());

// Opens a page from its file, recording console errors, page errors and every request but the page's own.
async function open(file) {
  const url = pathToFileURL(path.join(DIR, file)).href;
  const page = await browser.newPage();
  const problems = [], requests = [];
  page.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', e => problems.push(`page error: ${e.message}`));
  page.on('request', r => { if (r.url() !== url) requests.push(r.url()); });
  await page.goto(url);
  await page.waitForFunction(() => window.llvView && window.llvView.redraws() > 0);
  return { page, problems, requests };
}

// How much of a canvas is drawn: distinct colours and the share of non-white pixels.
const ink = (page, id) => page.evaluate(id => {
  // Read a copy, so the page's own canvas is never read back (Chromium warns when it is, repeatedly).
  const c = document.getElementById(id), copy = document.createElement('canvas');
  [copy.width, copy.height] = [c.width, c.height];
  const cx = copy.getContext('2d', { willReadFrequently: true });
  cx.drawImage(c, 0, 0);
  const d = cx.getImageData(0, 0, c.width, c.height).data;
  const colours = new Set();
  let drawn = 0;
  for (let i = 0; i < d.length; i += 4) {
    colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    if (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250) drawn++;
  }
  return { colours: colours.size, drawn: drawn / (d.length / 4) };
}, id);
const picture = (page, id) => page.evaluate(id => document.getElementById(id).toDataURL(), id);
const readout = (page, k) => page.textContent(`#readout-${k}`);
const valueIn = (text, metric) => Number((text.match(new RegExp(`${metric} = (\\S+?)(,|$)`, 'm')) || [])[1]);

// Hovers grid point (x, y) of panel k and returns every panel's readout.
async function hover(page, k, x, y) {
  const at = await page.evaluate(([k, x, y]) => window.llvView.pointOnScreen(k, x, y), [k, x, y]);
  assert.ok(at, `point (${x}, ${y}) is not drawn in panel ${k}`);
  await page.mouse.move(at.x, at.y);
  const n = await page.evaluate(() => window.llvView.panels);
  return Promise.all([...Array(n).keys()].map(i => readout(page, i)));
}

function assertReadout(text, p) {
  assert.match(text, new RegExp(`x = ${p.x}\\b`), text);
  assert.match(text, new RegExp(`y = ${p.y}\\b`), text);
  for (const [m, v] of Object.entries(p.values)) {
    const shown = valueIn(text, m);
    assert.ok(Math.abs(shown - v) <= 1e-5 * Math.max(1, Math.abs(v)), `${m}: shows ${shown}, file has ${v} (${text})`);
  }
}

test('two surfaces: clean load, drawn, drag turns both, wheel zooms, hover reads the file', async () => {
  const { page, problems, requests } = await open('two.html');
  assert.deepEqual(problems, []);
  for (const id of ['canvas-0', 'canvas-1']) {
    const { colours, drawn } = await ink(page, id);
    assert.ok(colours > 50 && drawn > 0.2, `${id} looks blank: ${colours} colours, ${(100 * drawn).toFixed(1)}% drawn`);
  }
  const box = await page.locator('#canvas-0').boundingBox();
  const [before0, before1] = [await picture(page, 'canvas-0'), await picture(page, 'canvas-1')];
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 120, box.y + box.height / 2 + 40, { steps: 8 });
  await page.mouse.up();
  assert.notEqual(await picture(page, 'canvas-0'), before0, 'dragging did not change the picture');
  assert.notEqual(await picture(page, 'canvas-1'), before1, 'the second panel did not follow the camera');
  const cam = await page.evaluate(() => [window.llvView.state.azim, window.llvView.state.elev]);
  assert.notDeepEqual(cam, [-60, 30]);

  const beforeWheel = await picture(page, 'canvas-0');
  await page.mouse.wheel(0, -400);
  await page.waitForFunction(() => window.llvView.state.zoom > 1);
  assert.notEqual(await picture(page, 'canvas-0'), beforeWheel, 'the wheel did not zoom');

  // Hover: the readouts of both panels show the file's values at that point.
  const [r0, r1] = await hover(page, 0, 0.25, -0.5);
  assertReadout(r0, pointAt('a/surface.jsonl', 0.25, -0.5));
  assertReadout(r1, pointAt('b/surface.jsonl', 0.25, -0.5));

  // Contours: drawn, and hover still reads the file.
  await page.click('#mode-contour');
  const { colours } = await ink(page, 'canvas-0');
  assert.ok(colours > 50, `contour view looks blank (${colours} colours)`);
  const [c0] = await hover(page, 0, -0.75, 1);
  assertReadout(c0, pointAt('a/surface.jsonl', -0.75, 1));

  // Log / linear changes the picture.
  const lin = await page.click('#scale-linear').then(() => picture(page, 'canvas-0'));
  const log = await page.click('#scale-log').then(() => picture(page, 'canvas-0'));
  assert.notEqual(lin, log, 'the scale toggle did not change the picture');
  assert.deepEqual(problems, []);
  assert.deepEqual(requests, [], 'the page made requests');
  await page.close();
});

test('1-D results: a line chart whose hover reads the file', async () => {
  const { page, problems, requests } = await open('line.html');
  const { colours, drawn } = await ink(page, 'canvas-0');
  assert.ok(colours > 10 && drawn > 0.01, `line chart looks blank: ${colours} colours`);
  const [r] = await hover(page, 0, 0.3, 0);
  const p = pointAt('line/surface.jsonl', 0.3, 0);
  assert.match(r, /x = 0\.3\b/, r);
  assert.ok(Math.abs(valueIn(r, 'test_loss') - p.values.test_loss) < 1e-5, r);
  assert.ok(Math.abs(valueIn(r, 'test_accuracy') - p.values.test_accuracy) < 1e-5, r);
  assert.deepEqual(problems, []);
  assert.deepEqual(requests, []);
  await page.close();
});

test('a grid with holes draws what it holds and says how many points', async () => {
  const { page, problems, requests } = await open('partial.html');
  const info = await page.textContent('.panel .info');
  const held = points('partial/surface.jsonl').length;
  assert.ok(info.includes(`${held} of 81 points (${81 - held} missing)`), info);
  const { colours } = await ink(page, 'canvas-0');
  assert.ok(colours > 50, `partial surface looks blank (${colours} colours)`);
  await page.click('#mode-contour');
  const [r] = await hover(page, 0, -1, -1);
  assertReadout(r, pointAt('partial/surface.jsonl', -1, -1));
  assert.deepEqual(problems, []);
  assert.deepEqual(requests, []);
  await page.close();
});
