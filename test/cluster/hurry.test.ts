// A recalculation through one replica reaches the subscribers of every replica at once: the record GitLab sends back
// travels through Redis (with polls a minute apart, no poll could have seen it), and a bulk recalculation, whose answer
// holds no record, hurries the one poll of the cluster wherever it runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Subscriber, WsConnection } from '../live/helpers.js';
import {
  brokenChains,
  callers,
  matches,
  projectsIn,
  recalculateAll,
  recalculateOne,
  recordPolls,
  redisAvailable,
  restProject,
  startCluster,
  watch,
  type Cluster,
  type Replica,
} from './helpers.js';

const MINUTE_MS = 60_000;
/** Far below a poll period, far above what a message through Redis takes on a loaded machine. */
const DELIVERY_MS = 10_000;

const available = redisAvailable('the cluster recalculation test');

describe.skipIf(!available)('recalculateChecksum through one replica, polls a minute apart', () => {
  let cluster: Cluster;
  let replicas: Replica[];
  const sockets: WsConnection[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ verifyIntervalMs: 0, failRate: 0 }, { LIVE_FAST_POLL_MS: String(MINUTE_MS), LIVE_SLOW_POLL_MS: String(MINUTE_MS) });
    replicas = await Promise.all(['g1', 'g2', 'g3'].map((name) => cluster.startReplica(name)));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.dispose()));
    await cluster?.close();
  });

  it('reaches the subscribers of the other replicas with the new state before any poll could see it', async () => {
    const [id] = await projectsIn(cluster.standIn, 'pending', 1);
    const [g1, g2, g3] = replicas;
    const subscribers = new Map<Replica, Subscriber[]>();
    for (const replica of [g2, g3]) {
      const socket = replica.socket();
      sockets.push(socket);
      subscribers.set(replica, watch([socket], 2, [id]));
    }
    const all = [...subscribers.values()].flat();
    await Promise.all(all.map((s) => s.initial([id])));
    for (const s of all) expect(s.of(id).map((c) => c.state)).toEqual(['PENDING']);

    await recalculateOne(g1, id);
    const verified = await restProject(cluster.standIn, id);
    expect(verified.checksum_information.checksum_state).toBe('succeeded');
    expect(verified.checksum_information.last_checksum).not.toBeNull();

    await Promise.all(all.map((s) => s.until(id, (c) => matches(c, verified), 'the recalculated state', DELIVERY_MS)));
    for (const [replica, own] of subscribers) {
      for (const s of own) {
        expect(s.of(id).map((c) => c.state), replica.name).toEqual(['PENDING', 'SUCCEEDED']);
        expect(s.of(id)[1].previousState).toBe('PENDING');
        expect(s.errors).toEqual([]);
      }
    }
  });
});

describe.skipIf(!available)('recalculateAllChecksums through a replica that watches nothing, settled records polled a minute apart', () => {
  const FAST_MS = 250;
  let cluster: Cluster;
  let replicas: Replica[];
  const sockets: WsConnection[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ verifyIntervalMs: 0, failRate: 0 }, { LIVE_FAST_POLL_MS: String(FAST_MS), LIVE_SLOW_POLL_MS: String(MINUTE_MS) });
    replicas = await Promise.all(['g1', 'g2', 'g3'].map((name) => cluster.startReplica(name)));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.dispose()));
    await cluster?.close();
  });

  it("hurries the poll of the cluster: the other replicas' subscribers see the records queued again", async () => {
    const ids = await projectsIn(cluster.standIn, 'succeeded', 5);
    const [g1, g2, g3] = replicas;
    const subscribers: Subscriber[] = [];
    for (const replica of [g2, g3]) {
      const socket = replica.socket();
      sockets.push(socket);
      subscribers.push(...watch([socket], 2, ids));
    }
    await Promise.all(subscribers.map((s) => s.initial(ids)));

    // g1 watches nothing, so it polls nothing: only the replicas it tells can poll sooner than a minute from now.
    const mark = await cluster.upstreamMark();
    await recalculateAll(g1, ids);
    await Promise.all(subscribers.flatMap((s) => ids.map((id) => s.until(id, (c) => c.state === 'PENDING', 'queued again', DELIVERY_MS))));
    for (const s of subscribers) {
      expect(brokenChains(s, ids)).toEqual([]);
      for (const id of ids) expect(s.of(id).map((c) => c.state)).toEqual(['SUCCEEDED', 'PENDING']);
    }
    const polls = recordPolls(await cluster.upstreamSince(mark), ids);
    expect(polls.length).toBeGreaterThan(0);
    expect(callers(polls, replicas)).not.toContain(g1.name);
  });
});
