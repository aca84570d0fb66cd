// verificationSummary's numbers: for every model, what a full listing of GitLab gives per checksum state, in the
// enum's order; a model whose verification is off counts as all DISABLED; the request errors a client can meet.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MODELS, modelsOf, type Dialect } from '../../src/models.js';
import type { ModelName } from '../generated/operations.js';
import { startHarness, USER, type Harness } from '../support/gateway.js';
import { codes, DIALECTS, oneError, QUIET, restAll, splitPath, startFor } from '../gateway/helpers.js';
import {
  callBound,
  callsFor,
  countsOf,
  countsPart,
  exactSummaryOf,
  REST_STATES,
  STATES,
  standInCounts,
  startVerification,
  stateCount,
  summaries,
  summaryRequest,
  type Summary,
} from './helpers.js';

/** Records per model, in the catalogue's order: empty, one page, the edges of a page of 100, a few pages. */
const SIZES = [0, 1, 99, 100, 101, 150, 199, 200, 201, 250, 299, 300, 333, 7, 399, 120, 64, 180, 260, 42];
const MODEL_RECORDS = Object.fromEntries(MODELS.map((m, i) => [m.plural, SIZES[i]]));
/** Its verification is off in GitLab: no checksum states at all. */
const UNVERIFIABLE = 'GROUP_WIKI_REPOSITORY';
/** Records the verification job moves to `started` per model, where they stay for the whole test. */
const STARTED_PER_MODEL = 7;

/** What GitLab's REST API lists for a model, page by page: in all and per checksum state. */
async function listedCounts(h: Harness, model: string, dialect: Dialect, verifiable: boolean): Promise<Pick<Summary, 'total' | 'states'>> {
  const total = (await restAll(h, model, dialect)).length;
  const states = await Promise.all(
    STATES.map(async (state, i) => {
      if (!verifiable) return { state, count: state === 'DISABLED' ? total : 0, exact: true };
      return { state, count: (await restAll(h, model, dialect, `&checksum_state=${REST_STATES[i]}`)).length, exact: true };
    }),
  );
  return { total, states };
}

describe.each(DIALECTS)('verificationSummary counts, %s dialect', (dialect) => {
  let h: Harness;
  const known = modelsOf(dialect).map((m) => m.enumName);

  beforeAll(async () => {
    h = await startFor(dialect, {
      modelRecords: MODEL_RECORDS,
      unverifiableModels: [UNVERIFIABLE],
      verifyBatchSize: STARTED_PER_MODEL,
      verifyDurationMs: 3_600_000,
    });
    // Some records of every verifiable model in `started`, so that each state the seed leaves empty is not all there is.
    expect(await startVerification(h)).toBeGreaterThan(0);
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  it(`counts every model this GitLab knows (${dialect === 'plural' ? 20 : 17}), in enum order, as a full listing does`, async () => {
    const answer = await summaries(h);
    const log = await h.upstream();
    expect(answer.map((s) => s.model)).toEqual(known);

    const counts = await standInCounts(h);
    for (const summary of answer) {
      const verifiable = summary.model !== UNVERIFIABLE;
      const listed = await listedCounts(h, summary.model, dialect, verifiable);
      expect({ total: summary.total, states: summary.states }, summary.model).toEqual(listed);
      expect(countsPart(summary), summary.model).toEqual(exactSummaryOf(summary.model, countsOf(counts, summary.model)));
      expect(summary.states.map((s) => s.state)).toEqual([...STATES]);
      expect(summary.total).toBe(summary.states.reduce((sum, s) => sum + s.count, 0));
      // A first count: no pace to measure yet.
      expect(summary.verifiedPerMinute).toBeNull();
      expect(summary.estimatedCompletionAt).toBeNull();
      expect(Date.parse(summary.observedAt)).not.toBeNaN();
      // Each model within what the README promises, and only list calls.
      const calls = callsFor(log, summary.model, dialect);
      expect(calls.length, summary.model).toBeLessThanOrEqual(callBound(summary.total, dialect));
      expect(calls.every((c) => c.method === 'GET')).toBe(true);
    }
    // Every call was one of these models'.
    expect(known.reduce((sum, model) => sum + callsFor(log, model, dialect).length, 0)).toBe(log.length);
    // The seeded sizes were counted, STARTED included.
    expect(answer.map((s) => s.total)).toEqual(modelsOf(dialect).map((m) => MODEL_RECORDS[m.plural]));
    expect(answer.filter((s) => stateCount(s, 'STARTED').count === STARTED_PER_MODEL).length).toBeGreaterThan(10);
  });

  it('a model whose verification is off: verificationEnabled false, every record DISABLED, no error', async () => {
    const [summary] = await summaries(h, [UNVERIFIABLE]);
    const total = MODEL_RECORDS.group_wiki_repositories;
    expect(countsPart(summary)).toEqual({
      model: UNVERIFIABLE,
      total,
      totalExact: true,
      verificationEnabled: false,
      states: STATES.map((state) => ({ state, count: state === 'DISABLED' ? total : 0, exact: true })),
    });
    // GitLab refuses each state's filter; then the records are counted without one.
    const calls = callsFor(await h.upstream(), UNVERIFIABLE, dialect);
    expect(calls.slice(0, 5).map((c) => c.params.checksum_state?.[0]).sort()).toEqual([...REST_STATES].sort());
    expect(calls.slice(5).length).toBeGreaterThan(0);
    expect(calls.slice(5).every((c) => c.params.checksum_state === undefined)).toBe(true);
  });

  it('answers each model once, in the order asked', async () => {
    const answer = await summaries(h, ['UPLOAD', 'LFS_OBJECT', 'UPLOAD', 'PROJECT']);
    expect(answer.map((s) => s.model)).toEqual(['UPLOAD', 'LFS_OBJECT', 'PROJECT']);
    const counts = await standInCounts(h);
    for (const summary of answer) expect(countsPart(summary)).toEqual(exactSummaryOf(summary.model, countsOf(counts, summary.model)));
  });

  it('needs a token: UNAUTHENTICATED, with path, and GitLab hears nothing', async () => {
    const res = await summaryRequest(h, undefined, null);
    expect(oneError(res, 'UNAUTHENTICATED').path).toEqual(['verificationSummary']);
    expect(res.data).toEqual({ verificationSummary: null });
    expect(await h.upstream()).toEqual([]);
  });

  it("GitLab's verdict on a token: UNAUTHENTICATED for one it does not know, FORBIDDEN for a non-administrator", async () => {
    const unknown = await summaryRequest(h, ['LFS_OBJECT'], 'glpat-not-known-to-this-gitlab');
    expect(oneError(unknown, 'UNAUTHENTICATED').path).toEqual(['verificationSummary']);
    const user = await summaryRequest(h, ['LFS_OBJECT'], USER);
    expect(oneError(user, 'FORBIDDEN').path).toEqual(['verificationSummary']);
    expect(JSON.stringify([unknown, user])).not.toMatch(/"count"/);
  });

  if (dialect === 'singular') {
    it('a model only the newer GitLab knows (PACKAGES_NUGET_SYMBOL): BAD_USER_INPUT, nothing asked of it', async () => {
      const res = await summaryRequest(h, ['PACKAGES_NUGET_SYMBOL']);
      expect(oneError(res, 'BAD_USER_INPUT').message).toMatch(/PACKAGES_NUGET_SYMBOL .*newer/);
      expect(res.data).toEqual({ verificationSummary: null });
      expect(await h.upstream()).toEqual([]);
    });
  } else {
    it('the models only the newer GitLab knows are counted like the others', async () => {
      const newer = ['PACKAGES_NUGET_SYMBOL', 'PACKAGES_DEBIAN_PROJECT_COMPONENT_FILE', 'SUPPLY_CHAIN_ATTESTATION'] as ModelName[];
      const answer = await summaries(h, newer);
      const counts = await standInCounts(h);
      expect(answer.map(countsPart)).toEqual(newer.map((model) => exactSummaryOf(model, countsOf(counts, model))));
    });
  }
});

describe('verificationSummary as the first word with a GitLab whose dialect is not known yet', () => {
  let h: Harness;

  beforeAll(async () => {
    // No warm-up: the summary itself must find out that this GitLab speaks the older dialect.
    h = await startHarness({ dialect: 'singular', verifyIntervalMs: 0, records: 30, modelRecords: { projects: 240 } }, QUIET);
  });
  afterAll(() => h?.close());

  it('learns the dialect from its first call, then counts every model of it, PROJECT once', async () => {
    const res = await summaryRequest(h);
    expect(codes(res)).toEqual([]);
    const answer = res.data!.verificationSummary!;
    expect(answer.map((s) => s.model)).toEqual(modelsOf('singular').map((m) => m.enumName));
    const counts = await standInCounts(h);
    for (const summary of answer) expect(countsPart(summary)).toEqual(exactSummaryOf(summary.model, countsOf(counts, summary.model)));

    const log = await h.upstream();
    // The plural name once, refused; everything after in the singular dialect.
    const [first, ...rest] = log.map((e) => splitPath(e)[0]);
    expect(first).toBe('projects');
    const singularNames = modelsOf('singular').map((m) => m.singular);
    expect(rest.filter((name) => !singularNames.includes(name))).toEqual([]);
    // PROJECT (240 records, several pages) counted by one computation, not again with the others.
    const projectCalls = callsFor(log, 'PROJECT', 'singular');
    expect(projectCalls.length).toBeLessThanOrEqual(callBound(240, 'singular') + 1);
    expect(projectCalls.filter((c) => c.params.checksum_state?.[0] === 'succeeded' && c.params.page?.[0] === '1')).toHaveLength(1);
  });
});
