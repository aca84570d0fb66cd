// Identifiers GitLab refuses (400) fail only the subscriptions that watch them, with a typed BAD_USER_INPUT, and leave
// the shared poll: the other subscribers' polls neither fail nor back off, and nothing is logged with a stack.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Harness } from '../support/gateway.js';
import { metricValue, startProxiedLive, type ProxiedLive } from './gitlab-proxy.js';
import { recordsIn, until, WATCH_BATCHES, wsConnection, type Subscriber, type WsConnection } from './helpers.js';

/** Composite keys ("1 2", "1 3", "2 2"), which name no PROJECT record: the stand-in answers them as absent. */
const BAD = ['MSAy', 'MSAz', 'MiAy'];

let live: ProxiedLive;
let conn: WsConnection | undefined;

beforeAll(async () => {
  // Pending records hold the fast pace (50 ms); a failed poll would back off to at least 100 ms, then 200 ms, ...
  live = await startProxiedLive({ verifyIntervalMs: 0, verifyDurationMs: 100, verifyBatchSize: 100_000 }, { LIVE_FAST_POLL_MS: '50', LIVE_SLOW_POLL_MS: '600000', LIVE_AUTH_RECHECK_MS: '600000' });
});
afterAll(async () => {
  await conn?.dispose();
  await live?.close();
});

const polls = async (outcome: string) => metricValue(await live.metrics(), 'gateway_live_poll_cycles_total', { model: 'PROJECT', outcome });

async function expectRefused(sub: Subscriber): Promise<void> {
  await sub.waitFor((s) => s.completed, 'the refused subscription to end', 10_000);
  expect(sub.errors.map(({ message, extensions }) => ({ message, extensions }))).toEqual([{ message: expect.stringContaining('400 Bad request - invalid base64'), extensions: { code: 'BAD_USER_INPUT' } }]);
}

it('fail only their own subscriptions, during a poll or at the first read, while the others keep getting changes', { timeout: 60_000 }, async () => {
  const pending = (await recordsIn(live as unknown as Harness, 'projects', 'pending')).map((r) => String(r.record_identifier));
  conn = wsConnection(live as unknown as Harness);
  const good = conn.subscribe({ model: 'PROJECT', identifiers: pending.slice(0, 2) }, WATCH_BATCHES);
  await good.initial(pending.slice(0, 2));

  // Subscribed while GitLab takes them (as unknown); GitLab refuses them from then on: a poll meets them first.
  const badBatches = conn.subscribe({ model: 'PROJECT', identifiers: BAD }, WATCH_BATCHES);
  const badMixed = conn.subscribe({ model: 'PROJECT', identifiers: [pending[2], BAD[0]] });
  await badBatches.waitFor((s) => s.payloads.length === 1, 'its first batch');
  await badMixed.initial([pending[2]]);
  live.proxy.refuse(BAD);
  await expectRefused(badBatches);
  await expectRefused(badMixed);

  // Refused at their first read: a client subscribing again and again.
  for (let i = 0; i < 5; i++) await expectRefused(conn.subscribe({ model: 'PROJECT', identifiers: [BAD[i % BAD.length], pending[3]] }));

  // The shared poll left them behind and carries on at its pace: several more polls, none failed.
  const succeeded = await polls('success');
  await until(async () => (await polls('success')) >= succeeded + 3, 'three more polls');
  expect(await polls('upstream_error')).toBe(0);
  expect(live.gateway.live.stats.failedCycles).toBe(0);
  expect(live.gateway.live.activeSubscriptions).toBe(1);

  // The good subscriber still gets its changes.
  await live.control('POST', 'verify');
  for (const id of pending.slice(0, 2)) await good.until(id, (c) => c.state === 'SUCCEEDED' || c.state === 'FAILED', 'its verified state', 10_000);
  expect([good.errors, good.completed]).toEqual([[], false]);
  expect(await polls('upstream_error')).toBe(0);

  // Logged as what it is: a client error on an operation line, never with a stack.
  const log = live.log();
  expect(log).toContain('BAD_USER_INPUT');
  expect(log).not.toMatch(/"stack"|\\n\s+at /);
  expect(log).not.toMatch(/"level":50/);
});
