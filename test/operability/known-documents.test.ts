// A document whose text came before and validated runs again without its parse and validation (fast-path.ts): the
// second sending of every request here must be answered exactly as the first, with the same log line and upstream call,
// and a document that did not validate must be refused again, however often it comes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './gateway.js';
import { projectIds, sample, type PostOptions, type Posted } from './helpers.js';

let gw: TestGateway;
let ids: string[];

beforeAll(async () => {
  gw = await startTestGateway({ standIn: { failRate: 0 } });
  ids = await projectIds(gw.standIn.url, 4);
});
afterAll(async () => {
  await gw?.close();
});

/** What a client sees of an answer: its status, content type and body. */
const seen = (res: Posted) => ({ status: res.status, type: res.headers.get('content-type'), body: res.body });

/** Sends the request twice (as new, then as known): both answers, the log lines of each and the upstream calls of each. */
async function twice(query: string, options: PostOptions = {}) {
  const rounds = [];
  for (const round of ['first', 'again']) {
    await gw.resetUpstream();
    const requestId = `known-${round}-${Math.random().toString(36).slice(2)}`;
    const res = await gw.post(query, { ...options, requestId });
    const lines = gw.logs().filter((l) => l.requestId === requestId && 'operation' in l);
    const upstream = (await gw.upstream()).map((r) => `${r.method} ${r.path}?${r.query}`);
    rounds.push({ answer: seen(res), lines: lines.map(({ time, durationMs, requestId, ...rest }) => rest), upstream });
  }
  return rounds;
}

const RECORD = /* GraphQL */ `query Record($id: ID!) { modelRecord(model: PROJECT, recordIdentifier: $id) { recordIdentifier checksumInformation { checksumState } } }`;

describe('a known document is answered as a new one', () => {
  it('a query with variables: the same data, log line and one identical upstream call', async () => {
    const [first, again] = await twice(RECORD, { variables: { id: ids[0] } });
    expect(first.answer.status).toBe(200);
    expect(first.answer.body.data).toMatchObject({ modelRecord: { recordIdentifier: ids[0] } });
    expect(first.upstream).toHaveLength(1);
    expect(again).toEqual(first);
  });

  it('errors of execution and of coercion: the same codes, statuses and lines', async () => {
    const cases: Array<[string, PostOptions]> = [
      [RECORD, { variables: { id: ids[1] }, token: 'glpat-not-a-known-token' }],
      [RECORD, { variables: { id: 'not an identifier!' } }],
      [RECORD, { variables: { id: 12 } }],
      [RECORD, { variables: {} }],
      [RECORD, { variables: { id: ids[1] }, operationName: 'Elsewhere' }],
      [`query A { modelRecord(model: PROJECT, recordIdentifier: "${ids[1]}") { id } } query B { __typename }`, {}],
      [`query A { modelRecord(model: PROJECT, recordIdentifier: "${ids[1]}") { id } } query B { __typename }`, { operationName: 'B' }],
      [RECORD, { variables: { id: ids[1] }, token: null }],
    ];
    for (const [query, options] of cases) {
      const [first, again] = await twice(query, options);
      expect(again, JSON.stringify(options)).toEqual(first);
    }
  });

  it('a mutation: the same answer and one PUT each time', async () => {
    const [first, again] = await twice(`mutation Verify($id: ID!) { recalculateChecksum(model: PROJECT, recordIdentifier: $id) { errors record { recordIdentifier } } }`, {
      variables: { id: ids[2] },
    });
    expect(first.answer.body).toEqual({ data: { recalculateChecksum: { errors: [], record: { recordIdentifier: ids[2] } } } });
    expect(first.upstream.filter((call) => call.startsWith('PUT'))).toHaveLength(1);
    expect(again).toEqual(first);
  });

  it('under application/json: the same statuses and bodies, failed or not', async () => {
    for (const variables of [{}, { id: ids[1] }, { id: 'not an identifier!' }]) {
      const [first, again] = await twice(RECORD, { variables, headers: { accept: 'application/json' } });
      expect(first.answer.type).toMatch(/^application\/json/);
      expect(again).toEqual(first);
    }
  });
});

describe('a document that did not validate is refused every time', () => {
  it('an unknown field, introspection while it is off, a cost over the limit: refused again, nothing sent upstream', async () => {
    const refused = [
      `{ modelRecord(model: PROJECT, recordIdentifier: "${ids[3]}") { nosuchfield } }`,
      '{ __schema { queryType { name } } }',
      `{ ${Array.from({ length: 301 }, (_, i) => `a${i}: modelRecord(model: PROJECT, recordIdentifier: "${ids[3]}") { recordIdentifier }`).join(' ')} }`,
    ];
    for (const query of refused) {
      for (let i = 0; i < 3; i++) {
        await gw.resetUpstream();
        const res = await gw.post(query);
        expect(res.status, query.slice(0, 40)).toBe(400);
        expect(res.body.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
        expect(res.body.data).toBeUndefined();
        expect(await gw.upstream()).toEqual([]);
      }
    }
  });

  it('a known document still counts as a parse cache hit', async () => {
    const query = `query CountedHit { modelRecord(model: PROJECT, recordIdentifier: "${ids[3]}") { recordIdentifier } }`;
    const hits = async () => sample(await gw.metrics(), 'gateway_parse_cache_lookups_total', { outcome: 'hit' }) ?? 0;
    const misses = async () => sample(await gw.metrics(), 'gateway_parse_cache_lookups_total', { outcome: 'miss' }) ?? 0;
    const [hitsBefore, missesBefore] = [await hits(), await misses()];
    for (let i = 0; i < 3; i++) expect((await gw.post(query)).body.data).toEqual({ modelRecord: { recordIdentifier: ids[3] } });
    expect((await misses()) - missesBefore).toBe(1);
    expect((await hits()) - hitsBefore).toBe(2);
  });
});
