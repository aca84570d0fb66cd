// One token holds at most WS_MAX_CONNECTIONS_PER_TOKEN graphql-ws sockets: the next is closed at connection_init with
// 4429 and a reason, before GitLab is asked. A socket gives its place back when it closes, whatever ended it.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ADMIN, READ_ONLY, type Harness } from '../support/gateway.js';
import { metricValue } from './gitlab-proxy.js';
import { startLive, until } from './helpers.js';

const MAX = 3;
const TOO_MANY = { code: 4429, reason: `At most ${MAX} connections per token: close another one first.` };

type Outcome = { acked: true; socket: WebSocket } | { acked: false; code: number; reason: string };

let h: Harness;
const open: WebSocket[] = [];

/** Opens a graphql-transport-ws socket with this token; an acknowledged one stays open (and is closed after the test). */
function connect(token: string, payload: Record<string, string> = { Authorization: `Bearer ${token}` }): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(h.gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    socket.once('error', reject);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
    socket.on('message', (raw) => {
      if (!String(raw).includes('"connection_ack"')) return;
      open.push(socket);
      resolve({ acked: true, socket });
    });
    socket.once('close', (code, reason) => resolve({ acked: false, code, reason: String(reason) }));
  });
}

const closed = (o: Outcome) => (o.acked ? 'acked' : { code: o.code, reason: o.reason });

/** Waits until the gateway counts this many open sockets: a socket's place is given back in the same step. */
async function socketsAre(n: number): Promise<void> {
  const origin = new URL(h.gateway.url).origin;
  await until(async () => metricValue(await (await fetch(`${origin}/metrics`)).text(), 'gateway_websocket_connections') === n, `${n} open sockets`);
}

beforeAll(async () => {
  h = await startLive({ verifyIntervalMs: 0 }, { WS_MAX_CONNECTIONS_PER_TOKEN: String(MAX) });
});
afterEach(async () => {
  for (const socket of open.splice(0)) socket.close();
  await socketsAre(0);
});
afterAll(async () => {
  await h?.close();
});

it(`the socket past ${MAX} of one token is closed with 4429 before GitLab is asked; other tokens are not affected`, async () => {
  const outcomes = await Promise.all(Array.from({ length: MAX }, () => connect(ADMIN)));
  expect(outcomes.map(closed)).toEqual(Array.from({ length: MAX }, () => 'acked'));
  await h.resetUpstream();
  expect(closed(await connect(ADMIN))).toEqual(TOO_MANY);
  // The same token sent the other way counts as the same token.
  expect(closed(await connect(ADMIN, { 'PRIVATE-TOKEN': ADMIN }))).toEqual(TOO_MANY);
  expect(await h.upstream()).toEqual([]);
  expect(closed(await connect(READ_ONLY))).toBe('acked');
});

it('a socket that closes gives its place back', async () => {
  const sockets = await Promise.all(Array.from({ length: MAX }, () => connect(ADMIN)));
  expect(closed(await connect(ADMIN))).toEqual(TOO_MANY);
  (sockets[0] as { socket: WebSocket }).socket.close();
  await socketsAre(MAX - 1);
  expect(closed(await connect(ADMIN))).toBe('acked');
  expect(closed(await connect(ADMIN))).toEqual(TOO_MANY);
  // All gone: the token has every place again.
  for (const socket of open.splice(0)) socket.close();
  await socketsAre(0);
  expect((await Promise.all(Array.from({ length: MAX }, () => connect(ADMIN)))).map(closed)).toEqual(Array.from({ length: MAX }, () => 'acked'));
});

it('sockets GitLab refuses hold no place once closed', async () => {
  const token = `glpat-made-up-${Date.now()}`;
  for (let round = 0; round < 3; round++) {
    const outcomes = await Promise.all(Array.from({ length: MAX }, () => connect(token)));
    expect(outcomes.map(closed)).toEqual(Array.from({ length: MAX }, () => ({ code: 4403, reason: 'Forbidden' })));
    await socketsAre(0);
  }
});
