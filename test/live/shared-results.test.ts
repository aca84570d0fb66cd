// One change is executed once per query shape and shared: subscribers who asked for different fields, different
// variables or different records each still get exactly what they asked for.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Harness } from '../support/gateway.js';
import { recordsIn, sseConnection, startLive, WATCH, WATCH_SMALL, wsConnection, type WsConnection, type SseConnection } from './helpers.js';

const RECALCULATE = /* GraphQL */ `
  mutation ($id: ID!) {
    recalculateChecksum(model: PROJECT, recordIdentifier: $id) { errors }
  }
`;

/** The same document for two subscribers; only the variable `$full` decides whether checksum details are sent. */
const WATCH_MAYBE_FULL = /* GraphQL */ `
  subscription WatchMaybeFull($identifiers: [ID!]!, $full: Boolean!) {
    checksumStateChanged(model: PROJECT, identifiers: $identifiers) {
      record { recordIdentifier checksumInformation @include(if: $full) { checksumState } }
      state
    }
  }
`;

let h: Harness;
let ws: WsConnection;
let sse: SseConnection;

beforeAll(async () => {
  // No poll runs within the test: what arrives is the mutation's own result, published once to every subscriber.
  h = await startLive({ verifyIntervalMs: 0 }, { LIVE_FAST_POLL_MS: '60000', LIVE_SLOW_POLL_MS: '60000' });
});
afterAll(async () => {
  await ws?.dispose();
  await sse?.dispose();
  await h?.close();
});

it('gives each subscriber the fields, variables and records it asked for', async () => {
  const [a, b] = (await recordsIn(h, 'projects', 'succeeded')).map((r) => String(r.record_identifier));
  ws = wsConnection(h);
  sse = sseConnection(h);
  const full = ws.subscribe({ model: 'PROJECT', identifiers: [a, b] }, WATCH);
  const small = ws.subscribe({ model: 'PROJECT', identifiers: [a, b] }, WATCH_SMALL);
  const otherRecord = ws.subscribe({ model: 'PROJECT', identifiers: [b] }, WATCH_SMALL);
  const withDetails = ws.subscribe({ identifiers: [a], full: true }, WATCH_MAYBE_FULL);
  const withoutDetails = ws.subscribe({ identifiers: [a], full: false }, WATCH_MAYBE_FULL);
  const overSse = sse.subscribe({ identifiers: [a], full: false }, WATCH_MAYBE_FULL);
  const all = [full, small, otherRecord, withDetails, withoutDetails, overSse];
  await Promise.all([full.initial([a, b]), small.initial([a, b]), otherRecord.initial([b]), withDetails.initial([a]), withoutDetails.initial([a]), overSse.initial([a])]);

  const result = await h.request(RECALCULATE, { id: a });
  expect(result.errors).toBeUndefined();
  const settledAgain = (s: typeof full) => s.until(a, (c) => c.state === 'SUCCEEDED' && c.previousState !== null, 'its recalculated state');
  const [fromFull, fromSmall, fromWith, fromWithout, fromSse] = await Promise.all([full, small, withDetails, withoutDetails, overSse].map(settledAgain));

  expect(Object.keys(fromFull).sort()).toEqual(['observedAt', 'previousState', 'record', 'state']);
  expect(fromFull.record).toMatchObject({ recordIdentifier: a, model: 'PROJECT', checksumInformation: { checksumState: 'SUCCEEDED' } });
  expect(fromSmall).toEqual({ record: { recordIdentifier: a }, previousState: 'SUCCEEDED', state: 'SUCCEEDED' });
  expect(fromWith).toEqual({ record: { recordIdentifier: a, checksumInformation: { checksumState: 'SUCCEEDED' } }, state: 'SUCCEEDED' });
  expect(fromWithout).toEqual({ record: { recordIdentifier: a }, state: 'SUCCEEDED' });
  expect(fromSse).toEqual(fromWithout);
  // The subscriber of the other record heard nothing of this one.
  expect(otherRecord.countOf(a)).toBe(0);
  expect(all.every((s) => s.errors.length === 0)).toBe(true);
});
