// Identifier lists at their documented maximum (MAX_IDENTIFIERS=1000), with the longest identifiers allowed (18-digit
// integers, 255-character base64 keys): split into calls whose request line fits UPSTREAM_MAX_URL_BYTES (8192, nginx's
// default, which the stand-in enforces with 414), merged back in GitLab's order and paged with this gateway's cursors;
// a bulk recalculation goes in several PUTs that queue exactly the records named.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import { RecalculateAllChecksumsDocument, RecordCountDocument, RecordPageDocument, type ChecksumState, type ModelName, type RecordPageQuery } from '../generated/operations.js';
import type { Harness } from '../support/gateway.js';
import { answered, type Answered, DIALECTS, gets, ids, ok, oneError, puts, restAll, type RestRecord, startFor } from './helpers.js';

const MAX_IDENTIFIERS = 1000;
const URL_LIMIT = 8192;
const ENQUEUED = 'Batch update job has been successfully enqueued.';

/** `GET /api/...?... HTTP/1.1\r\n`, as nginx (and the stand-in) measure it. */
const lineBytes = (e: RequestLogEntry) => `${e.method} ${e.path}${e.query ? `?${e.query}` : ''} HTTP/1.1\r\n`.length;
const padded = (b64url: string) => b64url.padEnd(Math.ceil(b64url.length / 4) * 4, '=');
const stateOf = (r: RestRecord) => r.checksum_information!.checksum_state;

/** Interleaves two lists, so that real and made-up identifiers alternate in what the client sends. */
function interleave<T>(a: T[], b: T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < b.length) out.push(b[i]);
    if (i < a.length) out.push(a[i]);
  }
  return out;
}

describe.each(DIALECTS)('identifier lists at MAX_IDENTIFIERS, %s dialect', (dialect) => {
  let h: Harness;
  let projects: RestRecord[];
  let uploads: RestRecord[];
  /** 550 real project ids and 450 made-up 18-digit ones. */
  let integerList: string[];
  /** 300 real upload keys (sent unpadded) and 700 made-up keys of 255 characters, spread among them in key order. */
  let longList: string[];

  beforeAll(async () => {
    h = await startFor(dialect, { compositeKeyModels: ['uploads'], modelRecords: { projects: 1100, uploads: 1100 } });
    [projects, uploads] = await Promise.all([restAll(h, 'PROJECT', dialect), restAll(h, 'UPLOAD', dialect)]);
    const realProjects = ids(projects.filter((_, i) => i % 2 === 0)).slice(0, 550);
    const madeUp = Array.from({ length: 450 }, (_, i) => String(900_000_000_000_000_000n + BigInt(i * 7919)));
    integerList = interleave(realProjects, madeUp).reverse();
    const realUploads = ids(uploads.filter((_, i) => i % 3 === 1)).slice(0, 300).map((id) => id.replace(/=+$/, ''));
    const partitions = uploads.map((u) => Number(Buffer.from(String(u.record_identifier), 'base64url').toString().split(' ')[0]));
    const [low, high] = [Math.min(...partitions), Math.max(...partitions)];
    const longKeys = Array.from({ length: 700 }, (_, i) => {
      const partition = String(low + (i % (high - low + 1)));
      // 191 bytes decode from 255 base64 characters: the longest identifier allowed.
      return Buffer.from(`${partition} ${String(i).padStart(190 - partition.length, '8')}`).toString('base64url');
    });
    longList = interleave(realUploads, longKeys);
    expect(integerList).toHaveLength(MAX_IDENTIFIERS);
    expect(longList).toHaveLength(MAX_IDENTIFIERS);
    expect(longKeys.every((k) => k.length === 255)).toBe(true);
    expect(new Set(partitions).size).toBeGreaterThan(3);
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  /** Follows endCursor to the end, checking pageInfo on the way; answers every recordIdentifier in order. */
  async function walk(model: ModelName, identifiers: string[], first: number, checksumState?: ChecksumState) {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; ; page++) {
      const data: Answered<RecordPageQuery> = answered(await h.request(RecordPageDocument, { model, identifiers, first, after, checksumState }));
      const { edges, pageInfo } = data.modelRecords;
      expect(pageInfo.hasPreviousPage).toBe(page > 0);
      expect(pageInfo.startCursor).toBe(edges[0]?.cursor ?? null);
      expect(pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
      seen.push(...edges.map((e) => e.node.recordIdentifier));
      if (!pageInfo.hasNextPage) return seen;
      expect(edges).toHaveLength(first);
      after = pageInfo.endCursor;
    }
  }

  /** Every request within the limit, and the identifiers GitLab was asked about are exactly these (each spelt as GitLab does). */
  function expectSplit(log: RequestLogEntry[], sent: string[]) {
    expect(log.length).toBeGreaterThan(1);
    for (const entry of log) expect(lineBytes(entry), `${entry.method} ${entry.path}`).toBeLessThanOrEqual(URL_LIMIT);
    expect(new Set(log.flatMap((e) => e.params['identifiers[]'] ?? []))).toEqual(new Set(sent));
  }

  it('pages through 1,000 integer identifiers: every record once, ascending, with calls of at most 100 within the URL limit', async () => {
    const wanted = new Set(integerList);
    const expected = ids(projects).filter((id) => wanted.has(id));
    expect(expected).toHaveLength(550);
    expect(await walk('PROJECT', integerList, 100)).toEqual(expected);
    expect(await walk('PROJECT', integerList, 37)).toEqual(expected);
    const log = gets(await h.upstream());
    expectSplit(log, integerList);
    for (const entry of log) expect(entry.params['identifiers[]'].length).toBeLessThanOrEqual(100);
    // totalCount as one call would give it: GitLab's count where it counts (plural), else null.
    const count = answered(await h.request(RecordCountDocument, { model: 'PROJECT', identifiers: integerList }));
    expect(count.modelRecords.totalCount).toBe(dialect === 'plural' ? 550 : null);
  });

  it('pages through 1,000 identifiers of 255 characters, filtered by state too, and each call fits the limit', async () => {
    const wanted = new Set(longList.map(padded));
    const expected = ids(uploads).filter((id) => wanted.has(id));
    expect(expected).toHaveLength(300);
    expect(await walk('UPLOAD', longList, 100)).toEqual(expected);
    const log = gets(await h.upstream());
    expectSplit(log, longList.map(padded));
    // Calls are filled up to the limit: GitLab's Link header repeats such a URL, and must not break the answer.
    expect(Math.max(...log.map(lineBytes))).toBeGreaterThan(URL_LIMIT - 300);

    const succeeded = new Set(uploads.filter((u) => stateOf(u) === 'succeeded').map((u) => String(u.record_identifier)));
    const expectedSucceeded = expected.filter((id) => succeeded.has(id));
    expect(expectedSucceeded.length).toBeGreaterThan(100);
    expect(await walk('UPLOAD', longList, 64, 'SUCCEEDED')).toEqual(expectedSucceeded);
    const count = answered(await h.request(RecordCountDocument, { model: 'UPLOAD', identifiers: longList, checksumState: 'SUCCEEDED' }));
    expect(count.modelRecords.totalCount).toBe(dialect === 'plural' ? expectedSucceeded.length : null);
  });

  it("a cursor over a merged list is this query's only: elsewhere it is BAD_USER_INPUT, and nothing is sent", async () => {
    const page = answered(await h.request(RecordPageDocument, { model: 'PROJECT', identifiers: integerList, first: 10 }));
    const after = page.modelRecords.pageInfo.endCursor;
    await h.resetUpstream();
    for (const identifiers of [null, ['1', '2']]) {
      const error = oneError(await h.request(RecordPageDocument, { model: 'PROJECT', identifiers, first: 10, after }), 'BAD_USER_INPUT');
      expect(error.message).toBe('`after` is not a cursor this gateway gave out for this query.');
    }
    expect(await h.upstream()).toEqual([]);
  });

  it('300 look-ups of 255-character keys in one document go in calls within the URL limit', async () => {
    const asked = longList.slice(0, 300);
    const document = `query { ${asked.map((id, i) => `r${i}: modelRecord(model: UPLOAD, recordIdentifier: "${id}") { recordIdentifier }`).join(' ')} }`;
    const data = ok(await h.request<Record<string, { recordIdentifier: string } | null>, Record<string, never>>(document));
    const known = new Set(ids(uploads));
    asked.forEach((id, i) => expect(data[`r${i}`]).toEqual(known.has(padded(id)) ? { recordIdentifier: padded(id) } : null));
    expectSplit(gets(await h.upstream()), asked.map(padded));
  });

  if (dialect === 'plural') {
    it.each([
      ['PROJECT', () => integerList, () => projects, (id: string) => id],
      ['UPLOAD', () => longList, () => uploads, padded],
    ] as const)('recalculateAllChecksums(%s, 1,000 identifiers) sends PUTs within the limit that queue exactly the records named', async (model, list, records, spelt) => {
      const named = new Set(list().map(spelt));
      const before = records();
      const data = answered(await h.request(RecalculateAllChecksumsDocument, { model, identifiers: list() }));
      expect(data.recalculateAllChecksums).toEqual({ model, status: 'SUCCESS', message: ENQUEUED, errors: [] });
      const log = await h.upstream();
      expect(gets(log)).toEqual([]);
      expectSplit(puts(log), [...named]);
      // Each identifier in exactly one PUT.
      expect(puts(log).flatMap((e) => e.params['identifiers[]'])).toHaveLength(MAX_IDENTIFIERS);
      const expectedStates = before.map((r) => (named.has(String(r.record_identifier)) ? 'pending' : stateOf(r)));
      expect(expectedStates.filter((s, i) => s !== stateOf(before[i])).length).toBeGreaterThan(100);
      // The bulk job runs just after GitLab's answer.
      await expect.poll(async () => (await restAll(h, model, dialect)).map(stateOf), { timeout: 10_000 }).toEqual(expectedStates);
    });

    it('a later PUT that GitLab refuses stops the rest: the payload says "error", why, and how many were queued', async () => {
      const list = longList;
      const refused = padded(list[600]);
      await h.control('PUT', 'faults', { rejectedIdentifiers: [refused] });
      try {
        const data = answered(await h.request(RecalculateAllChecksumsDocument, { model: 'UPLOAD', identifiers: list }));
        const sent = puts(await h.upstream());
        const queued = sent.slice(0, -1).flatMap((e) => e.params['identifiers[]']).length;
        expect(sent.length).toBeGreaterThan(1);
        // The PUT carrying the refused identifier was the last one sent, and only once.
        expect(sent.at(-1)!.params['identifiers[]']).toContain(refused);
        expect(sent.filter((e) => e.params['identifiers[]'].includes(refused))).toHaveLength(1);
        const message = `GitLab rejected the request: 400 Bad request - Invalid composite key format (the first ${queued} of ${MAX_IDENTIFIERS} identifiers were queued before this)`;
        expect(data.recalculateAllChecksums).toEqual({ model: 'UPLOAD', status: 'ERROR', message, errors: [message] });
      } finally {
        await h.control('PUT', 'faults', { rejectedIdentifiers: [] });
      }
    });
  } else {
    it('recalculateAllChecksums(identifiers) is refused before any PUT: this GitLab would re-verify the whole model', async () => {
      oneError(await h.request(RecalculateAllChecksumsDocument, { model: 'PROJECT', identifiers: integerList }), 'BAD_USER_INPUT');
      expect(await h.upstream()).toEqual([]);
    });
  }
});
