// Active subscriptions per token, graphql-ws and SSE together: the one past RATE_LIMIT_TOKEN_SUBSCRIPTIONS is refused
// with RATE_LIMITED (an `error` message over graphql-ws, 429 over SSE), and a subscription that ends, however it ends
// (completed by its client, its socket or stream gone, or ended by the gateway), gives its place back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until, wsConnection, type Subscriber, type WsConnection } from '../live/helpers.js';
import type { Harness } from '../support/gateway.js';
import { startTestGateway, type TestGateway } from '../operability/gateway.js';
import { projectIds, sample } from '../operability/helpers.js';
import { adminToken, sse, type SseAnswer } from './helpers.js';

const SETTING = 'RATE_LIMIT_TOKEN_SUBSCRIPTIONS';
const WATCH = /* GraphQL */ `subscription Watch($model: ModelName!, $identifiers: [ID!]!) { checksumStateChanged(model: $model, identifiers: $identifiers) { state record { recordIdentifier } } }`;
const watchText = (id: string) => `subscription { checksumStateChanged(model: PROJECT, identifiers: ["${id}"]) { state record { recordIdentifier } } }`;

let gw: TestGateway;
let ids: string[];
const open: { dispose(): Promise<void> | void }[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ env: { LOG_LEVEL: 'silent', [SETTING]: '2', LIVE_FAST_POLL_MS: '200', LIVE_SLOW_POLL_MS: '200' } });
  ids = await projectIds(gw.standIn.url, 3);
});
afterAll(async () => {
  await Promise.all(open.map((o) => o.dispose()));
  await gw?.close();
});

const connection = (token: string): WsConnection => {
  const conn = wsConnection({ gateway: { url: gw.url } } as Harness, { Authorization: `Bearer ${token}` });
  open.push(conn);
  return conn;
};

/** A graphql-ws subscription that got its first state. */
async function watching(conn: WsConnection, id: string): Promise<Subscriber> {
  const sub = conn.subscribe({ model: 'PROJECT', identifiers: [id] }, WATCH);
  await sub.initial([id]);
  return sub;
}

/** A graphql-ws subscription that was refused for its token's places. */
async function refusedOver(conn: WsConnection, id: string): Promise<void> {
  const sub = conn.subscribe({ model: 'PROJECT', identifiers: [id] }, WATCH);
  await sub.waitFor((s) => s.errors.length > 0, 'a refusal');
  expect(sub.errors).toEqual([{ message: `This token has 2 subscriptions open already (${SETTING}): end one before starting another.`, extensions: { code: 'RATE_LIMITED' } }]);
  expect(sub.changes).toEqual([]);
}

function expectRefusedSse(answer: SseAnswer): void {
  expect(answer.status).toBe(429);
  expect(answer.body).toEqual({ errors: [{ message: `This token has 2 subscriptions open already (${SETTING}): end one before starting another.`, extensions: { code: 'RATE_LIMITED' } }] });
}

/** Opens SSE subscriptions until one is accepted (a place given back is taken again at once): its stream. */
async function sseOnceFree(token: string, id: string): Promise<SseAnswer> {
  let accepted: SseAnswer | undefined;
  await until(async () => {
    const answer = await sse(gw.url, watchText(id), token);
    if (answer.status === 200) accepted = answer;
    else expectRefusedSse(answer);
    return accepted !== undefined;
  }, 'a place for an SSE subscription');
  open.push({ dispose: () => accepted!.abort() });
  return accepted!;
}

const refusals = async () => sample(await gw.metrics(), 'gateway_rate_limited_total', { limit: 'token_subscriptions' });

describe('subscriptions per token', () => {
  it('graphql-ws and SSE share the places: the third is refused, over either, and other tokens are not', async () => {
    const token = await adminToken(gw.standIn, 'shared');
    const [a, b] = [connection(token), connection(token)];
    const first = await watching(a, ids[0]);
    const stream = await sse(gw.url, watchText(ids[1]), token);
    expect(stream.status).toBe(200);
    expect(stream.text).toContain(`"recordIdentifier":"${ids[1]}"`);
    open.push({ dispose: () => stream.abort() });

    await refusedOver(a, ids[2]);
    await refusedOver(b, ids[2]);
    expectRefusedSse(await sse(gw.url, watchText(ids[2]), token));
    // The socket that was refused still serves its other subscription.
    expect(a.closes).toEqual([]);
    expect(first.completed).toBe(false);

    const other = connection(await adminToken(gw.standIn, 'other'));
    await watching(other, ids[2]);
    await watching(other, ids[1]);
    expect(await refusals()).toBe(3);
  });

  it('a subscription its client completes, or whose stream or socket goes, gives its place back', async () => {
    const token = await adminToken(gw.standIn, 'freed');
    const conn = connection(token);
    const first = await watching(conn, ids[0]);
    const second = await watching(conn, ids[1]);
    expectRefusedSse(await sse(gw.url, watchText(ids[2]), token));

    // Completed by its client (graphql-ws `complete`): its place goes to an SSE subscription.
    first.unsubscribe();
    const stream = await sseOnceFree(token, ids[2]);
    await refusedOver(conn, ids[0]);

    // An SSE stream its client leaves: its place goes to a graphql-ws subscription.
    stream.abort();
    let third: Subscriber | undefined;
    await until(async () => {
      const sub = conn.subscribe({ model: 'PROJECT', identifiers: [ids[0]] }, WATCH);
      await sub.waitFor((s) => s.errors.length > 0 || s.countOf(ids[0]) > 0, 'a refusal or a first state');
      if (sub.errors.length === 0) third = sub;
      return third !== undefined;
    }, 'a place for a graphql-ws subscription');
    expect(second.completed).toBe(false);

    // A socket that closes gives back every place its subscriptions held.
    await conn.dispose();
    const again = connection(token);
    await watching(again, ids[0]);
    await watching(again, ids[1]);
    await refusedOver(again, ids[2]);
  });

  it('a subscription the gateway ends (GitLab refuses the token) gives its place back', async () => {
    // GitLab does not know this token: each subscription takes a place, then the gateway ends it (UNAUTHENTICATED) and
    // closes its stream. Were the places kept, every subscription after the second would be refused for them, for good.
    const unknown = 'glpat-limits-unknown-to-gitlab';
    for (let i = 0; i < 5; i++) {
      let ended: SseAnswer | undefined;
      await until(async () => {
        const answer = await sse(gw.url, watchText(ids[0]), unknown, {}, true);
        if (answer.status === 429) expectRefusedSse(answer);
        else ended = answer;
        return ended !== undefined;
      }, `subscription ${i + 1} to be taken, and ended by the gateway`);
      expect(ended!.status).toBe(200);
      expect(ended!.text).toContain('UNAUTHENTICATED');
      expect(ended!.text).toContain('event: complete');
    }
  });
});
