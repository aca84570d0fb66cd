// What one query or mutation may make the gateway ask GitLab: identical list calls of one operation are made once and
// shared by every alias that needs them, and no operation makes more than UPSTREAM_MAX_CALLS_PER_OPERATION calls (100):
// the call past it fails its field with BAD_USER_INPUT, and the fields already answered keep their data.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Harness } from '../support/gateway.js';
import { DIALECTS, gets, ids, puts, restAll, startFor } from './helpers.js';

type Page = { totalCount: number | null; nodes?: { recordIdentifier: string }[]; pageInfo?: { hasNextPage: boolean; endCursor: string | null } };

const TOO_MANY = (max: number) => `This operation needs more than ${max} calls to GitLab (UPSTREAM_MAX_CALLS_PER_OPERATION): ask for fewer records, or split it into several operations.`;

const PAGE = 'totalCount nodes { recordIdentifier } pageInfo { hasNextPage endCursor }';

/** `count` aliases of the same list of identifiers, each with this selection. */
function wideQuery(count: number, selection = 'totalCount'): string {
  const aliases = Array.from({ length: count }, (_, i) => `a${i}: modelRecords(model: PROJECT, identifiers: $ids, first: 100) { ${selection} }`);
  return `query Wide($ids: [ID!]) { ${aliases.join(' ')} }`;
}

describe.each(DIALECTS)('list calls of one operation, %s dialect', (dialect) => {
  let h: Harness;
  let projectIds: string[];

  beforeAll(async () => {
    h = await startFor(dialect, { modelRecords: { projects: 1100 } });
    projectIds = ids(await restAll(h, 'PROJECT', dialect));
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  /** The answer and the calls of `count` aliases of one list, and of one alone: the same calls, each made once. */
  async function sameAsOne(count: number, list: string[], selection: string) {
    await h.resetUpstream();
    const alone = await h.request<Record<string, Page>, { ids: string[] }>(wideQuery(1, selection), { ids: list });
    expect(alone.errors).toBeUndefined();
    const aloneCalls = gets(await h.upstream());
    await h.resetUpstream();
    const wide = await h.request<Record<string, Page>, { ids: string[] }>(wideQuery(count, selection), { ids: list });
    expect(wide.errors).toBeUndefined();
    const calls = gets(await h.upstream());
    // The calls one alias makes, each once: not `count` times as many.
    expect(calls.map((c) => c.query).sort()).toEqual(aloneCalls.map((c) => c.query).sort());
    expect(new Set(calls.map((c) => c.query)).size).toBe(calls.length);
    for (let i = 0; i < count; i++) expect(wide.data![`a${i}`], `a${i}`).toEqual(alone.data!.a0);
    return { answer: alone.data!.a0, calls };
  }

  it('140 aliases counting one 1,000-identifier list cost GitLab what one alias does, at most 10 calls', async () => {
    // The client's order, not GitLab's: the gateway sorts, splits into calls of 100, and merges.
    const list = projectIds.slice(0, 1000).reverse();
    const { answer, calls } = await sameAsOne(140, list, 'totalCount');
    expect(answer).toEqual({ totalCount: dialect === 'plural' ? 1000 : null });
    // Plural: GitLab counts, so each of the 10 calls of 100 is asked; singular: only the page's two (the first call
    // already shows GitLab does not count).
    expect(calls).toHaveLength(dialect === 'plural' ? 10 : 2);
  });

  it('30 aliases reading a page of it share the same calls, and each gets the page one alias gets', async () => {
    const { answer, calls } = await sameAsOne(30, projectIds.slice(0, 1000).reverse(), PAGE);
    expect(answer.nodes!.map((n) => n.recordIdentifier)).toEqual(projectIds.slice(0, 100));
    expect(answer.pageInfo!.hasNextPage).toBe(true);
    expect(calls.length).toBeLessThanOrEqual(10);
  });

  it('a document that needs 101 distinct calls: 100 aliases answer, the one past the budget gets BAD_USER_INPUT, GitLab gets 100 calls', async () => {
    const aliases = projectIds.slice(0, 101).map((id, i) => `a${i}: modelRecords(model: PROJECT, identifiers: ["${id}"]) { nodes { recordIdentifier } }`);
    const res = await h.request<Record<string, { nodes: { recordIdentifier: string }[] } | null>, Record<string, never>>(`query { ${aliases.join(' ')} }`);
    expect(res.status).toBe(200);
    expect(res.errors).toHaveLength(1);
    const [error] = res.errors!;
    expect(error).toMatchObject({ message: TOO_MANY(100), extensions: { code: 'BAD_USER_INPUT' } });
    const refused = error.path![0] as string;
    expect(res.data![refused]).toBeNull();
    projectIds.slice(0, 101).forEach((id, i) => {
      if (`a${i}` !== refused) expect(res.data![`a${i}`], `a${i}`).toEqual({ nodes: [{ recordIdentifier: id }] });
    });
    expect(gets(await h.upstream())).toHaveLength(100);
  });
});

describe('a budget of 2 calls (UPSTREAM_MAX_CALLS_PER_OPERATION=2)', () => {
  let h: Harness;
  let projectIds: string[];

  beforeAll(async () => {
    h = await startFor('plural', { modelRecords: { projects: 1100 } }, { UPSTREAM_MAX_CALLS_PER_OPERATION: '2' });
    projectIds = ids(await restAll(h, 'PROJECT', 'plural'));
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  it('a merged list that needs 10 calls: the page read within the budget answers, its count fails, GitLab gets 2 calls', async () => {
    const res = await h.request<{ big: Page | null }, { ids: string[] }>(
      'query ($ids: [ID!]) { big: modelRecords(model: PROJECT, identifiers: $ids, first: 100) { nodes { recordIdentifier } totalCount } }',
      { ids: projectIds.slice(0, 1000) },
    );
    expect(res.errors).toEqual([expect.objectContaining({ message: TOO_MANY(2), path: ['big', 'totalCount'], extensions: { code: 'BAD_USER_INPUT', maxCalls: 2 } })]);
    expect(res.data!.big!.nodes!.map((n) => n.recordIdentifier)).toEqual(projectIds.slice(0, 100));
    expect(res.data!.big!.totalCount).toBeNull();
    expect(gets(await h.upstream())).toHaveLength(2);
  });

  it('mutations count too: a bulk recalculation that needs more PUTs than are left is refused before the first is sent', async () => {
    const bulk = (alias: string, list: string[]) => `${alias}: recalculateAllChecksums(model: PROJECT, identifiers: [${list.map((id) => `"${id}"`).join(', ')}]) { status }`;
    // 1,000 identifiers go in several PUTs within the URL limit: more than 2.
    const long = await h.request<Record<string, { status: string } | null>, Record<string, never>>(`mutation { ${bulk('long', projectIds.slice(0, 1000))} }`);
    expect(long.errors).toEqual([expect.objectContaining({ message: TOO_MANY(2), path: ['long'], extensions: { code: 'BAD_USER_INPUT', maxCalls: 2 } })]);
    expect(long.data).toEqual({ long: null });
    expect(await h.upstream()).toEqual([]);

    // One PUT each: the third alias is past the budget, the first two are done.
    const three = await h.request<Record<string, { status: string } | null>, Record<string, never>>(
      `mutation { ${bulk('a', projectIds.slice(0, 5))} ${bulk('b', projectIds.slice(5, 10))} ${bulk('c', projectIds.slice(10, 15))} }`,
    );
    expect(three.data).toEqual({ a: { status: 'SUCCESS' }, b: { status: 'SUCCESS' }, c: null });
    expect(three.errors).toEqual([expect.objectContaining({ path: ['c'], extensions: { code: 'BAD_USER_INPUT', maxCalls: 2 } })]);
    expect(puts(await h.upstream()).map((p) => p.params['identifiers[]'])).toEqual([projectIds.slice(0, 5), projectIds.slice(5, 10)]);
  });

  it('each operation has its own budget', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await h.request<{ r: { recordIdentifier: string } | null }, Record<string, never>>(`query { r: modelRecord(model: PROJECT, recordIdentifier: "${projectIds[i]}") { recordIdentifier } }`);
      expect(res.errors).toBeUndefined();
      expect(res.data).toEqual({ r: { recordIdentifier: projectIds[i] } });
    }
    expect(gets(await h.upstream())).toHaveLength(3);
  });
});
