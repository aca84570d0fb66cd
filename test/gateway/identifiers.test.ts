// One reading of identifiers for every path to GitLab: a wrongly padded base64 key is sent as GitLab spells it, an id
// GitLab refuses fails only its own look-up, and anything that is not an identifier, or is oversized (an identifier,
// a cursor), is BAD_USER_INPUT before anything is sent.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelRecordDocument, RecalculateAllChecksumsDocument, RecalculateChecksumDocument, RecordPageDocument } from '../generated/operations.js';
import type { Harness } from '../support/gateway.js';
import { codes, DIALECTS, gets, ids, oneError, ok, restAll, startFor, type RestRecord } from './helpers.js';

type Looked = Record<string, { recordIdentifier: string } | null>;

/** One document with an aliased modelRecord look-up per identifier (as variables, so nothing is escaped by hand). */
function lookUps(model: string, identifiers: string[]): { query: string; variables: Record<string, string> } {
  const declared = identifiers.map((_, i) => `$v${i}: ID!`).join(', ');
  const fields = identifiers.map((_, i) => `r${i}: modelRecord(model: ${model}, recordIdentifier: $v${i}) { recordIdentifier }`).join('\n');
  return { query: `query LookUps(${declared}) {\n${fields}\n}`, variables: Object.fromEntries(identifiers.map((id, i) => [`v${i}`, id])) };
}

describe.each(DIALECTS)('identifiers, %s dialect', (dialect) => {
  let h: Harness;
  let uploads: RestRecord[];
  let projects: RestRecord[];

  beforeAll(async () => {
    h = await startFor(dialect, { compositeKeyModels: ['uploads'] });
    [uploads, projects] = await Promise.all([restAll(h, 'UPLOAD', dialect), restAll(h, 'PROJECT', dialect)]);
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  it('a wrongly padded base64 key (MSAy== style) is sent as GitLab spells it, and fails none of the look-ups batched with it', async () => {
    const unpaddedKey = ids(uploads).find((id) => !id.endsWith('='))!;
    const others = ids(uploads).filter((id) => id !== unpaddedKey).slice(0, 5);
    // GitLab's strict decoder refuses `<key>==` when the key needs no padding.
    const wronglyPadded = `${unpaddedKey}==`;
    const { query, variables } = lookUps('UPLOAD', [...others.slice(0, 2), wronglyPadded, ...others.slice(2)]);
    const data = ok(await h.request<Looked, Record<string, string>>(query, variables));
    expect(Object.values(data).map((r) => r?.recordIdentifier)).toEqual([...others.slice(0, 2), unpaddedKey, ...others.slice(2)]);
    const log = gets(await h.upstream());
    expect(log).toHaveLength(1);
    expect(log[0].params['identifiers[]']).toEqual([...others.slice(0, 2), unpaddedKey, ...others.slice(2)]);
  });

  it('an identifier GitLab refuses fails only its own look-up: the batch is split until the refused one stands alone', async () => {
    const asked = ids(uploads).slice(10, 26);
    const refused = asked[11];
    await h.control('PUT', 'faults', { rejectedIdentifiers: [refused] });
    try {
      const { query, variables } = lookUps('UPLOAD', asked);
      const res = await h.request<Looked, Record<string, string>>(query, variables);
      expect(res.errors?.map((e) => [e.path, e.extensions?.code, e.message])).toEqual([
        [['r11'], 'BAD_USER_INPUT', 'GitLab rejected the request: 400 Bad request - Invalid composite key format'],
      ]);
      asked.forEach((id, i) => expect(res.data?.[`r${i}`]).toEqual(i === 11 ? null : { recordIdentifier: id }));
      // One call for the batch, then halves down to the refused identifier: at most 2 x log2(16) more.
      const log = gets(await h.upstream());
      expect(log.length).toBeGreaterThan(1);
      expect(log.length).toBeLessThanOrEqual(1 + 2 * 4);
      expect(log.filter((e) => e.params['identifiers[]'].includes(refused)).at(-1)!.params['identifiers[]']).toEqual([refused]);
    } finally {
      await h.control('PUT', 'faults', { rejectedIdentifiers: [] });
    }
  });

  it('recalculateChecksum refuses what is not an identifier before it reaches a path: ".", "..", "%2E", "a/b", a lone surrogate, ""', async () => {
    for (const recordIdentifier of ['.', '..', '%2E', 'a/b', '\ud800', '']) {
      const res = await h.request(RecalculateChecksumDocument, { model: 'PROJECT', recordIdentifier });
      oneError(res, 'BAD_USER_INPUT');
      expect(res.data, JSON.stringify(recordIdentifier)).toEqual({ recalculateChecksum: null });
    }
    expect(await h.upstream()).toEqual([]);
  });

  it('a lone surrogate is no identifier anywhere: null for modelRecord, BAD_USER_INPUT in lists, and nothing is sent', async () => {
    expect(ok(await h.request(ModelRecordDocument, { model: 'PROJECT', recordIdentifier: '\ud800' }))).toEqual({ modelRecord: null });
    expect(codes(await h.request(RecordPageDocument, { model: 'PROJECT', identifiers: ['1', '\ud800'] }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await h.request(RecalculateAllChecksumsDocument, { model: 'PROJECT', identifiers: ['\ud800'] }))).toEqual(['BAD_USER_INPUT']);
    expect(await h.upstream()).toEqual([]);
  });

  it('a list mixing integers and base64 keys is BAD_USER_INPUT before any call (GitLab refuses the mix)', async () => {
    const mixed = [String(projects[0].record_identifier), ids(uploads)[0]];
    const error = oneError(await h.request(RecordPageDocument, { model: 'UPLOAD', identifiers: mixed }), 'BAD_USER_INPUT');
    expect(error.message).toBe('identifiers must be all integers or all base64 composite keys: GitLab cannot take both in one list.');
    expect(codes(await h.request(RecalculateAllChecksumsDocument, { model: 'UPLOAD', identifiers: mixed }))).toEqual(['BAD_USER_INPUT']);
    expect(await h.upstream()).toEqual([]);
  });

  it('a 900 KB identifier is BAD_USER_INPUT everywhere, and nothing is sent', async () => {
    // Well-formed: base64 of a composite key, so only its length is wrong.
    const huge = Buffer.from(`1 ${'2'.repeat(675_000)}`).toString('base64url');
    expect(huge.length).toBeGreaterThan(900_000);
    const answers = [
      await h.request(ModelRecordDocument, { model: 'UPLOAD', recordIdentifier: huge }),
      await h.request(RecordPageDocument, { model: 'UPLOAD', identifiers: [huge] }),
      await h.request(RecalculateChecksumDocument, { model: 'UPLOAD', recordIdentifier: huge }),
      await h.request(RecalculateAllChecksumsDocument, { model: 'UPLOAD', identifiers: [huge] }),
    ];
    for (const res of answers) {
      const error = oneError(res, 'BAD_USER_INPUT');
      expect(error.message).toBe(`An identifier is at most 255 characters long (without base64 padding), got one of ${huge.length}.`);
    }
    expect(await h.upstream()).toEqual([]);
  });

  it('a 100 KB `after` cursor is BAD_USER_INPUT, even one that decodes, and nothing is sent', async () => {
    const decodable = Buffer.from(JSON.stringify({ k: 'x'.repeat(100_000), s: 0 })).toString('base64url');
    const longKeyset = Buffer.from(JSON.stringify({ k: 'x'.repeat(2_000), s: 0 })).toString('base64url');
    for (const after of [decodable, 'A'.repeat(100_000), longKeyset]) {
      const error = oneError(await h.request(RecordPageDocument, { model: 'PROJECT', first: 5, after }), 'BAD_USER_INPUT');
      expect(error.message).toBe('`after` is not a cursor this gateway gave out for this query.');
    }
    expect(await h.upstream()).toEqual([]);
  });
});
