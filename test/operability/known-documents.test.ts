// A document whose text came before and validated runs again without its parse and validation (fast-path.ts), and its
// query as compiled code (query-executor.ts; here from its second run, QUERY_COMPILE_AFTER=1): the second sending of
// every request here must be answered exactly as the first, with the same log line and upstream call, and a document
// that did not validate must be refused again, however often it comes.
import { isObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { projectIds, sample, type PostOptions, type Posted } from './helpers.js';

let gw: TestGateway;
let ids: string[];

beforeAll(async () => {
  gw = await startTestGateway({ standIn: { failRate: 0 }, env: { QUERY_COMPILE_AFTER: '1' } });
  ids = await projectIds(gw.standIn.url, 4);
});
afterAll(async () => {
  await gw?.close();
});

/** What a client sees of an answer: its status, content type and body. */
const seen = (res: Posted) => ({ status: res.status, type: res.headers.get('content-type'), body: res.body });

let sent = 0;

/**
 * Sends the request twice (as new on graphql-js, then as known and compiled): both answers, the log lines of each and
 * the upstream calls of each. A comment makes its text, so its document, one no other call sent.
 */
async function twice(text: string, options: PostOptions = {}) {
  const query = `${text}\n# ${++sent}`;
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

describe('a compiled query answers as graphql-js does', () => {
  const compiled = async () => sample(await gw.metrics(), 'gateway_graphql_compiled_queries_total') ?? 0;
  const faults = (body: object) => fetch(`${gw.standIn.url}/-/stand-in/faults`, { method: 'PUT', body: JSON.stringify(body) });

  it('errors in places, under aliases, in a fragment and in a list: the same messages, locations, paths and codes', async () => {
    const query = /* GraphQL */ `query Places($a: ID!, $b: ID!) {
      good: modelRecord(model: PROJECT, recordIdentifier: $a) { ...Fields }
      bad: modelRecord(model: PROJECT, recordIdentifier: $b) { id ...Fields }
      list: modelRecords(model: PROJECT, identifiers: [$a, $b]) { nodes { recordIdentifier } }
      byState: modelRecords(model: PROJECT, first: 2, checksumState: SUCCEEDED) { nodes { ...Fields } }
    }
    fragment Fields on ModelRecord { recordIdentifier checksumInformation { checksumState } }`;
    // GitLab refuses one identifier: every call that names it fails, the others answer.
    await faults({ rejectedIdentifiers: [ids[1]] });
    try {
      const before = await compiled();
      const [first, again] = await twice(query, { variables: { a: ids[0], b: ids[1] } });
      expect(first.answer.body.errors?.length).toBeGreaterThan(0);
      expect((first.answer.body.errors?.[0] as { locations?: unknown[] } | undefined)?.locations?.length).toBeGreaterThan(0);
      expect(first.answer.body.data).toMatchObject({ good: { recordIdentifier: ids[0] } });
      expect(again).toEqual(first);
      expect((await compiled()) - before).toBe(1);
    } finally {
      await faults({ rejectedIdentifiers: [] });
    }
  });

  it('every kind of field: scalars of each type, enums, an interface through node, lists, directives on variables', async () => {
    const record = (await gw.post(`{ modelRecord(model: PROJECT, recordIdentifier: "${ids[0]}") { id } }`)).body.data as { modelRecord: { id: string } };
    const query = /* GraphQL */ `query Kinds($id: ID!, $globalId: ID!, $with: Boolean!, $without: Boolean!) {
      __typename
      models { __typename kind name modelClass pluralName restName singularName }
      modelRecord(model: PROJECT, recordIdentifier: $id) {
        __typename id model modelClass recordIdentifier fileSize createdAt
        checksumInformation @include(if: $with) { checksum checksumFailure checksumRetryAt checksumRetryCount checksumState lastChecksum }
        skipped: recordIdentifier @skip(if: $without)
      }
      node(id: $globalId) { __typename id ... on ModelRecord { recordIdentifier model } }
      modelRecords(model: PROJECT, first: 3) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { recordIdentifier } } }
    }`;
    const before = await compiled();
    for (const flags of [{ with: true, without: false }, { with: false, without: true }]) {
      const [first, again] = await twice(query, { variables: { id: ids[0], globalId: record.modelRecord.id, ...flags } });
      expect(first.answer.body.errors).toBeUndefined();
      expect(first.answer.body.data).toMatchObject({ node: { recordIdentifier: ids[0] } });
      expect(again).toEqual(first);
    }
    expect((await compiled()) - before).toBe(2);
  });

  it('string literals shaped like code: the same answers compiled, and nothing of them runs', async () => {
    const shaped = ['`${(globalThis.compiledLiteralRan = 1)}`', "'); globalThis.compiledLiteralRan = 2; //", '\\"}; globalThis.compiledLiteralRan = 3; {\\"', '\\u2028\\u2029'];
    const before = await compiled();
    for (const literal of shaped) {
      const query = `{ one: modelRecord(model: PROJECT, recordIdentifier: "${literal}") { id } some: modelRecords(model: PROJECT, identifiers: ["${literal}"], after: "${literal}") { totalCount } }`;
      const [first, again] = await twice(query);
      expect(first.answer.body.errors?.[0].extensions?.code, literal).toBe('BAD_USER_INPUT');
      expect(again).toEqual(first);
    }
    expect((await compiled()) - before).toBe(shaped.length);
    expect((globalThis as { compiledLiteralRan?: unknown }).compiledLiteralRan).toBeUndefined();
  });

  it('a query is compiled once, when it comes again; a mutation and an unknown operation name never', async () => {
    const before = await compiled();
    const query = `query Once { modelRecord(model: PROJECT, recordIdentifier: "${ids[0]}") { recordIdentifier } }`;
    for (let i = 0; i < 4; i++) expect((await gw.post(query)).body.data).toEqual({ modelRecord: { recordIdentifier: ids[0] } });
    expect((await compiled()) - before).toBe(1);
    const mutation = `mutation Never { recalculateChecksum(model: PROJECT, recordIdentifier: "${ids[2]}") { errors } }`;
    for (let i = 0; i < 3; i++) expect((await gw.post(mutation)).body.data).toEqual({ recalculateChecksum: { errors: [] } });
    for (let i = 0; i < 3; i++) expect((await gw.post(query, { operationName: 'Elsewhere' })).body.errors?.[0].extensions?.code).toBe('OPERATION_RESOLUTION_FAILURE');
    expect((await compiled()) - before).toBe(1);
  });

  it('with tracing on (its documents go through validation each time), queries are compiled too, and answer the same', async () => {
    // Spans sampled out: nothing is exported, but the whole tracing pipeline runs.
    const traced = await startTestGateway({ standIn: { failRate: 0 }, env: { QUERY_COMPILE_AFTER: '1', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_TRACES_SAMPLER: 'always_off' } });
    try {
      const [id] = await projectIds(traced.standIn.url, 1);
      const answers = [];
      for (const variables of [{ id }, { id }, { id: 'not an identifier!' }, { id: 'not an identifier!' }]) answers.push((await traced.post(RECORD, { variables })).body);
      expect(answers[0]).toMatchObject({ data: { modelRecord: { recordIdentifier: id } } });
      expect(answers[1]).toEqual(answers[0]);
      expect(answers[3]).toEqual(answers[2]);
      expect(sample(await traced.metrics(), 'gateway_graphql_compiled_queries_total')).toBe(1);
    } finally {
      await traced.close();
    }
  });

  it('every field of the schema has a resolver of its own, so graphql-jit\'s default one never runs', () => {
    // Its default resolver returns a function-valued property as it is, where graphql-js's calls it: a field left to it
    // could answer differently compiled. Pothos gives exposed fields resolvers; this keeps it so.
    const leftToDefault: string[] = [];
    let checked = 0;
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields())) {
        checked++;
        if (!field.resolve) leftToDefault.push(`${type.name}.${field.name}`);
      }
    }
    expect(leftToDefault).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  it('QUERY_COMPILE_AFTER=0 compiles nothing', async () => {
    const off = await startTestGateway({ standIn: { failRate: 0 }, env: { QUERY_COMPILE_AFTER: '0' } });
    try {
      const [id] = await projectIds(off.standIn.url, 1);
      for (let i = 0; i < 3; i++) expect((await off.post(`{ modelRecord(model: PROJECT, recordIdentifier: "${id}") { recordIdentifier } }`)).body.data).toEqual({ modelRecord: { recordIdentifier: id } });
      expect(sample(await off.metrics(), 'gateway_graphql_compiled_queries_total')).toBe(0);
    } finally {
      await off.close();
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
