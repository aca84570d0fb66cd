// When a summary subscriber hears of a change while nothing is being verified the poll is slow (a minute here): a
// recalculation through the gateway hurries it, and a backlog of pending records keeps it fast from the first summary.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RecalculateAllChecksumsDocument } from '../generated/operations.js';
import type { Harness } from '../support/gateway.js';
import { rest, startLive, until, type Transport } from '../live/helpers.js';
import { backlogOf, countIn, standInCounts, summaryConnection, summaryGauge, type SummaryConnection } from './helpers.js';

const RECORDS = 200;
/** Far longer than any wait below: a summary that comes sooner was not waiting for the slow poll. */
const SLOW_POLL_MS = 60_000;
/** How long a test waits for what a fast poll (100 ms) brings: generous, and still far below the slow pace. */
const FAST_ENOUGH_MS = 15_000;

let h: Harness;
const open: SummaryConnection[] = [];

beforeAll(async () => {
  // No verification job and no failing files: records move only when a test verifies them (all at once) or queues them.
  h = await startLive(
    { records: 20, modelRecords: { lfs_objects: RECORDS }, verifyIntervalMs: 0, verifyBatchSize: 100_000, verifyDurationMs: 10, failRate: 0 },
    { LIVE_FAST_POLL_MS: '100', LIVE_SLOW_POLL_MS: String(SLOW_POLL_MS), LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' },
  );
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((conn) => conn.dispose()));
  await until(async () => (await summaryGauge(h)) === 0, 'every summary subscription to end', 10_000, 20);
});
afterAll(async () => {
  await h?.close();
});

/** The stand-in verifies every pending record of every model now, and they all succeed. */
async function verifyEverything(): Promise<void> {
  await h.control('POST', 'verify');
  await until(async () => {
    const { states } = await standInCounts(h, 'lfs_objects');
    return states.pending + states.started === 0;
  }, 'every record to be verified', 10_000, 20);
}

function subscribe(transport: Transport) {
  const conn = summaryConnection(h, transport);
  open.push(conn);
  return conn.subscribe(['LFS_OBJECT']);
}

describe.each(['graphql-ws', 'sse'] as Transport[])('over %s', (transport) => {
  it('a recalculation through the gateway brings the next summary at the fast pace, not the slow one', { timeout: 60_000 }, async () => {
    await verifyEverything();
    const sub = subscribe(transport);
    await sub.first(['LFS_OBJECT']);
    expect(countIn(sub.summaries[0], 'SUCCEEDED')).toBe(RECORDS);

    const recalculated = await h.request(RecalculateAllChecksumsDocument, { model: 'LFS_OBJECT' });
    expect(recalculated.errors).toBeUndefined();
    await sub.waitFor((s) => s.summaries.length > 1, 'the summary after the recalculation', FAST_ENOUGH_MS);
    expect(countIn(sub.summaries[1], 'PENDING')).toBe(RECORDS);
    expect(sub.ended).toBe(false);
  });

  it('with records pending when it subscribes, the next summaries come at the fast pace from the start', { timeout: 60_000 }, async () => {
    await verifyEverything();
    // Queued straight in GitLab, past the gateway: nothing hurries the poll.
    expect((await rest(h, 'PUT', 'lfs_objects/checksum')).status).toBe(200);
    await until(async () => (await standInCounts(h, 'lfs_objects')).states.pending === RECORDS, 'every record to be queued', 10_000, 20);
    const sub = subscribe(transport);
    await sub.first(['LFS_OBJECT']);
    expect(countIn(sub.summaries[0], 'PENDING')).toBe(RECORDS);

    await h.control('POST', 'verify');
    await sub.waitFor((s) => backlogOf(s.summaries.at(-1)!) === 0, 'a summary with the backlog verified', FAST_ENOUGH_MS);
    expect(countIn(sub.summaries.at(-1)!, 'SUCCEEDED')).toBe(RECORDS);
  });
});
