// The gateway writes WebSocket frames itself (src/ws-outbox.ts): messages of every length class (under 126 bytes,
// up to 64 KB, above) reach a graphql-ws client whole, and equal to what HTTP answers.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Harness } from '../support/gateway.js';
import { startLive, WATCH_BATCHES, wsConnection, type WsConnection } from './helpers.js';

let h: Harness;
let conn: WsConnection;

beforeAll(async () => {
  h = await startLive({ verifyIntervalMs: 0 }, {});
  conn = wsConnection(h);
});
afterAll(async () => {
  await conn?.dispose();
  await h?.close();
});

const FIELDS = 'id recordIdentifier model checksumInformation { checksum checksumState checksumFailure checksumRetryCount lastChecksum checksumRetryAt } createdAt fileSize';

/** `pages` aliases of a page of `first` records: the answer grows with both. */
function queryOf(pages: number, first: number): string {
  const aliases = Array.from({ length: pages }, (_, i) => `p${i}: modelRecords(model: PROJECT, first: ${first}) { nodes { ${FIELDS} } }`);
  return `{ ${aliases.join(' ')} }`;
}

function overWs(query: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let result: unknown;
    conn.client.subscribe({ query }, { next: (value) => (result = value), error: reject, complete: () => resolve(result) });
  });
}

it.each([
  ['under 126 bytes', '{ __typename }', 0, 125],
  ['126 bytes to 64 KB', queryOf(1, 20), 126, 65_535],
  ['above 64 KB', queryOf(3, 100), 65_536, Infinity],
])('a message %s arrives whole', async (_, query, min, max) => {
  const viaHttp = await h.request(query);
  expect(viaHttp.errors).toBeUndefined();
  const expected = { data: viaHttp.data };
  // The frame carries the graphql-ws envelope too: {"id":"…","type":"next","payload":…}.
  const frameBytes = Buffer.byteLength(JSON.stringify({ id: '00000000-0000-0000-0000-000000000000', type: 'next', payload: expected }));
  expect(frameBytes).toBeGreaterThanOrEqual(min);
  expect(frameBytes).toBeLessThanOrEqual(max);
  expect(await overWs(query)).toEqual(expected);
});

it('large shared payloads, written by reference between small messages, arrive whole and in order', async () => {
  const page = await h.request<{ modelRecords: { nodes: { recordIdentifier: string; checksumInformation: { checksumState: string } | null }[] } }, undefined>(
    '{ modelRecords(model: PROJECT, first: 100) { nodes { recordIdentifier checksumInformation { checksumState } } } }',
  );
  const nodes = page.data!.modelRecords.nodes;
  const ids = nodes.map((n) => n.recordIdentifier);
  // Three batches of 100 records (tens of KB each) and small per-record events, owed in the same turn on one socket.
  const big = [0, 1, 2].map(() => conn.subscribe({ model: 'PROJECT', identifiers: ids }, WATCH_BATCHES));
  const small = [0, 1].map((i) => conn.subscribe({ model: 'PROJECT', identifiers: ids.slice(i * 3, i * 3 + 3) }));
  await Promise.all([...big.map((s) => s.initial(ids)), ...small.map((s, i) => s.initial(ids.slice(i * 3, i * 3 + 3)))]);
  expect(Buffer.byteLength(JSON.stringify(big[0].batches[0]))).toBeGreaterThan(20_000);
  for (const sub of big) {
    expect(sub.batches).toHaveLength(1);
    expect(sub.batches[0].map((c) => [c.record.recordIdentifier, c.state])).toEqual(nodes.map((n) => [n.recordIdentifier, n.checksumInformation?.checksumState ?? 'DISABLED']));
    expect(sub.batches[0]).toEqual(big[0].batches[0]);
  }
  for (const [i, sub] of small.entries()) expect(sub.changes.map((c) => c.record.recordIdentifier)).toEqual(ids.slice(i * 3, i * 3 + 3));
  for (const sub of [...big, ...small]) {
    expect(sub.errors).toEqual([]);
    sub.unsubscribe();
  }
});
