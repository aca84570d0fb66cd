// node(id:): a record read again by its global id (gid://gitlab/<ModelClass>/<recordIdentifier>), through the same
// per-operation batching as modelRecord; an id that is not one of ours is BAD_USER_INPUT, an unknown record null.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelRecordDocument, NodeDocument } from '../generated/operations.js';
import type { Harness } from '../support/gateway.js';
import { DIALECTS, gets, ids, ok, oneError, restAll, segment, splitPath, startFor, type RestRecord } from './helpers.js';

type Found = { id: string; recordIdentifier?: string } | null;

describe.each(DIALECTS)('node(id:), %s dialect', (dialect) => {
  let h: Harness;
  let projects: string[];
  let lfs: string[];
  let uploads: RestRecord[];

  beforeAll(async () => {
    h = await startFor(dialect, { compositeKeyModels: ['uploads'] });
    [projects, lfs, uploads] = await Promise.all([restAll(h, 'PROJECT', dialect).then(ids), restAll(h, 'LFS_OBJECT', dialect).then(ids), restAll(h, 'UPLOAD', dialect)]);
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  it('answers the record whose ModelRecord.id it is given, integer or composite key', async () => {
    for (const [model, recordIdentifier] of [
      ['LFS_OBJECT', lfs[2]],
      ['UPLOAD', String(uploads[3].record_identifier)],
    ] as const) {
      const record = ok(await h.request(ModelRecordDocument, { model, recordIdentifier })).modelRecord!;
      const node = ok(await h.request(NodeDocument, { id: record.id })).node;
      expect(node).toEqual({ __typename: 'ModelRecord', id: record.id, model, recordIdentifier, checksumInformation: { checksumState: record.checksumInformation!.checksumState } });
    }
  });

  it('several look-ups of one document, node and modelRecord alike, are one list call per model', async () => {
    const res = await h.request<Record<string, Found>, Record<string, never>>(`{
      a: node(id: "gid://gitlab/Project/${projects[0]}") { id }
      b: node(id: "gid://gitlab/LfsObject/${lfs[0]}") { id }
      c: node(id: "gid://gitlab/Project/${projects[1]}") { id }
      d: modelRecord(model: PROJECT, recordIdentifier: "${projects[2]}") { id }
      e: node(id: "gid://gitlab/LfsObject/${lfs[1]}") { id ... on ModelRecord { recordIdentifier } }
    }`);
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({
      a: { id: `gid://gitlab/Project/${projects[0]}` },
      b: { id: `gid://gitlab/LfsObject/${lfs[0]}` },
      c: { id: `gid://gitlab/Project/${projects[1]}` },
      d: { id: `gid://gitlab/Project/${projects[2]}` },
      e: { id: `gid://gitlab/LfsObject/${lfs[1]}`, recordIdentifier: lfs[1] },
    });
    const log = gets(await h.upstream());
    expect(log).toHaveLength(2);
    const asked = Object.fromEntries(log.map((e) => [splitPath(e)[0], [...e.params['identifiers[]']].sort()]));
    expect(asked).toEqual({
      [segment('PROJECT', dialect)]: [projects[0], projects[1], projects[2]].sort(),
      [segment('LFS_OBJECT', dialect)]: [lfs[0], lfs[1]].sort(),
    });
  });

  it('an unknown record is null without an error', async () => {
    const res = await h.request(NodeDocument, { id: 'gid://gitlab/Project/99999999' });
    expect(ok(res)).toEqual({ node: null });
    expect(gets(await h.upstream()).map((e) => e.params['identifiers[]'])).toEqual([['99999999']]);
  });

  it('an id that is not a global id of ours is BAD_USER_INPUT for its own alias, before anything is sent for it', async () => {
    const bad = [
      '1',
      'gid://gitlab/Issue/1',
      'gid://gitlab/Project/',
      'gid://gitlab/Project/1/2',
      'gid://gitlab/Project/..',
      'gid://gitlab//1',
      'gid://github/Project/1',
      `gid://gitlab/Project/${'1'.repeat(300)}`,
    ];
    const fields = bad.map((id, i) => `x${i}: node(id: ${JSON.stringify(id)}) { id }`).join('\n');
    const res = await h.request<Record<string, Found>, Record<string, never>>(`{ ${fields}\n good: node(id: "gid://gitlab/Project/${projects[4]}") { id } }`);
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ ...Object.fromEntries(bad.map((_, i) => [`x${i}`, null])), good: { id: `gid://gitlab/Project/${projects[4]}` } });
    expect(res.errors?.map((e) => [e.path, e.extensions?.code])).toEqual(bad.map((_, i) => [[`x${i}`], 'BAD_USER_INPUT']));
    expect(res.errors![1].message).toBe('"gid://gitlab/Issue/1" is not a global id of this gateway: gid://gitlab/<ModelClass>/<recordIdentifier>, of a model the `models` query lists.');
    // Only the good id was asked for.
    expect(gets(await h.upstream()).map((e) => e.params['identifiers[]'])).toEqual([[projects[4]]]);
  });

  it('needs a token like every look-up: UNAUTHENTICATED, nothing sent', async () => {
    const res = await h.request(NodeDocument, { id: `gid://gitlab/Project/${projects[0]}` }, { token: null });
    oneError(res, 'UNAUTHENTICATED');
    expect(res.data).toEqual({ node: null });
    expect(await h.upstream()).toEqual([]);
  });
});
