// GraphiQL in a real browser: demo mode (`src/main.ts`, no GITLAB_URL) in a child process, Debian's Chromium driven
// by playwright-core. Loads the page from local assets, finds the project's examples in its tabs and runs the first,
// runs a query, then a subscription (SSE) and watches a change caused by a recalculation arrive in the result pane.
// Screenshots go to test-artifacts/.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = `${ROOT}test-artifacts/`;
const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'glpat-standin-admin';
const IN_CI = process.env.CI === 'true';

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
  console.warn(`SKIPPED: the GraphiQL browser test needs Chromium at ${CHROMIUM}, which this machine lacks (apt-get install chromium). Under CI=true it fails instead.`);
}

// Under CI a missing browser is a broken environment, not a reason to skip.
if (!HAVE_CHROMIUM && IN_CI) {
  it(`CI=true requires Chromium at ${CHROMIUM} for the GraphiQL browser test`, () => {
    throw new Error(`CI=true but ${CHROMIUM} is missing or not executable: install Debian's chromium package (see .ci/run); the GraphiQL browser test cannot be skipped under CI.`);
  });
}

// Named, so that the tab's title shows when GraphiQL has taken in the new document (and its operation name).
const QUERY = 'query FirstThree { modelRecords(model: PROJECT, first: 3) { nodes { recordIdentifier checksumInformation { checksumState } } } }';
const SUBSCRIPTION = 'subscription WatchTwo { checksumStateChanged(model: PROJECT, identifiers: ["1","2"]) { state previousState record { recordIdentifier } } }';

const PROGRESS = 'subscription Progress { verificationSummaryChanged(models: [PROJECT]) { model total states { state count } verifiedPerMinute } }';
const QUERY_EDITOR = '.graphiql-query-editor .monaco-editor';
const RESULT_LINES = '.result-window .view-lines';
const EXECUTE = '.graphiql-execute-button';
const PRETTIFY = 'button[aria-label^="Prettify"]';
const ACTIVE_TAB = '.graphiql-tab-active';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Text of a Monaco editor's rendered lines, with its non-breaking spaces made plain. */
function editorText(page: Page, selector: string): Promise<string> {
  return page.evaluate((sel) => (document.querySelector(sel)?.textContent ?? '').replace(/\u00a0/g, ' '), selector);
}

/** Waits until a Monaco editor's rendered text matches `pattern`; a timeout names what was shown instead. */
async function waitForEditorText(page: Page, selector: string, pattern: RegExp, timeoutMs: number, what: string): Promise<void> {
  try {
    await page.waitForFunction(
      ([sel, source, flags]) => new RegExp(source, flags).test((document.querySelector(sel)?.textContent ?? '').replace(/\u00a0/g, ' ')),
      [selector, pattern.source, pattern.flags] as const,
      { timeout: timeoutMs, polling: 'raf' },
    );
  } catch {
    throw new Error(`${what}: nothing matching ${pattern} within ${timeoutMs} ms; the pane shows: ${JSON.stringify(await editorText(page, selector))}`);
  }
}

describe.skipIf(!HAVE_CHROMIUM)(`GraphiQL in Chromium (${CHROMIUM}) against demo mode`, () => {
  let child: ChildProcess | null = null;
  let exited: Promise<unknown> = Promise.resolve();
  let output = '';
  let launching: Promise<Browser> | null = null;
  let browser: Browser | null = null;
  let page: Page;
  let base = '';
  /** Everything the page reported going wrong: console errors, uncaught errors, failed requests, 4xx/5xx answers. */
  const problems: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // The browser starts while the gateway does.
    launching = chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    launching.catch(() => {}); // reported once the gateway is ready
    const port = await freePort();
    base = `http://localhost:${port}`;
    // A clean environment (nothing of this machine's gateway settings, no GITLAB_URL): demo mode. The fast poll is
    // quicker than the stand-in's 500 ms `started` phase, so a recalculation's PENDING or STARTED is always observed.
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), LIVE_FAST_POLL_MS: '200', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = child;
    exited = new Promise((resolve) => proc.once('exit', resolve));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo mode printed no "Gateway ready" line within 45 s; output:\n${output}`)), 45_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Gateway ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`demo mode exited (code ${code}, signal ${signal}) before it was ready; output:\n${output}`));
      });
    });

    await ready;
    try {
      browser = await launching;
    } catch (error) {
      throw new Error(`Chromium (${CHROMIUM}) did not start: ${String(error)}`);
    }
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
    page.on('requestfailed', (r) => {
      // Stopping a subscription aborts its SSE request: that is not a failure.
      if (r.failure()?.errorText === 'net::ERR_ABORTED' && new URL(r.url()).pathname === '/graphql') return;
      problems.push(`request failed: ${r.method()} ${r.url()} (${r.failure()?.errorText})`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
    });

    await page.goto(`${base}/graphql`, { waitUntil: 'domcontentloaded' });
    try {
      await page.locator(QUERY_EDITOR).waitFor({ state: 'visible', timeout: 30_000 });
    } catch {
      await page.screenshot({ path: `${ARTIFACTS}graphiql-no-editor.png` }).catch(() => {});
      throw new Error(
        `GraphiQL shows no operation editor (${QUERY_EDITOR}) 30 s after loading ${base}/graphql; ` +
          `screenshot: test-artifacts/graphiql-no-editor.png. What went wrong in the page:\n${problems.join('\n') || '(nothing reported)'}\n` +
          `Body starts: ${(await page.content()).slice(0, 600)}`,
      );
    }
  }, 120_000);

  afterAll(async () => {
    await (browser ?? (await launching?.catch(() => null)))?.close();
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child?.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
  });

  it('loads from local assets with no errors and the demo token in its headers pane', async () => {
    expect(problems, 'errors while loading GraphiQL').toEqual([]);
    const headers = (await page.locator('.graphiql-editor-tool').innerText()).replace(/\u00a0/g, ' ');
    expect(headers).toContain(`"Authorization": "Bearer ${TOKEN}"`);
  });

  it("opens on the project's examples: a query, a mutation and two subscriptions in tabs; the query runs as it is", async () => {
    await waitForEditorText(page, `${QUERY_EDITOR} .view-lines`, /query ProjectRecords \{/, 10_000, 'the example query in the editor');
    expect((await page.locator('.graphiql-tab').allInnerTexts()).map((t) => t.trim())).toEqual(['ProjectRecords', 'VerifyProject', 'WatchProjects', 'VerificationProgress']);
    expect(await editorText(page, `${QUERY_EDITOR} .view-lines`)).not.toContain('Welcome to GraphiQL');

    await page.locator(EXECUTE).click();
    await waitForEditorText(page, RESULT_LINES, /"recordIdentifier"/, 10_000, 'result of the example query');
    await page.screenshot({ path: `${ARTIFACTS}graphiql-examples.png` });
    const result = await editorText(page, RESULT_LINES);
    expect(result).not.toContain('"errors"');
    expect(result).toContain('"totalCount": 200');

    // The subscription's tab carries the token too: its first batch arrives.
    await page.locator('.graphiql-tab', { hasText: 'WatchProjects' }).click();
    await waitForEditorText(page, `${QUERY_EDITOR} .view-lines`, /subscription WatchProjects \{/, 10_000, 'the example subscription in the editor');
    // GraphiQL takes in the tab's document a moment later (and then puts it in the page's URL): run before, and it
    // asks for the previous tab's operation.
    await expect.poll(() => new URL(page.url()).searchParams.get('query') ?? '', { timeout: 10_000 }).toContain('subscription WatchProjects');
    await page.locator(EXECUTE).click();
    await waitForEditorText(page, RESULT_LINES, /"checksumStateChangeBatches": \{\s*"changes": \[\s*\{\s*"state": "[A-Z]+"/, 10_000, 'first batch of the example subscription');
    await page.locator(EXECUTE).click();
    await page.screenshot({ path: `${ARTIFACTS}graphiql-examples-subscription.png` });
    await expect.poll(() => page.locator(EXECUTE).getAttribute('aria-label'), { timeout: 5_000 }).toMatch(/^Execute/);
    expect(await editorText(page, RESULT_LINES)).not.toContain('"errors"');
    await page.locator('.graphiql-tab', { hasText: 'ProjectRecords' }).click();
    expect(problems, 'errors while running the examples').toEqual([]);
  });

  it('runs a query typed into the editor (Ctrl-Enter) and shows the records', async () => {
    await page.locator(QUERY_EDITOR).click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(QUERY);
    expect(await editorText(page, `${QUERY_EDITOR} .view-lines`)).toBe(QUERY);
    // GraphiQL reads the operation name after an edit, a moment later: run before and it asks for the example's.
    await expect.poll(() => page.locator(ACTIVE_TAB).innerText(), { timeout: 10_000 }).toBe('FirstThree');
    await page.locator(PRETTIFY).click(); // for a readable screenshot
    await page.locator(QUERY_EDITOR).click(); // Ctrl-Enter belongs to the editor: focus it again

    await page.keyboard.press('ControlOrMeta+Enter');
    await waitForEditorText(page, RESULT_LINES, /"recordIdentifier"/, 10_000, 'query result');
    await page.screenshot({ path: `${ARTIFACTS}graphiql-query.png` });
    const result = await editorText(page, RESULT_LINES);
    expect(result).not.toContain('"errors"');
    expect(result.match(/"recordIdentifier": "\d+"/g)).toHaveLength(3);
    expect(result.match(/"checksumState": "[A-Z]+"/g)).toHaveLength(3);
  });

  it('runs a subscription (SSE) and shows the current state, then a change after a recalculation', async () => {
    await page.locator(QUERY_EDITOR).click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(SUBSCRIPTION);
    expect(await editorText(page, `${QUERY_EDITOR} .view-lines`)).toBe(SUBSCRIPTION);
    await expect.poll(() => page.locator(ACTIVE_TAB).innerText(), { timeout: 10_000 }).toBe('WatchTwo');
    await page.locator(PRETTIFY).click();

    await page.locator(EXECUTE).click();
    // First the current state of each watched record (previousState null).
    await waitForEditorText(page, RESULT_LINES, /"checksumStateChanged": \{\s*"state": "[A-Z]+",\s*"previousState": null/, 10_000, 'first subscription event');
    expect(await editorText(page, RESULT_LINES)).not.toContain('"errors"');
    // A running subscription turns the run button into a stop button.
    expect(await page.locator(EXECUTE).getAttribute('aria-label')).toMatch(/^Stop/);

    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ query: 'mutation { recalculateAllChecksums(model: PROJECT) { status errors } }' }),
    });
    expect(await res.json()).toEqual({ data: { recalculateAllChecksums: { status: 'SUCCESS', errors: [] } } });

    await waitForEditorText(page, RESULT_LINES, /"state": "(PENDING|STARTED)",\s*"previousState": "[A-Z]+"/, 15_000, 'change event after recalculateAllChecksums');
    // Stop at once so the pane (and the screenshot) keeps this event.
    await page.locator(EXECUTE).click();
    await page.screenshot({ path: `${ARTIFACTS}graphiql-subscription.png` });
    await expect.poll(() => page.locator(EXECUTE).getAttribute('aria-label'), { timeout: 5_000 }).toMatch(/^Execute/);

    expect(problems, 'errors in the page during the run').toEqual([]);
  });

  it('runs the verification summary subscription (SSE): counts per state first, then new counts as verification moves', async () => {
    await page.locator(QUERY_EDITOR).click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(PROGRESS);
    await expect.poll(() => page.locator(ACTIVE_TAB).innerText(), { timeout: 10_000 }).toBe('Progress');
    await page.locator(PRETTIFY).click();

    const pending = async () => /"state": "PENDING",\s*"count": (\d+)/.exec(await editorText(page, RESULT_LINES))?.[1];
    // Queued now, so that the counts move while the page watches.
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ query: 'mutation { recalculateAllChecksums(model: PROJECT) { status } }' }),
    });
    expect(await res.json()).toEqual({ data: { recalculateAllChecksums: { status: 'SUCCESS' } } });
    await page.locator(EXECUTE).click();
    await waitForEditorText(page, RESULT_LINES, /"verificationSummaryChanged": \{\s*"model": "PROJECT",\s*"total": 200,\s*"states": \[\s*\{\s*"state": "PENDING"/, 10_000, 'first summary');
    const first = await pending();
    // The demo stand-in verifies 10 records a second: the next summary has fewer pending.
    await expect.poll(pending, { timeout: 15_000 }).not.toBe(first);
    expect(await editorText(page, RESULT_LINES)).not.toContain('"errors"');
    await page.locator(EXECUTE).click();
    await page.screenshot({ path: `${ARTIFACTS}graphiql-summary.png` });
    await expect.poll(() => page.locator(EXECUTE).getAttribute('aria-label'), { timeout: 5_000 }).toMatch(/^Execute/);
    expect(problems, 'errors in the page during the run').toEqual([]);
  });
});
