// GitLab failing while records move: subscribers stay connected, hear nothing false, and get the final state
// once GitLab answers again.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Harness } from '../support/gateway.js';
import { recordsIn, sleep, sseConnection, startLive, TIMESTAMP, until, wsConnection } from './helpers.js';

let h: Harness;

beforeAll(async () => {
  // Worker off: the record moves only when the test runs a verification cycle (started for 200 ms, then succeeded).
  h = await startLive({ verifyIntervalMs: 0, verifyDurationMs: 200, verifyBatchSize: 100_000 }, { LIVE_FAST_POLL_MS: '100', LIVE_SLOW_POLL_MS: '300', LIVE_MAX_BACKOFF_MS: '400' });
});
afterAll(async () => {
  await h?.control('PUT', 'faults', { errorRate: 0 });
  await h?.close();
});

it('a change made during an outage reaches graphql-ws and SSE subscribers after GitLab recovers', async () => {
  const [pending] = await recordsIn(h, 'projects', 'pending');
  const [settled] = await recordsIn(h, 'projects', 'succeeded');
  const [p, s] = [String(pending.record_identifier), String(settled.record_identifier)];
  const ws = wsConnection(h);
  const sse = sseConnection(h);
  try {
    const subs = [ws.subscribe({ model: 'PROJECT', identifiers: [p, s] }), sse.subscribe({ model: 'PROJECT', identifiers: [p, s] })];
    await Promise.all(subs.map((sub) => sub.initial([p, s])));
    for (const sub of subs) expect(sub.summary()).toEqual(expect.arrayContaining([`${p}:null->PENDING`, `${s}:null->SUCCEEDED`]));

    await h.control('PUT', 'faults', { errorRate: 1 });
    const failedBefore = h.gateway.live.stats.failedCycles;
    await until(() => h.gateway.live.stats.failedCycles >= failedBefore + 2, 'two failed polls', 5_000);

    // GitLab's background job verifies the record while its API fails.
    const verifiedFrom = Date.now();
    expect(await h.control('POST', 'verify')).toMatchObject({ started: expect.any(Number) });
    // The record is succeeded upstream after 200 ms; the gateway keeps polling (and failing) well past that.
    const failedAtVerify = h.gateway.live.stats.failedCycles;
    await sleep(300);
    await until(() => h.gateway.live.stats.failedCycles >= failedAtVerify + 2, 'two more failed polls', 5_000);
    // Still connected, nothing delivered: no error, no completion, no made-up state.
    for (const sub of subs) {
      expect(sub.received.map((r) => r.kind)).toEqual(['data', 'data']);
    }
    expect(ws.closes).toEqual([]);
    expect(h.gateway.live.activeSubscriptions).toBe(2);

    const recoveredFrom = Date.now();
    await h.control('PUT', 'faults', { errorRate: 0 });
    for (const sub of subs) {
      const change = await sub.until(p, (c) => c.previousState !== null, 'the final state after the outage', 5_000);
      // STARTED came and went during the outage: only the final state is owed.
      expect(change).toEqual({
        record: {
          id: `gid://gitlab/Project/${p}`,
          recordIdentifier: p,
          model: 'PROJECT',
          checksumInformation: { checksum: expect.stringMatching(/^[0-9a-f]{40}$/), checksumState: 'SUCCEEDED', checksumFailure: null, checksumRetryCount: 0, lastChecksum: expect.stringMatching(TIMESTAMP) },
        },
        previousState: 'PENDING',
        state: 'SUCCEEDED',
        observedAt: expect.stringMatching(TIMESTAMP),
      });
      expect(Date.parse(change.record.checksumInformation!.lastChecksum!)).toBeGreaterThanOrEqual(verifiedFrom);
      expect(Date.parse(change.observedAt)).toBeGreaterThanOrEqual(recoveredFrom);
    }
    await sleep(400);
    for (const sub of subs) {
      expect(sub.summary().slice(2)).toEqual([`${p}:PENDING->SUCCEEDED`]);
      expect(sub.completed).toBe(false);
    }
    // Polling went back to its pace: the failures stopped counting.
    const failedAfter = h.gateway.live.stats.failedCycles;
    await sleep(400);
    expect(h.gateway.live.stats.failedCycles).toBe(failedAfter);
  } finally {
    await ws.dispose();
    await sse.dispose();
  }
});
