// Clients choose operation names; /metrics must not grow with them. A name labels metrics only once an operation of that
// name ran with a token GitLab accepted, and only METRICS_MAX_OPERATION_NAMES names do; every other name is `other`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN, parseMetrics, projectIds } from './helpers.js';

const CAP = 5;
const NAMES = 10_000;

let gw: TestGateway;
let id: string;

beforeAll(async () => {
  gw = await startTestGateway({ standIn: { records: 5 }, env: { METRICS_MAX_OPERATION_NAMES: String(CAP) } });
  [id] = await projectIds(gw.standIn.url, 1);
});
afterAll(async () => {
  await gw?.close();
});

/** A query of this name that reaches GitLab (one list call). */
const lookup = (name: string) => `query ${name} { modelRecord(model: PROJECT, recordIdentifier: "${id}") { id } }`;

/** The series of the operation families, one string each. */
async function operationSeries(): Promise<string[]> {
  return parseMetrics(await gw.metrics())
    .filter((s) => s.name.startsWith('gateway_graphql_operation'))
    .map((s) => `${s.name}${JSON.stringify(s.labels)}`);
}

async function operationLabels(): Promise<string[]> {
  const labels = parseMetrics(await gw.metrics()).flatMap((s) => (s.name.startsWith('gateway_graphql_operation') ? [s.labels.operation] : []));
  return [...new Set(labels)].sort();
}

/** Sends `count` operations made by `make(i)`, `parallel` at a time, and checks each answered as expected. */
async function send(count: number, make: (i: number) => { query: string; token: string | null }, expectCode: string | undefined, parallel = 16): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const { query, token } = make(next++);
      const res = await gw.post(query, { token });
      expect(res.body.errors?.[0]?.extensions?.code).toBe(expectCode);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

describe('operation names on /metrics', () => {
  it(`${NAMES} invented names, with and without a token, add no series once ${CAP} names are known`, async () => {
    // Names seen only without a token, or with one GitLab refuses, are not learnt.
    await send(3, (i) => ({ query: lookup(`Unproven${i}`), token: null }), 'UNAUTHENTICATED');
    await send(3, (i) => ({ query: lookup(`Refused${i}`), token: 'glpat-not-a-real-token' }), 'UNAUTHENTICATED');
    expect(await operationLabels()).toEqual(['other']);

    // The first CAP names of accepted operations are learnt (one at a time here, so which ones is known), then `other`
    // takes the rest; `anonymous` stays.
    await send(CAP + 2, (i) => ({ query: lookup(`Dashboard${i}`), token: ADMIN }), undefined, 1);
    await send(1, () => ({ query: `{ modelRecord(model: PROJECT, recordIdentifier: "${id}") { id } }`, token: ADMIN }), undefined);
    const known = Array.from({ length: CAP }, (_, i) => `Dashboard${i}`);
    expect(await operationLabels()).toEqual([...known, 'anonymous', 'other'].sort());
    // A learnt name labels its later operations, with a token or not.
    expect((await gw.post(lookup('Dashboard0'), { token: null })).body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await send(1, () => ({ query: '{ __typename }', token: null }), undefined);
    const before = await operationSeries();

    // Half the names without a token (the issue's `query Junk { __typename }`), half with a token GitLab accepts.
    await send(NAMES / 2, (i) => ({ query: `query Junk${i}x${i * 7} { __typename }`, token: null }), undefined);
    await send(NAMES / 2, (i) => ({ query: lookup(`Accepted${i}`), token: ADMIN }), undefined);

    const after = await operationSeries();
    expect(after.length).toBe(before.length);
    expect(after.sort()).toEqual(before.sort());
    expect(await operationLabels()).toEqual([...known, 'anonymous', 'other'].sort());
  }, 180_000);

  it('log lines keep a name, cut to 100 characters', async () => {
    const long = `L${'o'.repeat(5_000)}ng`;
    const requestId = 'long-operation-name';
    await gw.post(`query ${long} { __typename }`, { token: null, requestId });
    const [line] = gw.logs().filter((l) => l.requestId === requestId);
    expect(line.operation).toBe(`${long.slice(0, 100)}…`);
    expect(line.msg).toBe(`query ${long.slice(0, 100)}… success`);
    expect(gw.rawLog()).not.toContain(long.slice(0, 101));
  });
});
