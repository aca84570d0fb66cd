// A client that stops reading: its socket is held back once 1 MB is queued for it (counted in /metrics), other clients
// are served meanwhile, and when it reads again it gets everything, in order, exactly once.
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ADMIN, type Harness } from '../support/gateway.js';
import { rest, startLive, until, WATCH, WATCH_SMALL, wsConnection, type Change, type RestRecord, type WsConnection } from './helpers.js';

const SUBSCRIPTIONS = 600;
const RECALCULATE = /* GraphQL */ `mutation ($id: ID!) { recalculateChecksum(model: PROJECT, recordIdentifier: $id) { errors } }`;

let h: Harness;
let slow: WebSocket | undefined;
let other: WsConnection | undefined;

beforeAll(async () => {
  // No worker and no poll: the only change in the test is the one the mutation makes.
  h = await startLive({ verifyIntervalMs: 0 }, { LIVE_FAST_POLL_MS: '60000', LIVE_SLOW_POLL_MS: '60000', LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(SUBSCRIPTIONS) });
});
afterAll(async () => {
  slow?.terminate();
  await other?.dispose();
  await h?.close();
});

async function slowReaderWaits(): Promise<number> {
  const text = await (await fetch(new URL('/metrics', h.gateway.url))).text();
  return Number(/^gateway_websocket_slow_reader_waits_total (\S+)$/m.exec(text)?.[1] ?? NaN);
}

it('holds back a client that does not read, serves the others meanwhile, and loses nothing', async () => {
  const { body } = await rest(h, 'GET', 'projects?per_page=100');
  const ids = (body as RestRecord[]).map((r) => String(r.record_identifier));
  const received: Change[][] = Array.from({ length: SUBSCRIPTIONS }, () => []);
  const protocolErrors: string[] = [];

  slow = new WebSocket(h.gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const socket = slow;
  const acked = new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { id?: string; type: string; payload?: { data?: { checksumStateChanged: Change }; errors?: unknown } };
      if (message.type === 'connection_ack') return resolve();
      if (message.type === 'next' && message.payload?.data) received[Number(message.id)].push(message.payload.data.checksumStateChanged);
      else protocolErrors.push(JSON.stringify(message).slice(0, 200));
    });
  });
  socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${ADMIN}` } })));
  await acked;
  // From here the client reads nothing: 600 subscriptions of 100 records owe it about 27 MB of first states.
  socket.pause();
  for (let i = 0; i < SUBSCRIPTIONS; i++) socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: WATCH, variables: { model: 'PROJECT', identifiers: ids } } }));
  await until(async () => (await slowReaderWaits()) > 0, 'the gateway to hold back the client that does not read', 30_000, 100);

  // Another client is served while the first one still reads nothing.
  other = wsConnection(h);
  const watcher = other.subscribe({ model: 'PROJECT', identifiers: [ids[0]] }, WATCH_SMALL);
  await watcher.initial([ids[0]], 10_000);
  expect((await h.request(RECALCULATE, { id: ids[0] })).errors).toBeUndefined();
  await watcher.until(ids[0], (c) => c.previousState !== null, 'the recalculated state', 10_000);
  expect(received.every((events) => events.length < 101)).toBe(true);

  // Reading again, the slow client gets, for every subscription: the 100 first states, then the one change.
  socket.resume();
  await until(() => received.every((events) => events.length >= 101), 'every subscription of the slow client to catch up', 60_000, 50);
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(protocolErrors).toEqual([]);
  for (const events of received) {
    expect(events).toHaveLength(101);
    const first = events.slice(0, 100);
    expect(first.every((e) => e.previousState === null)).toBe(true);
    expect(new Set(first.map((e) => e.record.recordIdentifier))).toEqual(new Set(ids));
    expect(events[100]).toMatchObject({ record: { recordIdentifier: ids[0] } });
    expect(events[100].previousState).not.toBeNull();
  }
});
