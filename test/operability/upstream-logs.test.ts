// A failed attempt at GitLab (no answer, a timeout, 429, 5xx) is one warn line: status (0 for no answer), method,
// route template, model, attempt number, whether it is retried, the client's request id; never the URL, an identifier
// or a token. Successes, and GitLab's 4xx verdicts on a client's request, stay at debug. Attempts per call are bounded
// by UPSTREAM_RETRIES, and so are the lines.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startGateway, type Gateway } from '../../src/server.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN, closedPort, postGraphQL, type LogLine } from './helpers.js';

const UPSTREAM_KEYS = ['attempt', 'durationMs', 'errorCode', 'level', 'method', 'model', 'msg', 'requestId', 'retrying', 'route', 'service', 'time', 'upstreamStatus'];
/** An identifier that goes into the URL sent to GitLab, and must not come out in a log line. */
const MARKER_ID = '7331337';
const LIST = `query Listed { modelRecords(model: PROJECT, identifiers: ["${MARKER_ID}"]) { nodes { id } } }`;
const VERIFY = `mutation Verify { recalculateChecksum(model: PROJECT, recordIdentifier: "${MARKER_ID}") { errors } }`;
const WARN = 40;

const parse = (raw: string): LogLine[] =>
  raw
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogLine);
const upstreamLines = (lines: LogLine[], requestId: string) => lines.filter((l) => 'upstreamStatus' in l && l.requestId === requestId);

/** What each failed attempt's line says, in order. */
const attempts = (lines: LogLine[]) => lines.map((l) => ({ level: l.level, upstreamStatus: l.upstreamStatus, method: l.method, route: l.route, model: l.model, attempt: l.attempt, retrying: l.retrying, errorCode: l.errorCode }));

/** A GitLab that answers every request with `status` (JSON, as GitLab's API does). */
async function failingGitLab(status: () => number): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    res.writeHead(status(), { 'content-type': 'application/json' }).end(JSON.stringify({ message: `${status()} failure` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A gateway in front of `gitlabUrl`, logging into memory at `level`. */
async function gatewayAt(gitlabUrl: string, level: string, env: Record<string, string> = {}): Promise<{ gateway: Gateway; raw: () => string }> {
  let raw = '';
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', GITLAB_URL: gitlabUrl, GITLAB_API_DIALECT: 'plural', ...env });
  const gateway = await startGateway(config, { gitlabUrl, logger: createLogger(level, { write: (c: string) => void (raw += c) }) });
  return { gateway, raw: () => raw };
}

describe('failed upstream attempts are logged at warn', () => {
  let limited: TestGateway;
  let answering = 503;
  let broken: Awaited<ReturnType<typeof failingGitLab>>;
  let behindBroken: Awaited<ReturnType<typeof gatewayAt>>;

  beforeAll(async () => {
    broken = await failingGitLab(() => answering);
    [limited, behindBroken] = await Promise.all([
      // Always 429, asking to come back at once: each attempt is retried until UPSTREAM_RETRIES (2) runs out.
      startTestGateway({ standIn: { records: 5, faults: { rateLimitRate: 1, retryAfterSeconds: 0 } } }),
      gatewayAt(broken.url, 'info'),
    ]);
  });
  afterAll(async () => {
    await limited?.close();
    await behindBroken?.gateway.close();
    await broken?.close();
  });

  it('429: one line per attempt, three attempts (UPSTREAM_RETRIES=2), the last one not retried', async () => {
    const res = await limited.post(LIST, { requestId: 'up-429' });
    expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_RATE_LIMITED']);
    const lines = upstreamLines(limited.logs(), 'up-429');
    expect(attempts(lines)).toEqual([1, 2, 3].map((attempt) => ({ level: WARN, upstreamStatus: 429, method: 'GET', route: 'list', model: 'projects', attempt, retrying: attempt < 3, errorCode: 'UPSTREAM_RATE_LIMITED' })));
    for (const line of lines) expect(Object.keys(line).sort()).toEqual(UPSTREAM_KEYS);
    expect(lines.map((l) => l.msg)).toEqual([
      'upstream GET list projects failed: 429 (UPSTREAM_RATE_LIMITED), attempt 1, retrying',
      'upstream GET list projects failed: 429 (UPSTREAM_RATE_LIMITED), attempt 2, retrying',
      'upstream GET list projects failed: 429 (UPSTREAM_RATE_LIMITED), attempt 3',
    ]);
    // The operation's own line still says how many calls it made.
    expect(limited.logs().filter((l) => l.requestId === 'up-429' && 'operation' in l)).toMatchObject([{ upstreamCalls: 3, errorCodes: ['UPSTREAM_RATE_LIMITED'] }]);
    // Neither the identifier of the URL, nor the address of GitLab, nor the token.
    const raw = limited.rawLog();
    for (const secret of [MARKER_ID, '127.0.0.1', `:${limited.standIn.port}`, ADMIN]) expect(raw).not.toContain(secret);
  });

  it('503 on a GET: retried like a 429; on a PUT, which may have reached GitLab, one attempt', async () => {
    answering = 503;
    const url = behindBroken.gateway.url;
    expect((await postGraphQL(url, LIST, { requestId: 'up-503-get' })).body.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect((await postGraphQL(url, VERIFY, { requestId: 'up-503-put' })).body.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_UNAVAILABLE']);
    const lines = parse(behindBroken.raw());
    expect(attempts(upstreamLines(lines, 'up-503-get'))).toEqual(
      [1, 2, 3].map((attempt) => ({ level: WARN, upstreamStatus: 503, method: 'GET', route: 'list', model: 'projects', attempt, retrying: attempt < 3, errorCode: 'UPSTREAM_UNAVAILABLE' })),
    );
    expect(attempts(upstreamLines(lines, 'up-503-put'))).toEqual([
      { level: WARN, upstreamStatus: 503, method: 'PUT', route: 'recalculate_one', model: 'projects', attempt: 1, retrying: false, errorCode: 'UPSTREAM_UNAVAILABLE' },
    ]);
    for (const secret of [MARKER_ID, '127.0.0.1', `:${new URL(broken.url).port}`, ADMIN]) expect(behindBroken.raw()).not.toContain(secret);
  });

  it('500: not retried, one line', async () => {
    answering = 500;
    expect((await postGraphQL(behindBroken.gateway.url, LIST, { requestId: 'up-500' })).body.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_ERROR']);
    expect(attempts(upstreamLines(parse(behindBroken.raw()), 'up-500'))).toEqual([
      { level: WARN, upstreamStatus: 500, method: 'GET', route: 'list', model: 'projects', attempt: 1, retrying: false, errorCode: 'UPSTREAM_ERROR' },
    ]);
  });

  it('a refused connection: status 0, three attempts', async () => {
    const port = await closedPort();
    const down = await gatewayAt(`http://127.0.0.1:${port}`, 'info');
    try {
      await postGraphQL(down.gateway.url, LIST, { requestId: 'up-refused' });
    } finally {
      await down.gateway.close();
    }
    const lines = upstreamLines(parse(down.raw()), 'up-refused');
    expect(attempts(lines)).toEqual([1, 2, 3].map((attempt) => ({ level: WARN, upstreamStatus: 0, method: 'GET', route: 'list', model: 'projects', attempt, retrying: attempt < 3, errorCode: 'UPSTREAM_UNAVAILABLE' })));
    expect(lines[0].msg).toBe('upstream GET list projects failed: no answer (UPSTREAM_UNAVAILABLE), attempt 1, retrying');
    for (const secret of ['127.0.0.1', `:${port}`]) expect(down.raw()).not.toContain(secret);
  });

  it('a timeout: status 0, not retried (GitLab may still be working on it)', async () => {
    const slow = await startTestGateway({ standIn: { records: 5, faults: { latencyMs: 2_000 } }, env: { UPSTREAM_HEADERS_TIMEOUT_MS: '100' } });
    try {
      expect((await slow.post(LIST, { requestId: 'up-timeout' })).body.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_TIMEOUT']);
      expect(attempts(upstreamLines(slow.logs(), 'up-timeout'))).toEqual([
        { level: WARN, upstreamStatus: 0, method: 'GET', route: 'list', model: 'projects', attempt: 1, retrying: false, errorCode: 'UPSTREAM_TIMEOUT' },
      ]);
    } finally {
      await slow.close();
    }
  });
});

describe('what stays quiet', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ standIn: { records: 5 }, level: 'debug' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("a success, and GitLab's 401 to a wrong token, are debug lines: below the default level (info)", async () => {
    await gw.post(LIST, { requestId: 'up-ok' });
    await gw.post(LIST, { requestId: 'up-401', token: 'glpat-not-a-valid-token' });
    expect(attempts(upstreamLines(gw.logs(), 'up-ok'))).toEqual([{ level: 20, upstreamStatus: 200, method: 'GET', route: 'list', model: 'projects', attempt: 1, retrying: false, errorCode: null }]);
    expect(attempts(upstreamLines(gw.logs(), 'up-401'))).toEqual([{ level: 20, upstreamStatus: 401, method: 'GET', route: 'list', model: 'projects', attempt: 1, retrying: false, errorCode: 'UNAUTHENTICATED' }]);
    expect(gw.rawLog()).not.toContain('glpat-not-a-valid-token');
  });

  it('LOG_LEVEL=warn: a failure is logged, the operation lines are not', async () => {
    const port = await closedPort();
    const down = await gatewayAt(`http://127.0.0.1:${port}`, 'warn', { UPSTREAM_RETRIES: '0' });
    try {
      await postGraphQL(down.gateway.url, LIST, { requestId: 'up-warn' });
    } finally {
      await down.gateway.close();
    }
    expect(parse(down.raw()).map((l) => [l.level, l.requestId, l.attempt, l.retrying])).toEqual([[WARN, 'up-warn', 1, false]]);
  });
});
