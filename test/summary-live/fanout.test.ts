// What summary subscribers cost GitLab: one poll per model for the whole gateway, so 500 subscribers of a model (over
// graphql-ws and SSE) make the very same calls per poll cycle as one subscriber does.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import type { Harness } from '../support/gateway.js';
import { startLive, until } from '../live/helpers.js';
import { modelCalls, summaryConnection, summaryGauge, type SummaryConnection, type SummarySubscriber } from './helpers.js';

const PACE_MS = 400;
/** Whole poll cycles compared. */
const CYCLES = 5;
const WS_SOCKETS = 4;
const PER_SOCKET = 100;
const SSE_STREAMS = 100;

let h: Harness;
const connections: SummaryConnection[] = [];

beforeAll(async () => {
  // Nothing moves (no verification job), one pace whatever the counts, and token rechecks out of the way.
  h = await startLive(
    { records: 50, verifyIntervalMs: 0 },
    { LIVE_FAST_POLL_MS: String(PACE_MS), LIVE_SLOW_POLL_MS: String(PACE_MS), LIVE_AUTH_RECHECK_MS: '600000', LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' },
  );
});
afterAll(async () => {
  await Promise.all(connections.map((c) => c.dispose()));
  await h?.close();
});

/** What one poll cycle asked GitLab: the query of each call, sorted. */
const cycleOf = (calls: RequestLogEntry[]) => calls.map((c) => c.query).sort();

/**
 * The next CYCLES whole poll cycles, as the stand-in logged their calls to lfs_objects. A cycle's calls are sent at
 * once and cycles are a pace apart, so a gap of half a pace splits them; the first and last are left out, as a window
 * edge may cut them.
 */
async function nextCycles(): Promise<string[][]> {
  const { lastSeq: from } = (await h.control('GET', `requests?after=${Number.MAX_SAFE_INTEGER}`)) as { lastSeq: number };
  let cycles: RequestLogEntry[][] = [];
  await until(async () => {
    const { requests } = (await h.control('GET', `requests?after=${from}`)) as { requests: RequestLogEntry[] };
    cycles = [];
    let previousAt = -Infinity;
    for (const call of modelCalls(requests, 'lfs_objects')) {
      const at = Date.parse(call.at);
      if (at - previousAt > PACE_MS / 2) cycles.push([]);
      cycles.at(-1)!.push(call);
      previousAt = at;
    }
    return cycles.length >= CYCLES + 2;
  }, `${CYCLES + 2} poll cycles`, 30 * PACE_MS * CYCLES, 50);
  return cycles.slice(1, CYCLES + 1).map(cycleOf);
}

it('500 subscribers of a model cost GitLab the same calls per poll cycle as one', { timeout: 120_000 }, async () => {
  const first = summaryConnection(h, 'graphql-ws');
  connections.push(first);
  const subscribers: SummarySubscriber[] = [first.subscribe(['LFS_OBJECT'])];
  await subscribers[0].first(['LFS_OBJECT']);
  expect(await summaryGauge(h)).toBe(1);

  const one = await nextCycles();
  // A model this small is counted in one call per state, each answered with its X-Total.
  expect(one[0]).toHaveLength(5);
  expect(one[0].map((query) => new URLSearchParams(query).get('checksum_state')).sort()).toEqual(['disabled', 'failed', 'pending', 'started', 'succeeded']);
  for (const cycle of one) expect(cycle).toEqual(one[0]);

  // 499 more: graphql-ws sockets filled to their limit of 100 subscriptions, and SSE streams.
  for (let i = 1; i < WS_SOCKETS; i++) connections.push(summaryConnection(h, 'graphql-ws'));
  const sse = summaryConnection(h, 'sse');
  connections.push(sse);
  for (let i = 1; i < WS_SOCKETS * PER_SOCKET; i++) subscribers.push(connections[i % WS_SOCKETS].subscribe(['LFS_OBJECT']));
  for (let i = 0; i < SSE_STREAMS; i++) subscribers.push(sse.subscribe(['LFS_OBJECT']));
  await Promise.all(subscribers.map((s) => s.first(['LFS_OBJECT'], 60_000)));
  expect(await summaryGauge(h)).toBe(WS_SOCKETS * PER_SOCKET + SSE_STREAMS);

  const many = await nextCycles();
  expect(many).toEqual(one);
  expect(await summaryGauge(h)).toBe(WS_SOCKETS * PER_SOCKET + SSE_STREAMS);
  // Nothing moved, so nobody got more than the first summary, and nobody an error.
  for (const s of subscribers) expect(s.account()).toEqual(subscribers[0].account().slice(0, 1));
});
