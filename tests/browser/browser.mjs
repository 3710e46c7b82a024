// Debian's chromium, headless, offline and with a fresh profile, for the
// browser tests and the README screenshot. Returns a browser context
// (playwright wants the profile folder given to launchPersistentContext).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export async function launch(viewport = { width: 1200, height: 800 }) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'llv-chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport,
    args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-gpu',
      '--no-first-run', '--disable-sync', '--disable-quic'],
  });
  const close = context.close.bind(context);
  context.close = async () => { await close(); fs.rmSync(profile, { recursive: true, force: true }); };
  return context;
}
