// Batching: every modelRecord field of one operation becomes list calls of up to 100 identifiers[] per model and
// kind of key, never one call per field; a key GitLab does not have is null for that field alone.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/models.js';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import type { Harness } from '../support/gateway.js';
import { DIALECTS, gets, ids, ok, restAll, segment, splitPath, startFor, type RestRecord } from './helpers.js';

type Fields = Record<string, { recordIdentifier: string; fileSize: string | null } | null>;

/** One document of aliased modelRecord fields, e.g. `l1: modelRecord(model: LFS_OBJECT, recordIdentifier: "1") {...}`. */
function aliased(fields: { alias: string; model: string; id: string }[]): string {
  const body = fields.map((f) => `${f.alias}: modelRecord(model: ${f.model}, recordIdentifier: ${JSON.stringify(f.id)}) { recordIdentifier fileSize }`);
  return `query Batch {\n  ${body.join('\n  ')}\n}`;
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => String(from + i));
const isBase64Key = (id: string) => !/^\d+$/.test(id);

describe.each(DIALECTS)('batching, %s dialect', (dialect: Dialect) => {
  let h: Harness;
  let lfs: RestRecord[];
  let projects: RestRecord[];
  let uploads: RestRecord[];

  /** The upstream calls of one model, each checked to be a batch list call: page 1, 100 per page, identifiers[] only. */
  function batchCalls(log: RequestLogEntry[], model: string): string[][] {
    const calls = log.filter((e) => splitPath(e)[0] === segment(model, dialect));
    for (const call of calls) {
      expect(call.method).toBe('GET');
      expect(splitPath(call)).toHaveLength(1);
      expect(Object.keys(call.params).sort()).toEqual(['identifiers[]', 'page', 'per_page']);
      expect(call.params.per_page).toEqual(['100']);
      expect(call.params.page).toEqual(['1']);
    }
    return calls.map((c) => c.params['identifiers[]']);
  }

  beforeAll(async () => {
    h = await startFor(dialect, { compositeKeyModels: ['uploads'] });
    [lfs, projects, uploads] = await Promise.all([restAll(h, 'LFS_OBJECT', dialect), restAll(h, 'PROJECT', dialect), restAll(h, 'UPLOAD', dialect)]);
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  it('200 LFS_OBJECT and 50 PROJECT fields cost exactly 3 upstream calls of up to 100 identifiers[]', async () => {
    const lfsIds = range(1, 200);
    const projectIds = range(1, 50);
    const fields = [
      ...lfsIds.map((id) => ({ alias: `l${id}`, model: 'LFS_OBJECT', id })),
      ...projectIds.map((id) => ({ alias: `p${id}`, model: 'PROJECT', id })),
    ];
    const data = ok(await h.request<Fields, Record<string, never>>(aliased(fields)));

    // Each field answers its own record, or null where the table has a gap.
    const byId = (records: RestRecord[]) => new Map(records.map((r) => [String(r.record_identifier), r]));
    const lfsById = byId(lfs);
    const projectById = byId(projects);
    for (const id of lfsIds) {
      const r = lfsById.get(id);
      expect(data[`l${id}`], `l${id}`).toEqual(r ? { recordIdentifier: id, fileSize: String(r.file_size) } : null);
    }
    for (const id of projectIds) expect(data[`p${id}`], `p${id}`).toEqual(projectById.has(id) ? { recordIdentifier: id, fileSize: null } : null);
    // The seeded tables have gaps, so some fields are null and most are not.
    expect(lfsIds.filter((id) => data[`l${id}`] === null).length).toBeGreaterThan(0);
    expect(lfsIds.filter((id) => data[`l${id}`] !== null).length).toBeGreaterThan(150);

    const log = await h.upstream();
    expect(log).toHaveLength(3);
    const lfsCalls = batchCalls(log, 'LFS_OBJECT');
    const projectCalls = batchCalls(log, 'PROJECT');
    expect(lfsCalls.map((c) => c.length)).toEqual([100, 100]);
    expect(projectCalls.map((c) => c.length)).toEqual([50]);
    // Every key asked exactly once.
    expect(lfsCalls.flat().sort()).toEqual([...lfsIds].sort());
    expect(projectCalls.flat().sort()).toEqual([...projectIds].sort());
  });

  it('101 keys of one model cost 2 calls (100 + 1)', async () => {
    const keys = range(1, 101);
    const data = ok(await h.request<Fields, Record<string, never>>(aliased(keys.map((id) => ({ alias: `l${id}`, model: 'LFS_OBJECT', id })))));
    expect(Object.keys(data)).toHaveLength(101);
    const calls = batchCalls(gets(await h.upstream()), 'LFS_OBJECT');
    expect(calls.map((c) => c.length).sort((a, b) => a - b)).toEqual([1, 100]);
    expect(calls.flat().sort()).toEqual([...keys].sort());
  });

  it('never puts integer and base64 keys in one call', async () => {
    const [b1, b2] = ids(uploads).slice(0, 2);
    const padded = ids(uploads).slice(2).find((id) => id.endsWith('='))!;
    const data = ok(
      await h.request<Fields, Record<string, never>>(
        aliased([
          { alias: 'b1', model: 'UPLOAD', id: b1 },
          { alias: 'i1', model: 'UPLOAD', id: '1' },
          { alias: 'b2', model: 'UPLOAD', id: b2 },
          { alias: 'i2', model: 'UPLOAD', id: '2' },
          { alias: 'b3', model: 'UPLOAD', id: padded.replace(/=+$/, '') },
        ]),
      ),
    );
    // A composite-key model has no integer identifiers: those are null; the base64 ones resolve, in GitLab's spelling.
    expect(data).toEqual({
      b1: { recordIdentifier: b1, fileSize: String(uploads[0].file_size) },
      i1: null,
      b2: { recordIdentifier: b2, fileSize: String(uploads[1].file_size) },
      i2: null,
      b3: { recordIdentifier: padded, fileSize: String(uploads.find((u) => u.record_identifier === padded)!.file_size) },
    });
    const calls = batchCalls(await h.upstream(), 'UPLOAD');
    expect(calls).toHaveLength(2);
    const base64Call = calls.find((c) => c.every(isBase64Key))!;
    const integerCall = calls.find((c) => c.every((id) => !isBase64Key(id)))!;
    // In GitLab's own (padded) spelling, whichever the client used.
    expect(base64Call).toEqual([b1, b2, padded]);
    expect(integerCall).toEqual(['1', '2']);

    // The same holds for an integer model asked a base64 key.
    await h.resetUpstream();
    const composite = Buffer.from('100 1').toString('base64url');
    const mixed = ok(
      await h.request<Fields, Record<string, never>>(
        aliased([
          { alias: 'int', model: 'LFS_OBJECT', id: ids(lfs)[0] },
          { alias: 'b64', model: 'LFS_OBJECT', id: composite },
        ]),
      ),
    );
    expect(mixed).toEqual({ int: { recordIdentifier: ids(lfs)[0], fileSize: String(lfs[0].file_size) }, b64: null });
    expect(batchCalls(await h.upstream(), 'LFS_OBJECT').sort()).toEqual([[`${composite}=`], [ids(lfs)[0]]].sort());
  });

  it('a missing key is null for that field only, while the others resolve, without an error', async () => {
    const [a, c] = [lfs[0], lfs[5]];
    const res = await h.request<Fields, Record<string, never>>(
      aliased([
        { alias: 'a', model: 'LFS_OBJECT', id: String(a.record_identifier) },
        { alias: 'missing', model: 'LFS_OBJECT', id: '987654' },
        { alias: 'c', model: 'LFS_OBJECT', id: String(c.record_identifier) },
        { alias: 'unreadable', model: 'LFS_OBJECT', id: 'not-an-id' },
      ]),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({
      a: { recordIdentifier: String(a.record_identifier), fileSize: String(a.file_size) },
      missing: null,
      c: { recordIdentifier: String(c.record_identifier), fileSize: String(c.file_size) },
      unreadable: null,
    });
    // One call; the identifier GitLab could not read is not sent at all.
    expect(batchCalls(await h.upstream(), 'LFS_OBJECT')).toEqual([[String(a.record_identifier), '987654', String(c.record_identifier)]]);
  });

  it('asks once for a record named twice (as 7 and 007)', async () => {
    const id = ids(lfs)[6];
    const data = ok(
      await h.request<Fields, Record<string, never>>(
        aliased([
          { alias: 'a', model: 'LFS_OBJECT', id },
          { alias: 'b', model: 'LFS_OBJECT', id: `00${id}` },
          { alias: 'c', model: 'LFS_OBJECT', id },
        ]),
      ),
    );
    const expected = { recordIdentifier: id, fileSize: String(lfs[6].file_size) };
    expect(data).toEqual({ a: expected, b: expected, c: expected });
    expect(batchCalls(await h.upstream(), 'LFS_OBJECT')).toEqual([[id]]);
  });

  it('batches modelRecord fields nested in a list page too: one list call, then one batch', async () => {
    const doc = `query {
      modelRecords(model: PROJECT, first: 3) { nodes { recordIdentifier } }
      a: modelRecord(model: PROJECT, recordIdentifier: "${ids(projects)[0]}") { recordIdentifier }
      b: modelRecord(model: PROJECT, recordIdentifier: "${ids(projects)[1]}") { recordIdentifier }
    }`;
    const data = ok(await h.request<{ modelRecords: { nodes: { recordIdentifier: string }[] }; a: unknown; b: unknown }, Record<string, never>>(doc));
    expect(data.modelRecords.nodes.map((n) => n.recordIdentifier)).toEqual(ids(projects).slice(0, 3));
    expect(data.a).toEqual({ recordIdentifier: ids(projects)[0] });
    expect(data.b).toEqual({ recordIdentifier: ids(projects)[1] });
    const log = await h.upstream();
    expect(log).toHaveLength(2);
    expect(log.filter((e) => e.params['identifiers[]'])).toHaveLength(1);
    expect(log.find((e) => e.params['identifiers[]'])!.params['identifiers[]']).toEqual(ids(projects).slice(0, 2));
  });
});
