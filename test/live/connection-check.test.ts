// GitLab judges a graphql-ws client's token before connection_ack: a token it refuses never gets a session, an outage
// asks the client to come back (1013), and its verdicts are kept per token for a while, in a bounded cache, so that a
// thousand sockets of one dashboard cost GitLab one call.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import type { Harness } from '../support/gateway.js';
import { API, sleep, startLive } from './helpers.js';

/** How a connection attempt ended: acknowledged (then closed by the test), or closed by the gateway. */
type Outcome = { acked: true } | { acked: false; code: number; reason: string };

/** Opens a graphql-transport-ws socket, sends connection_init with these parameters, and reports what came back. */
function connect(h: Harness, params: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(h.gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    socket.once('error', reject);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: params })));
    socket.on('message', (raw) => {
      if (!String(raw).includes('"connection_ack"')) return;
      resolve({ acked: true });
      socket.close();
    });
    socket.once('close', (code, reason) => resolve({ acked: false, code, reason: String(reason) }));
  });
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
/** What the stand-in received with this token. */
const callsWith = (log: RequestLogEntry[], token: string) => log.filter((e) => e.authorization === `Bearer ${token}` || e.privateToken === token);
const REFUSED: Outcome = { acked: false, code: 4403, reason: 'Forbidden' };

describe('with the default cache', () => {
  let h: Harness;
  beforeAll(async () => {
    // 50 sockets of one token at once: more than WS_MAX_CONNECTIONS_PER_TOKEN allows by default.
    h = await startLive({ verifyIntervalMs: 0 }, { WS_MAX_CONNECTIONS_PER_TOKEN: '50' });
  });
  afterEach(async () => {
    await h.control('PUT', 'faults', { errorRate: 0 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('refuses a token GitLab does not know before connection_ack (4403), after one call, and keeps the verdict', async () => {
    await h.resetUpstream();
    const token = `glpat-made-up-${Date.now()}`;
    expect(await connect(h, bearer(token))).toEqual(REFUSED);
    const calls = callsWith(await h.upstream(), token);
    expect(calls).toHaveLength(1);
    // The cheapest call that needs an accepted token: one record of PROJECT, a model of both dialects.
    expect(calls[0]).toMatchObject({ method: 'GET', path: `${API}projects` });
    expect(calls[0].params.per_page).toEqual(['1']);
    // Refused again from the cache, in either header style.
    expect(await connect(h, bearer(token))).toEqual(REFUSED);
    expect(await connect(h, { 'PRIVATE-TOKEN': token })).toEqual(REFUSED);
    expect(callsWith(await h.upstream(), token)).toHaveLength(1);
  });

  it('50 sockets of one token cost GitLab one call', async () => {
    const token = `glpat-dashboard-${Date.now()}`;
    await h.control('POST', 'tokens', { token, role: 'admin' });
    await h.resetUpstream();
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => connect(h, bearer(token))));
    expect(outcomes).toEqual(Array.from({ length: 50 }, () => ({ acked: true })));
    expect(callsWith(await h.upstream(), token)).toHaveLength(1);
  });

  it('while GitLab fails, closes with 1013 (try again later) and grants nothing; the next socket after it is accepted', async () => {
    const token = `glpat-during-outage-${Date.now()}`;
    await h.control('POST', 'tokens', { token, role: 'admin' });
    await h.control('PUT', 'faults', { errorRate: 1 });
    await h.resetUpstream();
    const outcome = await connect(h, bearer(token));
    expect(outcome).toEqual({ acked: false, code: 1013, reason: 'GitLab could not check the token; try again later.' });
    expect(callsWith(await h.upstream(), token).length).toBeGreaterThanOrEqual(1);
    // An outage is no verdict: once GitLab answers, the token is asked about again, and accepted.
    await h.control('PUT', 'faults', { errorRate: 0 });
    await h.resetUpstream();
    expect(await connect(h, bearer(token))).toEqual({ acked: true });
    expect(callsWith(await h.upstream(), token)).toHaveLength(1);
  });
});

describe('the cache', () => {
  let h: Harness;
  const BOUND = 10;
  beforeAll(async () => {
    // A verdict outlives the test by far: what makes GitLab hear of a token again here is the bound alone.
    h = await startLive({ verifyIntervalMs: 0 }, { TOKEN_CACHE_MAX_ENTRIES: String(BOUND), TOKEN_CACHE_MS: '3600000' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it(`holds at most TOKEN_CACHE_MAX_ENTRIES tokens (${BOUND} here), the oldest going first`, async () => {
    const tokens = Array.from({ length: 100 }, (_, i) => `glpat-many-${i}`);
    await h.resetUpstream();
    for (const token of tokens) expect(await connect(h, bearer(token))).toEqual(REFUSED);
    expect((await h.upstream()).length).toBe(tokens.length);
    // The last ten are remembered: no call.
    await h.resetUpstream();
    for (const token of tokens.slice(-BOUND)) expect(await connect(h, bearer(token))).toEqual(REFUSED);
    expect(await h.upstream()).toEqual([]);
    // Any earlier one was forgotten: GitLab is asked again.
    for (const token of [tokens[0], tokens[tokens.length - BOUND - 1]]) {
      await h.resetUpstream();
      expect(await connect(h, bearer(token))).toEqual(REFUSED);
      expect(callsWith(await h.upstream(), token)).toHaveLength(1);
    }
  });
});

describe('TOKEN_CACHE_MS', () => {
  let h: Harness;
  const TTL_MS = 200;
  beforeAll(async () => {
    h = await startLive({ verifyIntervalMs: 0 }, { TOKEN_CACHE_MS: String(TTL_MS) });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a verdict is trusted that long only: a token revoked meanwhile is refused after it', async () => {
    const token = `glpat-revoked-later-${Date.now()}`;
    await h.control('POST', 'tokens', { token, role: 'admin' });
    expect(await connect(h, bearer(token))).toEqual({ acked: true });
    expect(await h.control('DELETE', `tokens/${token}`)).toEqual({ revoked: true });
    await sleep(TTL_MS + 50);
    await h.resetUpstream();
    expect(await connect(h, bearer(token))).toEqual(REFUSED);
    expect(callsWith(await h.upstream(), token)).toHaveLength(1);
  });
});
