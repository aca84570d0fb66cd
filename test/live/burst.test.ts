// A burst of subscriptions on a gateway that has read nothing yet: their first reads share GitLab calls instead of
// costing one each, and every subscriber still gets the current state of every record.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Harness } from '../support/gateway.js';
import { listCalls, rawSocket, rest, startLive, WATCH_SMALL, wsConnection, type RestRecord, type WsConnection } from './helpers.js';

let h: Harness;
let conn: WsConnection;

beforeAll(async () => {
  h = await startLive({ verifyIntervalMs: 0 }, { LIVE_FAST_POLL_MS: '60000', LIVE_SLOW_POLL_MS: '60000', LIVE_AUTH_RECHECK_MS: '600000', TOKEN_CACHE_MS: '600000' });
  // The token's connection check (one call) comes before the test: it counts the reads of records only.
  (await rawSocket(h, () => {})).terminate();
});
afterAll(async () => {
  await conn?.dispose();
  await h?.close();
});

it('100 subscriptions opened at once on a fresh gateway cost GitLab one read of their 100 records', async () => {
  const { body } = await rest(h, 'GET', 'projects?per_page=100');
  const ids = (body as RestRecord[]).map((r) => String(r.record_identifier));
  conn = wsConnection(h);
  await h.resetUpstream();
  // Each subscriber watches its own slice, all within the same moment.
  const subscribers = Array.from({ length: 100 }, (_, i) => conn.subscribe({ model: 'PROJECT', identifiers: [ids[i], ids[(i + 1) % 100]] }, WATCH_SMALL));
  await Promise.all(subscribers.map((s, i) => s.initial([ids[i], ids[(i + 1) % 100]], 30_000)));
  const reads = listCalls(await h.upstream());
  // Opened on one socket in one burst they reach the gateway within a few ticks: a handful of reads at most, never 100.
  expect(reads.length).toBeGreaterThanOrEqual(1);
  expect(reads.length).toBeLessThanOrEqual(5);
  const asked = new Set(reads.flatMap((r) => r.params['identifiers[]']));
  expect(asked).toEqual(new Set(ids));
  expect(subscribers.every((s) => s.errors.length === 0 && s.changes.length === 2 && s.changes.every((c) => c.previousState === null))).toBe(true);
});
