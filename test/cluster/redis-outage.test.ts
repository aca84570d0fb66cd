// Redis stopped under three replicas: each says it is degraded and polls for itself, queries and mutations go on,
// /readyz stays ready, and every subscriber gets every final state of a bulk recalculation; Redis started again (on the
// same port, empty) in the middle of another one: the replicas rejoin without a restart, every subscriber still ends
// with every final state, and one replica polls for the cluster again. Each replica watches records of its own besides
// shared ones, so whoever polls after the outage has records only the others watch.
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRecordsDocument } from '../generated/operations.js';
import type { Subscriber, WsConnection } from '../live/helpers.js';
import {
  brokenChains,
  callers,
  everyFinalState,
  everyReplicaReports,
  projects,
  recalculateAll,
  recordReads,
  redisAvailable,
  soleLeader,
  startCluster,
  until,
  verifyToTheEnd,
  watch,
  type Cluster,
  type Replica,
} from './helpers.js';

const LEASE_MS = 1_000;
const PACE_MS = 250;
const WINDOW_MS = 2_000;
/** Records a run of GitLab's verification job takes: the 10 watched ones take two runs. */
const VERIFY_BATCH = 5;

const available = redisAvailable('the cluster Redis outage test');

describe.skipIf(!available)('Redis stopped and started again under three replicas', () => {
  let cluster: Cluster;
  let replicas: Replica[];
  let ids: string[];
  const sockets: WsConnection[] = [];
  const subscribers: Subscriber[] = [];
  const watchedBy = new Map<Subscriber, string[]>();

  beforeAll(async () => {
    cluster = await startCluster(
      { verifyIntervalMs: 0, verifyBatchSize: VERIFY_BATCH, verifyDurationMs: 300 },
      { LIVE_LEASE_MS: String(LEASE_MS), LIVE_FAST_POLL_MS: String(PACE_MS), LIVE_SLOW_POLL_MS: String(PACE_MS), LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' },
    );
    replicas = await Promise.all(['g1', 'g2', 'g3'].map((name) => cluster.startReplica(name)));
    // The first records of the stand-in (the verification job takes pending records in this order): 4 that every
    // replica watches, and 2 of each replica's own, so a poller has records only the others watch.
    ids = await projects(cluster.standIn, 10);
    for (const [i, replica] of replicas.entries()) {
      const records = [...ids.slice(0, 4), ...ids.slice(4 + 2 * i, 6 + 2 * i)];
      const socket = replica.socket();
      sockets.push(socket);
      const own = watch([socket], 2, records);
      await Promise.all(own.map((s) => s.initial(records)));
      subscribers.push(...own);
      watchedBy.set(own[0], records).set(own[1], records);
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.dispose()));
    await cluster?.close();
  });

  it('joined at first: connected, not degraded, one replica polling', async () => {
    await everyReplicaReports(replicas, 'gateway_redis_connected', 1);
    await everyReplicaReports(replicas, 'gateway_live_degraded', 0);
    const leader = await soleLeader(replicas, 'records');
    expect(callers(recordReads(await cluster.upstreamOver(WINDOW_MS)), replicas)).toEqual([leader.name]);
  });

  it('without Redis: degraded, every replica polls for itself, queries and readiness unaffected, every final state delivered', { timeout: 60_000 }, async () => {
    await cluster.redis.stop();
    await everyReplicaReports(replicas, 'gateway_live_degraded', 1);
    await everyReplicaReports(replicas, 'gateway_redis_connected', 0);
    for (const replica of replicas) {
      expect((await fetch(`${replica.base}/readyz`)).status).toBe(200);
      const posted = await replica.request(print(ModelRecordsDocument), { model: 'PROJECT', identifiers: ids, first: ids.length });
      expect(posted.body.errors).toBeUndefined();
      const nodes = (posted.body.data?.modelRecords as { nodes: { recordIdentifier: string }[] }).nodes;
      expect(nodes.map((n) => n.recordIdentifier).sort()).toEqual([...ids].sort());
    }
    await until(async () => {
      const polls = recordReads(await cluster.upstreamOver(WINDOW_MS));
      return callers(polls, replicas).length === replicas.length ? true : undefined;
    }, 'every replica polling for itself');

    await recalculateAll(replicas[0], ids);
    const finals = await verifyToTheEnd(cluster, ids);
    await everyFinalState(subscribers, finals);
    for (const s of subscribers) expect(brokenChains(s, watchedBy.get(s)!)).toEqual([]);
  });

  it('Redis back in the middle of a bulk recalculation: rejoined without restart, every final state delivered, one replica polling', { timeout: 60_000 }, async () => {
    await recalculateAll(replicas[1], ids);
    await cluster.control('POST', 'verify');
    await cluster.redis.restart();
    await everyReplicaReports(replicas, 'gateway_redis_connected', 1);
    await everyReplicaReports(replicas, 'gateway_live_degraded', 0);

    const finals = await verifyToTheEnd(cluster, ids);
    await everyFinalState(subscribers, finals);
    for (const s of subscribers) {
      expect(brokenChains(s, watchedBy.get(s)!)).toEqual([]);
      expect(s.errors).toEqual([]);
    }

    const leader = await soleLeader(replicas, 'records');
    expect(callers(recordReads(await cluster.upstreamOver(WINDOW_MS)), replicas)).toEqual([leader.name]);
    for (const replica of replicas) expect(replica.process.child.exitCode).toBeNull();
  });
});
