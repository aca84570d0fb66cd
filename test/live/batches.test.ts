// The batch subscription: the same changes as checksumStateChanged, one event per observation. Verification is driven
// step by step, so every observation moves all watched records at once and the batches are known in advance.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Harness } from '../support/gateway.js';
import { connect, recordsIn, startLive, states, until, WATCH_BATCHES, type Change, type Transport } from './helpers.js';

const TRANSPORTS: Transport[] = ['graphql-ws', 'sse'];
const RECALCULATE_ALL = /* GraphQL */ `
  mutation { recalculateAllChecksums(model: PROJECT) { errors } }
`;

let h: Harness;

beforeAll(async () => {
  h = await startLive({ verifyIntervalMs: 0, verifyDurationMs: 400, verifyBatchSize: 100_000 }, { LIVE_FAST_POLL_MS: '50', LIVE_SLOW_POLL_MS: '200' });
});
afterAll(async () => {
  await h?.close();
});

const identifiersOf = (batch: Change[]) => batch.map((c) => c.record.recordIdentifier);

it.each(TRANSPORTS)('over %s, one event per observation carries every watched record it changed, and only those', async (transport) => {
  const succeeded = (await recordsIn(h, 'projects', 'succeeded')).slice(0, 3).map((r) => String(r.record_identifier));
  const [failed] = (await recordsIn(h, 'projects', 'failed')).map((r) => String(r.record_identifier));
  const all = [...succeeded, failed];
  const subset = [failed, succeeded[0]];

  const conn = connect(h, transport);
  try {
    const batches = conn.subscribe({ model: 'PROJECT', identifiers: all }, WATCH_BATCHES);
    const fewer = conn.subscribe({ model: 'PROJECT', identifiers: subset }, WATCH_BATCHES);
    const oneByOne = conn.subscribe({ model: 'PROJECT', identifiers: all });
    await Promise.all([batches.initial(all), fewer.initial(subset), oneByOne.initial(all)]);
    // First, one batch with the current state of every record, in the subscriber's order.
    expect(batches.batches).toHaveLength(1);
    expect(identifiersOf(batches.batches[0])).toEqual(all);
    expect(batches.batches[0].every((c) => c.previousState === null)).toBe(true);
    expect(identifiersOf(fewer.batches[0])).toEqual(subset);

    expect((await h.request(RECALCULATE_ALL)).errors).toBeUndefined();
    for (const id of all) await batches.until(id, (c) => c.state === 'PENDING', 'PENDING', 3_000);
    await h.control('POST', 'verify');
    const settled = (c: Change) => c.previousState === 'STARTED';
    for (const sub of [batches, oneByOne]) for (const id of all) await sub.until(id, settled, 'its final state', 3_000);
    for (const id of subset) await fewer.until(id, settled, 'its final state', 3_000);
    const finals = all.map((id) => (id === failed ? 'FAILED' : 'SUCCEEDED'));

    // Bulk job, verification start, verification end: each seen by one poll, for all records at once.
    expect(batches.batches.map((b) => b.length)).toEqual([4, 4, 4, 4]);
    expect(batches.batches.map((b) => states(b))).toEqual([finals, all.map(() => 'PENDING'), all.map(() => 'STARTED'), finals]);
    expect(batches.batches.slice(1).every((b) => identifiersOf(b).sort().join() === [...all].sort().join() && new Set(b.map((c) => c.observedAt)).size === 1)).toBe(true);
    // A subscriber of fewer records gets the same observations, cut down to its records.
    expect(fewer.batches.map((b) => identifiersOf(b).sort())).toEqual(fewer.batches.map(() => [...subset].sort()));
    expect(fewer.batches.map((b) => states(b).sort())).toEqual(batches.batches.map((b) => states(b.filter((c) => subset.includes(c.record.recordIdentifier))).sort()));
    // The same changes, whichever subscription carried them (a current state's observedAt is when it was read, which
    // may differ between two subscriptions).
    const sameRead = (changes: Change[]) => changes.map((c, i) => (i === 0 ? { ...c, observedAt: 'first read' } : c));
    for (const id of all) expect(sameRead(batches.of(id)), `record ${id}`).toEqual(sameRead(oneByOne.of(id)));
    for (const sub of [batches, fewer, oneByOne]) expect(sub.errors).toEqual([]);
    for (const sub of [batches, fewer, oneByOne]) sub.unsubscribe();
  } finally {
    await conn.dispose();
  }
  await until(() => h.gateway.live.activeSubscriptions === 0, 'the subscriptions to end');
});

it('refuses what checksumStateChanged refuses, with the same codes', async () => {
  const conn = connect(h, 'graphql-ws');
  try {
    const empty = conn.subscribe({ model: 'PROJECT', identifiers: [] }, WATCH_BATCHES);
    const malformed = conn.subscribe({ model: 'PROJECT', identifiers: ['not an id!'] }, WATCH_BATCHES);
    for (const sub of [empty, malformed]) await sub.waitFor((s) => s.errors.length > 0, 'an error');
    expect(empty.errors.map((e) => [e.extensions?.code, e.message])).toEqual([['BAD_USER_INPUT', 'identifiers must name at least one record.']]);
    expect(malformed.errors.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(empty.batches.concat(malformed.batches)).toEqual([]);
  } finally {
    await conn.dispose();
  }
  expect(h.gateway.live.activeSubscriptions).toBe(0);
});
