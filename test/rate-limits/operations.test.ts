// Operations per token and per address, in one process: every GraphQL operation over HTTP (POST, GET, SSE) and every
// graphql-ws `subscribe` message counts. Past a rate the client gets RATE_LIMITED with the seconds to wait (HTTP: 429
// and Retry-After; graphql-ws: an `error` message, the socket left open), and nothing reaches GitLab. A request without
// a usable token counts for its address only; the address is the peer's unless TRUSTED_PROXIES says otherwise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../operability/gateway.js';
import { postGraphQL, projectIds, sample } from '../operability/helpers.js';
import { adminToken, expectRateLimited, sse, wsSession } from './helpers.js';

const TOKEN_SETTING = 'RATE_LIMIT_TOKEN_OPERATIONS_PER_MINUTE';
const IP_SETTING = 'RATE_LIMIT_IP_OPERATIONS_PER_MINUTE';
const WATCH = (id: string) => `subscription { checksumStateChanged(model: PROJECT, identifiers: ["${id}"]) { state } }`;

let byToken: TestGateway;
let byAddress: TestGateway;
let behindProxy: TestGateway;
let id: string;
const lookup = () => `{ modelRecord(model: PROJECT, recordIdentifier: "${id}") { recordIdentifier } }`;

beforeAll(async () => {
  [byToken, byAddress, behindProxy] = await Promise.all([
    // 3 a minute: a unit every 20 s, so none comes back while a test runs.
    startTestGateway({ env: { LOG_LEVEL: 'silent', [TOKEN_SETTING]: '3', [IP_SETTING]: '0' } }),
    startTestGateway({ env: { LOG_LEVEL: 'silent', [IP_SETTING]: '4' } }),
    startTestGateway({ env: { LOG_LEVEL: 'silent', [IP_SETTING]: '2', TRUSTED_PROXIES: '1' } }),
  ]);
  [id] = await projectIds(byToken.standIn.url, 1);
});
afterAll(async () => {
  await Promise.all([byToken?.close(), byAddress?.close(), behindProxy?.close()]);
});

const refusals = async (gw: TestGateway, limit: string) => sample(await gw.metrics(), 'gateway_rate_limited_total', { limit });

describe('operations per token', () => {
  it("a token's fourth operation in a minute gets 429, Retry-After and RATE_LIMITED, and reaches nothing upstream", async () => {
    const token = await adminToken(byToken.standIn, 'http');
    const before = await refusals(byToken, 'token_operations');
    for (let i = 0; i < 2; i++) expect((await byToken.post(lookup(), { token })).body).toEqual({ data: { modelRecord: { recordIdentifier: id } } });
    // A GET counts the same.
    const get = await fetch(`${byToken.url}?query=${encodeURIComponent(lookup())}`, { headers: { authorization: `Bearer ${token}`, 'x-graphql-yoga-csrf': '1', accept: 'application/json' } });
    expect(get.status).toBe(200);

    await byToken.resetUpstream();
    const refused = await byToken.post(lookup(), { token });
    expect(refused.status).toBe(429);
    expect(Object.keys(refused.body)).toEqual(['errors']);
    expect(refused.body.errors).toHaveLength(1);
    const [error] = refused.body.errors!;
    expect(Object.keys(error).sort()).toEqual(['extensions', 'message']);
    expect(Object.keys(error.extensions!).sort()).toEqual(['code', 'retryAfterSeconds']);
    const retryAfter = expectRateLimited(error, TOKEN_SETTING, 20);
    expect(refused.headers.get('retry-after')).toBe(String(retryAfter));
    expect(error.message).toContain('at most 3 a minute');

    // The same token in the other header is the same token; another token has its own allowance.
    expect((await byToken.post(lookup(), { token, header: 'private-token' })).status).toBe(429);
    expect((await byToken.post(lookup(), { token: await adminToken(byToken.standIn, 'other') })).status).toBe(200);
    expect((await byToken.upstream()).filter((e) => e.authorization === `Bearer ${token}` || e.privateToken === token)).toEqual([]);
    expect(await refusals(byToken, 'token_operations')).toBe((before ?? 0) + 2);
  });

  it('without a token, or with one that cannot be a token, only the address counts', async () => {
    for (let i = 0; i < 5; i++) {
      const none = await byToken.post(lookup(), { token: null });
      expect(none.status).toBe(200);
      expect(none.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const malformed = await byToken.post(lookup(), { token: 'glpat-not a token' });
      expect(malformed.status).toBe(200);
      expect(malformed.body.errors?.[0]?.message).toMatch(/^The GitLab token is malformed/);
    }
  });

  it('over graphql-ws each subscribe message counts: the fourth gets an `error` message, and the socket stays open', async () => {
    const token = await adminToken(byToken.standIn, 'ws');
    const session = await wsSession(byToken.url, token);
    try {
      for (const n of ['1', '2', '3']) {
        session.send({ id: n, type: 'subscribe', payload: { query: lookup() } });
        const next = await session.next((m) => m.id === n && m.type !== 'complete', `the answer to ${n}`);
        expect(next).toEqual({ id: n, type: 'next', payload: { data: { modelRecord: { recordIdentifier: id } } } });
      }
      session.send({ id: '4', type: 'subscribe', payload: { query: lookup() } });
      const refused = await session.next((m) => m.id === '4', 'the answer to 4');
      expect(refused.type).toBe('error');
      const errors = refused.payload as { message: string; extensions?: Record<string, unknown> }[];
      expect(errors).toHaveLength(1);
      expectRateLimited(errors[0], TOKEN_SETTING, 20);
      // A subscription is refused the same way; the socket is still there to answer a ping.
      session.send({ id: '5', type: 'subscribe', payload: { query: WATCH(id) } });
      expect((await session.next((m) => m.id === '5', 'the answer to 5')).type).toBe('error');
      session.send({ type: 'ping' });
      await session.next((m) => m.type === 'pong', 'a pong');
      expect(session.socket.readyState).toBe(session.socket.OPEN);
      // HTTP and graphql-ws share the token's allowance.
      expect((await byToken.post(lookup(), { token })).status).toBe(429);
    } finally {
      await session.close();
    }
  });

  it('an SSE subscription is an operation too: past the rate it gets 429 in JSON', async () => {
    const token = await adminToken(byToken.standIn, 'sse');
    for (let i = 0; i < 2; i++) expect((await byToken.post(lookup(), { token })).status).toBe(200);
    const stream = await sse(byToken.url, WATCH(id), token);
    expect(stream.status).toBe(200);
    expect(stream.text).toContain('event: next');
    stream.abort();
    const refused = await sse(byToken.url, WATCH(id), token);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    const error = (refused.body as { errors: { message: string; extensions?: Record<string, unknown> }[] }).errors[0];
    expect(refused.headers.get('retry-after')).toBe(String(expectRateLimited(error, TOKEN_SETTING, 20)));
  });
});

describe('operations per address', () => {
  it("an address's fifth operation is refused whatever its token, without a token too, and X-Forwarded-For is not read", async () => {
    const session = await wsSession(byAddress.url, await adminToken(byAddress.standIn, 'ip-ws'));
    try {
      const answers = [
        await byAddress.post(lookup(), { token: null }),
        await byAddress.post(lookup(), { token: 'glpat-not a token' }),
        await byAddress.post(lookup(), { token: await adminToken(byAddress.standIn, 'ip-1') }),
        await byAddress.post(lookup(), { token: await adminToken(byAddress.standIn, 'ip-2') }),
      ];
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      const cases = [
        { token: await adminToken(byAddress.standIn, 'ip-3') },
        { token: null },
        { token: 'glpat-not a token' },
        { token: await adminToken(byAddress.standIn, 'ip-4'), headers: { 'x-forwarded-for': '203.0.113.77' } },
      ];
      for (const options of cases) {
        const refused = await byAddress.post(lookup(), options);
        expect(refused.status).toBe(429);
        expect(refused.headers.get('retry-after')).toBe(String(expectRateLimited(refused.body.errors?.[0], IP_SETTING, 15)));
        expect(refused.body.errors?.[0]?.message).toMatch(/^Too many operations from this address/);
      }
      // graphql-ws messages count for the address of the socket.
      session.send({ id: '1', type: 'subscribe', payload: { query: lookup() } });
      const refused = await session.next((m) => m.id === '1', 'the answer to 1');
      expect(refused.type).toBe('error');
      expectRateLimited((refused.payload as { message: string; extensions?: Record<string, unknown> }[])[0], IP_SETTING, 15);
      expect(await refusals(byAddress, 'ip_operations')).toBe(5);
      expect(await refusals(byAddress, 'token_operations')).toBe(0);
    } finally {
      await session.close();
    }
  });

  it('behind a trusted proxy, each client is counted under the address the proxy appended, IPv6 by its /64', async () => {
    const from = (forwardedFor: string) => postGraphQL(behindProxy.url, lookup(), { headers: { 'x-forwarded-for': forwardedFor } });
    // What the client claims (the first entry) is not trusted: only the proxy's own entry counts.
    expect((await from('198.51.100.1, 203.0.113.10')).status).toBe(200);
    expect((await from('198.51.100.2, 203.0.113.10')).status).toBe(200);
    expect((await from('198.51.100.3, 203.0.113.10')).status).toBe(429);
    expect((await from('203.0.113.11')).status).toBe(200);
    expect((await from('2001:db8:1:2::1')).status).toBe(200);
    expect((await from('2001:db8:1:2:ffff::9')).status).toBe(200);
    expect((await from('2001:db8:1:2::3')).status).toBe(429);
    expect((await from('2001:db8:1:3::1')).status).toBe(200);
  });
});
