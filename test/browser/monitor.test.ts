// The verification monitor page in a real browser: a stand-in and a gateway configured as in demo mode (MONITOR on, the
// stand-in's token offered), in this process; Debian's Chromium driven by playwright-core. The stand-in's background
// verification is off: the test runs its cycles, so every number it expects is known. Asserts what a person sees
// against what the API answers. Screenshots go to test-artifacts/.
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMonitorPage } from '../../scripts/build-monitor.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startGateway, type Gateway } from '../../src/server.js';
import { startStandIn, type ModelCounts, type StandIn } from '../../src/stand-in/index.js';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const IN_CI = process.env.CI === 'true';
const STATES = ['SUCCEEDED', 'FAILED', 'PENDING', 'STARTED', 'DISABLED'] as const;
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const HAVE_CHROMIUM = executable(CHROMIUM);
if (!HAVE_CHROMIUM && !IN_CI) {
  console.warn(`SKIPPED: the monitor page browser test needs Chromium at ${CHROMIUM}, which this machine lacks (apt-get install chromium). Under CI=true it fails instead.`);
}
if (!HAVE_CHROMIUM && IN_CI) {
  it(`CI=true requires Chromium at ${CHROMIUM} for the monitor page browser test`, () => {
    throw new Error(`CI=true but ${CHROMIUM} is missing or not executable: install Debian's chromium package (see .ci/run); the monitor page test cannot be skipped under CI.`);
  });
}

interface Summary {
  model: string;
  total: number;
  states: { state: string; count: number }[];
}

interface RecordInfo {
  recordIdentifier: string;
  checksumInformation: { checksumState: string; checksumFailure: string | null; checksumRetryCount: number | null };
}

describe.skipIf(!HAVE_CHROMIUM)(`the monitor page in Chromium (${CHROMIUM})`, () => {
  let standIn: StandIn;
  let gateway: Gateway;
  let base = '';
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let token = '';
  /** Everything the page reported going wrong: console errors, uncaught errors, failed requests, 4xx/5xx answers. */
  const problems: string[] = [];
  /** Every URL the page asked for: all of them this gateway's. */
  const requested = new Set<string>();

  async function graphql<T>(query: string, variables: Record<string, unknown> = {}, as = token): Promise<T> {
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${as}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: T; errors?: unknown[] };
    if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
    return body.data!;
  }

  const apiSummaries = async () =>
    (await graphql<{ verificationSummary: Summary[] }>('{ verificationSummary { model total states { state count } } }')).verificationSummary;

  /** Counts as the overview shows them for each model: [total, succeeded, failed, pending, started, disabled]. */
  const shownCounts = (): Promise<Record<string, number[]>> =>
    page.evaluate(() => {
      const digits = (text: string | null) => Number((text ?? '').replace(/\D/g, ''));
      const rows = [...document.querySelectorAll<HTMLTableRowElement>('table.overview tbody tr')];
      return Object.fromEntries(rows.map((tr) => [tr.dataset.model!, [...tr.querySelectorAll('td')].filter((_, i) => i === 0 || (i >= 2 && i <= 6)).map((td) => digits(td.textContent))]));
    });

  const expectedCounts = (summaries: Summary[]) =>
    Object.fromEntries(summaries.map((s) => [s.model, [s.total, ...STATES.map((state) => s.states.find((c) => c.state === state)?.count ?? 0)]]));

  const standInCounts = async () => (await (await fetch(`${standIn.url}/-/stand-in/counts`)).json()) as Record<string, ModelCounts>;

  /** Runs a verification cycle in the stand-in (it takes every pending record) and waits for its outcomes. */
  async function verifyAll(): Promise<void> {
    await fetch(`${standIn.url}/-/stand-in/verify`, { method: 'POST' });
    for (const deadline = Date.now() + 10_000; ; await new Promise((resolve) => setTimeout(resolve, 20))) {
      const inFlight = Object.values(await standInCounts()).reduce((n, c) => n + c.states.pending + c.states.started, 0);
      if (inFlight === 0) return;
      if (Date.now() > deadline) throw new Error(`${inFlight} records still pending or started 10 s after a verification cycle`);
    }
  }

  async function axeViolations(target: Page = page): Promise<string[]> {
    // Through the DevTools protocol, which the page's Content-Security-Policy does not govern.
    await target.evaluate(AXE_SOURCE);
    const found = await target.evaluate(async () => {
      const axe = (window as unknown as { axe: { run(context: Document): Promise<{ violations: { id: string; impact: string | null; nodes: { target: unknown }[] }[] }> } }).axe;
      return (await axe.run(document)).violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => JSON.stringify(n.target)) }));
    });
    return found.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.targets.join(', ')}`);
  }

  function watch(target: Page): void {
    target.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    target.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
    target.on('requestfailed', (r) => {
      // Leaving a page aborts its requests still on their way: that is not a failure.
      if (r.failure()?.errorText === 'net::ERR_ABORTED' && new URL(r.url()).pathname === '/graphql') return;
      problems.push(`request failed: ${r.method()} ${r.url()} (${r.failure()?.errorText})`);
    });
    target.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
    });
    target.on('request', (r) => requested.add(r.url()));
    target.on('websocket', (ws) => requested.add(ws.url()));
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const launching = chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    launching.catch(() => {}); // reported below
    await buildMonitorPage();
    // Uploads: verification off (every record DISABLED); LFS objects: enough succeeded records for three pages.
    standIn = await startStandIn({ records: 30, modelRecords: { lfs_objects: 60 }, failRate: 0.1, verifyIntervalMs: 0, verifyBatchSize: 1_000, unverifiableModels: ['uploads'] });
    token = standIn.tokens.admin;
    // The seeded pending records verified, and the failed ones retried once: from here on nothing moves by itself.
    await verifyAll();
    // No GITLAB_URL: demo mode's defaults (MONITOR, GraphiQL); a fast poll and a live budget for twenty models' counts.
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', LIVE_FAST_POLL_MS: '200', LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' });
    gateway = await startGateway(config, { gitlabUrl: standIn.url, demoToken: token, logger: createLogger('silent') });
    base = new URL(gateway.url).origin;
    try {
      browser = await launching;
    } catch (error) {
      throw new Error(`Chromium (${CHROMIUM}) did not start: ${String(error)}`);
    }
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC' });
    page = await context.newPage();
    watch(page);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await standIn?.stop();
  });

  it('is served from the gateway: the page and its files, with their types, caching and a self-only policy', async () => {
    for (const path of ['/', '/monitor']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      const policy = res.headers.get('content-security-policy') ?? '';
      expect(policy).toContain("default-src 'none'");
      expect(policy).toContain("script-src 'self'");
      expect(policy).toContain(`connect-src 'self' ws://${new URL(base).host} wss://${new URL(base).host}`);
      const html = await res.text();
      // Demo mode offers the stand-in's public token, as GraphiQL's headers do.
      expect(html).toContain(`<meta name="demo-token" content="${token}" />`);
      const files = [...html.matchAll(/(?:src|href)="(\/monitor\/[^"]+)"/g)].map((m) => m[1]);
      expect(files).toHaveLength(3);
      for (const file of files) {
        const asset = await fetch(`${base}${file}`);
        expect({ file, status: asset.status, cache: asset.headers.get('cache-control') }).toEqual({ file, status: 200, cache: 'public, max-age=31536000, immutable' });
        expect(asset.headers.get('content-type')).toMatch(/^(text\/javascript|text\/css|image\/svg\+xml)/);
      }
    }
    expect((await fetch(`${base}/monitor/app-0000000000.js`)).status).toBe(404);
    expect((await fetch(`${base}/monitor/../package.json`)).status).toBe(404);
  });

  it('asks for the token once (offered in demo mode), then shows every model with the numbers the API gives', async () => {
    await page.goto(`${base}/`);
    const input = page.getByLabel('GitLab token');
    await expect.poll(() => input.inputValue()).toBe(token);
    await page.getByRole('button', { name: 'Show verification' }).click();

    const summaries = await apiSummaries();
    expect(summaries.length).toBe(20);
    await expect.poll(shownCounts, { timeout: 20_000 }).toEqual(expectedCounts(summaries));
    // A real table: one row per model, whose first cell is a row header naming the model.
    const rows = page.locator('table.overview tbody tr');
    expect(await rows.count()).toBe(summaries.length);
    for (const summary of summaries) {
      const header = page.locator(`tr[data-model="${summary.model}"] > :first-child`);
      expect(await header.evaluate((cell) => cell.tagName === 'TH' && cell.getAttribute('scope') === 'row')).toBe(true);
      expect(await header.getByRole('link').getAttribute('title')).toBe(summary.model);
      expect((await header.innerText()).trim()).not.toBe('');
    }
    // The numbers are on the bar too: in each part's title (hover) and in the bar's accessible name.
    const lfs = summaries.find((s) => s.model === 'LFS_OBJECT')!;
    const failed = lfs.states.find((s) => s.state === 'FAILED')!.count;
    expect(await page.locator('tr[data-model="LFS_OBJECT"] .bar-part.state-failed').getAttribute('title')).toMatch(new RegExp(`^Failed: ${failed} \\(`));
    expect(await page.locator('tr[data-model="LFS_OBJECT"] .bar').getAttribute('aria-label')).toContain(`Failed ${failed}`);
    expect(await page.locator('tr[data-model="UPLOAD"]').innerText()).toContain('verification off in GitLab');
    // Kept in this tab's sessionStorage only.
    expect(await page.evaluate(() => [Object.values(sessionStorage), Object.values(localStorage), document.cookie])).toEqual([[token], [], '']);
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Live' }).count()).toBe(1);
    await page.screenshot({ path: `${ARTIFACTS}monitor-overview.png`, fullPage: true });
    expect(problems, 'errors in the page').toEqual([]);
  });

  it('a bulk recalculation started from the page, once confirmed, moves the bars live to the final counts', async () => {
    // Set in this document: still there at the end means the page was never reloaded.
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const failedBefore = (await shownCounts()).PROJECT[2];
    expect(failedBefore).toBeGreaterThan(0);
    await page.locator('tr[data-model="PROJECT"]').getByRole('cell').nth(2).click(); // a click anywhere on the row opens it
    await expect.poll(() => new URL(page.url()).hash).toBe('#/model/PROJECT?state=FAILED');

    await expect.poll(() => page.locator('table.records tbody tr').count(), { timeout: 20_000 }).toBe(failedBefore);
    await page.getByRole('button', { name: 'Recalculate all' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain('Recalculate every record of Projects?');
    await dialog.getByRole('button', { name: 'Recalculate all 30 records' }).click();
    await page.locator('.notice', { hasText: 'GitLab queued every record of Projects' }).waitFor();

    // Every record is pending now (GitLab's job is not running): the model's counts say so, live.
    await expect.poll(async () => (await standInCounts()).projects.states.pending).toBe(30);
    const pending = page.locator('.counts [data-state="PENDING"] dd');
    await expect.poll(() => pending.innerText(), { timeout: 20_000 }).toBe('30');
    // The failed records on show left that state: they stay in view, saying where they went.
    await expect.poll(() => page.locator('table.records tr.left').allInnerTexts(), { timeout: 20_000 }).toHaveLength(failedBefore);
    expect(await page.locator('table.records tr.left .moved').allInnerTexts()).toEqual(Array(failedBefore).fill('now pending'));
    expect(await page.locator('.left-note').innerText()).toContain('moved out of failed');
    await page.getByRole('link', { name: '← All models' }).click();
    await expect.poll(async () => (await shownCounts()).PROJECT, { timeout: 20_000 }).toEqual([30, 0, 0, 30, 0, 0]);

    await verifyAll();
    const final = expectedCounts(await apiSummaries()).PROJECT;
    expect(final[3] + final[4]).toBe(0);
    await expect.poll(async () => (await shownCounts()).PROJECT, { timeout: 20_000 }).toEqual(final);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(problems, 'errors in the page').toEqual([]);
  });

  it('the model view (a link of its own) lists the failed records with their messages; a recalculation updates its row', async () => {
    // Opened from its URL, as a shared link or a reload would: the token is still in the tab.
    await page.goto(`${base}/monitor#/model/LFS_OBJECT?state=FAILED`);
    const { modelRecords } = await graphql<{ modelRecords: { nodes: RecordInfo[] } }>(
      '{ modelRecords(model: LFS_OBJECT, checksumState: FAILED, first: 20) { nodes { recordIdentifier checksumInformation { checksumState checksumFailure checksumRetryCount } } } }',
    );
    expect(modelRecords.nodes.length).toBeGreaterThan(0);
    const shownRows = () =>
      page.locator('table.records tbody tr').evaluateAll((rows) =>
        rows.map((tr) => [tr.getAttribute('data-identifier'), tr.querySelector('.retries')?.textContent, tr.querySelector('.failure')?.textContent]),
      );
    await expect.poll(shownRows, { timeout: 20_000 }).toEqual(
      modelRecords.nodes.map((r) => [r.recordIdentifier, String(r.checksumInformation.checksumRetryCount), r.checksumInformation.checksumFailure]),
    );
    expect(await page.getByRole('heading', { level: 2 }).first().innerText()).toContain('LFS objects');

    const first = modelRecords.nodes[0];
    const row = page.locator(`table.records tr[data-identifier="${first.recordIdentifier}"]`);
    await row.getByRole('button', { name: 'Recalculate' }).click();
    // Its file is missing: it fails again, one retry more, and stays in the list.
    const after = String(first.checksumInformation.checksumRetryCount! + 1);
    await expect.poll(() => row.locator('.retries').innerText(), { timeout: 20_000 }).toBe(after);
    await page.locator('.notice', { hasText: `Record ${first.recordIdentifier} was verified again: it failed.` }).waitFor();
    const again = await graphql<{ modelRecord: RecordInfo }>(`{ modelRecord(model: LFS_OBJECT, recordIdentifier: "${first.recordIdentifier}") { recordIdentifier checksumInformation { checksumState checksumFailure checksumRetryCount } } }`);
    expect(again.modelRecord.checksumInformation).toMatchObject({ checksumState: 'FAILED', checksumRetryCount: Number(after) });
    await page.screenshot({ path: `${ARTIFACTS}monitor-model.png`, fullPage: true });
    expect(problems, 'errors in the page').toEqual([]);
  });

  it('records of another state, a page at a time, follow the API (state in the URL, next and previous pages)', async () => {
    await page.getByRole('navigation', { name: 'Records by state' }).getByRole('link', { name: /Succeeded/ }).click();
    await expect.poll(() => new URL(page.url()).hash).toBe('#/model/LFS_OBJECT?state=SUCCEEDED');
    const ids = () => page.locator('table.records tbody tr').evaluateAll((rows) => rows.map((tr) => tr.getAttribute('data-identifier')));
    const pageOf = async (after: string | null) =>
      (
        await graphql<{ modelRecords: { nodes: RecordInfo[]; pageInfo: { endCursor: string } } }>(
          'query ($after: String) { modelRecords(model: LFS_OBJECT, checksumState: SUCCEEDED, first: 20, after: $after) { nodes { recordIdentifier } pageInfo { endCursor } } }',
          { after },
        )
      ).modelRecords;
    const one = await pageOf(null);
    const two = await pageOf(one.pageInfo.endCursor);
    expect(two.nodes.length).toBeGreaterThan(0);
    await expect.poll(ids, { timeout: 20_000 }).toEqual(one.nodes.map((r) => r.recordIdentifier));
    await page.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(ids, { timeout: 20_000 }).toEqual(two.nodes.map((r) => r.recordIdentifier));
    await page.getByRole('button', { name: 'Previous page' }).click();
    await expect.poll(ids, { timeout: 20_000 }).toEqual(one.nodes.map((r) => r.recordIdentifier));
    expect(problems, 'errors in the page').toEqual([]);
  });

  it('passes an automated accessibility check (axe-core) on the overview, the model view and the confirmation', async () => {
    await page.goto(`${base}/#/`);
    await page.locator('table.overview tbody tr').first().waitFor();
    expect(await axeViolations(), 'overview').toEqual([]);
    await page.goto(`${base}/monitor#/model/LFS_OBJECT?state=FAILED`);
    await page.locator('table.records tbody tr').first().waitFor();
    expect(await axeViolations(), 'model view').toEqual([]);
    await page.getByRole('button', { name: 'Recalculate failed' }).click();
    await page.getByRole('dialog').waitFor();
    expect(await axeViolations(), 'confirmation').toEqual([]);
    // Escape cancels: nothing is queued.
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
    expect(problems, 'errors in the page').toEqual([]);
  });

  it('is operable from the keyboard: a model opens with Enter on its row link', async () => {
    await page.goto(`${base}/#/`);
    await page.locator('table.overview tbody tr').first().waitFor();
    await page.locator('tr[data-model="PROJECT"] a').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => new URL(page.url()).hash).toBe('#/model/PROJECT?state=FAILED');
    // The view's heading takes the focus, so a screen reader announces where the page is now.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('model-title');
  });

  it('refuses a bad token in words, and asks again; a token without admin rights too', async () => {
    const fresh = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    try {
      await fresh.goto(`${base}/`);
      const input = fresh.getByLabel('GitLab token');
      for (const [wrong, words] of [
        ['glpat-nobody-knows-this', 'GitLab did not accept this token'],
        [standIn.tokens.user, "not an administrator's"],
      ] as const) {
        await input.fill(wrong);
        await fresh.getByRole('button', { name: 'Show verification' }).click();
        await fresh.getByRole('alert').filter({ hasText: words }).waitFor({ timeout: 15_000 });
        // Asked again, and nothing kept.
        expect(await input.isVisible()).toBe(true);
        expect(await fresh.evaluate(() => sessionStorage.length)).toBe(0);
      }
      await fresh.screenshot({ path: `${ARTIFACTS}monitor-token-refused.png` });
      expect(await axeViolations(fresh), 'token form').toEqual([]);
    } finally {
      await fresh.close();
    }
  });

  it("says in words that GitLab cannot be reached, and recovers by itself once it answers", async () => {
    const faults = (body: object) => fetch(`${standIn.url}/-/stand-in/faults`, { method: 'PUT', body: JSON.stringify(body) });
    const fresh = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    try {
      await faults({ errorRate: 1 });
      await fresh.goto(`${base}/`);
      await fresh.getByRole('button', { name: 'Show verification' }).click();
      const alert = fresh.getByRole('alert');
      await expect.poll(() => alert.innerText().catch(() => ''), { timeout: 30_000 }).toMatch(/^GitLab (cannot be reached|is failing); the page will retry\./);
      await fresh.screenshot({ path: `${ARTIFACTS}monitor-gitlab-down.png` });
      await faults({ errorRate: 0 });
      await fresh.locator('table.overview tbody tr').first().waitFor({ timeout: 30_000 });
      expect(await alert.count()).toBe(0);
    } finally {
      await faults({ errorRate: 0 });
      await fresh.close();
    }
  }, 90_000);

  it('asks for nothing but this gateway: no other origin, no CDN', () => {
    const origin = new URL(base);
    const foreign = [...requested].filter((url) => {
      const u = new URL(url);
      return u.host !== origin.host || !['http:', 'ws:'].includes(u.protocol);
    });
    expect(foreign).toEqual([]);
    expect([...requested].some((url) => url.startsWith('ws:'))).toBe(true);
  });

  it('says it is reconnecting when the connection is lost, and carries on live once the gateway is back', async () => {
    await page.goto(`${base}/#/`);
    await page.locator('table.overview tbody tr').first().waitFor();
    const badge = page.locator('.connection');
    await expect.poll(() => badge.innerText(), { timeout: 20_000 }).toBe('Live');
    const port = new URL(base).port;
    await gateway.close();
    await expect.poll(() => badge.innerText(), { timeout: 20_000 }).toBe('Reconnecting…');
    await page.screenshot({ path: `${ARTIFACTS}monitor-reconnecting.png` });
    const config = loadConfig({ HOST: '127.0.0.1', PORT: port, LIVE_FAST_POLL_MS: '200', LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' });
    gateway = await startGateway(config, { gitlabUrl: standIn.url, demoToken: token, logger: createLogger('silent') });
    // graphql-ws's client retries with a growing wait (at most 15 s here).
    await expect.poll(() => badge.innerText(), { timeout: 40_000 }).toBe('Live');
    await graphql('mutation { recalculateAllChecksums(model: PROJECT) { status } }');
    await expect.poll(async () => (await shownCounts()).PROJECT[3], { timeout: 20_000 }).toBe(30);
  }, 90_000);
});

describe('MONITOR off', () => {
  let standIn: StandIn;
  let production: Gateway; // GITLAB_URL set: the monitor page and GraphiQL off by default
  let demoWithoutMonitor: Gateway;
  const origin = (g: Gateway) => new URL(g.url).origin;

  beforeAll(async () => {
    standIn = await startStandIn({ records: 5, verifyIntervalMs: 0 });
    const logger = createLogger('silent');
    [production, demoWithoutMonitor] = await Promise.all([
      startGateway(loadConfig({ HOST: '127.0.0.1', PORT: '0', GITLAB_URL: standIn.url }), { gitlabUrl: standIn.url, logger }),
      startGateway(loadConfig({ HOST: '127.0.0.1', PORT: '0', MONITOR: 'false' }), { gitlabUrl: standIn.url, demoToken: standIn.tokens.admin, logger }),
    ]);
  });
  afterAll(async () => {
    await production?.close();
    await demoWithoutMonitor?.close();
    await standIn?.stop();
  });

  it('answers 404 at /monitor and its files, and / as without it: the JSON index, or the redirect to GraphiQL', async () => {
    for (const gateway of [production, demoWithoutMonitor]) {
      for (const path of ['/monitor', '/monitor/', '/monitor/app-0000000000.js']) {
        const res = await fetch(`${origin(gateway)}${path}`);
        expect({ path, status: res.status }).toEqual({ path, status: 404 });
        expect(await res.json()).toEqual({ error: 'The monitor page is off: start the gateway with MONITOR=true to serve it at / and /monitor.' });
      }
    }
    const index = await fetch(`${origin(production)}/`, { headers: { accept: 'text/html' } });
    expect({ status: index.status, type: index.headers.get('content-type') }).toEqual({ status: 200, type: 'application/json' });
    expect(((await index.json()) as { graphql: string }).graphql).toBe('/graphql');
    const redirect = await fetch(`${origin(demoWithoutMonitor)}/`, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect({ status: redirect.status, location: redirect.headers.get('location') }).toEqual({ status: 302, location: '/graphql' });
  });
});
