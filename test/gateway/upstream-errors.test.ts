// When GitLab misbehaves (the stand-in's faults): typed errors, retries only where they are safe, nothing leaked.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startGateway } from '../../src/server.js';
import { NO_FAULTS, type Faults } from '../../src/stand-in/options.js';
import { ModelRecordDocument, ModelRecordsDocument, RecalculateAllChecksumsDocument, RecalculateChecksumDocument, RecordPageDocument } from '../generated/operations.js';
import { ADMIN, READ_ONLY, USER, type GraphQLResponse, type Harness } from '../support/gateway.js';
import { answered, DIALECTS, QUIET, errorText, gets, ids, oneError, ok, puts, restAll, startFor, waitForUpstream } from './helpers.js';

/** The timeout the main harness runs with: well above a healthy answer, well below the injected latency. */
const HEADERS_TIMEOUT_MS = 400;
const UNAVAILABLE_OR_ERROR = ['UPSTREAM_UNAVAILABLE', 'UPSTREAM_ERROR'];

describe.each(DIALECTS)('upstream failures, %s dialect', (dialect) => {
  let h: Harness;
  /** Same stand-in settings, more retries (UPSTREAM_RETRIES=4). */
  let patient: Harness;
  let lfsIds: string[];
  const seen: GraphQLResponse<unknown>[] = [];

  const faults = (harness: Harness, f: Partial<Faults>) => harness.control('PUT', 'faults', f);
  const record = (harness: Harness) => (res: GraphQLResponse<unknown>) => {
    seen.push(res);
    return res;
  };

  beforeAll(async () => {
    h = await startFor(dialect, {}, { UPSTREAM_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS) });
    patient = await startFor(dialect, {}, { UPSTREAM_RETRIES: '4' });
    lfsIds = ids(await restAll(h, 'LFS_OBJECT', dialect));
    for (const harness of [h, patient]) {
      const request = harness.request.bind(harness);
      harness.request = async (document, variables, options) => record(harness)(await request(document, variables, options)) as never;
    }
  });
  afterAll(async () => {
    await h?.close();
    await patient?.close();
  });
  beforeEach(async () => {
    await h.resetUpstream();
    await patient.resetUpstream();
  });
  afterEach(async () => {
    await faults(h, NO_FAULTS);
    await faults(patient, NO_FAULTS);
  });

  const list = (harness = h) => harness.request(RecordPageDocument, { model: 'LFS_OBJECT', first: 5 });

  it('5xx answers are UPSTREAM_UNAVAILABLE (502, 503, retried) or UPSTREAM_ERROR (500)', async () => {
    await faults(h, { errorRate: 1 });
    for (let i = 0; i < 3; i++) {
      await h.resetUpstream();
      const res = await list();
      const error = oneError(res, UNAVAILABLE_OR_ERROR);
      expect(error.message).toMatch(/^GitLab is unavailable \((502|503)\)\.$|^GitLab answered with status 500\.$/);
      expect(res.data).toEqual({ modelRecords: null });
      const calls = gets(await h.upstream()).length;
      expect(calls).toBeGreaterThanOrEqual(1);
      expect(calls).toBeLessThanOrEqual(3);
      // Only 502 and 503 are worth a retry; a 500 is GitLab's final word.
      if (error.extensions?.code === 'UPSTREAM_ERROR') expect(error.message).toBe('GitLab answered with status 500.');
    }
  });

  it('rate limited with Retry-After 0: retried 1 + UPSTREAM_RETRIES (default 2) times, then UPSTREAM_RATE_LIMITED', async () => {
    await faults(h, { rateLimitRate: 1, retryAfterSeconds: 0 });
    const res = await list();
    const error = oneError(res, 'UPSTREAM_RATE_LIMITED');
    expect(error.extensions?.retryAfterSeconds).toBe(0);
    expect(gets(await h.upstream())).toHaveLength(3);
  });

  it('UPSTREAM_RETRIES sets the number of retries', async () => {
    await faults(patient, { rateLimitRate: 1, retryAfterSeconds: 0 });
    oneError(await list(patient), 'UPSTREAM_RATE_LIMITED');
    expect(gets(await patient.upstream())).toHaveLength(5);
  });

  it('a Retry-After longer than the gateway waits is UPSTREAM_RATE_LIMITED at once, with retryAfterSeconds', async () => {
    await faults(h, { rateLimitRate: 1, retryAfterSeconds: 60 });
    const started = Date.now();
    const error = oneError(await list(), 'UPSTREAM_RATE_LIMITED');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error.extensions?.retryAfterSeconds).toBe(60);
    expect(gets(await h.upstream())).toHaveLength(1);
  });

  it('a malformed JSON body is UPSTREAM_ERROR', async () => {
    await faults(h, { malformedRate: 1 });
    const res = await list();
    expect(oneError(res, 'UPSTREAM_ERROR').message).toBe('GitLab answered with a malformed body.');
    expect(gets(await h.upstream())).toHaveLength(3);
  });

  it('a connection reset mid-answer is UPSTREAM_UNAVAILABLE after retries', async () => {
    await faults(h, { resetRate: 1 });
    const res = await h.request(ModelRecordDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[0] });
    expect(oneError(res, 'UPSTREAM_UNAVAILABLE').message).toBe('The connection to GitLab failed.');
    expect(res.data).toEqual({ modelRecord: null });
    expect(gets(await h.upstream())).toHaveLength(3);
  });

  it('an answer slower than UPSTREAM_HEADERS_TIMEOUT_MS is UPSTREAM_TIMEOUT, not retried', async () => {
    await faults(h, { latencyMs: 3000 });
    const started = Date.now();
    const res = await list();
    const elapsed = Date.now() - started;
    expect(oneError(res, 'UPSTREAM_TIMEOUT').message).toBe('GitLab did not answer in time.');
    expect(elapsed).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(2500);
    expect(gets(await h.upstream())).toHaveLength(1);
  });

  it('a failure fails only the fields that needed the call; the rest of the document resolves', async () => {
    await faults(h, { malformedRate: 1 });
    const res = await h.request<{ a: unknown; b: unknown }, Record<string, never>>(
      `query { a: modelRecord(model: LFS_OBJECT, recordIdentifier: "${lfsIds[0]}") { id } b: modelRecord(model: LFS_OBJECT, recordIdentifier: "not-an-id") { id } }`,
    );
    expect(res.data).toEqual({ a: null, b: null });
    expect(res.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([[['a'], 'UPSTREAM_ERROR']]);
  });

  describe('mutations (PUT)', () => {
    it('a 5xx on the single-record PUT is not retried: exactly one PUT', async () => {
      await faults(h, { errorRate: 1 });
      for (let i = 0; i < 4; i++) {
        await h.resetUpstream();
        const res = await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[i] });
        oneError(res, UNAVAILABLE_OR_ERROR);
        expect(res.data).toEqual({ recalculateChecksum: null });
        const log = await h.upstream();
        expect(puts(log)).toHaveLength(1);
        expect(log).toHaveLength(1);
      }
    });

    it('a 5xx on the bulk PUT is not retried: exactly one PUT', async () => {
      await faults(h, { errorRate: 1 });
      for (let i = 0; i < 3; i++) {
        await h.resetUpstream();
        oneError(await h.request(RecalculateAllChecksumsDocument, { model: 'LFS_OBJECT' }), UNAVAILABLE_OR_ERROR);
        expect(await h.upstream()).toHaveLength(1);
      }
    });

    it('a reset or a timeout on a PUT is not retried either: GitLab may have acted on it', async () => {
      await faults(h, { resetRate: 1 });
      oneError(await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[0] }), 'UPSTREAM_UNAVAILABLE');
      expect(puts(await h.upstream())).toHaveLength(1);
      await h.resetUpstream();
      await faults(h, { resetRate: 0, latencyMs: 3000 });
      oneError(await h.request(RecalculateAllChecksumsDocument, { model: 'LFS_OBJECT' }), 'UPSTREAM_TIMEOUT');
      expect(puts(await h.upstream())).toHaveLength(1);
    });

    it('a 429 on a PUT is UPSTREAM_RATE_LIMITED; GitLab refused it unread, so it may be resent (1 + retries PUTs)', async () => {
      await faults(h, { rateLimitRate: 1, retryAfterSeconds: 0 });
      const res = await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[0] });
      oneError(res, 'UPSTREAM_RATE_LIMITED');
      const log = await h.upstream();
      expect(puts(log)).toHaveLength(3);
      expect(gets(log)).toHaveLength(0);
    });
  });

  describe('intermittent failures are retried and succeed', () => {
    it('a 429 whose Retry-After (1 s) is honoured, then a good answer: 2 GETs', async () => {
      await faults(h, { rateLimitRate: 1, retryAfterSeconds: 1 });
      const started = Date.now();
      const pending = list();
      await waitForUpstream(h, 1);
      await faults(h, NO_FAULTS);
      const data = answered(await pending);
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(data.modelRecords.edges.map((e) => e.node.recordIdentifier)).toEqual(lfsIds.slice(0, 5));
      expect(gets(await h.upstream())).toHaveLength(2);
    });

    it('connection resets that stop after three attempts: the fourth succeeds', async () => {
      await faults(patient, { resetRate: 1 });
      const pending = list(patient);
      // Three failed attempts seen; the gateway now backs off for 400 ms or more before the fourth.
      await waitForUpstream(patient, 3);
      await faults(patient, NO_FAULTS);
      const data = answered(await pending);
      expect(data.modelRecords.edges.map((e) => e.node.recordIdentifier)).toEqual(lfsIds.slice(0, 5));
      const calls = gets(await patient.upstream()).length;
      expect(calls).toBeGreaterThanOrEqual(4);
      expect(calls).toBeLessThanOrEqual(5);
    });

    it('a flaky GitLab (10% of answers 429) still answers every query', async () => {
      // Five attempts each: a query fails only if all five draw a 429 (1e-5), so 12 queries all succeed.
      await faults(patient, { rateLimitRate: 0.1, retryAfterSeconds: 0 });
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => patient.request(ModelRecordDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[i] })));
      expect(results.map((res) => ok(res).modelRecord?.recordIdentifier)).toEqual(lfsIds.slice(0, 12));
      // Retries are invisible to the client, not to GitLab.
      expect(gets(await patient.upstream()).length).toBeGreaterThanOrEqual(12);
    });
  });

  if (dialect === 'singular') {
    it('with the feature flag geo_primary_verification_view off, everything is NOT_FOUND, asked once', async () => {
      await h.control('PUT', 'settings', { featureFlag: false });
      try {
        const query = await list();
        expect(oneError(query, 'NOT_FOUND').message).toContain('geo_primary_verification_view');
        const one = await h.request(ModelRecordDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[0] });
        oneError(one, 'NOT_FOUND');
        oneError(await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[0] }), 'NOT_FOUND');
        oneError(await h.request(RecalculateAllChecksumsDocument, { model: 'LFS_OBJECT' }), 'NOT_FOUND');
        expect(await h.upstream()).toHaveLength(4);
      } finally {
        await h.control('PUT', 'settings', { featureFlag: true });
      }
      ok(await list());
    });
  } else {
    it('the plural API does not check the feature flag', async () => {
      await h.control('PUT', 'settings', { featureFlag: false });
      try {
        ok(await list());
      } finally {
        await h.control('PUT', 'settings', { featureFlag: true });
      }
    });
  }

  it('no error message of this file contains a token or the upstream URL', () => {
    const errors = seen.filter((res) => res.errors);
    expect(errors.length).toBeGreaterThan(10);
    for (const harness of [h, patient]) {
      const { port } = new URL(harness.standIn.url);
      for (const res of errors) {
        const text = errorText(res);
        for (const secret of [ADMIN, USER, READ_ONLY, 'glpat-', harness.standIn.url, '127.0.0.1', `:${port}`]) expect(text).not.toContain(secret);
      }
    }
  });
});

describe('GitLab unreachable', () => {
  it('is UPSTREAM_UNAVAILABLE without naming the upstream address, for queries and mutations', async () => {
    // A port nothing listens on.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));

    const gateway = await startGateway(loadConfig({ ...QUIET, HOST: '127.0.0.1', PORT: '0', UPSTREAM_RETRIES: '1' }), { gitlabUrl: `http://127.0.0.1:${port}` });
    try {
      for (const query of [
        'query { modelRecords(model: LFS_OBJECT) { nodes { id } } }',
        'query { modelRecord(model: LFS_OBJECT, recordIdentifier: "1") { id } }',
        'mutation { recalculateChecksum(model: LFS_OBJECT, recordIdentifier: "1") { errors } }',
      ]) {
        const res = await fetch(gateway.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
          body: JSON.stringify({ query }),
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as GraphQLResponse<unknown>;
        expect(body.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([['UPSTREAM_UNAVAILABLE', 'Could not connect to GitLab.']]);
        expect(errorText(body)).not.toContain(String(port));
        expect(errorText(body)).not.toContain(ADMIN);
      }
    } finally {
      await gateway.close();
    }
  });
});
