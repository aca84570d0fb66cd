// A subscription over HTTP is served as SSE only. Asked for with any other Accept (what a misconfigured Apollo HttpLink
// sends), it is refused before it subscribes: a 406 with a typed error, and nothing left behind (no token check with
// GitLab, no watch, no poll). Without a token it is a 401 UNAUTHENTICATED, whatever the media type.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN, projectIds, sample, until } from './helpers.js';

let gw: TestGateway;
let ids: string[];

beforeAll(async () => {
  gw = await startTestGateway({ standIn: { failRate: 0 }, env: { LIVE_FAST_POLL_MS: '50', LIVE_SLOW_POLL_MS: '50' } });
  ids = await projectIds(gw.standIn.url, 4);
});
afterAll(async () => {
  await gw?.close();
});

const watch = (id: string) => `subscription Watch { checksumStateChanged(model: PROJECT, identifiers: ["${id}"]) { state record { recordIdentifier } } }`;
const liveSubscriptions = async () => sample(await gw.metrics(), 'gateway_live_subscriptions');
const pollCycles = async () => sample(await gw.metrics(), 'gateway_live_poll_cycles_total', { model: 'PROJECT', outcome: 'success' }) ?? 0;
const listCallsFor = (entries: { method: string; path: string; params: Record<string, string[]> }[], id: string) =>
  entries.filter((e) => e.method === 'GET' && e.path.endsWith('/projects') && (e.params['identifiers[]'] ?? []).includes(id));

async function post(query: string, headers: Record<string, string>) {
  const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), text, body: JSON.parse(text) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] } };
}

/** An SSE subscription to `id`, read until its first event; abort() ends it. */
async function sseSubscription(id: string): Promise<AbortController> {
  const abort = new AbortController();
  const res = await fetch(gw.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ query: watch(id) }),
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const reader = res.body!.getReader();
  let text = '';
  while (!text.includes('event: next')) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended before its first event: ${text}`);
    text += Buffer.from(value).toString();
  }
  expect(text).toContain(`"recordIdentifier":"${id}"`);
  return abort;
}

describe('a subscription over HTTP that is not SSE', () => {
  const REFUSED = 'A subscription over HTTP is answered as text/event-stream: send "Accept: text/event-stream", or subscribe over graphql-ws.';

  it.each(['application/json', 'application/graphql-response+json', 'multipart/mixed'])(
    'Accept: %s: 20 are refused with 406 before anything reaches GitLab, and nothing keeps running',
    async (accept) => {
      const refusedId = ids[0];
      await gw.resetUpstream();
      for (let i = 0; i < 20; i++) {
        const res = await post(watch(refusedId), { accept, authorization: `Bearer ${ADMIN}` });
        expect(res.status).toBe(406);
        expect(res.contentType).toMatch(/^application\/(graphql-response\+)?json; charset=utf-8$/);
        expect(res.body).toEqual({ errors: [{ message: REFUSED, extensions: { code: 'BAD_REQUEST' } }] });
      }
      // Refused before subscribing: not even the token check was sent.
      expect(await gw.upstream()).toEqual([]);
      expect(await liveSubscriptions()).toBe(0);

      // The shared poll runs for a subscriber that is there (SSE), and never for the refused ones' record.
      const sentinel = await sseSubscription(ids[1]);
      expect(await liveSubscriptions()).toBe(1);
      const cycles = await pollCycles();
      await until(async () => ((await pollCycles()) >= cycles + 3 ? true : undefined), 'three poll cycles of the SSE subscription');
      const upstream = await gw.upstream();
      expect(listCallsFor(upstream, ids[1]).length).toBeGreaterThanOrEqual(3);
      expect(listCallsFor(upstream, refusedId)).toEqual([]);
      sentinel.abort();
      await until(async () => ((await liveSubscriptions()) === 0 ? true : undefined), 'the SSE subscription to end');
    },
  );

  it('over GET as well', async () => {
    await gw.resetUpstream();
    const res = await fetch(`${gw.url}?query=${encodeURIComponent(watch(ids[0]))}`, { headers: { accept: 'application/json', authorization: `Bearer ${ADMIN}`, 'x-graphql-yoga-csrf': '1' } });
    expect(res.status).toBe(406);
    expect(await res.json()).toEqual({ errors: [{ message: REFUSED, extensions: { code: 'BAD_REQUEST' } }] });
    expect(await gw.upstream()).toEqual([]);
    expect(await liveSubscriptions()).toBe(0);
  });

  it('is logged and counted as a failed operation, under a name it did not earn', async () => {
    const before = sample(await gw.metrics(), 'gateway_graphql_operations_total', { operation: 'other', type: 'subscription', outcome: 'error' }) ?? 0;
    const requestId = 'refused-subscription-1';
    // A name no accepted operation carried: counted as `other` (see metrics-cardinality.test.ts), logged as it is.
    await post(watch(ids[0]).replace('Watch', 'NeverServed'), { accept: 'application/json', authorization: `Bearer ${ADMIN}`, 'x-request-id': requestId });
    expect(sample(await gw.metrics(), 'gateway_graphql_operations_total', { operation: 'other', type: 'subscription', outcome: 'error' })).toBe(before + 1);
    expect(gw.logs().filter((l) => l.requestId === requestId)).toMatchObject([{ operation: 'NeverServed', type: 'subscription', upstreamCalls: 0, errorCodes: ['BAD_REQUEST'] }]);
  });
});

describe('a subscription over HTTP without a token', () => {
  it.each(['application/graphql-response+json', 'application/json', 'multipart/mixed', 'application/graphql-response+json, text/event-stream'])(
    'Accept: %s: 401 UNAUTHENTICATED, no data, nothing sent upstream',
    async (accept) => {
      await gw.resetUpstream();
      const res = await post(watch(ids[0]), { accept });
      expect(res.status).toBe(401);
      expect(res.body.data).toBeUndefined();
      expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
      expect(await gw.upstream()).toEqual([]);
      expect(await liveSubscriptions()).toBe(0);
    },
  );
});

describe('SSE is unchanged', () => {
  it('Accept: text/event-stream, or any Accept that allows it, is served as a stream; it ends with its client', async () => {
    const stream = await sseSubscription(ids[2]);
    expect(await liveSubscriptions()).toBe(1);
    stream.abort();
    await until(async () => ((await liveSubscriptions()) === 0 ? true : undefined), 'the SSE subscription to end');

    // No Accept at all is */*: SSE as well.
    const abort = new AbortController();
    const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ query: watch(ids[3]) }), signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    await until(async () => ((await liveSubscriptions()) === 1 ? true : undefined), 'the subscription to start');
    abort.abort();
    await until(async () => ((await liveSubscriptions()) === 0 ? true : undefined), 'the SSE subscription to end');
  });
});
