// A client that does not read cannot make the gateway hold more than WS_MAX_BUFFERED_BYTES for it, whatever it asks
// for: here, documents that fail validation, each answered by an error message tens of times its size. The gateway
// cuts the socket off once that much is queued (counted in /metrics) and serves everyone else meanwhile.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Harness } from '../support/gateway.js';
import { rawSocket, startLive, until, wsConnection } from './helpers.js';

const MAX_BUFFERED_BYTES = 2 << 20;

/** 100 unknown fields: about 400 bytes that graphql-js answers with 100 errors (its limit) and one more, about 15 KB. */
const INVALID = `{ ${Array.from({ length: 100 }, (_, i) => `f${i}`).join(' ')} }`;

let h: Harness;

beforeAll(async () => {
  h = await startLive({ verifyIntervalMs: 0 }, { WS_MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES) });
});
afterAll(async () => {
  await h?.close();
});

async function metrics(): Promise<string> {
  return (await fetch(new URL('/metrics', h.gateway.url))).text();
}
function sample(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

it('cuts off a client that does not read once WS_MAX_BUFFERED_BYTES is queued for it, and never holds more', async () => {
  const received: string[] = [];
  const socket = await rawSocket(h, (text) => received.push(text));
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  // The gateway cuts the connection: the client may see it as a reset.
  socket.on('error', () => {});

  const before = await metrics();
  expect(sample(before, 'gateway_websocket_overflow_closes_total')).toBe(0);
  expect(sample(before, 'gateway_websocket_peak_buffered_bytes_count')).toBe(0);

  // From here the client reads nothing: the kernel's buffers fill first, then the gateway's.
  socket.pause();
  let sent = 0;
  while (sample(await metrics(), 'gateway_websocket_overflow_closes_total') === 0) {
    // However large the kernel's buffers, this is far beyond them: the answers would be hundreds of MB.
    expect(sent, 'documents sent without the gateway cutting the client off').toBeLessThan(20_000);
    for (let i = 0; i < 100; i++) socket.send(JSON.stringify({ id: String(sent++), type: 'subscribe', payload: { query: INVALID } }));
  }
  // The one socket that closed held at most the bound, and came within one error message of it.
  await until(async () => sample(await metrics(), 'gateway_websocket_peak_buffered_bytes_count') === 1, 'the socket to be gone');
  const after = await metrics();
  expect(sample(after, 'gateway_websocket_overflow_closes_total')).toBe(1);
  expect(sample(after, 'gateway_websocket_connections')).toBe(0);
  const peak = sample(after, 'gateway_websocket_peak_buffered_bytes_sum');
  expect(peak).toBeLessThanOrEqual(MAX_BUFFERED_BYTES);
  expect(peak).toBeGreaterThan(MAX_BUFFERED_BYTES - 64 * 1024);

  // Reading again, the client finds the connection cut without a close frame (1006), after some of its answers.
  socket.resume();
  expect(await closed).toBe(1006);
  for (const text of received) expect(JSON.parse(text)).toMatchObject({ type: 'error', payload: expect.arrayContaining([expect.objectContaining({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })]) });
  expect(received.length).toBeLessThan(sent);

  // Everyone else is served as before.
  const other = wsConnection(h);
  try {
    const sub = other.subscribe({ model: 'PROJECT', identifiers: ['1'] });
    await sub.initial(['1']);
  } finally {
    await other.dispose();
  }
});

it('a client that reads is never cut off, however much it is sent in all', async () => {
  const received: string[] = [];
  const socket = await rawSocket(h, (text) => received.push(text));
  try {
    // Waves of 50 answers (well under the bound each), the next one asked for once the last is read: in all, more
    // than twice the bound.
    for (let wave = 0; wave < 8; wave++) {
      for (let i = 0; i < 50; i++) socket.send(JSON.stringify({ id: `${wave}.${i}`, type: 'subscribe', payload: { query: INVALID } }));
      await until(() => received.length === 50 * (wave + 1), `the answers of wave ${wave}`, 10_000);
    }
    expect(received.reduce((n, text) => n + Buffer.byteLength(text), 0)).toBeGreaterThan(2 * MAX_BUFFERED_BYTES);
    expect(sample(await metrics(), 'gateway_websocket_overflow_closes_total')).toBe(1);
  } finally {
    socket.terminate();
  }
});
