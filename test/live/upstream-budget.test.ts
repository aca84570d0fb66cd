// LIVE_MAX_UPSTREAM_CALLS_PER_SECOND bounds what subscribers make the live layer ask of GitLab, whatever they watch:
// polls and first reads wait their turn (counted in gateway_live_upstream_waits_total), none fails, no state is lost.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import type { Harness } from '../support/gateway.js';
import { metricValue } from './gitlab-proxy.js';
import { listCalls, recordsIn, startLive, until, wsConnection, type WsConnection } from './helpers.js';

const BUDGET = 10;
const WINDOW_S = 3;

let h: Harness;
let conn: WsConnection | undefined;

beforeAll(async () => {
  // A pending record holds the fast pace (50 ms) for the whole test: without a bound, polls would follow each other.
  h = await startLive(
    { verifyIntervalMs: 0, verifyDurationMs: 100, verifyBatchSize: 100_000 },
    { LIVE_FAST_POLL_MS: '50', LIVE_SLOW_POLL_MS: '600000', LIVE_AUTH_RECHECK_MS: '600000', LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: String(BUDGET) },
  );
});
afterAll(async () => {
  await conn?.dispose();
  await h?.close();
});

const metrics = async () => (await fetch(`${new URL(h.gateway.url).origin}/metrics`)).text();

/**
 * The most calls GitLab received within any WINDOW_S seconds. The gateway starts at most BUDGET calls in any second,
 * so at most WINDOW_S x BUDGET in any WINDOW_S seconds; a call sent at the very end of one second may arrive at the
 * start of the next, hence one second of calls more.
 */
function mostInAnyWindow(calls: RequestLogEntry[]): number {
  const times = calls.map((call) => Date.parse(call.at)).sort((a, b) => a - b);
  let most = 0;
  for (let first = 0, last = 0; first < times.length; first++) {
    while (last < times.length && times[last] < times[first] + WINDOW_S * 1000) last++;
    most = Math.max(most, last - first);
  }
  return most;
}

it(`subscriptions to thousands of records keep GitLab at ${BUDGET} calls a second, and still deliver`, { timeout: 90_000 }, async () => {
  const [pending] = (await recordsIn(h, 'projects', 'pending')).map((r) => String(r.record_identifier));
  // Four subscriptions to 1,000 records each, all different, and four to the same 1,000 unknown ones: 5,000 records,
  // 50 calls a read or a poll, on one socket.
  const distinct = Array.from({ length: 4 }, (_, s) => [pending, ...Array.from({ length: 999 }, (_, i) => String(80_000_000 + s * 1000 + i))]);
  const same = Array.from({ length: 1000 }, (_, i) => String(90_000_000 + i));
  await h.resetUpstream();
  conn = wsConnection(h);
  const subs = [...distinct, same, same, same, same].map((identifiers) => conn!.subscribe({ model: 'PROJECT', identifiers }));
  await Promise.all(subs.slice(0, 4).map((sub) => sub.initial([pending], 60_000)));
  await until(() => h.gateway.live.activeSubscriptions === 8, 'all eight subscriptions', 60_000);

  // Polls go on behind the reads, each waiting its turn: watch until a whole one is done (the second has begun).
  await until(() => h.gateway.live.stats.cycles >= 2, 'a whole poll of 5,000 records', 60_000, 100);
  const calls = listCalls(await h.upstream()).filter((call) => call.params['identifiers[]']);
  // At least a whole poll (50 calls): more than a window may hold, so an unbounded burst would show.
  expect(calls.length).toBeGreaterThan((WINDOW_S + 1) * BUDGET);
  expect(mostInAnyWindow(calls)).toBeLessThanOrEqual((WINDOW_S + 1) * BUDGET);
  expect(metricValue(await metrics(), 'gateway_live_upstream_waits_total')).toBeGreaterThan(0);

  // Slowed, never failed: the pending record's verification still reaches every subscriber watching it.
  await h.control('POST', 'verify');
  for (const sub of subs.slice(0, 4)) await sub.until(pending, (c) => c.state === 'SUCCEEDED' || c.state === 'FAILED', 'its verified state', 60_000);
  const text = await metrics();
  expect(metricValue(text, 'gateway_live_poll_cycles_total', { model: 'PROJECT', outcome: 'upstream_error' })).toBe(0);
  expect(subs.flatMap((sub) => sub.errors)).toEqual([]);
  expect(mostInAnyWindow(listCalls(await h.upstream()).filter((call) => call.params['identifiers[]']))).toBeLessThanOrEqual((WINDOW_S + 1) * BUDGET);
});
