// modelRecords: Relay pages over GitLab's offset pages (singular dialect) or keyset pages (plural dialect).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelRecordsDocument, RecordCountDocument, RecordPageDocument, type ModelName, type RecordPageQuery } from '../generated/operations.js';
import type { Harness } from '../support/gateway.js';
import { answered, type Answered, DIALECTS, gets, ids, ok, oneError, restAll, type RestRecord, segment, splitPath, startFor } from './helpers.js';

const MODEL: ModelName = 'LFS_OBJECT';

describe.each(DIALECTS)('modelRecords, %s dialect', (dialect) => {
  let h: Harness;
  let all: RestRecord[];
  let uploads: RestRecord[];

  beforeAll(async () => {
    h = await startFor(dialect, { compositeKeyModels: ['uploads'], unverifiableModels: ['merge_request_diffs'] });
    all = await restAll(h, MODEL, dialect);
    uploads = await restAll(h, 'UPLOAD', dialect);
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  /** Follows endCursor until hasNextPage is false, with page sizes taken in turn from `sizes`. */
  async function walk(model: ModelName, sizes: number[]) {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const first = sizes[pages % sizes.length];
      const data: Answered<RecordPageQuery> = answered(await h.request(RecordPageDocument, { model, first, after }));
      const { edges, pageInfo } = data.modelRecords;
      pages++;
      expect(pageInfo.hasPreviousPage).toBe(after !== null);
      expect(pageInfo.startCursor).toBe(edges[0]?.cursor ?? null);
      expect(pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
      if (pageInfo.hasNextPage) expect(edges).toHaveLength(first);
      else expect(edges.length).toBeLessThanOrEqual(first);
      seen.push(...edges.map((e) => e.node.recordIdentifier));
      if (!pageInfo.hasNextPage) return { seen, pages };
      expect(pages).toBeLessThan(300);
      after = pageInfo.endCursor;
    }
  }

  it('the stand-in holds the 250 records these tests expect', () => {
    expect(all).toHaveLength(250);
    expect(uploads).toHaveLength(250);
  });

  it('gives 20 records by default, the first 20 in ascending order, in one upstream call', async () => {
    const data = answered(await h.request(ModelRecordsDocument, { model: MODEL }));
    const page = data.modelRecords;
    expect(page.nodes.map((n) => n.recordIdentifier)).toEqual(ids(all).slice(0, 20));
    expect(page.edges.map((e) => e.node.recordIdentifier)).toEqual(ids(all).slice(0, 20));
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(page.pageInfo.hasPreviousPage).toBe(false);
    // Every field as GitLab sent it.
    const first = all[0];
    expect(page.nodes[0]).toEqual({
      id: `gid://gitlab/LfsObject/${first.record_identifier}`,
      model: 'LFS_OBJECT',
      recordIdentifier: String(first.record_identifier),
      modelClass: 'LfsObject',
      createdAt: first.created_at,
      fileSize: String(first.file_size),
      checksumInformation: {
        checksum: first.checksum_information!.checksum,
        lastChecksum: first.checksum_information!.last_checksum,
        checksumState: first.checksum_information!.checksum_state.toUpperCase(),
        checksumRetryCount: first.checksum_information!.checksum_retry_count,
        checksumRetryAt: first.checksum_information!.checksum_retry_at,
        checksumFailure: first.checksum_information!.checksum_failure,
      },
    });

    const listCalls = gets(await h.upstream()).filter((e) => e.params.per_page?.[0] !== '1');
    expect(listCalls).toHaveLength(1);
    expect(splitPath(listCalls[0])).toEqual([segment(MODEL, dialect)]);
    if (dialect === 'plural') expect(listCalls[0].params).toEqual({ pagination: ['keyset'], per_page: ['20'] });
    else expect(listCalls[0].params).toEqual({ page: ['1'], per_page: ['20'] });
  });

  it('`first` sets the page size, upstream too', async () => {
    const data = answered(await h.request(RecordPageDocument, { model: MODEL, first: 5 }));
    expect(data.modelRecords.edges.map((e) => e.node.recordIdentifier)).toEqual(ids(all).slice(0, 5));
    const log = await h.upstream();
    expect(log).toHaveLength(1);
    expect(log[0].params.per_page).toEqual(['5']);
  });

  it('walks all 250 records with after/endCursor: none missing, none repeated, ascending', async () => {
    const { seen, pages } = await walk(MODEL, [20]);
    expect(seen).toEqual(ids(all));
    expect(new Set(seen).size).toBe(250);
    expect(pages).toBe(13);

    const log = await h.upstream();
    // One GitLab page per Relay page, in the dialect's own pagination.
    expect(log).toHaveLength(13);
    for (const [i, entry] of log.entries()) {
      expect(entry.method).toBe('GET');
      expect(splitPath(entry)).toEqual([segment(MODEL, dialect)]);
      expect(entry.params.per_page).toEqual(['20']);
      if (dialect === 'plural') {
        expect(entry.params.pagination).toEqual(['keyset']);
        expect(entry.params.page).toBeUndefined();
        expect(entry.params.cursor === undefined).toBe(i === 0);
      } else {
        expect(entry.params.page).toEqual([String(i + 1)]);
        expect(entry.params.pagination).toBeUndefined();
        expect(entry.params.cursor).toBeUndefined();
      }
    }
  });

  it('walks completely with an odd page size (first: 7)', async () => {
    const { seen, pages } = await walk(MODEL, [7]);
    expect(seen).toEqual(ids(all));
    expect(pages).toBe(Math.ceil(250 / 7));
    expect(gets(await h.upstream())).toHaveLength(Math.ceil(250 / 7));
  });

  it('walks completely when the page size changes from page to page', async () => {
    const { seen } = await walk(MODEL, [7, 13, 100, 1, 33]);
    expect(seen).toEqual(ids(all));
  });

  it('continues after the cursor of an edge in the middle of a page', async () => {
    const first = answered(await h.request(RecordPageDocument, { model: MODEL, first: 7 }));
    const after = first.modelRecords.edges[2].cursor;
    const next = answered(await h.request(RecordPageDocument, { model: MODEL, first: 5, after }));
    expect(next.modelRecords.edges.map((e) => e.node.recordIdentifier)).toEqual(ids(all).slice(3, 8));
    expect(next.modelRecords.pageInfo.hasPreviousPage).toBe(true);
    expect(next.modelRecords.pageInfo.hasNextPage).toBe(true);
  });

  it('a page ending exactly on the last record has hasNextPage false', async () => {
    const head = answered(await h.request(RecordPageDocument, { model: MODEL, first: 50 }));
    let after = head.modelRecords.pageInfo.endCursor;
    for (let page = 2; page <= 5; page++) {
      const data = answered(await h.request(RecordPageDocument, { model: MODEL, first: 50, after }));
      expect(data.modelRecords.edges).toHaveLength(50);
      expect(data.modelRecords.pageInfo.hasNextPage).toBe(page < 5);
      after = data.modelRecords.pageInfo.endCursor;
    }
  });

  it(`totalCount is ${dialect === 'plural' ? '250 (X-Total)' : 'null: this GitLab does not count'}`, async () => {
    const data = answered(await h.request(RecordCountDocument, { model: MODEL }));
    expect(data.modelRecords.totalCount).toBe(dialect === 'plural' ? 250 : null);
    const log = gets(await h.upstream());
    if (dialect === 'plural') {
      // Keyset pages carry no count: one extra offset call of a single record asks for it.
      expect(log).toHaveLength(2);
      expect(log[1].params).toEqual({ page: ['1'], per_page: ['1'] });
    } else {
      // The offset page already said there is no count: asking again would only cost a call.
      expect(log).toHaveLength(1);
    }
  });

  it('totalCount counts the filtered records and is the same on a later page', async () => {
    const failed = all.filter((r) => r.checksum_information!.checksum_state === 'failed');
    expect(failed.length).toBeGreaterThan(3);
    const data = answered(await h.request(RecordCountDocument, { model: MODEL, checksumState: 'FAILED' }));
    expect(data.modelRecords.totalCount).toBe(dialect === 'plural' ? failed.length : null);
    const page1 = answered(await h.request(ModelRecordsDocument, { model: MODEL, first: 2 }));
    const page2 = answered(await h.request(ModelRecordsDocument, { model: MODEL, first: 2, after: page1.modelRecords.pageInfo.endCursor }));
    expect(page2.modelRecords.totalCount).toBe(dialect === 'plural' ? 250 : null);
  });

  it('filters by checksumState, upstream as checksum_state', async () => {
    for (const [state, name] of [
      ['FAILED', 'failed'],
      ['PENDING', 'pending'],
    ] as const) {
      const expected = all.filter((r) => r.checksum_information!.checksum_state === name);
      expect(expected.length).toBeGreaterThan(0);
      await h.resetUpstream();
      const data = answered(await h.request(ModelRecordsDocument, { model: MODEL, checksumState: state, first: 100 }));
      expect(data.modelRecords.nodes.map((n) => n.recordIdentifier)).toEqual(ids(expected));
      expect(data.modelRecords.nodes.every((n) => n.checksumInformation?.checksumState === state)).toBe(true);
      expect(data.modelRecords.pageInfo.hasNextPage).toBe(false);
      for (const entry of gets(await h.upstream())) expect(entry.params.checksum_state).toEqual([name]);
    }
  });

  it('filters by identifiers: ascending whatever the order asked, unknown ones absent', async () => {
    const wanted = [ids(all)[40], ids(all)[3], '999999', ids(all)[17]];
    const data = answered(await h.request(RecordPageDocument, { model: MODEL, identifiers: wanted }));
    expect(data.modelRecords.edges.map((e) => e.node.recordIdentifier)).toEqual([ids(all)[3], ids(all)[17], ids(all)[40]]);
    expect(data.modelRecords.pageInfo.hasNextPage).toBe(false);
    const log = await h.upstream();
    expect(log).toHaveLength(1);
    expect(log[0].params['identifiers[]']).toEqual(wanted);
  });

  it('walks a filtered list page by page', async () => {
    const failed = ids(all.filter((r) => r.checksum_information!.checksum_state === 'failed'));
    const seen: string[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 50; guard++) {
      const data: Answered<RecordPageQuery> = answered(await h.request(RecordPageDocument, { model: MODEL, checksumState: 'FAILED', first: 2, after }));
      seen.push(...data.modelRecords.edges.map((e) => e.node.recordIdentifier));
      if (!data.modelRecords.pageInfo.hasNextPage) break;
      after = data.modelRecords.pageInfo.endCursor;
    }
    expect(seen).toEqual(failed);
  });

  it('lists a model with composite keys: base64 identifiers, walked completely', async () => {
    expect(String(uploads[0].record_identifier)).toMatch(/^[A-Za-z0-9_-]+={0,2}$/);
    const data = answered(await h.request(ModelRecordsDocument, { model: 'UPLOAD', first: 3 }));
    expect(data.modelRecords.nodes.map((n) => n.recordIdentifier)).toEqual(ids(uploads).slice(0, 3));
    expect(data.modelRecords.nodes[0].id).toBe(`gid://gitlab/Upload/${uploads[0].record_identifier}`);
    const { seen } = await walk('UPLOAD', [30]);
    expect(seen).toEqual(ids(uploads));
  });

  it('filters a composite-key model by base64 identifiers, padded or not', async () => {
    const padded = ids(uploads).filter((id) => id.endsWith('='));
    expect(padded.length).toBeGreaterThan(1);
    const wanted = [padded[1], padded[0].replace(/=+$/, '')];
    const data = answered(await h.request(RecordPageDocument, { model: 'UPLOAD', identifiers: wanted }));
    const expected = ids(uploads).filter((id) => id === padded[0] || id === padded[1]);
    expect(data.modelRecords.edges.map((e) => e.node.recordIdentifier)).toEqual(expected);
  });

  it('`first` outside 1..100 is BAD_USER_INPUT and nothing is asked upstream', async () => {
    for (const first of [0, -1, 101, 1000]) {
      const res = await h.request(RecordPageDocument, { model: MODEL, first });
      const error = oneError(res, 'BAD_USER_INPUT');
      expect(error.message).toBe('first must be between 1 and 100.');
      expect(res.data).toEqual({ modelRecords: null });
    }
    expect(await h.upstream()).toEqual([]);
  });

  it('a bogus `after` is BAD_USER_INPUT and nothing is asked upstream', async () => {
    const bogus = [
      'bogus',
      'not base64 at all!',
      Buffer.from('{"o":-1}').toString('base64url'),
      Buffer.from('{"k":5,"s":0}').toString('base64url'),
      Buffer.from('[]').toString('base64url'),
      Buffer.from('{"id":"12"}').toString('base64url'),
    ];
    for (const after of bogus) {
      const res = await h.request(RecordPageDocument, { model: MODEL, first: 5, after });
      oneError(res, 'BAD_USER_INPUT');
      expect(res.data).toEqual({ modelRecords: null });
    }
    expect(await h.upstream()).toEqual([]);
  });

  if (dialect === 'plural') {
    it('keyset: each next GitLab page starts after the last record of the page before', async () => {
      const { seen } = await walk(MODEL, [50]);
      const log = gets(await h.upstream());
      expect(log).toHaveLength(5);
      for (let i = 1; i < 5; i++) {
        // GitLab's own cursor from its Link header, passed on untouched.
        const cursor = JSON.parse(Buffer.from(log[i].params.cursor[0], 'base64url').toString('utf8')) as { id: string };
        expect(cursor).toEqual({ id: seen[i * 50 - 1] });
      }
    });
  }

  it('filtering a model whose verification is off by checksumState is GitLab\'s 400, as BAD_USER_INPUT', async () => {
    const res = await h.request(RecordPageDocument, { model: 'MERGE_REQUEST_DIFF', checksumState: 'FAILED' });
    expect(oneError(res, 'BAD_USER_INPUT').message).toBe('GitLab rejected the request: 400 Bad request - MergeRequestDiff is not a verifiable model.');
    // Listed without the filter, its records have no checksum information.
    const data = answered(await h.request(ModelRecordsDocument, { model: 'MERGE_REQUEST_DIFF', first: 3 }));
    expect(data.modelRecords.nodes.map((n) => n.checksumInformation)).toEqual([null, null, null]);
  });

  it('more identifiers than MAX_IDENTIFIERS (1000) is BAD_USER_INPUT and nothing is asked upstream', async () => {
    const res = await h.request(RecordPageDocument, { model: MODEL, identifiers: Array.from({ length: 1001 }, (_, i) => String(i + 1)) });
    expect(oneError(res, 'BAD_USER_INPUT').message).toBe('At most 1000 identifiers are accepted, got 1001.');
    expect(await h.upstream()).toEqual([]);
  });
});
