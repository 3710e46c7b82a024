// Screenshot of a page `llv view` wrote, hovering one grid point first.
// Usage: node screenshot.mjs PAGE.html OUT.png [X Y] [--contour]
// (the README's docs/gallery/view.png is made with it).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { launch } from './browser.mjs';

const [html, png, ...rest] = process.argv.slice(2);
if (!html || !png) {
  console.error('usage: node screenshot.mjs PAGE.html OUT.png [X Y] [--contour]');
  process.exit(2);
}
const contour = rest.includes('--contour');
const [x, y] = rest.filter(a => a !== '--contour').map(Number);
const context = await launch({ width: 1280, height: 800 });
const page = await context.newPage();
await page.goto(pathToFileURL(path.resolve(html)).href);
await page.waitForFunction(() => window.llvView && window.llvView.redraws() > 0);
// Fit the viewport to the page, then hover: a resize after hovering would move
// the canvas from under the pointer.
const height = await page.evaluate(() => Math.ceil(document.body.getBoundingClientRect().bottom) + 16);
await page.setViewportSize({ width: 1280, height: Math.min(height, 2000) });
if (contour) await page.click('#mode-contour');
if (Number.isFinite(x) && Number.isFinite(y)) {
  const at = await page.evaluate(([x, y]) => window.llvView.pointOnScreen(0, x, y), [x, y]);
  if (at) await page.mouse.move(at.x, at.y);
}
await page.screenshot({ path: png });
await context.close();
console.log(`wrote ${png}`);
