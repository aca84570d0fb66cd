// A GitLab that refuses deep offset pages (405, as GitLab.com does past 50,000): the summary still answers, with lower
// bounds marked inexact where a count lies beyond what GitLab lets be read, and exact counts wherever it does not.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/models.js';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import type { Harness } from '../support/gateway.js';
import { DIALECTS, startFor } from '../gateway/helpers.js';
import { callBound, callsFor, countsOf, countsPart, exactSummaryOf, REST_STATES, STATES, standInCounts, summaries, type Summary } from './helpers.js';

const MAX_OFFSET = 50_000;
/** Far beyond the limit: total, SUCCEEDED and PENDING cannot be read to their end; FAILED (about 50,000) nearly. */
const LARGE = 'LFS_OBJECT';
/** Below the limit: every page of it can be read, though a doubling search jumps past the limit. */
const BELOW = 'UPLOAD';

/** Pages GitLab refuses: page x per_page beyond the limit. */
const refused = (e: RequestLogEntry) => Number(e.params.page?.[0] ?? 1) * Number(e.params.per_page?.[0] ?? 20) > MAX_OFFSET;

/** The summary's counts next to the true ones, by name: total and each state. */
function pairs(summary: Summary, counts: { total: number; states: Record<string, number> }) {
  return [
    { name: 'total', count: summary.total, exact: summary.totalExact, truth: counts.total },
    ...STATES.map((state, i) => ({ name: state, ...summary.states[i], truth: counts.states[REST_STATES[i]] })),
  ];
}

describe.each(DIALECTS)('verificationSummary past GitLab’s deepest offset page, %s dialect', (dialect: Dialect) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startFor(dialect, { records: 20, modelRecords: { lfs_objects: 1_000_000, uploads: 45_000 } });
  });
  afterAll(() => h?.close());
  beforeEach(async () => {
    await h.control('PUT', 'settings', { maxOffset: MAX_OFFSET });
    await h.resetUpstream();
  });

  it('without the limit the counts are exact; with it the summary still answers, every count a lower bound of the truth', async () => {
    await h.control('PUT', 'settings', { maxOffset: null });
    const counts = countsOf(await standInCounts(h), LARGE);
    expect(countsPart((await summaries(h, [LARGE]))[0])).toEqual(exactSummaryOf(LARGE, counts));

    expect(await h.control('PUT', 'settings', { maxOffset: MAX_OFFSET })).toMatchObject({ maxOffset: MAX_OFFSET });
    await h.resetUpstream();
    const [summary] = await summaries(h, [LARGE]);
    expect(summary.totalExact).toBe(false);
    for (const { name, count, exact, truth } of pairs(summary, counts)) {
      expect(count, name).toBeLessThanOrEqual(truth);
      if (exact) expect(count, name).toBe(truth);
      // Beyond the limit nothing can be exact.
      if (truth > MAX_OFFSET) expect(exact, name).toBe(false);
    }
    // Counts past 10,000 were proved, not guessed from one page.
    expect(summary.total).toBeGreaterThan(10_000);
    expect(summary.states.filter((s) => !s.exact).every((s) => s.count > 10_000)).toBe(true);

    const log = callsFor(await h.upstream(), LARGE, dialect);
    expect(log.length).toBeLessThanOrEqual(callBound(counts.total, dialect));
    // GitLab did refuse some of its pages.
    expect(log.filter(refused).length).toBeGreaterThan(0);
  });

  it('proves as much as GitLab lets be read: at least the limit where the truth is beyond it, exact where it is not', async () => {
    const counts = countsOf(await standInCounts(h), LARGE);
    // The seed puts about 50,000 records in FAILED, 100,000 in PENDING, 850,000 in SUCCEEDED.
    expect(counts.states.failed).toBeLessThan(MAX_OFFSET);
    expect(counts.states.pending).toBeGreaterThan(MAX_OFFSET);
    const [summary] = await summaries(h, [LARGE]);
    for (const { name, count, exact, truth } of pairs(summary, counts)) {
      if (truth > MAX_OFFSET) expect({ name, atLeastTheLimit: count >= MAX_OFFSET, exact }).toEqual({ name, atLeastTheLimit: true, exact: false });
      else expect({ name, count, exact }).toEqual({ name, count: truth, exact: true });
    }
  });

  it('counts a model that fits below the limit exactly, though its search jumped past the limit', async () => {
    const counts = countsOf(await standInCounts(h), BELOW);
    expect(counts.total).toBeLessThan(MAX_OFFSET);
    const [summary] = await summaries(h, [BELOW]);
    expect(countsPart(summary)).toEqual(exactSummaryOf(BELOW, counts));
  });

  it('never gives a total below the sum of its own state counts', async () => {
    for (const [summary] of [await summaries(h, [LARGE]), await summaries(h, [BELOW])]) {
      const sum = summary.states.reduce((total, s) => total + s.count, 0);
      expect({ model: summary.model, totalAtLeastTheSum: summary.total >= sum }).toEqual({ model: summary.model, totalAtLeastTheSum: true });
      if (summary.states.every((s) => s.exact)) expect({ total: summary.total, totalExact: summary.totalExact }).toEqual({ total: sum, totalExact: true });
    }
  });
});
