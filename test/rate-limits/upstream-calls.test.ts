// Calls to GitLab per token: a query's or mutation's call past RATE_LIMIT_TOKEN_UPSTREAM_CALLS_PER_MINUTE fails its
// field with RATE_LIMITED (the other fields keep their data) and is not sent: the stand-in's request log shows no call
// past the limit. The live layer's polls and first reads are not the client's, and go on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until, wsConnection } from '../live/helpers.js';
import type { Harness } from '../support/gateway.js';
import { startTestGateway, type TestGateway } from '../operability/gateway.js';
import { projectIds, sample } from '../operability/helpers.js';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import { adminToken, expectRateLimited } from './helpers.js';

const SETTING = 'RATE_LIMIT_TOKEN_UPSTREAM_CALLS_PER_MINUTE';
/** Two list calls of their own (two pages of different states), each of them one call to GitLab. */
const TWO_CALLS = (a: string, b: string) => `{
  a: modelRecords(model: PROJECT, checksumState: ${a}, first: 1) { nodes { id } }
  b: modelRecords(model: PROJECT, checksumState: ${b}, first: 1) { nodes { id } }
}`;

let gw: TestGateway;
let ids: string[];

beforeAll(async () => {
  // 3 a minute (one every 20 s: none comes back while the test runs); an operation may make 3 calls, no more; a bulk
  // recalculation of 100 identifiers takes several PUTs.
  gw = await startTestGateway({
    env: { LOG_LEVEL: 'silent', [SETTING]: '3', UPSTREAM_MAX_CALLS_PER_OPERATION: '3', UPSTREAM_MAX_URL_BYTES: '1024', LIVE_FAST_POLL_MS: '200', LIVE_SLOW_POLL_MS: '200' },
  });
  ids = await projectIds(gw.standIn.url, 2);
});
afterAll(async () => {
  await gw?.close();
});

const carrying = (token: string) => (e: RequestLogEntry) => e.authorization === `Bearer ${token}` || e.privateToken === token;

describe('calls to GitLab per token', () => {
  it('the call past the rate fails its field and is never sent; other tokens are not held back', async () => {
    const token = await adminToken(gw.standIn, 'calls');
    await gw.resetUpstream();

    const first = await gw.post(TWO_CALLS('SUCCEEDED', 'FAILED'), { token });
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data).toEqual({ a: { nodes: expect.any(Array) }, b: { nodes: expect.any(Array) } });

    // One call left: one field gets it, the other RATE_LIMITED, with its data null and the request answered 200.
    const second = await gw.post(TWO_CALLS('PENDING', 'STARTED'), { token });
    expect(second.status).toBe(200);
    expect(second.body.errors).toHaveLength(1);
    const [error] = second.body.errors!;
    expectRateLimited(error, SETTING, 20);
    expect(error.message).toMatch(/^Too many calls to GitLab with this token: at most 3 a minute/);
    const limited = error.path![0] as 'a' | 'b';
    expect(second.body.data![limited]).toBeNull();
    expect(second.body.data![limited === 'a' ? 'b' : 'a']).toEqual({ nodes: expect.any(Array) });

    // Nothing left: every field refused, a mutation's call too.
    const third = await gw.post(TWO_CALLS('SUCCEEDED', 'DISABLED'), { token });
    expect(third.body.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    const mutation = await gw.post(`mutation { recalculateChecksum(model: PROJECT, recordIdentifier: "${ids[0]}") { errors } }`, { token });
    expect(mutation.body.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);

    // GitLab received the three calls allowed, and nothing after them.
    const sent = (await gw.upstream()).filter(carrying(token));
    expect(sent.map((e) => `${e.method} ${e.params.checksum_state?.[0]}`)).toEqual(['GET succeeded', 'GET failed', `GET ${limited === 'a' ? 'started' : 'pending'}`]);

    const other = await adminToken(gw.standIn, 'calls-other');
    expect((await gw.post(TWO_CALLS('SUCCEEDED', 'FAILED'), { token: other })).body.errors).toBeUndefined();
    expect(sample(await gw.metrics(), 'gateway_rate_limited_total', { limit: 'token_upstream_calls' })).toBe(4);
  });

  it('a bulk recalculation of several PUTs is counted whole before the first: none is sent when they are not all allowed', async () => {
    const token = await adminToken(gw.standIn, 'bulk');
    await gw.resetUpstream();
    expect((await gw.post(TWO_CALLS('SUCCEEDED', 'FAILED'), { token })).body.errors).toBeUndefined();
    const identifiers = Array.from({ length: 100 }, (_, i) => String(i + 1));
    const bulk = await gw.post('mutation ($ids: [ID!]) { recalculateAllChecksums(model: PROJECT, identifiers: $ids) { status } }', { token, variables: { ids: identifiers } });
    expect(bulk.body.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
    // The one call left was not taken by the refused bulk.
    expect((await gw.post(`{ modelRecord(model: PROJECT, recordIdentifier: "${ids[0]}") { id } }`, { token })).body.errors).toBeUndefined();
    expect((await gw.upstream()).filter(carrying(token)).map((e) => e.method)).toEqual(['GET', 'GET', 'GET']);
  });

  it("a subscription of a token out of calls still gets its records: the live layer's calls are not counted", async () => {
    const token = await adminToken(gw.standIn, 'live');
    for (let i = 0; i < 2; i++) await gw.post(TWO_CALLS('SUCCEEDED', 'FAILED'), { token });
    expect((await gw.post(TWO_CALLS('PENDING', 'STARTED'), { token })).body.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);

    await gw.resetUpstream();
    const conn = wsConnection({ gateway: { url: gw.url } } as Harness, { Authorization: `Bearer ${token}` });
    try {
      const sub = conn.subscribe({ model: 'PROJECT', identifiers: [ids[1]] });
      await sub.initial([ids[1]]);
      expect(sub.errors).toEqual([]);
      // Its polls go on with its token.
      await until(async () => (await gw.upstream()).filter(carrying(token)).length >= 3, 'polls with the subscriber token');
    } finally {
      await conn.dispose();
    }
  });
});
