// An operation whose client leaves stops asking GitLab: no call starts after it left, the GETs on their way are cut off
// (never retried), and nothing of it is reported as GitLab's failure. A PUT on its way is let finish, and no further
// PUT of that operation is sent.
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import { ADMIN, sample, until } from '../operability/helpers.js';
import { startTestGateway, type TestGateway } from '../operability/gateway.js';

/** Few connections, so that most of the query's calls wait in the pool when the client leaves. */
const UPSTREAM_CONNECTIONS = 4;
/** GitLab's latency meanwhile: no answer comes back between its first call and the client leaving. */
const SLOW_GITLAB_MS = 1500;
const ALIASES = 6;
/** Made-up identifiers, distinct in every alias: each alias reads all ten calls of its list (1,000 ids, 100 a call). */
const IDS_PER_ALIAS = 1000;
const CALLS_NEEDED = ALIASES * (IDS_PER_ALIAS / 100);

let t: TestGateway;
const agent = new Agent();

beforeAll(async () => {
  t = await startTestGateway({
    standIn: { records: 50, verifyIntervalMs: 0 },
    env: { LOG_LEVEL: 'debug', UPSTREAM_CONNECTIONS: String(UPSTREAM_CONNECTIONS), UPSTREAM_MAX_CALLS_PER_OPERATION: String(10 * CALLS_NEEDED) },
  });
  // The dialect learnt, connections open: what follows is the test's.
  expect((await t.post('{ modelRecords(model: PROJECT, first: 1) { nodes { id } } }')).status).toBe(200);
});
afterAll(async () => {
  await agent.destroy();
  await t?.close();
});
beforeEach(async () => {
  await faults({ latencyMs: 0, rateLimitRate: 0 });
  await t.resetUpstream();
});

const faults = (body: object) => fetch(`${t.standIn.url}/-/stand-in/faults`, { method: 'PUT', body: JSON.stringify(body) }).then((res) => res.json());
const requestsAfter = async (seq: number): Promise<RequestLogEntry[]> =>
  ((await (await fetch(`${t.standIn.url}/-/stand-in/requests?after=${seq}`)).json()) as { requests: RequestLogEntry[] }).requests;
const lastSeq = async () => ((await (await fetch(`${t.standIn.url}/-/stand-in/requests?after=${Number.MAX_SAFE_INTEGER}`)).json()) as { lastSeq: number }).lastSeq;

/**
 * Posts an operation under `requestId` and leaves (closes its connection) once GitLab has received `leaveAfter`'s
 * first match. Resolves with the sequence number of the stand-in's log when the client left.
 */
async function postAndLeave(query: string, variables: Record<string, unknown>, requestId: string, leaveAfter: (e: RequestLogEntry) => boolean): Promise<number> {
  const from = await lastSeq();
  const abort = new AbortController();
  const answered = undiciFetch(t.url, {
    method: 'POST',
    dispatcher: agent,
    signal: abort.signal,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}`, 'x-request-id': requestId },
    body: JSON.stringify({ query, variables }),
  }).then(
    () => 'answered',
    () => 'left',
  );
  let seen: RequestLogEntry[] = [];
  await until(async () => ((seen = await requestsAfter(from)).some((e) => e.requestId === requestId && leaveAfter(e)) ? true : undefined), 'the operation to reach GitLab', 30_000, 10);
  abort.abort();
  expect(await answered).toBe('left');
  return Math.max(...seen.map((e) => e.seq));
}

/** The operation's log line (written once it has run to its end, for nobody). */
const operationLine = (requestId: string) => until(() => t.logs().find((l) => l.requestId === requestId && typeof l.type === 'string' && l.msg.startsWith(`${l.type} `)), `the log line of ${requestId}`, 60_000, 50);

const problemLines = () => t.logs().filter((l) => l.level >= 50 || (l.level >= 40 && /upstream .* failed/.test(l.msg)));

it(`a query needing ${CALLS_NEEDED} calls whose client leaves at its first: GitLab gets only those already on their way`, { timeout: 120_000 }, async () => {
  const variables = Object.fromEntries(Array.from({ length: ALIASES }, (_, a) => [`ids${a}`, Array.from({ length: IDS_PER_ALIAS }, (_, i) => String(70_000_000 + a * 100_000 + i))]));
  const query = `query LeavingClient(${Object.keys(variables).map((v) => `$${v}: [ID!]`).join(', ')}) {
    ${Object.keys(variables).map((v, a) => `a${a}: modelRecords(model: PROJECT, identifiers: $${v}, first: 100) { totalCount nodes { id } }`).join('\n    ')}
  }`;
  await faults({ latencyMs: SLOW_GITLAB_MS });
  const logMark = t.logs().length;
  const leftAt = await postAndLeave(query, variables, 'leaving-query', (e) => e.method === 'GET');

  // Once the operation has run to its end, nothing more can start for it.
  const line = await operationLine('leaving-query');
  await new Promise((resolve) => setTimeout(resolve, 2 * SLOW_GITLAB_MS));
  const calls = (await requestsAfter(0)).filter((e) => e.requestId === 'leaving-query');
  const afterLeaving = calls.filter((e) => e.seq > leftAt);
  // At most one call per pooled connection can have been on its way when the client left; and none after.
  expect(afterLeaving.length).toBeLessThanOrEqual(UPSTREAM_CONNECTIONS);
  expect(calls.length).toBeLessThanOrEqual(2 * UPSTREAM_CONNECTIONS);
  expect(calls.length).toBeLessThan(CALLS_NEEDED);
  expect(calls.every((e) => e.method === 'GET')).toBe(true);
  expect(line.errorCodes).toEqual(['CLIENT_CLOSED_REQUEST']);

  // The cut-off calls are no failure of GitLab's: no warn or error line, no status 0 (no answer) in the metrics.
  expect(problemLines().slice(logMark)).toEqual([]);
  expect(t.logs().slice(logMark).filter((l) => /cut off: the client left/.test(l.msg)).length).toBeGreaterThan(0);
  const metrics = await t.metrics();
  expect(sample(metrics, 'gateway_upstream_requests_total', { route: 'list', method: 'GET', status: '0' }) ?? 0).toBe(0);
  expect(sample(metrics, 'gateway_upstream_requests_total', { route: 'list', method: 'GET', status: 'abandoned' })).toBeGreaterThan(0);
});

it(`the same query over graphql-ws, whose socket closes at its first call`, { timeout: 120_000 }, async () => {
  const variables = Object.fromEntries(Array.from({ length: ALIASES }, (_, a) => [`ids${a}`, Array.from({ length: IDS_PER_ALIAS }, (_, i) => String(80_000_000 + a * 100_000 + i))]));
  const query = `query LeavingSocket(${Object.keys(variables).map((v) => `$${v}: [ID!]`).join(', ')}) {
    ${Object.keys(variables).map((v, a) => `a${a}: modelRecords(model: PROJECT, identifiers: $${v}, first: 100) { totalCount nodes { id } }`).join('\n    ')}
  }`;
  const ids = new Set(Object.values(variables).flat());
  const ofQuery = (e: RequestLogEntry) => (e.params['identifiers[]'] ?? []).some((id) => ids.has(id));
  const socket = new WebSocket(t.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('message', (raw) => String(raw).includes('"connection_ack"') && resolve());
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${ADMIN}` } })));
  });
  await faults({ latencyMs: SLOW_GITLAB_MS });
  const logMark = t.logs().length;
  const from = await lastSeq();
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
  let seen: RequestLogEntry[] = [];
  await until(async () => ((seen = await requestsAfter(from)).some(ofQuery) ? true : undefined), 'the query to reach GitLab', 30_000, 10);
  socket.close();
  const leftAt = Math.max(...seen.map((e) => e.seq));

  const line = await until(() => t.logs().slice(logMark).find((l) => l.operation === 'LeavingSocket'), 'the log line of the query', 60_000, 50);
  await new Promise((resolve) => setTimeout(resolve, 2 * SLOW_GITLAB_MS));
  const calls = (await requestsAfter(from)).filter(ofQuery);
  expect(calls.filter((e) => e.seq > leftAt).length).toBeLessThanOrEqual(UPSTREAM_CONNECTIONS);
  expect(calls.length).toBeLessThanOrEqual(2 * UPSTREAM_CONNECTIONS);
  expect(line.errorCodes).toEqual(['CLIENT_CLOSED_REQUEST']);
  expect(problemLines().slice(logMark)).toEqual([]);
});

it('a call GitLab asked to retry later is not retried once its client has left, nor waited for', { timeout: 60_000 }, async () => {
  // 429 with Retry-After: the call would be sent again after 3 s (UPSTREAM_RETRIES, 2).
  await faults({ rateLimitRate: 1, retryAfterSeconds: 3 });
  const logMark = t.logs().length;
  const leftAt = await postAndLeave('query Retried { modelRecords(model: PROJECT, first: 5) { nodes { id } } }', {}, 'leaving-retry', () => true);
  const line = await operationLine('leaving-retry');
  await new Promise((resolve) => setTimeout(resolve, 4_000));
  const calls = (await requestsAfter(0)).filter((e) => e.requestId === 'leaving-retry');
  expect(calls.filter((e) => e.seq > leftAt)).toEqual([]);
  expect(calls).toHaveLength(1);
  expect(line.errorCodes).toEqual(['CLIENT_CLOSED_REQUEST']);
  // GitLab's 429 to the first attempt is its own answer (one warn line); nothing follows it.
  const lines = t.logs().slice(logMark);
  expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  expect(lines.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual(['upstream GET list projects failed: 429 (UPSTREAM_RATE_LIMITED), attempt 1, retrying']);
});

it('a mutation whose client leaves: the PUT on its way is let finish, once; the next one is not sent', { timeout: 60_000 }, async () => {
  const [first, second] = ((await (await fetch(`${t.standIn.url}/api/v4/admin/data_management/projects?per_page=2`, { headers: { 'private-token': ADMIN } })).json()) as { record_identifier: number }[]).map((r) => String(r.record_identifier));
  await faults({ latencyMs: SLOW_GITLAB_MS });
  const logMark = t.logs().length;
  // Root mutation fields run one after the other: the second PUT would only be sent once the first is answered.
  const query = `mutation Two($first: ID!, $second: ID!) {
    one: recalculateChecksum(model: PROJECT, recordIdentifier: $first) { record { id } }
    two: recalculateChecksum(model: PROJECT, recordIdentifier: $second) { record { id } }
  }`;
  await postAndLeave(query, { first, second }, 'leaving-mutation', (e) => e.method === 'PUT');
  await operationLine('leaving-mutation');
  await new Promise((resolve) => setTimeout(resolve, 2 * SLOW_GITLAB_MS));
  const puts = (await requestsAfter(0)).filter((e) => e.requestId === 'leaving-mutation' && e.method === 'PUT');
  expect(puts.map((e) => e.path.split('/').at(-2))).toEqual([first]);
  // It finished: GitLab verified the first record (its checksum is fresh), and the live layer was told.
  await faults({ latencyMs: 0 });
  const record = (await (await fetch(`${t.standIn.url}/api/v4/admin/data_management/projects/${first}`, { headers: { 'private-token': ADMIN } })).json()) as { checksum_information: { last_checksum: string | null } };
  expect(Date.parse(record.checksum_information.last_checksum ?? '0')).toBeGreaterThan(Date.now() - 60_000);
  expect(problemLines().slice(logMark)).toEqual([]);
});
