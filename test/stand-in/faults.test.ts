// Fault injection: each switch from the command line and from the control API, and back to normal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startStandalone, type StandaloneStandIn } from '../support/standalone.js';
import type { ApiRecord } from './http.js';

type Outcome =
  | { kind: 'ok'; status: number; body: unknown; elapsedMs: number }
  | { kind: 'rateLimited'; retryAfter: string | null; elapsedMs: number }
  | { kind: 'error'; status: number; contentType: string | null; text: string; elapsedMs: number }
  | { kind: 'malformed'; status: number; contentType: string | null; elapsedMs: number }
  | { kind: 'reset'; stage: 'fetch' | 'body'; elapsedMs: number };

/** Sends one authenticated GET and says what came back. */
async function probe(url: string, token: string | null = ADMIN_TOKEN): Promise<Outcome> {
  const began = performance.now();
  const elapsed = () => performance.now() - began;
  let response: Response;
  try {
    response = await fetch(url, { headers: token ? { 'private-token': token } : {} });
  } catch {
    return { kind: 'reset', stage: 'fetch', elapsedMs: elapsed() };
  }
  let text: string;
  try {
    text = await response.text();
  } catch {
    return { kind: 'reset', stage: 'body', elapsedMs: elapsed() };
  }
  const elapsedMs = elapsed();
  if (response.status === 429) return { kind: 'rateLimited', retryAfter: response.headers.get('retry-after'), elapsedMs };
  if (response.status >= 500) return { kind: 'error', status: response.status, contentType: response.headers.get('content-type'), text, elapsedMs };
  try {
    return { kind: 'ok', status: response.status, body: JSON.parse(text), elapsedMs };
  } catch {
    return { kind: 'malformed', status: response.status, contentType: response.headers.get('content-type'), elapsedMs };
  }
}

async function probeMany(url: string, count: number): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (let i = 0; i < count; i++) outcomes.push(await probe(url));
  return outcomes;
}

const kinds = (outcomes: Outcome[]) => [...new Set(outcomes.map((o) => o.kind))].sort();

const ZERO = { latencyMs: 0, latencyJitterMs: 0, errorRate: 0, rateLimitRate: 0, resetRate: 0, malformedRate: 0, rejectedIdentifiers: [] as string[] };

/** Started with latency and rate limiting on; the other switches are flipped at run time. */
let slow: StandaloneStandIn;
/** Started with every failure rate on at once. */
let flaky: StandaloneStandIn;
let normal: ApiRecord[];

beforeAll(async () => {
  [slow, flaky] = await Promise.all([
    startStandalone(['--records', '10', '--latency-ms', '150', '--rate-limit-rate', '1', '--retry-after-s', '7']),
    startStandalone([
      '--records', '10',
      '--reset-rate', '0.3',
      '--rate-limit-rate', '0.5',
      '--error-rate', '0.5',
      '--malformed-rate', '1',
      '--retry-after-s', '4',
      '--latency-jitter-ms', '20',
    ]),
  ]);
});

afterAll(async () => {
  await Promise.all([slow?.stop(), flaky?.stop()]);
});

describe('faults set on the command line', () => {
  it('reports them on the control API', async () => {
    expect(await slow.faults()).toEqual({ ...ZERO, latencyMs: 150, rateLimitRate: 1, retryAfterSeconds: 7 });
    expect(await flaky.faults()).toEqual({ latencyMs: 0, latencyJitterMs: 20, errorRate: 0.5, rateLimitRate: 0.5, retryAfterSeconds: 4, resetRate: 0.3, malformedRate: 1, rejectedIdentifiers: [] });
  });

  it('--latency-ms delays and --rate-limit-rate 1 answers 429 with Retry-After from --retry-after-s', async () => {
    for (const outcome of await probeMany(`${slow.api}/projects`, 4)) {
      expect(outcome).toEqual({ kind: 'rateLimited', retryAfter: '7', elapsedMs: expect.any(Number) });
      expect(outcome.elapsedMs).toBeGreaterThanOrEqual(145);
    }
  });

  it('--reset-rate, --rate-limit-rate, --error-rate and --malformed-rate all show, and nothing answers normally', async () => {
    const outcomes = await probeMany(`${flaky.api}/projects`, 80);
    expect(kinds(outcomes)).toEqual(['error', 'malformed', 'rateLimited', 'reset']);
    for (const outcome of outcomes) {
      if (outcome.kind === 'rateLimited') expect(outcome.retryAfter).toBe('4');
      if (outcome.kind === 'error') expect([500, 502, 503]).toContain(outcome.status);
      if (outcome.kind === 'malformed') expect(outcome.status).toBe(200);
    }
    // Resets are roughly 30%, not all or nothing.
    const resets = outcomes.filter((o) => o.kind === 'reset').length;
    expect(resets).toBeGreaterThan(8);
    expect(resets).toBeLessThan(45);
  });

  it('leaves the control API alone', async () => {
    expect((await flaky.settings()).dialect).toBe('plural');
    expect(Array.isArray((await flaky.requests()).requests)).toBe(true);
  });

  it('turns back to normal answers when set to 0 at run time', async () => {
    const { status, body } = await flaky.setFaults({ resetRate: 0, rateLimitRate: 0, errorRate: 0, malformedRate: 0, latencyJitterMs: 0 });
    expect([status, body]).toEqual([200, { ...ZERO, retryAfterSeconds: 4 }]);
    for (const outcome of await probeMany(`${flaky.api}/projects?per_page=3`, 10)) {
      expect(outcome.kind).toBe('ok');
      if (outcome.kind === 'ok') expect([outcome.status, (outcome.body as ApiRecord[]).map((r) => r.record_identifier)]).toEqual([200, [1, 2, 3]]);
    }
  });
});

describe('faults set at run time', () => {
  beforeAll(async () => {
    const { status } = await slow.setFaults({ latencyMs: 0, rateLimitRate: 0 });
    expect(status).toBe(200);
    const outcome = await probe(`${slow.api}/projects`);
    expect(outcome.kind).toBe('ok');
    normal = (outcome as { body: ApiRecord[] }).body;
    expect(normal).toHaveLength(10);
  });

  afterAll(async () => {
    await slow.setFaults(ZERO);
  });

  it('latencyMs delays every answer by at least that much', async () => {
    expect((await slow.setFaults({ latencyMs: 200 })).status).toBe(200);
    for (const path of ['projects', 'projects/1', 'bogus']) {
      const outcome = await probe(`${slow.api}/${path}`);
      expect(outcome.kind).toBe('ok');
      expect(outcome.elapsedMs).toBeGreaterThanOrEqual(195);
    }
    // Unauthenticated requests wait too.
    expect((await probe(`${slow.api}/projects`, null)).elapsedMs).toBeGreaterThanOrEqual(195);
    expect((await slow.setFaults({ latencyMs: 50, latencyJitterMs: 100 })).body).toMatchObject({ latencyMs: 50, latencyJitterMs: 100 });
    for (const outcome of await probeMany(`${slow.api}/projects`, 3)) expect(outcome.elapsedMs).toBeGreaterThanOrEqual(45);
    await slow.setFaults({ latencyMs: 0, latencyJitterMs: 0 });
  });

  it('errorRate 1 answers only 500, 502 and 503', async () => {
    await slow.setFaults({ errorRate: 1 });
    const outcomes = await probeMany(`${slow.api}/projects`, 30);
    expect(kinds(outcomes)).toEqual(['error']);
    const byStatus = new Map(outcomes.map((o) => [(o as { status: number }).status, o]));
    expect([...byStatus.keys()].sort()).toEqual([500, 502, 503]);
    expect(byStatus.get(500)).toMatchObject({ contentType: 'application/json', text: '{"message":"500 Internal Server Error"}' });
    expect(byStatus.get(503)).toMatchObject({ contentType: 'application/json' });
    expect(byStatus.get(502)).toMatchObject({ contentType: 'text/html', text: expect.stringContaining('502 Bad Gateway') });
    // PUTs fail the same way.
    const put = await fetch(`${slow.api}/projects/checksum`, { method: 'PUT', headers: { 'private-token': ADMIN_TOKEN } });
    expect([500, 502, 503]).toContain(put.status);
    await put.text();
    await slow.setFaults({ errorRate: 0 });
  });

  it('rateLimitRate 1 answers 429 with Retry-After equal to retryAfterSeconds', async () => {
    await slow.setFaults({ rateLimitRate: 1, retryAfterSeconds: 3 });
    for (const outcome of await probeMany(`${slow.api}/projects`, 5)) expect(outcome).toEqual({ kind: 'rateLimited', retryAfter: '3', elapsedMs: expect.any(Number) });
    await slow.setFaults({ retryAfterSeconds: 12 });
    expect(await probe(`${slow.api}/projects/1`)).toMatchObject({ kind: 'rateLimited', retryAfter: '12' });
    await slow.setFaults({ rateLimitRate: 0 });
  });

  it('resetRate 1 drops every connection mid-answer', async () => {
    await slow.setFaults({ resetRate: 1 });
    for (const outcome of await probeMany(`${slow.api}/projects`, 5)) expect(outcome.kind).toBe('reset');
    await slow.setFaults({ resetRate: 0 });
  });

  it('malformedRate 1 answers 200 with a body that is not JSON', async () => {
    await slow.setFaults({ malformedRate: 1 });
    for (const outcome of await probeMany(`${slow.api}/projects`, 5)) {
      expect(outcome).toEqual({ kind: 'malformed', status: 200, contentType: 'application/json', elapsedMs: expect.any(Number) });
    }
    await slow.setFaults({ malformedRate: 0 });
  });

  it('rejects invalid fault values with 400 and keeps the previous setting', async () => {
    await slow.setFaults({ latencyMs: 5 });
    const before = await slow.faults();
    for (const bad of [
      { errorRate: 2 },
      { rateLimitRate: -0.1 },
      { resetRate: 1.5 },
      { malformedRate: null },
      { latencyMs: -1 },
      { latencyMs: '100' },
      { retryAfterSeconds: -5 },
      { bogus: 1 },
      { errorRate: 0.5, latencyMs: -1 },
      [],
      'errorRate=1',
    ]) {
      const { status, body } = await slow.setFaults(bad);
      expect([JSON.stringify(bad), status, typeof body.error]).toEqual([JSON.stringify(bad), 400, 'string']);
    }
    const notJson = await fetch(`${slow.url}/-/stand-in/faults`, { method: 'PUT', body: '{errorRate:' });
    expect(notJson.status).toBe(400);
    await notJson.text();
    expect(await slow.faults()).toEqual(before);
  });

  it('answers normally again once every fault is 0', async () => {
    expect((await slow.setFaults(ZERO)).body).toEqual({ ...ZERO, retryAfterSeconds: 12 });
    for (const outcome of await probeMany(`${slow.api}/projects`, 5)) expect(outcome).toMatchObject({ kind: 'ok', status: 200, body: normal });
    expect(await probe(`${slow.api}/projects`, null)).toMatchObject({ kind: 'ok', status: 401, body: { message: '401 Unauthorized' } });
  });
});
