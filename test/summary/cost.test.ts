// What a verificationSummary costs GitLab: a few calls per model whatever its size, never a listing. Up to 10,000
// records the newer dialect's X-Total answers at once; above, page probes find the last page in a logarithmic number.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/models.js';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import { standInRest, type Harness } from '../support/gateway.js';
import { DIALECTS, segment, startFor } from '../gateway/helpers.js';
import { until } from '../operability/helpers.js';
import { callBound, callsFor, countsOf, countsPart, exactSummaryOf, REST_STATES, standInCounts, startVerification, summaries } from './helpers.js';

const MODEL = 'LFS_OBJECT';
const PLURAL = 'lfs_objects';
const SIZES = [100, 10_000, 100_000, 1_000_000];
/** Every other model: small, and not asked for. */
const OTHERS = 20;

/** Checks that every call is a list call of the model, by offset page, of 1 or 100 records. */
function listCalls(log: RequestLogEntry[], dialect: Dialect): void {
  const calls = callsFor(log, MODEL, dialect);
  // Nothing else was asked: no token check, no other model.
  expect(calls).toHaveLength(log.length);
  for (const call of calls) {
    expect(call.method).toBe('GET');
    expect(['1', '100']).toContain(call.params.per_page?.[0]);
    expect(call.params.pagination).toBeUndefined();
  }
}

/**
 * One summary of the model alone: asserts it exact and equal to the stand-in's counts, within the bound, and returns
 * its calls.
 */
async function measure(h: Harness, dialect: Dialect): Promise<RequestLogEntry[]> {
  await h.resetUpstream();
  const [summary] = await summaries(h, [MODEL]);
  const log = await h.upstream();
  listCalls(log, dialect);
  const counts = countsOf(await standInCounts(h), MODEL);
  expect(countsPart(summary)).toEqual(exactSummaryOf(MODEL, counts));
  expect(log.length).toBeLessThanOrEqual(callBound(counts.total, dialect));
  return log;
}

/** The states whose pages were probed past their first look: the ones counted by a search. */
const searchedStates = (log: RequestLogEntry[]) => [...new Set(log.filter((e) => e.params.page?.[0] !== '1' && e.params.checksum_state).map((e) => e.params.checksum_state[0]))].sort();

/** States holding more records than one header (newer dialect) can count. */
const largeStates = (counts: { states: Record<string, number> }) => REST_STATES.filter((s) => counts.states[s] > 10_000);

describe.each(DIALECTS)('verificationSummary cost, %s dialect', (dialect) => {
  it.each(SIZES)('%i records: exact, within the stated bound', async (records) => {
    const h = await startFor(dialect, { records: OTHERS, modelRecords: { [PLURAL]: records } });
    try {
      const calls = (await measure(h, dialect)).length;
      if (dialect === 'plural' && records <= 10_000) expect(calls).toBeLessThanOrEqual(6);
      console.log(`summary cost: ${dialect} ${records} records -> ${calls} calls (bound ${callBound(records, dialect)})`);
    } finally {
      await h.close();
    }
  });

  describe('1,000,000 records in several large states', () => {
    let h: Harness;

    beforeAll(async () => {
      // A long verification: the records the job starts stay `started` for the whole test.
      h = await startFor(dialect, { records: OTHERS, modelRecords: { [PLURAL]: 1_000_000 }, verifyBatchSize: 400_000, verifyDurationMs: 3_600_000 });
    });
    afterAll(() => h?.close());

    it('the seeded mix (SUCCEEDED, PENDING and FAILED each above 10,000): exact, within the bound', async () => {
      expect(largeStates(countsOf(await standInCounts(h), MODEL))).toEqual(['pending', 'succeeded', 'failed']);
      const log = await measure(h, dialect);
      // The largest one is what the total leaves of the others: no search of its own.
      expect(searchedStates(log)).toEqual(['failed', 'pending']);
      console.log(`summary cost: ${dialect} 1000000 records, 3 large states -> ${log.length} calls`);
    });

    it('after a bulk recalculation, PENDING and STARTED large and the state largest before empty: exact, within the bound', async () => {
      // The last summary found SUCCEEDED largest; now it is empty and two other states are large.
      expect((await standInRest(h, 'PUT', `${segment(MODEL, dialect)}/checksum`)).status).toBe(200);
      await until(async () => (countsOf(await standInCounts(h), MODEL).states.pending === 1_000_000 ? true : undefined), 'the bulk job to mark every record pending');
      expect(await startVerification(h)).toBeGreaterThanOrEqual(400_000);
      const counts = countsOf(await standInCounts(h), MODEL);
      expect(counts.states).toEqual({ pending: 600_000, started: 400_000, succeeded: 0, failed: 0, disabled: 0 });
      const log = await measure(h, dialect);
      expect(searchedStates(log)).toHaveLength(1);
      console.log(`summary cost: ${dialect} 1000000 records, PENDING and STARTED large -> ${log.length} calls`);
    });
  });
});
