// A token that cannot be GitLab's (spaces or control characters inside, non-ASCII, longer than 1,024 characters) is
// the client's mistake: UNAUTHENTICATED over HTTP and SSE, refused at connection over graphql-ws, and GitLab hears
// nothing of it. (It used to reach GitLab's HTTP client, fail there and come back UPSTREAM_UNAVAILABLE, retried.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Harness } from '../support/gateway.js';
import { sseConnection, startLive } from './helpers.js';

const MALFORMED = 'The GitLab token is malformed: a token is 1 to 1024 visible ASCII characters, without spaces or control characters.';
const LOOKUP = '{ modelRecord(model: PROJECT, recordIdentifier: "1") { recordIdentifier } }';

let h: Harness;

beforeAll(async () => {
  h = await startLive({ verifyIntervalMs: 0 }, {});
});
afterAll(async () => {
  await h?.close();
});

describe('over HTTP', () => {
  // What an HTTP header can carry at all: no CR, LF or NUL, and at most Latin-1.
  it.each([
    ['a space inside', 'glpat-abc def', 'private-token'],
    ['a tab inside', 'glpat-abc\tdef', 'bearer'],
    ['a Latin-1 character', 'glpat-abcé', 'bearer'],
    ['1,025 characters', `glpat-${'x'.repeat(1019)}`, 'private-token'],
    ['2,000 characters', `glpat-${'x'.repeat(1994)}`, 'bearer'],
  ] as const)('a token with %s: UNAUTHENTICATED, and nothing reaches GitLab', async (_, token, header) => {
    await h.resetUpstream();
    const res = await h.request(LOOKUP, undefined, { token, header });
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ modelRecord: null });
    expect(res.errors).toEqual([{ message: MALFORMED, locations: [{ line: 1, column: 3 }], path: ['modelRecord'], extensions: { code: 'UNAUTHENTICATED' } }]);
    expect(await h.upstream()).toEqual([]);
  });

  it('a token of 1,024 visible ASCII characters goes to GitLab, which judges it', async () => {
    await h.resetUpstream();
    const res = await h.request(LOOKUP, undefined, { token: `glpat-${'x'.repeat(1018)}` });
    expect(res.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(res.errors?.[0].message).toBe('GitLab did not accept the token (401 Unauthorized).');
    expect((await h.upstream()).length).toBe(1);
  });

  it('over SSE too', async () => {
    await h.resetUpstream();
    const conn = sseConnection(h, `glpat-${'x'.repeat(1994)}`);
    try {
      const sub = conn.subscribe({ model: 'PROJECT', identifiers: ['1'] });
      await sub.waitFor((s) => s.completed, 'the subscription to complete');
      expect(sub.errors).toEqual([expect.objectContaining({ message: MALFORMED, extensions: { code: 'UNAUTHENTICATED' } })]);
      expect(sub.changes).toEqual([]);
    } finally {
      await conn.dispose();
    }
    expect(await h.upstream()).toEqual([]);
  });
});

/** Sends connection_init with these parameters; resolves with how the socket closed, or 'acked'. */
function connect(params: Record<string, string>): Promise<'acked' | { code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(h.gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    socket.once('error', reject);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: params })));
    socket.on('message', (raw) => {
      if (!String(raw).includes('"connection_ack"')) return;
      resolve('acked');
      socket.close();
    });
    socket.once('close', (code, reason) => resolve({ code, reason: String(reason) }));
  });
}

describe('over graphql-ws', () => {
  it.each([
    ['CR and LF inside', 'glpat-abc\r\ndef'],
    ['a NUL inside', 'glpat-abc\u0000def'],
    ['a character beyond Latin-1', 'glpat-abc\u0100def'],
    ['an emoji', 'glpat-abc😀'],
    ['100 KB', `glpat-${'x'.repeat(100_000)}`],
  ])('a token with %s is refused at connection (4403), and nothing reaches GitLab', async (_, token) => {
    await h.resetUpstream();
    expect(await connect({ Authorization: `Bearer ${token}` })).toEqual({ code: 4403, reason: 'Forbidden' });
    expect(await connect({ 'PRIVATE-TOKEN': token })).toEqual({ code: 4403, reason: 'Forbidden' });
    expect(await h.upstream()).toEqual([]);
  });
});
