// What three replicas cost GitLab: 300 subscribers of the same 10 records, spread over three gateways on one Redis, make
// the poll calls of one gateway with one subscriber, all from one replica (the one that says it polls for the cluster);
// and likewise for verificationSummaryChanged. The one-gateway baseline runs beside them, on a key prefix of its own,
// measured over the same windows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import { WATCH_SMALL, type Subscriber, type WsConnection } from '../live/helpers.js';
import type { SummaryConnection, SummarySubscriber } from '../summary-live/helpers.js';
import {
  callers,
  polling,
  projects,
  recordReads,
  redisAvailable,
  soleLeader,
  startCluster,
  summaryCalls,
  tokenOf,
  uniquePrefix,
  watch,
  type Cluster,
  type Replica,
} from './helpers.js';

const PACE_MS = 250;
const WINDOW_MS = 3_000;
const SOCKETS_PER_REPLICA = 2;
const PER_REPLICA = 100;
/** Calls of one summary of a model: one per state, each counted from X-Total (see src/gitlab/counting.ts). */
const SUMMARY_CALLS_PER_CYCLE = 5;

const available = redisAvailable('the cluster fan-out test');

describe.skipIf(!available)('three replicas on one Redis', () => {
  let cluster: Cluster;
  let replicas: Replica[];
  let solo: Replica;
  let ids: string[];
  const sockets: (WsConnection | SummaryConnection)[] = [];

  beforeAll(async () => {
    // One pace whatever the states, no verification to change them, and a budget that never holds a call back.
    cluster = await startCluster({ verifyIntervalMs: 0 }, { LIVE_FAST_POLL_MS: String(PACE_MS), LIVE_SLOW_POLL_MS: String(PACE_MS), LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' });
    [replicas, solo] = await Promise.all([
      Promise.all(['g1', 'g2', 'g3'].map((name) => cluster.startReplica(name))),
      cluster.startReplica('solo', { REDIS_KEY_PREFIX: uniquePrefix() }),
    ]);
    ids = await projects(cluster.standIn, 10);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.dispose()));
    await cluster?.close();
  });

  /** The calls of the cluster's replicas and of the baseline over one window. */
  async function window(select: (entries: RequestLogEntry[]) => RequestLogEntry[]): Promise<{ cluster: RequestLogEntry[]; solo: RequestLogEntry[] }> {
    const calls = select(await cluster.upstreamOver(WINDOW_MS));
    return { cluster: calls.filter((e) => tokenOf(e) !== solo.token), solo: calls.filter((e) => tokenOf(e) === solo.token) };
  }

  const account = (entries: RequestLogEntry[]) => entries.map((e) => `${callers([e], [...replicas, solo])[0]} ${e.query}`);

  it('300 record subscribers on three replicas cost GitLab one poll per cycle, as one subscriber on one gateway does', { timeout: 90_000 }, async () => {
    const subscribers: Subscriber[] = [];
    const baseline = solo.socket();
    sockets.push(baseline);
    subscribers.push(...watch([baseline], 1, ids, WATCH_SMALL));
    for (const replica of replicas) {
      const own = Array.from({ length: SOCKETS_PER_REPLICA }, () => replica.socket());
      sockets.push(...own);
      subscribers.push(...watch(own, PER_REPLICA, ids, WATCH_SMALL));
    }
    await Promise.all(subscribers.map((s) => s.initial(ids, 40_000)));
    expect(subscribers.filter((s) => s.errors.length > 0 || s.completed)).toEqual([]);
    for (const replica of replicas) expect(await replica.metric('gateway_live_subscriptions')).toBe(PER_REPLICA);

    const leader = await soleLeader(replicas, 'records');
    // A lease is taken when a poll is due: the baseline's may come a little after the cluster's.
    expect(await soleLeader([solo], 'records')).toBe(solo);

    const polls = await window((entries) => recordReads(entries));
    // Every poll names the 10 records, once: the union of what every replica watches.
    for (const call of [...polls.cluster, ...polls.solo]) expect([...call.params['identifiers[]']].sort()).toEqual([...ids].sort());
    expect(callers(polls.cluster, replicas), JSON.stringify(account(polls.cluster))).toEqual([leader.name]);
    expect(polls.solo.length).toBeGreaterThanOrEqual(3);
    // As many as the baseline's, give or take a poll at each edge of the window.
    expect(Math.abs(polls.cluster.length - polls.solo.length), `cluster ${polls.cluster.length}, one gateway ${polls.solo.length}`).toBeLessThanOrEqual(2);
    expect(await polling(replicas, 'records')).toEqual(Object.fromEntries(replicas.map((r) => [r.name, r === leader ? 1 : 0])));
  });

  it('300 summary subscribers on three replicas cost GitLab one summary per cycle, as one subscriber on one gateway does', { timeout: 90_000 }, async () => {
    const subscribers: SummarySubscriber[] = [];
    const baseline = solo.summarySocket();
    sockets.push(baseline);
    subscribers.push(baseline.subscribe(['PROJECT']));
    for (const replica of replicas) {
      const own = Array.from({ length: SOCKETS_PER_REPLICA }, () => replica.summarySocket());
      sockets.push(...own);
      for (let i = 0; i < PER_REPLICA; i++) subscribers.push(own[i % own.length].subscribe(['PROJECT']));
    }
    await Promise.all(subscribers.map((s) => s.first(['PROJECT'], 40_000)));
    for (const replica of replicas) expect(await replica.metric('gateway_summary_subscriptions')).toBe(PER_REPLICA);

    const leader = await soleLeader(replicas, 'summary');
    // A lease is taken when a poll is due: the baseline's may come a little after the cluster's.
    expect(await soleLeader([solo], 'summary')).toBe(solo);

    const calls = await window((entries) => summaryCalls(entries));
    expect(callers(calls.cluster, replicas), JSON.stringify(account(calls.cluster))).toEqual([leader.name]);
    expect(calls.solo.length).toBeGreaterThanOrEqual(3 * SUMMARY_CALLS_PER_CYCLE);
    expect(Math.abs(calls.cluster.length - calls.solo.length), `cluster ${calls.cluster.length}, one gateway ${calls.solo.length}`).toBeLessThanOrEqual(2 * SUMMARY_CALLS_PER_CYCLE);
    expect(await polling(replicas, 'summary')).toEqual(Object.fromEntries(replicas.map((r) => [r.name, r === leader ? 1 : 0])));
  });
});
