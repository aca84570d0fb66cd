// The gateway writes WebSocket frames itself (src/ws-outbox.ts): messages of every length class (under 126 bytes,
// up to 64 KB, above) reach a graphql-ws client whole, and equal to what HTTP answers.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Harness } from '../support/gateway.js';
import { startLive, wsConnection, type WsConnection } from './helpers.js';

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
