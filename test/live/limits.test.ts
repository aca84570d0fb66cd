// What a subscription may ask for: how many records, how many subscriptions per socket, which identifiers.
// Every refusal comes before any call to GitLab.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from '../support/gateway.js';
import { rawSocket, sseConnection, sleep, startLive, until, wsConnection, type Subscriber } from './helpers.js';

const MAX_IDENTIFIERS = 5;
const MAX_PER_CONNECTION = 2;

let h: Harness;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  h = await startLive(
    { verifyIntervalMs: 0 },
    { LIVE_FAST_POLL_MS: '100', LIVE_SLOW_POLL_MS: '300', LIVE_MAX_IDENTIFIERS: String(MAX_IDENTIFIERS), LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(MAX_PER_CONNECTION), TOKEN_CACHE_MS: '3600000' },
  );
  // The token's connection check (one call) comes first: a refused subscription then costs GitLab nothing at all.
  (await rawSocket(h, () => {})).terminate();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await until(() => h.gateway.live.activeSubscriptions === 0, 'every subscription to end');
});
afterAll(async () => {
  await h?.close();
});

function ws() {
  const conn = wsConnection(h);
  cleanups.push(() => conn.dispose());
  return conn;
}
function sse() {
  const conn = sseConnection(h);
  cleanups.push(() => conn.dispose());
  return conn;
}

const ids = (n: number, from = 1) => Array.from({ length: n }, (_, i) => String(from + i));

/** A refused subscription: exactly one error with this code and message, then completion, and no data. */
async function expectRefused(sub: Subscriber, message: string): Promise<void> {
  await sub.waitFor((s) => s.completed, 'the refused subscription to complete');
  expect(sub.received.map((r) => r.kind)).toEqual(['errors', 'complete']);
  expect(sub.errors).toEqual([{ message, locations: [{ line: 3, column: 5 }], path: ['checksumStateChanged'], extensions: { code: 'BAD_USER_INPUT' } }]);
}

describe.each(['graphql-ws', 'sse'] as const)('over %s', (transport) => {
  const subscribe = (identifiers: string[]) => (transport === 'graphql-ws' ? ws() : sse()).subscribe({ model: 'PROJECT', identifiers });

  it(`more than ${MAX_IDENTIFIERS} identifiers: BAD_USER_INPUT; exactly ${MAX_IDENTIFIERS}: accepted`, async () => {
    await h.resetUpstream();
    await expectRefused(subscribe(ids(MAX_IDENTIFIERS + 1)), `A subscription watches at most ${MAX_IDENTIFIERS} records, got ${MAX_IDENTIFIERS + 1}.`);
    await expectRefused(subscribe(ids(1000)), `A subscription watches at most ${MAX_IDENTIFIERS} records, got 1000.`);
    expect(await h.upstream()).toEqual([]);
    const ok = subscribe(ids(MAX_IDENTIFIERS));
    await ok.initial(ids(MAX_IDENTIFIERS));
    expect(ok.changes.map((c) => c.record.recordIdentifier).sort()).toEqual(ids(MAX_IDENTIFIERS).sort());
  });

  it('an identifier GitLab could not read, or none at all: BAD_USER_INPUT', async () => {
    await h.resetUpstream();
    for (const bad of ['abc', '-1', '1.5', '', ' 1', '1e3', 'MTIz', 'a'.repeat(100)]) {
      const message = `"${bad.slice(0, 64)}" is not a record identifier (an integer, or URL-safe base64 of a composite key).`;
      await expectRefused(subscribe(['1', bad]), message);
    }
    await expectRefused(subscribe([]), 'identifiers must name at least one record.');
    expect(await h.upstream()).toEqual([]);
    expect(h.gateway.live.activeSubscriptions).toBe(0);
  });
});

describe('subscriptions per graphql-ws connection', () => {
  it(`the one over ${MAX_PER_CONNECTION} is refused; the others carry on, and a finished one frees its place`, async () => {
    const conn = ws();
    const first = conn.subscribe({ model: 'PROJECT', identifiers: ['1'] });
    const second = conn.subscribe({ model: 'PROJECT', identifiers: ['2'] });
    await Promise.all([first.initial(['1']), second.initial(['2'])]);
    const extra = conn.subscribe({ model: 'PROJECT', identifiers: ['3'] });
    await extra.waitFor((s) => s.received.length > 0, 'the refusal');
    await sleep(100);
    // graphql-ws sends it as an `error` message: the operation never started.
    expect(extra.received).toHaveLength(1);
    expect(extra.received[0]).toMatchObject({ kind: 'error' });
    expect(extra.errors).toEqual([expect.objectContaining({ message: `At most ${MAX_PER_CONNECTION} subscriptions per connection.`, extensions: { code: 'BAD_USER_INPUT' } })]);
    // The socket and the first two are fine.
    expect(conn.closes).toEqual([]);
    expect([first.completed, second.completed, first.errors, second.errors]).toEqual([false, false, [], []]);
    expect(h.gateway.live.activeSubscriptions).toBe(2);

    // Another socket has its own allowance.
    const other = ws().subscribe({ model: 'PROJECT', identifiers: ['3'] });
    await other.initial(['3']);

    // Unsubscribing frees a place on the first socket.
    second.unsubscribe();
    await until(() => h.gateway.live.activeSubscriptions === 2, 'the unsubscription to reach the gateway');
    const third = conn.subscribe({ model: 'PROJECT', identifiers: ['4'] });
    await third.initial(['4']);
    expect(third.errors).toEqual([]);
  });

  it('refused and failed subscriptions do not use up places', async () => {
    const conn = ws();
    for (let i = 0; i < MAX_PER_CONNECTION + 1; i++) {
      await expectRefused(conn.subscribe({ model: 'PROJECT', identifiers: ['bad id'] }), '"bad id" is not a record identifier (an integer, or URL-safe base64 of a composite key).');
    }
    const subs = [conn.subscribe({ model: 'PROJECT', identifiers: ['1'] }), conn.subscribe({ model: 'PROJECT', identifiers: ['2'] })];
    await Promise.all([subs[0].initial(['1']), subs[1].initial(['2'])]);
    expect(subs.flatMap((s) => s.errors)).toEqual([]);
  });
});
