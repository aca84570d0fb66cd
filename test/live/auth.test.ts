// Who may subscribe: a token in connection_init (either header style), GitLab's verdict on it, and what happens
// when GitLab stops accepting it while the subscription runs.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, USER, type Harness } from '../support/gateway.js';
import { API, recordsIn, rest, sseConnection, sleep, until, wsConnection, type Subscriber, startLive } from './helpers.js';

const RECHECK_MS = 500;

let h: Harness;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  h = await startLive({ verifyIntervalMs: 0 }, { LIVE_FAST_POLL_MS: '100', LIVE_SLOW_POLL_MS: '300', LIVE_AUTH_RECHECK_MS: String(RECHECK_MS) });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await until(() => h.gateway.live.activeSubscriptions === 0, 'every subscription to end');
});
afterAll(async () => {
  await h?.close();
});

function ws(params: Record<string, string> | null) {
  const conn = wsConnection(h, params);
  cleanups.push(() => conn.dispose());
  return conn;
}
function sse(token: string | null) {
  const conn = sseConnection(h, token);
  cleanups.push(() => conn.dispose());
  return conn;
}

const codes = (sub: Subscriber) => sub.errors.map((e) => e.extensions?.code);

describe('graphql-ws connection_init', () => {
  it('without a token, the socket is closed with 4403 and GitLab hears nothing', async () => {
    await h.resetUpstream();
    const variants: (Record<string, string> | null)[] = [null, {}, { Authorization: '' }, { Authorization: 'Basic Zm9vOmJhcg==' }, { 'PRIVATE-TOKEN': '  ' }];
    for (const params of variants) {
      const conn = ws(params);
      const sub = conn.subscribe({ model: 'PROJECT', identifiers: ['1'] });
      await sub.waitFor((s) => s.received.length > 0, `the close of ${JSON.stringify(params)}`);
      expect(conn.closes, JSON.stringify(params)).toEqual([{ code: 4403, reason: 'Forbidden' }]);
      expect(sub.received).toHaveLength(1);
      expect(sub.received[0]).toMatchObject({ kind: 'error', error: { code: 4403 } });
    }
    await sleep(100);
    expect(await h.upstream()).toEqual([]);
    expect(h.gateway.live.activeSubscriptions).toBe(0);
  });

  it('accepts the token as Authorization: Bearer or as PRIVATE-TOKEN, and forwards it to GitLab as it came', async () => {
    for (const [params, expected, id] of [
      [{ Authorization: `Bearer ${ADMIN}` }, { authorization: `Bearer ${ADMIN}`, privateToken: null }, '31'],
      [{ 'PRIVATE-TOKEN': ADMIN }, { authorization: null, privateToken: ADMIN }, '32'],
      [{ 'private-token': ADMIN }, { authorization: null, privateToken: ADMIN }, '33'],
    ] as const) {
      await h.resetUpstream();
      const conn = ws(params);
      const sub = conn.subscribe({ model: 'PROJECT', identifiers: [id] });
      await sub.initial([id]);
      expect(sub.changes[0]).toMatchObject({ previousState: null, record: { recordIdentifier: id } });
      expect(conn.closes).toEqual([]);
      const reads = (await h.upstream()).filter((e) => e.method === 'GET' && e.path === `${API}projects`);
      expect(reads.length, JSON.stringify(params)).toBeGreaterThanOrEqual(1);
      for (const read of reads) expect({ authorization: read.authorization, privateToken: read.privateToken }).toEqual(expected);
      await conn.dispose();
      await until(() => h.gateway.live.activeSubscriptions === 0, 'the subscription to end');
    }
  });

  it('a token GitLab refuses (401 or 403) gets no session: the socket is closed with 4403 before connection_ack', async () => {
    for (const params of [{ Authorization: `Bearer ${USER}` }, { 'PRIVATE-TOKEN': 'glpat-nobody' }] as Record<string, string>[]) {
      const conn = ws(params);
      const sub = conn.subscribe({ model: 'PROJECT', identifiers: ['1'] });
      await sub.waitFor((s) => s.received.length > 0, `the close of ${JSON.stringify(params)}`);
      expect(conn.closes, JSON.stringify(params)).toEqual([{ code: 4403, reason: 'Forbidden' }]);
      expect(sub.received).toEqual([expect.objectContaining({ kind: 'error', error: expect.objectContaining({ code: 4403 }) })]);
    }
  });

  it('over SSE, a token GitLab refuses gets its error, and the subscription ends', async () => {
    const viaSse = sse(USER).subscribe({ model: 'PROJECT', identifiers: ['1'] });
    await viaSse.waitFor((s) => s.completed, 'the subscription to complete');
    expect(codes(viaSse)).toEqual(['FORBIDDEN']);
    expect(viaSse.changes).toEqual([]);
  });
});

describe('SSE', () => {
  it('without a token: UNAUTHENTICATED, and GitLab hears nothing', async () => {
    await h.resetUpstream();
    const sub = sse(null).subscribe({ model: 'PROJECT', identifiers: ['1'] });
    await sub.waitFor((s) => s.completed, 'the subscription to complete');
    expect(sub.errors).toEqual([
      {
        message: 'A GitLab token is required: send "Authorization: Bearer <token>" or "PRIVATE-TOKEN: <token>".',
        locations: [{ line: 3, column: 5 }],
        path: ['checksumStateChanged'],
        extensions: { code: 'UNAUTHENTICATED' },
      },
    ]);
    expect(sub.changes).toEqual([]);
    expect(await h.upstream()).toEqual([]);
  });
});

describe('a token revoked while subscribed', () => {
  it('ends its subscriptions with UNAUTHENTICATED within a few recheck periods; other subscribers carry on', async () => {
    const token = `glpat-live-revocable-${Date.now()}`;
    await h.control('POST', 'tokens', { token, role: 'admin' });
    const ids = (await recordsIn(h, 'projects', 'succeeded')).slice(0, 3).map((r) => String(r.record_identifier));
    const doomedWs = ws({ Authorization: `Bearer ${token}` }).subscribe({ model: 'PROJECT', identifiers: ids });
    const doomedSse = sse(token).subscribe({ model: 'PROJECT', identifiers: ids });
    const admin = ws({ 'PRIVATE-TOKEN': ADMIN }).subscribe({ model: 'PROJECT', identifiers: ids });
    await Promise.all([doomedWs.initial(ids), doomedSse.initial(ids), admin.initial(ids)]);
    // Let the revocable token serve a few polls and rechecks while it is still valid.
    await sleep(RECHECK_MS + 100);
    for (const sub of [doomedWs, doomedSse, admin]) expect(sub.received.map((r) => r.kind)).toEqual(['data', 'data', 'data']);

    const revokedAt = Date.now();
    expect(await h.control('DELETE', `tokens/${token}`)).toEqual({ revoked: true });
    for (const sub of [doomedWs, doomedSse]) {
      await sub.waitFor((s) => s.completed, 'the revoked subscription to complete', 4 * RECHECK_MS + 1_000);
      const tail = sub.received.slice(3);
      expect(tail.map((r) => r.kind)).toEqual(['errors', 'complete']);
      expect(sub.errors).toEqual([
        expect.objectContaining({ message: 'GitLab did not accept the token (401 Unauthorized).', path: ['checksumStateChanged'], extensions: { code: 'UNAUTHENTICATED' } }),
      ]);
      expect(tail[0].at - revokedAt).toBeLessThan(4 * RECHECK_MS);
    }

    // The shared poll goes on with the remaining subscriber's token: a change made straight to GitLab still arrives.
    const put = await rest(h, 'PUT', `projects/${ids[1]}/checksum`);
    expect(put.status).toBe(200);
    await admin.until(ids[1], (c) => c.previousState !== null, 'the change after the revocation', 3_000);
    await sleep(300);
    expect(admin.summary()).toEqual([`${ids[0]}:null->SUCCEEDED`, `${ids[1]}:null->SUCCEEDED`, `${ids[2]}:null->SUCCEEDED`, `${ids[1]}:SUCCEEDED->SUCCEEDED`]);
    // Nothing reached the revoked subscribers after their error.
    for (const sub of [doomedWs, doomedSse]) expect(sub.received.map((r) => r.kind)).toEqual(['data', 'data', 'data', 'errors', 'complete']);
    expect(h.gateway.live.activeSubscriptions).toBe(1);
    // Nothing more is sent to GitLab with the revoked token.
    await h.resetUpstream();
    await sleep(2 * RECHECK_MS);
    const withRevoked = (await h.upstream()).filter((e) => e.authorization === `Bearer ${token}` || e.privateToken === token);
    expect(withRevoked).toEqual([]);
  });
});
