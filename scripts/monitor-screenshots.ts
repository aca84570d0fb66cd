// Screenshots of the monitor page for the README, from a demo-mode gateway (`npm run screenshots:monitor`): builds the
// page, starts `src/main.ts` with no GITLAB_URL on a free port, queues a bulk recalculation of PROJECT so that the
// overview shows verification under way, and writes docs/monitor-overview.png and docs/monitor-model.png (1280 wide).
// Needs Chromium at /usr/bin/chromium (Debian's package; CHROMIUM overrides the path).
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildMonitorPage, describeBuild } from './build-monitor.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCS = `${ROOT}docs/`;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
/** The model opened for the second screenshot: one with failed records in the demo's seeded data. */
const MODEL = 'LFS_OBJECT';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function main(): Promise<void> {
  process.stderr.write(`${describeBuild(await buildMonitorPage())}\n`);
  await mkdir(DOCS, { recursive: true });
  const port = await freePort();
  const gateway = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<{ token: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo gateway did not start within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const token = /"adminToken":"([^"]+)"/.exec(output);
      if (output.includes('Gateway ready') && token) {
        clearTimeout(timer);
        resolve({ token: token[1] });
      }
    };
    gateway.stdout!.on('data', onData);
    gateway.stderr!.on('data', onData);
    gateway.once('exit', (code) => reject(new Error(`the demo gateway exited (${code}):\n${output}`)));
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless', '--disable-gpu', '--force-color-profile=srgb'] });
  try {
    const { token } = await ready;
    const base = `http://127.0.0.1:${port}`;
    const queued = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: 'mutation { recalculateAllChecksums(model: PROJECT) { status } }' }),
    });
    if (!queued.ok) throw new Error(`recalculateAllChecksums answered ${queued.status}: ${await queued.text()}`);

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB', timezoneId: 'UTC' });
    await page.goto(`${base}/`);
    // Demo mode fills the token in.
    await page.getByRole('button', { name: 'Show verification' }).click();
    const project = page.locator('tr[data-model="PROJECT"]');
    // The pace is known once two counts a second apart exist; the estimate with it.
    await project.locator('td', { hasText: '/min' }).waitFor({ timeout: 30_000 });
    await page.mouse.move(0, 0);
    await page.screenshot({ path: `${DOCS}monitor-overview.png`, fullPage: true });

    await page.locator(`tr[data-model="${MODEL}"] a`).click();
    const rows = page.locator('table.records tbody tr');
    await rows.first().waitFor({ timeout: 15_000 });
    // One record recalculated from the page: it fails again (its file is missing) and its row says so.
    await rows.first().getByRole('button', { name: 'Recalculate' }).click();
    await page.locator('.notice', { hasText: 'verified again' }).waitFor({ timeout: 15_000 });
    await page.mouse.move(0, 0);
    await page.screenshot({ path: `${DOCS}monitor-model.png`, fullPage: true });
    process.stderr.write('wrote docs/monitor-overview.png and docs/monitor-model.png\n');
  } finally {
    await browser.close();
    gateway.kill('SIGTERM');
  }
}

await main();
