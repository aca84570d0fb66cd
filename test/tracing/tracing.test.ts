// OpenTelemetry tracing end to end: spans exported over OTLP/HTTP (JSON and protobuf) to a receiver, their parent-child
// links, what they say and never say, and the traceparent GitLab (the stand-in) receives beside X-Request-Id.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectIds, until } from '../operability/helpers.js';
import { startTestGateway, type TestGateway } from '../operability/gateway.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';

const ADMIN = 'glpat-standin-admin';
const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;
const ERROR = 2;

const newTraceId = () => randomBytes(16).toString('hex');
const newSpanId = () => randomBytes(8).toString('hex');
const LIST_TEMPLATE = '/api/v4/admin/data_management/:model_name';

/** The spans of one trace, once its operation span (the last of them to end) has arrived. */
async function traceOf(receiver: OtlpReceiver, traceId: string, operation: string): Promise<ReceivedSpan[]> {
  return until(() => {
    const spans = receiver.spans().filter((s) => s.traceId === traceId);
    return spans.some((s) => s.name === operation) ? spans : undefined;
  }, `the spans of ${operation}`);
}

const only = (spans: ReceivedSpan[], name: string): ReceivedSpan => {
  const found = spans.filter((s) => s.name === name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0];
};

/** What must never leave in a span: the token, the query text, a URL with identifiers or a query string. */
function expectNothingSecret(receiver: OtlpReceiver, identifiers: string[]): void {
  const bodies = receiver.rawBodies().join('\n');
  expect(bodies).not.toContain(ADMIN);
  expect(bodies).not.toContain('glpat-');
  expect(bodies).not.toContain('modelRecord(');
  expect(bodies).not.toContain('recalculateChecksum(');
  expect(bodies).not.toMatch(/identifiers(%5B|\[)/);
  expect(bodies).not.toMatch(/data_management\/[a-z_]+\/\d/);
  for (const span of receiver.spans()) {
    for (const value of Object.values(span.attributes)) {
      if (typeof value !== 'string') continue;
      expect(value).not.toContain('?');
      for (const id of identifiers) expect(value.split(/[/:,\s]/)).not.toContain(id);
    }
  }
}

describe.each(['http/json', 'http/protobuf'])('tracing on, exporting %s', (protocol) => {
  let receiver: OtlpReceiver;
  let gw: TestGateway;
  let ids: string[];

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    gw = await startTestGateway({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_BSP_SCHEDULE_DELAY: '20',
        OTEL_SERVICE_NAME: 'gateway-under-test',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test,team=geo%20ops',
      },
    });
    ids = await projectIds(gw.standIn.url, 3);
  });

  afterAll(async () => {
    await gw?.close();
    await receiver?.close();
  });

  it('a query that batches look-ups: operation, then its DataLoader batch, then the call; GitLab gets that call as parent', async () => {
    const traceId = newTraceId();
    const clientSpan = newSpanId();
    await gw.resetUpstream();
    const res = await gw.post(
      `query TwoRecords { a: modelRecord(model: PROJECT, recordIdentifier: "${ids[0]}") { recordIdentifier } b: modelRecord(model: PROJECT, recordIdentifier: "${ids[1]}") { recordIdentifier } }`,
      { requestId: 'traced-query', headers: { traceparent: `00-${traceId}-${clientSpan}-01`, tracestate: 'vendor=opaque' } },
    );
    expect(res.body).toEqual({ data: { a: { recordIdentifier: ids[0] }, b: { recordIdentifier: ids[1] } } });

    const spans = await traceOf(receiver, traceId, 'query TwoRecords');
    const operation = only(spans, 'query TwoRecords');
    expect(operation).toMatchObject({ kind: SERVER, parentSpanId: clientSpan, status: { code: 0 } });
    expect(operation.attributes).toMatchObject({
      'graphql.operation.name': 'TwoRecords',
      'graphql.operation.type': 'query',
      'gateway.operation.outcome': 'success',
      'gateway.transport': 'http',
      'gateway.upstream_calls': 1,
      'gateway.request_id': 'traced-query',
    });
    expect(operation.attributes).not.toHaveProperty('gateway.operation.error_codes');
    expect(operation.resource).toMatchObject({ 'service.name': 'gateway-under-test', 'deployment.environment': 'test', team: 'geo ops' });

    const batch = only(spans, 'DataLoader batch');
    expect(batch).toMatchObject({ kind: INTERNAL, parentSpanId: operation.spanId });
    expect(batch.attributes).toMatchObject({ 'gateway.model': 'PROJECT', 'gateway.batch.size': 2 });

    const call = only(spans, `GET ${LIST_TEMPLATE}`);
    expect(call).toMatchObject({ kind: CLIENT, parentSpanId: batch.spanId, status: { code: 0 }, events: [] });
    expect(call.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.template': LIST_TEMPLATE, 'http.response.status_code': 200, 'gitlab.model': 'projects', 'server.address': '127.0.0.1' });
    for (const span of spans) expect(span.endNs >= span.startNs).toBe(true);
    // Each span of OpenTelemetry JS anchors its clock on Date.now() (whole milliseconds): nested, give or take that.
    const before = (a: bigint, b: bigint) => a <= b + 5_000_000n;
    expect([before(operation.startNs, batch.startNs), before(batch.startNs, call.startNs), before(call.endNs, batch.endNs), before(batch.endNs, operation.endNs)]).toEqual([true, true, true, true]);

    // GitLab got the call span's own context, in the client's trace, beside the request id.
    const upstream = await gw.upstream();
    expect(upstream.map((e) => ({ method: e.method, traceparent: e.traceparent, tracestate: e.tracestate, requestId: e.requestId }))).toEqual([
      { method: 'GET', traceparent: `00-${traceId}-${call.spanId}-01`, tracestate: 'vendor=opaque', requestId: 'traced-query' },
    ]);
    expectNothingSecret(receiver, ids);
  });

  it('a mutation: its PUT is a child of the operation, named by its route template; GitLab gets that span as parent', async () => {
    const traceId = newTraceId();
    const clientSpan = newSpanId();
    await gw.resetUpstream();
    const res = await gw.post(`mutation Recalculate { recalculateChecksum(model: PROJECT, recordIdentifier: "${ids[2]}") { errors } }`, {
      headers: { traceparent: `00-${traceId}-${clientSpan}-01` },
    });
    expect(res.body.errors).toBeUndefined();

    const spans = await traceOf(receiver, traceId, 'mutation Recalculate');
    const operation = only(spans, 'mutation Recalculate');
    expect(operation).toMatchObject({ kind: SERVER, parentSpanId: clientSpan });
    expect(operation.attributes).toMatchObject({ 'graphql.operation.type': 'mutation', 'gateway.operation.outcome': 'success', 'gateway.upstream_calls': 1 });
    const put = only(spans, 'PUT /api/v4/admin/data_management/:model_name/:record_identifier/checksum');
    expect(put).toMatchObject({ kind: CLIENT, parentSpanId: operation.spanId });
    expect(put.attributes).toMatchObject({ 'http.request.method': 'PUT', 'http.response.status_code': 200, 'gitlab.model': 'projects' });

    const upstream = await gw.upstream();
    expect(upstream.map((e) => [e.method, e.traceparent, e.tracestate])).toEqual([['PUT', `00-${traceId}-${put.spanId}-01`, null]]);
    expectNothingSecret(receiver, ids);
  });
});

describe('tracing on: outcomes, retries, subscriptions', () => {
  let receiver: OtlpReceiver;
  let gw: TestGateway;
  let ids: string[];

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    gw = await startTestGateway({
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '20', LIVE_FAST_POLL_MS: '100', LIVE_SLOW_POLL_MS: '100' },
    });
    ids = await projectIds(gw.standIn.url, 2);
  });

  afterAll(async () => {
    await gw?.close();
    await receiver?.close();
  });

  it('retries are events of the call span, which ends with the error; the operation lists its error codes', async () => {
    const traceId = newTraceId();
    await gw.resetUpstream();
    await fetch(`${gw.standIn.url}/-/stand-in/faults`, { method: 'PUT', body: JSON.stringify({ rateLimitRate: 1, retryAfterSeconds: 0 }) });
    try {
      const res = await gw.post(`query Limited { modelRecord(model: PROJECT, recordIdentifier: "${ids[0]}") { recordIdentifier } }`, {
        headers: { traceparent: `00-${traceId}-${newSpanId()}-01` },
      });
      expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_RATE_LIMITED']);
    } finally {
      await fetch(`${gw.standIn.url}/-/stand-in/faults`, { method: 'PUT', body: JSON.stringify({ rateLimitRate: 0 }) });
    }
    const spans = await traceOf(receiver, traceId, 'query Limited');
    const call = only(spans, `GET ${LIST_TEMPLATE}`);
    expect(call.events).toEqual([
      { name: 'gateway.upstream.retry', attributes: expect.objectContaining({ 'gateway.upstream.attempt': 1, 'http.response.status_code': 429, 'error.type': 'UPSTREAM_RATE_LIMITED' }) },
      { name: 'gateway.upstream.retry', attributes: expect.objectContaining({ 'gateway.upstream.attempt': 2, 'http.response.status_code': 429, 'error.type': 'UPSTREAM_RATE_LIMITED' }) },
    ]);
    expect(call.attributes).toMatchObject({ 'http.response.status_code': 429, 'http.request.resend_count': 2, 'error.type': 'UPSTREAM_RATE_LIMITED' });
    expect(call.status).toEqual({ code: ERROR, message: 'UPSTREAM_RATE_LIMITED' });
    const operation = only(spans, 'query Limited');
    expect(operation.attributes).toMatchObject({ 'gateway.operation.outcome': 'error', 'gateway.operation.error_codes': ['UPSTREAM_RATE_LIMITED'] });
    expect(operation.status.code).toBe(ERROR);
    // Every attempt carried the same call's context.
    const upstream = await gw.upstream();
    expect(upstream.map((e) => e.traceparent)).toEqual(Array(3).fill(`00-${traceId}-${call.spanId}-01`));
  });

  it('documents refused before they run have a span each, rejected, with their code and no call', async () => {
    const invalid = newTraceId();
    const unparsable = newTraceId();
    await gw.post('query Invalid { nope }', { headers: { traceparent: `00-${invalid}-${newSpanId()}-01` } });
    await gw.post('query Broken {', { headers: { traceparent: `00-${unparsable}-${newSpanId()}-01` } });
    const rejected = only(await traceOf(receiver, invalid, 'query Invalid'), 'query Invalid');
    expect(rejected.attributes).toMatchObject({ 'gateway.operation.outcome': 'rejected', 'gateway.operation.error_codes': ['GRAPHQL_VALIDATION_FAILED'] });
    expect(rejected.status.code).toBe(ERROR);
    const broken = await traceOf(receiver, unparsable, 'GraphQL operation');
    expect(broken.map((s) => [s.name, s.attributes['gateway.operation.outcome'], s.attributes['gateway.operation.error_codes']])).toEqual([
      ['GraphQL operation', 'rejected', ['GRAPHQL_PARSE_FAILED']],
    ]);
  });

  it('without a traceparent from the client (or with a malformed one) the operation starts a trace of its own', async () => {
    await gw.resetUpstream();
    await gw.post(`query Untraced { modelRecord(model: PROJECT, recordIdentifier: "${ids[1]}") { recordIdentifier } }`);
    await gw.post(`query BadParent { modelRecord(model: PROJECT, recordIdentifier: "${ids[0]}") { recordIdentifier } }`, {
      headers: { traceparent: `00-${'0'.repeat(32)}-${newSpanId()}-01` },
    });
    const upstream = await gw.upstream();
    expect(upstream).toHaveLength(2);
    for (const [entry, name] of [
      [upstream[0], 'query Untraced'],
      [upstream[1], 'query BadParent'],
    ] as const) {
      const [, traceId, parent] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(entry.traceparent ?? '') ?? [];
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      const spans = await traceOf(receiver, traceId, name);
      expect(only(spans, name).parentSpanId).toBe('');
      expect(only(spans, `GET ${LIST_TEMPLATE}`).spanId).toBe(parent);
    }
  });

  it('a graphql-ws subscription: a span for subscribing (child of the traceparent in connection_init); polls are root spans', async () => {
    const { createClient } = await import('graphql-ws');
    const { default: WebSocket } = await import('ws');
    const traceId = newTraceId();
    const clientSpan = newSpanId();
    const client = createClient({
      url: gw.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { Authorization: `Bearer ${ADMIN}`, traceparent: `00-${traceId}-${clientSpan}-01` },
    });
    const events: unknown[] = [];
    await gw.resetUpstream();
    const stop = client.subscribe(
      { query: 'subscription Watched($ids: [ID!]!) { checksumStateChanged(model: PROJECT, identifiers: $ids) { state } }', variables: { ids: [ids[0]] } },
      { next: (e) => void events.push(e), error: (e) => void events.push(e), complete: () => {} },
    );
    try {
      await until(() => (events.length > 0 ? true : undefined), 'the first event');
      const spans = await traceOf(receiver, traceId, 'subscription Watched');
      const operation = only(spans, 'subscription Watched');
      expect(operation).toMatchObject({ kind: SERVER, parentSpanId: clientSpan });
      expect(operation.attributes).toMatchObject({ 'graphql.operation.type': 'subscription', 'gateway.transport': 'graphql-ws', 'gateway.operation.outcome': 'success' });
      // Polls serve every subscriber: each cycle is a trace of its own, and its calls its children.
      const poll = await until(() => receiver.spans().find((s) => s.name === 'live poll records' && s.traceId !== traceId), 'a poll cycle span');
      expect(poll).toMatchObject({ kind: INTERNAL, parentSpanId: '' });
      expect(poll.attributes).toMatchObject({ 'gateway.live.poll': 'records', 'gateway.model': 'PROJECT', 'gateway.live.watched': 1, 'gateway.outcome': 'success' });
      const pollCall = await until(() => receiver.spans().find((s) => s.traceId === poll.traceId && s.name === `GET ${LIST_TEMPLATE}`), 'the call of a poll');
      expect(pollCall.parentSpanId).toBe(poll.spanId);
      // The subscriber's first read is the subscribing operation's call; no poll is sent in the subscriber's trace.
      const firstRead = await until(() => receiver.spans().find((s) => s.traceId === traceId && s.name === `GET ${LIST_TEMPLATE}`), 'the first read');
      expect(firstRead.parentSpanId).toBe(operation.spanId);
      const upstream = await gw.upstream();
      expect(upstream.some((e) => e.traceparent === `00-${poll.traceId}-${pollCall.spanId}-01`)).toBe(true);
      expect(upstream.filter((e) => e.traceparent?.includes(traceId)).map((e) => e.traceparent)).toEqual([`00-${traceId}-${firstRead.spanId}-01`]);
    } finally {
      stop();
      await client.dispose();
    }
  });

  it('the polls of summary and by-state subscriptions are root spans too, parents of their calls', async () => {
    const { createClient } = await import('graphql-ws');
    const { default: WebSocket } = await import('ws');
    const client = createClient({ url: gw.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { Authorization: `Bearer ${ADMIN}` } });
    const events: unknown[] = [];
    const sink = { next: (e: unknown) => void events.push(e), error: (e: unknown) => void events.push(e), complete: () => {} };
    const stops = [
      client.subscribe({ query: 'subscription { verificationSummaryChanged(models: [LFS_OBJECT]) { model } }' }, sink),
      client.subscribe({ query: 'subscription { checksumStateChanged(model: MERGE_REQUEST_DIFF, checksumState: FAILED) { state } }' }, sink),
    ];
    try {
      for (const [kind, model] of [
        ['summary', 'LFS_OBJECT'],
        ['state', 'MERGE_REQUEST_DIFF'],
      ]) {
        // A cycle that joined a computation under way (a subscriber's first read) has no calls of its own: one that has.
        const hasCalls = (poll: ReceivedSpan) => receiver.spans().some((s) => s.traceId === poll.traceId && s.name === `GET ${LIST_TEMPLATE}`);
        const poll = await until(() => receiver.spans().find((s) => s.name === `live poll ${kind}` && s.attributes['gateway.outcome'] === 'success' && hasCalls(s)), `a ${kind} poll`);
        expect(poll).toMatchObject({ kind: INTERNAL, parentSpanId: '' });
        expect(poll.attributes).toMatchObject({ 'gateway.live.poll': kind, 'gateway.model': model });
        const calls = receiver.spans().filter((s) => s.traceId === poll.traceId && s.name === `GET ${LIST_TEMPLATE}`);
        expect(calls.length).toBeGreaterThan(0);
        for (const call of calls) expect(call.parentSpanId).toBe(poll.spanId);
      }
      expect(events.filter((e) => e instanceof Error || (e as { errors?: unknown }).errors)).toEqual([]);
    } finally {
      for (const stop of stops) stop();
      await client.dispose();
    }
  });

  it('an SSE subscription: its span says so, and is a child of the request traceparent', async () => {
    const traceId = newTraceId();
    const clientSpan = newSpanId();
    const controller = new AbortController();
    const res = await fetch(gw.url, {
      method: 'POST',
      signal: controller.signal,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${ADMIN}`, traceparent: `00-${traceId}-${clientSpan}-01` },
      body: JSON.stringify({ query: `subscription OverSse { checksumStateChanged(model: PROJECT, identifiers: ["${ids[1]}"]) { state } }` }),
    });
    expect(res.status).toBe(200);
    try {
      const spans = await traceOf(receiver, traceId, 'subscription OverSse');
      expect(only(spans, 'subscription OverSse')).toMatchObject({ parentSpanId: clientSpan, attributes: expect.objectContaining({ 'gateway.transport': 'sse' }) });
    } finally {
      controller.abort();
      await res.body?.cancel().catch(() => {});
    }
  });

  it('logs that tracing is on, and where the spans go, once at start', () => {
    const lines = gw.logs().filter((l) => l.msg.startsWith('Tracing on'));
    expect(lines.map((l) => l.msg)).toEqual([`Tracing on: spans go to ${receiver.url}/v1/traces (http/json)`]);
  });
});

describe('tracing off', () => {
  let receiver: OtlpReceiver;
  let gw: TestGateway;
  let ids: string[];
  let closed = false;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    // An endpoint is set, but the SDK is disabled: nothing may reach it.
    gw = await startTestGateway({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: 'true', OTEL_BSP_SCHEDULE_DELAY: '20' } });
    ids = await projectIds(gw.standIn.url, 2);
  });

  afterAll(async () => {
    if (!closed) await gw?.close();
    await receiver?.close();
  });

  it("GitLab still receives the client's traceparent and tracestate, unchanged, and nothing is exported", async () => {
    const sent = `00-${newTraceId()}-${newSpanId()}-01`;
    await gw.resetUpstream();
    await gw.post(`query Forwarded { a: modelRecord(model: PROJECT, recordIdentifier: "${ids[0]}") { recordIdentifier } }`, { headers: { traceparent: sent, tracestate: 'congo=t61rcWkgMzE' } });
    await gw.post(`mutation ForwardedPut { recalculateChecksum(model: PROJECT, recordIdentifier: "${ids[1]}") { errors } }`, { headers: { traceparent: sent } });
    await gw.post(`query Plain { a: modelRecord(model: PROJECT, recordIdentifier: "${ids[0]}") { recordIdentifier } }`);
    await gw.post(`query Malformed { a: modelRecord(model: PROJECT, recordIdentifier: "${ids[1]}") { recordIdentifier } }`, { headers: { traceparent: sent.toUpperCase() } });
    const upstream = await gw.upstream();
    expect(upstream.map((e) => [e.method, e.traceparent, e.tracestate])).toEqual([
      ['GET', sent, 'congo=t61rcWkgMzE'],
      ['PUT', sent, null],
      ['GET', null, null],
      ['GET', null, null],
    ]);
    expect(gw.logs().some((l) => l.msg.startsWith('Tracing on'))).toBe(false);
  });

  it('a graphql-ws client sends its traceparent in connection_init; GitLab gets it with the first read', async () => {
    const { createClient } = await import('graphql-ws');
    const { default: WebSocket } = await import('ws');
    const sent = `00-${newTraceId()}-${newSpanId()}-00`;
    const client = createClient({ url: gw.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { Authorization: `Bearer ${ADMIN}`, traceparent: sent } });
    const events: unknown[] = [];
    await gw.resetUpstream();
    const stop = client.subscribe(
      { query: `subscription { checksumStateChanged(model: PROJECT, identifiers: ["${ids[1]}"]) { state } }` },
      { next: (e) => void events.push(e), error: (e) => void events.push(e), complete: () => {} },
    );
    try {
      await until(() => (events.length > 0 ? true : undefined), 'the first event');
      const upstream = await gw.upstream();
      expect(upstream.filter((e) => e.path.endsWith('/projects') && e.params['identifiers[]']?.includes(ids[1])).map((e) => e.traceparent)).toContain(sent);
    } finally {
      stop();
      await client.dispose();
    }
  });

  it('exports nothing, even at shutdown', async () => {
    closed = true;
    await gw.close();
    expect(receiver.contentTypes()).toEqual([]);
  });
});

describe('spans left at shutdown', () => {
  it('are exported when the gateway closes, before it is done', async () => {
    const receiver = await startOtlpReceiver();
    // Ten minutes between exports: only the shutdown can send this span in time.
    const gw = await startTestGateway({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '600000' } });
    let closed = false;
    try {
      const traceId = newTraceId();
      const [id] = await projectIds(gw.standIn.url, 1);
      await gw.post(`query BeforeShutdown { modelRecord(model: PROJECT, recordIdentifier: "${id}") { recordIdentifier } }`, { headers: { traceparent: `00-${traceId}-${newSpanId()}-01` } });
      expect(receiver.spans()).toEqual([]);
      closed = true;
      await gw.close();
      expect(receiver.spans().filter((s) => s.traceId === traceId).map((s) => s.name).sort()).toEqual(['DataLoader batch', `GET ${LIST_TEMPLATE}`, 'query BeforeShutdown']);
    } finally {
      if (!closed) await gw.close();
      await receiver.close();
    }
  });
});
