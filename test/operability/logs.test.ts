// One JSON log line per operation (name, type, duration, upstream calls, error codes, request id); the request id a
// client sends is echoed, logged and forwarded; no token and no upstream address leaks; LOG_LEVEL=silent is silent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startGateway } from '../../src/server.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN, closedPort, projectIds, type LogLine } from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const LOG_KEYS = ['durationMs', 'errorCodes', 'level', 'msg', 'operation', 'requestId', 'service', 'time', 'type', 'upstreamCalls'];
const WRONG_BEARER = 'glpat-wrong-bearer-Zx81Qm4';
const WRONG_PRIVATE = 'glpat-wrong-private-Kp27Vn9';

/** Three look-ups of one model in one document: one batched upstream call. */
const three = (ids: string[]) => /* GraphQL */ `
  query ThreeProjects {
    a: modelRecord(model: PROJECT, recordIdentifier: "${ids[0]}") { recordIdentifier }
    b: modelRecord(model: PROJECT, recordIdentifier: "${ids[1]}") { recordIdentifier }
    c: modelRecord(model: PROJECT, recordIdentifier: "${ids[2]}") { recordIdentifier }
  }
`;
const one = (id: string, name = 'OneProject') => `query ${name} { modelRecord(model: PROJECT, recordIdentifier: "${id}") { recordIdentifier } }`;
const FIRST = /* GraphQL */ `query FirstProject { modelRecords(model: PROJECT, first: 1) { nodes { model } } }`;

let gw: TestGateway;
let ids: string[];
let ONE: string;

/** The operation lines (those with an `operation` field) of one request id. */
const linesOf = (requestId: string): LogLine[] => gw.logs().filter((l) => l.requestId === requestId && 'operation' in l);

beforeAll(async () => {
  // trace: the most the gateway (and Yoga through it) ever logs, so the no-token checks see everything.
  gw = await startTestGateway({ level: 'trace', standIn: { failRate: 0 } });
  ids = await projectIds(gw.standIn.url, 6);
  ONE = one(ids[3]);
});
afterAll(async () => {
  await gw?.close();
});

describe('one log line per operation', () => {
  it('a batched query: its name, type, duration, one upstream call, no error codes, the client request id', async () => {
    await gw.resetUpstream();
    const requestId = 'ops-log-batched-0001';
    const res = await gw.post(three(ids), { requestId });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { a: { recordIdentifier: ids[0] }, b: { recordIdentifier: ids[1] }, c: { recordIdentifier: ids[2] } } });
    expect(res.headers.get('x-request-id')).toBe(requestId);

    const lines = linesOf(requestId);
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(Object.keys(line).sort()).toEqual(LOG_KEYS);
    expect(line).toMatchObject({
      level: 30,
      service: 'data-management-gateway',
      requestId,
      operation: 'ThreeProjects',
      type: 'query',
      upstreamCalls: 1,
      errorCodes: [],
      msg: 'query ThreeProjects success',
    });
    expect(typeof line.durationMs).toBe('number');
    expect(line.durationMs).toBeGreaterThan(0);
    expect(line.durationMs).toBeLessThan(30_000);

    // The same id went upstream, on the one batched call.
    const upstream = await gw.upstream();
    expect(upstream.map((e) => ({ method: e.method, path: e.path, ids: e.params['identifiers[]'], requestId: e.requestId }))).toEqual([
      { method: 'GET', path: '/api/v4/admin/data_management/projects', ids: ids.slice(0, 3), requestId },
    ]);
  });

  it('without a client request id, one is generated, echoed, logged and sent upstream', async () => {
    await gw.resetUpstream();
    const res = await gw.post(ONE);
    expect(res.body).toEqual({ data: { modelRecord: { recordIdentifier: ids[3] } } });
    const requestId = res.headers.get('x-request-id')!;
    expect(requestId).toMatch(UUID);
    expect(linesOf(requestId)).toMatchObject([{ operation: 'OneProject', type: 'query', upstreamCalls: 1, errorCodes: [] }]);
    expect((await gw.upstream()).map((e) => e.requestId)).toEqual([requestId]);
  });

  it('an over-long request id is cut to 128 characters, the same everywhere', async () => {
    await gw.resetUpstream();
    const sent = 'r'.repeat(200);
    const res = await gw.post(ONE, { requestId: sent });
    expect(res.status).toBe(200);
    const requestId = 'r'.repeat(128);
    expect(res.headers.get('x-request-id')).toBe(requestId);
    expect(linesOf(requestId)).toHaveLength(1);
    expect((await gw.upstream()).map((e) => e.requestId)).toEqual([requestId]);
  });

  it('two queries in one document: the chosen operation is the one logged', async () => {
    const requestId = 'ops-log-choice-0001';
    const res = await gw.post(`${ONE}\n${one(ids[4], 'Other')}`, { requestId, operationName: 'Other' });
    expect(res.body).toEqual({ data: { modelRecord: { recordIdentifier: ids[4] } } });
    expect(linesOf(requestId)).toMatchObject([{ operation: 'Other', type: 'query', upstreamCalls: 1 }]);
  });

  it('an anonymous query with no upstream call', async () => {
    const requestId = 'ops-log-anon-0001';
    const res = await gw.post('{ __typename }', { requestId });
    expect(res.body).toEqual({ data: { __typename: 'Query' } });
    expect(linesOf(requestId)).toMatchObject([{ operation: 'anonymous', type: 'query', upstreamCalls: 0, errorCodes: [], msg: 'query anonymous success' }]);
  });

  it('a mutation: type mutation, one PUT upstream', async () => {
    await gw.resetUpstream();
    const requestId = 'ops-log-mutation-0001';
    const res = await gw.post(`mutation Verify { recalculateChecksum(model: PROJECT, recordIdentifier: "${ids[5]}") { errors record { recordIdentifier } } }`, { requestId });
    expect(res.body).toEqual({ data: { recalculateChecksum: { errors: [], record: { recordIdentifier: ids[5] } } } });
    expect(linesOf(requestId)).toMatchObject([{ operation: 'Verify', type: 'mutation', upstreamCalls: 1, errorCodes: [], msg: 'mutation Verify success' }]);
    expect((await gw.upstream()).map((e) => `${e.method} ${e.path} ${e.requestId}`)).toEqual([`PUT /api/v4/admin/data_management/projects/${ids[5]}/checksum ${requestId}`]);
  });

  it('a failed operation lists its error codes', async () => {
    const requestId = 'ops-log-error-0001';
    const res = await gw.post(`query TooMany { modelRecords(model: PROJECT, first: 101) { nodes { id } } }`, { requestId });
    expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(linesOf(requestId)).toMatchObject([{ operation: 'TooMany', type: 'query', upstreamCalls: 0, errorCodes: ['BAD_USER_INPUT'], msg: 'query TooMany error' }]);
  });
});

describe('no secrets in logs or errors', () => {
  it('a wrong Bearer token: UNAUTHENTICATED after one call, and the token is nowhere but upstream', async () => {
    await gw.resetUpstream();
    const requestId = 'ops-log-wrong-bearer';
    const res = await gw.post(ONE, { requestId, token: WRONG_BEARER });
    expect(res.body).toEqual({
      data: { modelRecord: null },
      errors: [{ message: 'GitLab did not accept the token (401 Unauthorized).', locations: [{ line: 1, column: 20 }], path: ['modelRecord'], extensions: { code: 'UNAUTHENTICATED' } }],
    });
    expect(linesOf(requestId)).toMatchObject([{ operation: 'OneProject', upstreamCalls: 1, errorCodes: ['UNAUTHENTICATED'], msg: 'query OneProject error' }]);
    // It was forwarded as it came (so the check is not vacuous), and only there.
    expect((await gw.upstream()).map((e) => [e.authorization, e.privateToken])).toEqual([[`Bearer ${WRONG_BEARER}`, null]]);
  });

  it('a wrong PRIVATE-TOKEN: the same', async () => {
    await gw.resetUpstream();
    const requestId = 'ops-log-wrong-private';
    const res = await gw.post(ONE, { requestId, token: WRONG_PRIVATE, header: 'private-token' });
    expect(res.body.errors?.map((e) => [e.message, e.extensions?.code])).toEqual([['GitLab did not accept the token (401 Unauthorized).', 'UNAUTHENTICATED']]);
    expect(linesOf(requestId)).toMatchObject([{ upstreamCalls: 1, errorCodes: ['UNAUTHENTICATED'] }]);
    expect((await gw.upstream()).map((e) => [e.authorization, e.privateToken])).toEqual([[null, WRONG_PRIVATE]]);
  });

  it('no token: UNAUTHENTICATED without any upstream call', async () => {
    await gw.resetUpstream();
    const requestId = 'ops-log-no-token';
    const res = await gw.post(ONE, { requestId, token: null });
    expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(linesOf(requestId)).toMatchObject([{ upstreamCalls: 0, errorCodes: ['UNAUTHENTICATED'] }]);
    expect(await gw.upstream()).toEqual([]);
  });

  it('a valid token, sent either way, is never logged', async () => {
    expect((await gw.post(ONE, { header: 'private-token' })).body.data).toEqual({ modelRecord: { recordIdentifier: ids[3] } });
    expect((await gw.post(ONE)).body.data).toEqual({ modelRecord: { recordIdentifier: ids[3] } });
  });

  it('the upstream address is not in a client-facing error', async () => {
    const port = await closedPort();
    let raw = '';
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', GITLAB_URL: `http://127.0.0.1:${port}`, GITLAB_API_DIALECT: 'plural', UPSTREAM_RETRIES: '2' });
    const down = await startGateway(config, { gitlabUrl: `http://127.0.0.1:${port}`, logger: createLogger('trace', { write: (c: string) => void (raw += c) }) });
    try {
      const res = await fetch(down.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}`, 'x-request-id': 'ops-log-down' },
        body: JSON.stringify({ query: ONE }),
      });
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({
        data: { modelRecord: null },
        errors: [{ message: 'Could not connect to GitLab.', locations: [{ line: 1, column: 20 }], path: ['modelRecord'], extensions: { code: 'UPSTREAM_UNAVAILABLE' } }],
      });
      expect(text).not.toContain(String(port));
      expect(text).not.toContain('127.0.0.1');
      const lines = raw
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LogLine)
        .filter((l) => l.requestId === 'ops-log-down');
      // One attempt and two retries: a refused connection never reached GitLab. Each attempt is a warn line of its own
      // (see upstream-logs.test.ts), and none names GitLab's address.
      expect(lines.filter((l) => 'operation' in l)).toMatchObject([{ operation: 'OneProject', upstreamCalls: 3, errorCodes: ['UPSTREAM_UNAVAILABLE'] }]);
      expect(lines.filter((l) => 'upstreamStatus' in l).map((l) => [l.level, l.upstreamStatus, l.attempt])).toEqual([
        [40, 0, 1],
        [40, 0, 2],
        [40, 0, 3],
      ]);
      for (const secret of ['127.0.0.1', `:${port}`, ADMIN]) expect(raw).not.toContain(secret);
    } finally {
      await down.close();
    }
  });

  it('across every line logged so far (at trace level), no token value appears', () => {
    const raw = gw.rawLog();
    expect(raw.length).toBeGreaterThan(0);
    for (const secret of [ADMIN, WRONG_BEARER, WRONG_PRIVATE]) expect(raw).not.toContain(secret);
    // Every line is one JSON object.
    for (const line of raw.split('\n').filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
  });
});

// Nothing logs a token; should something try, the keys that could hold one are censored at the top level and one
// level down, whatever else the line holds.
describe('censored keys', () => {
  it('token, authorization, private-token and connectionParams never reach the line, nested or not', () => {
    const written: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void written.push(line) });
    const headers = { authorization: `Bearer ${WRONG_BEARER}`, 'private-token': WRONG_PRIVATE, accept: 'application/json' };
    logger.info({ token: ADMIN, headers, connectionParams: { authorization: ADMIN }, requestId: 'r-1', codes: ['A'] }, 'tried');
    logger.child({ scope: 'x' }).warn({ req: { connectionParams: { 'private-token': ADMIN } } }, 'child');
    logger.info({ operation: 'Plain', upstreamCalls: 1 }, 'plain');
    const [tried, child, plain] = written.map((line) => JSON.parse(line));
    expect(tried).toMatchObject({
      token: '[redacted]',
      headers: { authorization: '[redacted]', 'private-token': '[redacted]', accept: 'application/json' },
      connectionParams: '[redacted]',
      requestId: 'r-1',
      codes: ['A'],
    });
    expect(child).toMatchObject({ scope: 'x', req: { connectionParams: '[redacted]' }, msg: 'child' });
    expect(plain).toMatchObject({ operation: 'Plain', upstreamCalls: 1, msg: 'plain' });
    for (const secret of [ADMIN, WRONG_BEARER, WRONG_PRIVATE]) expect(written.join('')).not.toContain(secret);
    // The caller's objects are left as they were.
    expect(headers.authorization).toBe(`Bearer ${WRONG_BEARER}`);
  });
});

// The same as a process (from start-up to SIGTERM and exit): see shutdown.test.ts.
describe('LOG_LEVEL=silent', () => {
  it('in process: operations, errors and shutdown write nothing', async () => {
    const silent = await startTestGateway({ env: { LOG_LEVEL: 'silent' } });
    try {
      expect((await silent.post(FIRST)).body.data).toEqual({ modelRecords: { nodes: [{ model: 'PROJECT' }] } });
      expect((await silent.post(FIRST, { token: WRONG_BEARER })).body.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      await silent.close();
    }
    expect(silent.rawLog()).toBe('');
  });
});
