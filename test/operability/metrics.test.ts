// GET /metrics: Prometheus text with the gateway's own series, moving as operations, batches, upstream calls,
// subscriptions and sockets come and go.
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN, projectIds, sample, until } from './helpers.js';

const FAMILIES: [string, string][] = [
  ['gateway_graphql_operations_total', 'counter'],
  ['gateway_graphql_operation_duration_seconds', 'histogram'],
  ['gateway_upstream_requests_total', 'counter'],
  ['gateway_upstream_request_duration_seconds', 'histogram'],
  ['gateway_dataloader_batch_size', 'histogram'],
  ['gateway_live_subscriptions', 'gauge'],
  ['gateway_websocket_connections', 'gauge'],
  ['gateway_live_poll_cycles_total', 'counter'],
  ['gateway_live_poll_duration_seconds', 'histogram'],
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let gw: TestGateway;
let ids: string[];
/** The value of one series now (0 when it has no sample yet: counters appear on first use). */
const value = async (name: string, labels: Record<string, string> = {}) => sample(await gw.metrics(), name, labels) ?? 0;

beforeAll(async () => {
  gw = await startTestGateway({ standIn: { failRate: 0 }, env: { LIVE_FAST_POLL_MS: '100', LIVE_SLOW_POLL_MS: '100' } });
  ids = await projectIds(gw.standIn.url, 4);
});
afterAll(async () => {
  await gw?.close();
});

describe('/metrics', () => {
  it('is Prometheus text declaring every gateway series with its type', async () => {
    const res = await fetch(`${gw.base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    for (const [name, type] of FAMILIES) expect(text).toContain(`\n# TYPE ${name} ${type}\n`);
    // Gauges have a value from the start.
    expect(sample(text, 'gateway_live_subscriptions')).toBe(0);
    expect(sample(text, 'gateway_websocket_connections')).toBe(0);
  });

  it('a query with three aliased look-ups: one batch of size 3, one upstream GET, one successful operation', async () => {
    const before = await gw.metrics();
    const res = await gw.post(/* GraphQL */ `
      query ThreeProjects {
        a: modelRecord(model: PROJECT, recordIdentifier: "${ids[0]}") { recordIdentifier }
        b: modelRecord(model: PROJECT, recordIdentifier: "${ids[1]}") { recordIdentifier }
        c: modelRecord(model: PROJECT, recordIdentifier: "${ids[2]}") { recordIdentifier }
      }
    `);
    expect(res.body).toEqual({ data: { a: { recordIdentifier: ids[0] }, b: { recordIdentifier: ids[1] }, c: { recordIdentifier: ids[2] } } });
    const after = await gw.metrics();
    const delta = (name: string, labels: Record<string, string> = {}) => (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);

    expect(delta('gateway_dataloader_batch_size_count', { model: 'PROJECT' })).toBe(1);
    expect(delta('gateway_dataloader_batch_size_sum', { model: 'PROJECT' })).toBe(3);
    expect(delta('gateway_dataloader_batch_size_bucket', { model: 'PROJECT', le: '2' })).toBe(0);
    expect(delta('gateway_dataloader_batch_size_bucket', { model: 'PROJECT', le: '5' })).toBe(1);
    expect(delta('gateway_graphql_operations_total', { operation: 'ThreeProjects', type: 'query', outcome: 'success' })).toBe(1);
    expect(delta('gateway_graphql_operation_duration_seconds_count', { operation: 'ThreeProjects', type: 'query' })).toBe(1);
    expect(delta('gateway_upstream_requests_total', { route: 'list', method: 'GET', status: '200' })).toBe(1);
    expect(delta('gateway_upstream_request_duration_seconds_count', { route: 'list', method: 'GET' })).toBe(1);
    expect(delta('gateway_upstream_request_duration_seconds_sum', { route: 'list', method: 'GET' })).toBeGreaterThan(0);
    expect(delta('gateway_upstream_request_duration_seconds_bucket', { route: 'list', method: 'GET', le: '+Inf' })).toBe(1);
  });

  it('a histogram counts a value equal to a bucket bound in that bucket, and every bucket above it (cumulative)', async () => {
    const before = await gw.metrics();
    const res = await gw.post(/* GraphQL */ `
      query TwoProjects {
        a: modelRecord(model: PROJECT, recordIdentifier: "${ids[0]}") { recordIdentifier }
        b: modelRecord(model: PROJECT, recordIdentifier: "${ids[3]}") { recordIdentifier }
      }
    `);
    expect(res.body).toEqual({ data: { a: { recordIdentifier: ids[0] }, b: { recordIdentifier: ids[3] } } });
    const after = await gw.metrics();
    const delta = (le: string) => (sample(after, 'gateway_dataloader_batch_size_bucket', { model: 'PROJECT', le }) ?? 0) - (sample(before, 'gateway_dataloader_batch_size_bucket', { model: 'PROJECT', le }) ?? 0);
    expect([delta('1'), delta('2'), delta('5'), delta('1000'), delta('+Inf')]).toEqual([0, 1, 1, 1, 1]);
  });

  it('errors: an operation outcome "error", and upstream statuses as GitLab answered them', async () => {
    const noToken = async () => value('gateway_graphql_operations_total', { operation: 'Lookup', type: 'query', outcome: 'error' });
    const unauthorized = async () => value('gateway_upstream_requests_total', { route: 'list', method: 'GET', status: '401' });
    const lookup = `query Lookup { modelRecord(model: PROJECT, recordIdentifier: "${ids[3]}") { id } }`;
    // A name labels metrics once an operation of that name ran with a token GitLab accepted (metrics-cardinality.test.ts).
    expect((await gw.post(lookup)).body.errors).toBeUndefined();
    const [errorsBefore, unauthorizedBefore] = [await noToken(), await unauthorized()];

    expect((await gw.post(lookup, { token: null })).body.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(await noToken()).toBe(errorsBefore + 1);
    expect(await unauthorized()).toBe(unauthorizedBefore);

    expect((await gw.post(lookup, { token: 'glpat-not-a-real-token' })).body.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(await noToken()).toBe(errorsBefore + 2);
    expect(await unauthorized()).toBe(unauthorizedBefore + 1);
  });

  it('a mutation: its own route and method', async () => {
    const before = await value('gateway_upstream_requests_total', { route: 'recalculate_one', method: 'PUT', status: '200' });
    const res = await gw.post(`mutation Verify { recalculateChecksum(model: PROJECT, recordIdentifier: "${ids[3]}") { errors } }`);
    expect(res.body).toEqual({ data: { recalculateChecksum: { errors: [] } } });
    expect(await value('gateway_upstream_requests_total', { route: 'recalculate_one', method: 'PUT', status: '200' })).toBe(before + 1);
    expect(await value('gateway_graphql_operations_total', { operation: 'Verify', type: 'mutation', outcome: 'success' })).toBe(1);
  });
});

describe('live gauges and poll metrics', () => {
  let client: Client | undefined;
  afterAll(async () => {
    await client?.dispose();
  });

  it('one graphql-ws subscription: subscriptions and sockets 1, polls counted; then 0 after unsubscribe and dispose', async () => {
    const cycles = () => value('gateway_live_poll_cycles_total', { model: 'PROJECT', outcome: 'success' });
    const pollDurations = () => value('gateway_live_poll_duration_seconds_count', { model: 'PROJECT' });
    expect(await cycles()).toBe(0);

    client = createClient({
      url: gw.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { Authorization: `Bearer ${ADMIN}` },
      lazy: false,
      retryAttempts: 0,
    });
    await until(async () => ((await value('gateway_websocket_connections')) === 1 ? true : undefined), 'the socket to count');
    expect(await value('gateway_live_subscriptions')).toBe(0);

    const events: unknown[] = [];
    const errors: unknown[] = [];
    const unsubscribe = client.subscribe(
      { query: `subscription Watch { checksumStateChanged(model: PROJECT, identifiers: ["${ids[0]}"]) { record { recordIdentifier } previousState } }` },
      { next: (e) => void events.push(e), error: (e) => void errors.push(e), complete: () => {} },
    );
    await until(() => (events.length > 0 ? true : undefined), 'the first event');
    expect(events[0]).toEqual({ data: { checksumStateChanged: { record: { recordIdentifier: ids[0] }, previousState: null } } });
    const text = await gw.metrics();
    expect(sample(text, 'gateway_live_subscriptions')).toBe(1);
    expect(sample(text, 'gateway_websocket_connections')).toBe(1);
    expect(sample(text, 'gateway_graphql_operations_total', { operation: 'Watch', type: 'subscription', outcome: 'success' })).toBe(1);

    // The shared poll keeps cycling (100 ms pace here), and each cycle is timed.
    await until(async () => ((await cycles()) >= 3 ? true : undefined), 'three poll cycles');
    expect(await value('gateway_live_poll_cycles_total', { model: 'PROJECT', outcome: 'upstream_error' })).toBe(0);

    unsubscribe();
    await until(async () => ((await value('gateway_live_subscriptions')) === 0 ? true : undefined), 'the subscription gauge to drop');
    expect(await value('gateway_websocket_connections')).toBe(1);
    // No watcher left: the poll stops (a cycle under way may still finish; then, over six of its 100 ms periods, none).
    const stoppedAt = await until(async () => {
      const now = await cycles();
      await sleep(200);
      return (await cycles()) === now ? now : undefined;
    }, 'the poll to stop');
    await sleep(600);
    expect(await cycles()).toBe(stoppedAt);
    expect(await pollDurations()).toBe(stoppedAt);

    await client.dispose();
    client = undefined;
    await until(async () => ((await value('gateway_websocket_connections')) === 0 ? true : undefined), 'the socket gauge to drop');
    expect(await value('gateway_live_subscriptions')).toBe(0);
    expect(errors).toEqual([]);
  });

  it('a socket refused for want of a token is counted while open and not after', async () => {
    const socket = new WebSocket(gw.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await until(async () => ((await value('gateway_websocket_connections')) === 1 ? true : undefined), 'the socket to count');
    socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    expect(await closed).toBe(4403);
    await until(async () => ((await value('gateway_websocket_connections')) === 0 ? true : undefined), 'the socket gauge to drop');
    expect(await value('gateway_live_subscriptions')).toBe(0);
  });
});
