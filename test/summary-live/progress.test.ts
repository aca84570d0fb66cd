// A bulk re-verification of a whole model, as a verificationSummaryChanged subscriber follows it: PENDING jumps to the
// model's size, then drains into SUCCEEDED and FAILED at a measured pace, until the counts are GitLab's own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecalculateAllChecksumsDocument } from '../generated/operations.js';
import type { Harness } from '../support/gateway.js';
import { startLive, until, type Transport } from '../live/helpers.js';
import { backlogOf, countIn, countsOf, standInCounts, summaryConnection, summaryCounts, type Summary, type SummaryConnection, type SummarySubscriber } from './helpers.js';

const RECORDS = 1_000;

const cases: { dialect: 'plural' | 'singular'; transport: Transport }[] = [
  { dialect: 'plural', transport: 'graphql-ws' },
  { dialect: 'plural', transport: 'sse' },
  { dialect: 'singular', transport: 'graphql-ws' },
  { dialect: 'singular', transport: 'sse' },
];

describe.each(cases)('$dialect dialect, over $transport', ({ dialect, transport }) => {
  let h: Harness;
  let conn: SummaryConnection | undefined;

  beforeAll(async () => {
    h = await startLive(
      // 50 records every 200 ms: the 1,000 take about 4 s, long enough for a few dozen fast polls to see them go.
      { dialect, records: 20, modelRecords: { lfs_objects: RECORDS }, verifyIntervalMs: 200, verifyBatchSize: 50, verifyDurationMs: 20 },
      { LIVE_FAST_POLL_MS: '100', LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' },
    );
  });
  afterAll(async () => {
    await conn?.dispose();
    await h?.close();
  });

  it('PENDING rises to the whole model and drains into SUCCEEDED and FAILED, paced and estimated, to GitLab’s counts', { timeout: 60_000 }, async () => {
    // The seeded backlog is verified first: the run starts from a model at rest.
    await until(async () => {
      const { states } = await standInCounts(h, 'lfs_objects');
      return states.pending + states.started === 0;
    }, 'the seeded backlog to be verified', 20_000, 50);

    conn = summaryConnection(h, transport);
    const sub = conn.subscribe(['LFS_OBJECT']);
    await sub.first(['LFS_OBJECT']);
    const first = sub.summaries[0];
    expect(first).toMatchObject({ model: 'LFS_OBJECT', total: RECORDS, totalExact: true, verificationEnabled: true });
    expect(first.states.map((s) => s.state)).toEqual(['PENDING', 'STARTED', 'SUCCEEDED', 'FAILED', 'DISABLED']);

    const recalculated = await h.request(RecalculateAllChecksumsDocument, { model: 'LFS_OBJECT' });
    expect(recalculated.errors).toBeUndefined();
    expect(recalculated.data?.recalculateAllChecksums?.model).toBe('LFS_OBJECT');

    const peak = (s: SummarySubscriber) => s.summaries.findIndex((x) => countIn(x, 'PENDING') >= 0.8 * RECORDS);
    await sub.waitFor((s) => peak(s) >= 0, 'PENDING to rise to nearly the whole model', 15_000);
    // Drained: nothing pending or started, and the counts are GitLab's own, read at one instant.
    let expected: ReturnType<typeof summaryCounts> | undefined;
    await until(async () => {
      const last = sub.summaries.at(-1)!;
      if (backlogOf(last) !== 0) return false;
      expected = summaryCounts(await standInCounts(h, 'lfs_objects'));
      return JSON.stringify(countsOf(last)) === JSON.stringify(expected);
    }, 'the last summary to equal the stand-in’s counts', 30_000, 50);
    expect(sub.ended).toBe(false);

    const run = sub.summaries.slice(peak(sub));
    const last = run.at(-1)!;
    expect(countsOf(last)).toEqual(expected);
    // The records that were pending at the peak went to SUCCEEDED or FAILED (the files that are missing fail).
    expect(countIn(run[0], 'SUCCEEDED') + countIn(run[0], 'FAILED')).toBeLessThanOrEqual(0.2 * RECORDS);
    expect(countIn(last, 'SUCCEEDED') + countIn(last, 'FAILED')).toBe(RECORDS);
    expect(countIn(last, 'FAILED')).toBeGreaterThan(0);
    expect(countIn(last, 'SUCCEEDED')).toBeGreaterThan(countIn(last, 'FAILED'));
    // Several summaries between the peak and the end: the subscriber saw it drain, not just begin and end.
    expect(run.length).toBeGreaterThanOrEqual(3);
    for (const summary of run) expect(summary.total).toBe(RECORDS);

    // The pace is measured from the falls of the backlog, and the end estimated from it while there is a backlog.
    expect(last.verifiedPerMinute).toEqual(expect.any(Number));
    expect(last.verifiedPerMinute).toBeGreaterThan(0);
    expect(last.estimatedCompletionAt).toBeNull();
    const estimated = run.filter((s) => backlogOf(s) > 0 && s.estimatedCompletionAt !== null);
    expect(estimated.length).toBeGreaterThan(0);
    for (const summary of sub.summaries) expectConsistentEstimate(summary);
  });
});

/** A summary's pace and estimate agree with its counts: an estimate only while there is a backlog and a pace, after observedAt. */
function expectConsistentEstimate(summary: Summary): void {
  const observedAt = Date.parse(summary.observedAt);
  expect(Number.isNaN(observedAt), summary.observedAt).toBe(false);
  if (summary.verifiedPerMinute !== null) expect(summary.verifiedPerMinute).toBeGreaterThanOrEqual(0);
  if (backlogOf(summary) === 0 || !summary.verifiedPerMinute) {
    expect(summary.estimatedCompletionAt).toBeNull();
    return;
  }
  expect(summary.estimatedCompletionAt).not.toBeNull();
  expect(Date.parse(summary.estimatedCompletionAt!)).toBeGreaterThan(observedAt);
}
