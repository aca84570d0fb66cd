// kill -9 of the replica that polls for the cluster: another one polls within two lease periods (and one poll), and
// the subscribers of the survivors get every final state, both of a bulk recalculation made before anyone polls again
// and of one made after. Each replica watches records of its own besides shared ones, so the new poller has to read
// records only the others watch. A replica started afterwards joins the cluster: its subscribers get changes, and the
// cluster still polls once per cycle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Subscriber, WsConnection } from '../live/helpers.js';
import {
  brokenChains,
  callers,
  everyFinalState,
  matches,
  projects,
  recalculateAll,
  recalculateOne,
  recordReads,
  redisAvailable,
  restProject,
  soleLeader,
  startCluster,
  tokenOf,
  until,
  verifyToTheEnd,
  watch,
  type Cluster,
  type Replica,
} from './helpers.js';

const LEASE_MS = 1_000;
const PACE_MS = 250;
const WINDOW_MS = 2_000;

const available = redisAvailable('the cluster failover test');

describe.skipIf(!available)('the polling replica killed', () => {
  let cluster: Cluster;
  let replicas: Replica[];
  let ids: string[];
  const sockets: WsConnection[] = [];
  /** What each replica's subscribers watch: 4 records every replica watches, and 2 of its own. */
  const watchedBy = new Map<Replica, string[]>();
  const subscribersOf = new Map<Replica, Subscriber[]>();

  beforeAll(async () => {
    // Verification only when the test runs it, every pending record at once, each started for 300 ms.
    cluster = await startCluster(
      { verifyIntervalMs: 0, verifyBatchSize: 1_000, verifyDurationMs: 300 },
      { LIVE_LEASE_MS: String(LEASE_MS), LIVE_FAST_POLL_MS: String(PACE_MS), LIVE_SLOW_POLL_MS: String(PACE_MS), LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' },
    );
    replicas = await Promise.all(['g1', 'g2', 'g3'].map((name) => cluster.startReplica(name)));
    ids = await projects(cluster.standIn, 12);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.dispose()));
    await cluster?.close();
  });

  async function subscribe(replica: Replica, records: string[]): Promise<Subscriber[]> {
    const socket = replica.socket();
    sockets.push(socket);
    const own = watch([socket], 2, records);
    watchedBy.set(replica, records);
    subscribersOf.set(replica, own);
    await Promise.all(own.map((s) => s.initial(records)));
    return own;
  }

  /** Every subscriber of these replicas ends with every final state of what it watches, in order. */
  async function everyoneUpToDate(members: readonly Replica[], finals: Awaited<ReturnType<typeof verifyToTheEnd>>): Promise<void> {
    const subscribers = members.flatMap((r) => subscribersOf.get(r)!);
    await everyFinalState(subscribers, finals);
    for (const r of members) {
      for (const s of subscribersOf.get(r)!) {
        expect(brokenChains(s, watchedBy.get(r)!)).toEqual([]);
        expect(s.errors).toEqual([]);
      }
    }
  }

  it("another replica polls within two lease periods, and the survivors' subscribers get every final state", { timeout: 60_000 }, async () => {
    const shared = ids.slice(0, 4);
    await Promise.all(replicas.map((r, i) => subscribe(r, [...shared, ...ids.slice(4 + 2 * i, 6 + 2 * i)])));
    const leader = await soleLeader(replicas, 'records');
    const survivors = replicas.filter((r) => r !== leader);

    const mark = await cluster.upstreamMark();
    const killedAt = Date.now();
    leader.kill();
    // Changed before anyone polls again: the new poller must still bring these to every survivor.
    await recalculateAll(survivors[0], ids);
    const changedMeanwhile = await verifyToTheEnd(cluster, ids);

    const successor = await soleLeader(survivors, 'records');
    const taken = await until(async () => recordReads(await cluster.upstreamSince(mark)).find((e) => survivors.some((r) => r.token === tokenOf(e))), 'a poll by a survivor');
    const pollingAgainAfterMs = Date.parse(taken.at) - killedAt;
    expect(pollingAgainAfterMs, `a survivor polled ${pollingAgainAfterMs} ms after the kill`).toBeLessThanOrEqual(2 * LEASE_MS + PACE_MS);
    expect(callers([taken], survivors)).toEqual([successor.name]);
    await everyoneUpToDate(survivors, changedMeanwhile);

    // And changed once the new poller polls.
    await recalculateAll(survivors[1], ids);
    await everyoneUpToDate(survivors, await verifyToTheEnd(cluster, ids));
  });

  it('a replica started afterwards joins: its subscribers get changes made through another, and one replica polls', { timeout: 60_000 }, async () => {
    const living = replicas.filter((r) => r.process.child.exitCode === null && r.process.child.signalCode === null);
    const joined = await cluster.startReplica('g4');
    // The shared records and two nobody else watches.
    const own = await subscribe(joined, [...ids.slice(0, 4), ...ids.slice(10, 12)]);
    const members = [...living, joined];
    const leader = await soleLeader(members, 'records');

    const succeeded = await until(async () => {
      for (const id of ids.slice(0, 4)) if ((await restProject(cluster.standIn, id)).checksum_information.checksum_state === 'succeeded') return id;
      return undefined;
    }, 'a succeeded shared record');
    await recalculateOne(living[0], succeeded);
    const after = await restProject(cluster.standIn, succeeded);
    const everyone = members.flatMap((r) => subscribersOf.get(r)!);
    await Promise.all(everyone.map((s) => s.until(succeeded, (c) => matches(c, after), 'the recalculated state', 10_000)));

    await recalculateAll(living[0], ids);
    await everyoneUpToDate(members, await verifyToTheEnd(cluster, ids));
    for (const s of own) expect(brokenChains(s, watchedBy.get(joined)!)).toEqual([]);

    const polls = recordReads(await cluster.upstreamOver(WINDOW_MS));
    expect(callers(polls, members)).toEqual([leader.name]);
    expect(polls.length).toBeLessThanOrEqual(WINDOW_MS / PACE_MS + 2);
  });
});
