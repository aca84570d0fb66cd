// Watched identifiers GitLab does not know: both subscriptions say which (as the client spelt them), without an error
// and without ending; a record that disappears is named, one that comes back is a first state again; and they do not
// keep the shared poll at the fast pace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from '../support/gateway.js';
import { startProxiedLive, type ProxiedLive } from './gitlab-proxy.js';
import { listCalls, recordsIn, rest, sleep, sseConnection, startLive, until, wsConnection, type Transport } from './helpers.js';

const CHANGE = 'record { recordIdentifier } previousState state unknownIdentifiers';

const WATCH_UNKNOWN = /* GraphQL */ `
  subscription WatchUnknown($model: ModelName!, $identifiers: [ID!]!) {
    checksumStateChanged(model: $model, identifiers: $identifiers) { ${CHANGE} }
  }
`;

const WATCH_BATCHES_UNKNOWN = /* GraphQL */ `
  subscription WatchBatchesUnknown($model: ModelName!, $identifiers: [ID!]!) {
    checksumStateChangeBatches(model: $model, identifiers: $identifiers) { changes { ${CHANGE} } unknownIdentifiers }
  }
`;

const change = (id: string, previousState: string | null, state: string, unknownIdentifiers: string[] = []) => ({ record: { recordIdentifier: id }, previousState, state, unknownIdentifiers });
const each = (c: ReturnType<typeof change>) => ({ checksumStateChanged: c });
const batch = (changes: ReturnType<typeof change>[], unknownIdentifiers: string[] = []) => ({ checksumStateChangeBatches: { changes, unknownIdentifiers } });

describe('which watched identifiers GitLab does not know', () => {
  let live: ProxiedLive;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    // Every watched record settled: the slow pace (200 ms) is the only one, so polls come often and steadily.
    live = await startProxiedLive({ verifyIntervalMs: 0 }, { LIVE_FAST_POLL_MS: '200', LIVE_SLOW_POLL_MS: '200', LIVE_AUTH_RECHECK_MS: '600000' });
  });
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
    await live?.close();
  });

  const h = () => live as unknown as Harness;
  const connect = (transport: Transport) => {
    const conn = transport === 'graphql-ws' ? wsConnection(h()) : sseConnection(h());
    cleanups.push(() => conn.dispose());
    return conn;
  };

  it.each(['graphql-ws', 'sse'] as Transport[])('over %s, the first event names them as the client spelt them; nothing fails or ends', async (transport) => {
    const [known] = (await recordsIn(h(), 'projects', 'succeeded')).map((r) => String(r.record_identifier));
    const identifiers = [known, '0099999998', '99999999'];
    const conn = connect(transport);
    const perRecord = conn.subscribe({ model: 'PROJECT', identifiers }, WATCH_UNKNOWN);
    const batches = conn.subscribe({ model: 'PROJECT', identifiers }, WATCH_BATCHES_UNKNOWN);
    const noneKnown = conn.subscribe({ model: 'PROJECT', identifiers: ['99999997', '99999999'] }, WATCH_BATCHES_UNKNOWN);
    for (const sub of [perRecord, batches, noneKnown]) await sub.waitFor((s) => s.payloads.length > 0, 'the first event');

    expect(perRecord.payloads).toEqual([each(change(known, null, 'SUCCEEDED', ['0099999998', '99999999']))]);
    expect(batches.payloads).toEqual([batch([change(known, null, 'SUCCEEDED')], ['0099999998', '99999999'])]);
    // Nothing GitLab knows: the first batch still comes, with no changes.
    expect(noneKnown.payloads).toEqual([batch([], ['99999997', '99999999'])]);
    // A few polls later: still open, nothing more, no error.
    const cycles = live.gateway.live.stats.cycles;
    await until(() => live.gateway.live.stats.cycles >= cycles + 2, 'two more polls');
    for (const sub of [perRecord, batches, noneKnown]) {
      expect(sub.payloads).toHaveLength(1);
      expect([sub.errors, sub.completed]).toEqual([[], false]);
    }
  });

  it('a record that disappears is named in the next batch (in the next event, one by one); one that comes back is a first state', async () => {
    const [a, b] = (await recordsIn(h(), 'projects', 'succeeded')).slice(2).map((r) => String(r.record_identifier));
    const conn = connect('graphql-ws');
    const perRecord = conn.subscribe({ model: 'PROJECT', identifiers: [a, b] }, WATCH_UNKNOWN);
    const batches = conn.subscribe({ model: 'PROJECT', identifiers: [a, b] }, WATCH_BATCHES_UNKNOWN);
    await perRecord.waitFor((s) => s.payloads.length === 2, 'both first states');
    await batches.waitFor((s) => s.payloads.length === 1, 'the first batch');

    live.proxy.hide([a]);
    await batches.waitFor((s) => s.payloads.length === 2, 'the batch naming the record gone');
    expect(batches.payloads[1]).toEqual(batch([], [a]));
    // One by one, nothing carries it until another record changes.
    expect(perRecord.payloads).toHaveLength(2);
    const { status } = await rest(h(), 'PUT', `projects/${b}/checksum`);
    expect(status).toBe(200);
    await perRecord.waitFor((s) => s.payloads.length === 3, "b's change");
    expect(perRecord.payloads[2]).toEqual(each(change(b, 'SUCCEEDED', 'SUCCEEDED', [a])));
    await batches.waitFor((s) => s.payloads.length === 3, "b's change");
    expect(batches.payloads[2]).toEqual(batch([change(b, 'SUCCEEDED', 'SUCCEEDED')]));

    live.proxy.show([a]);
    await perRecord.waitFor((s) => s.payloads.length === 4, 'the record back');
    await batches.waitFor((s) => s.payloads.length === 4, 'the record back');
    expect(perRecord.payloads[3]).toEqual(each(change(a, null, 'SUCCEEDED')));
    expect(batches.payloads[3]).toEqual(batch([change(a, null, 'SUCCEEDED')]));
    for (const sub of [perRecord, batches]) expect([sub.errors, sub.completed]).toEqual([[], false]);
  });
});

describe('the pace', () => {
  let h: Harness;
  beforeAll(async () => {
    // Fast polls every 50 ms if anything holds them; no slow poll and no token re-check within the test.
    h = await startLive({ verifyIntervalMs: 0 }, { LIVE_FAST_POLL_MS: '50', LIVE_SLOW_POLL_MS: '600000', LIVE_AUTH_RECHECK_MS: '600000' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('1,000 identifiers GitLab answered as absent, on 3 subscriptions, cost their first read and then nothing', async () => {
    const unknown = Array.from({ length: 1000 }, (_, i) => String(90_000_001 + i));
    const conn = wsConnection(h);
    try {
      await h.resetUpstream();
      const subs = Array.from({ length: 3 }, () => conn.subscribe({ model: 'PROJECT', identifiers: unknown }, WATCH_BATCHES_UNKNOWN));
      for (const sub of subs) await sub.waitFor((s) => s.payloads.length > 0, 'the first batch', 20_000);
      for (const sub of subs) expect(sub.payloads).toEqual([batch([], unknown)]);
      const reads = listCalls(await h.upstream()).filter((call) => call.params['identifiers[]']);
      // Their first reads: 1,000 identifiers in calls of at most 100 (one read shared, or one each).
      expect(reads.length).toBeGreaterThanOrEqual(10);
      expect(reads.length).toBeLessThanOrEqual(30);

      // Then nothing: an identifier GitLab answered as absent does not hold the fast pace (it made 20 polls a second).
      await h.resetUpstream();
      await sleep(1_500);
      expect(listCalls(await h.upstream())).toEqual([]);
      expect(h.gateway.live.stats.cycles).toBe(0);
      for (const sub of subs) expect([sub.payloads.length, sub.errors, sub.completed]).toEqual([1, [], false]);
    } finally {
      await conn.dispose();
    }
  });
});
