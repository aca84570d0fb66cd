// Per-client limits across two gateway processes on one redis-server of the test's own: a token's operations are
// counted in total over both, and so are its subscriptions (a replica killed gives its places back within a hold,
// 3 x LIVE_LEASE_MS); every key in Redis has an expiry within its window. With Redis stopped each replica counts in
// memory on its own (a warn line, gateway_rate_limits_degraded 1), refusing nobody for it; with Redis back, they count
// together again.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until as untilTrue, wsConnection, type WsConnection } from '../live/helpers.js';
import type { Harness } from '../support/gateway.js';
import { postGraphQL } from '../operability/helpers.js';
import { everyReplicaReports, projects, redisAvailable, startCluster, until, type Cluster, type Replica } from '../cluster/helpers.js';
import { expectRateLimited, sse } from './helpers.js';

const LEASE_MS = 500;
const ENV = {
  LOG_LEVEL: 'info',
  RATE_LIMIT_TOKEN_OPERATIONS_PER_MINUTE: '6',
  RATE_LIMIT_IP_OPERATIONS_PER_MINUTE: '0',
  RATE_LIMIT_TOKEN_SUBSCRIPTIONS: '2',
  LIVE_LEASE_MS: String(LEASE_MS),
};
const WATCH = /* GraphQL */ `subscription Watch($model: ModelName!, $identifiers: [ID!]!) { checksumStateChanged(model: $model, identifiers: $identifiers) { state record { recordIdentifier } } }`;
const watchText = (id: string) => `subscription { checksumStateChanged(model: PROJECT, identifiers: ["${id}"]) { state } }`;

const available = redisAvailable('the per-client limits across replicas test');

describe.skipIf(!available)('per-client limits across two replicas on one Redis', () => {
  let cluster: Cluster;
  let g1: Replica;
  let g2: Replica;
  let ids: string[];
  let serial = 0;
  const sockets: WsConnection[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ verifyIntervalMs: 0 }, ENV);
    [g1, g2] = await Promise.all([cluster.startReplica('g1'), cluster.startReplica('g2')]);
    ids = await projects(cluster.standIn, 3);
    await everyReplicaReports([g1, g2], 'gateway_rate_limits_degraded', 0);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.dispose()));
    await cluster?.close();
  });

  const newToken = async () => {
    const token = `glpat-limits-cluster-${process.pid}-${++serial}`;
    await cluster.control('POST', 'tokens', { token, role: 'admin' });
    return token;
  };
  const lookup = () => `{ modelRecord(model: PROJECT, recordIdentifier: "${ids[0]}") { recordIdentifier } }`;
  const socket = (replica: Replica, token: string) => {
    const conn = wsConnection({ gateway: { url: replica.url } } as Harness, { Authorization: `Bearer ${token}` });
    sockets.push(conn);
    return conn;
  };

  it("a token's operations are counted over both replicas together, and every key expires within its window", async () => {
    const token = await newToken();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await postGraphQL((i % 2 === 0 ? g1 : g2).url, lookup(), { token })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    for (const replica of [g1, g2]) {
      const refused = await postGraphQL(replica.url, lookup(), { token });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe(String(expectRateLimited(refused.body.errors?.[0], 'RATE_LIMIT_TOKEN_OPERATIONS_PER_MINUTE', 10)));
    }

    const redis = cluster.redis.client();
    await redis.connect();
    try {
      const keys = await redis.keys(`${cluster.prefix}limits:*`);
      expect(keys.length).toBeGreaterThan(0);
      // Neither the token nor its SHA-256 (what the process keys its own caches by) is in any key.
      const sha256 = createHash('sha256').update(token).digest();
      for (const secret of [token, sha256.toString('hex'), sha256.toString('base64'), sha256.toString('base64url')]) expect(keys.filter((k) => k.includes(secret))).toEqual([]);
      // A rate's key lives only until its next allowed moment (1 ms at least, see rate-limit-store.ts): one may expire
      // between KEYS and PTTL (0, or -2 once gone). What must never be is a key without an expiry (-1).
      for (const key of keys) {
        const ttl = await redis.pttl(key);
        expect(ttl, key).not.toBe(-1);
        expect(ttl, key).toBeLessThanOrEqual(60_000);
      }
    } finally {
      redis.disconnect();
    }
  });

  it('without Redis each replica counts in memory on its own, refusing nobody for the outage; with Redis back, together again', { timeout: 60_000 }, async () => {
    await cluster.redis.stop();
    try {
      await everyReplicaReports([g1, g2], 'gateway_rate_limits_degraded', 1);
      const token = await newToken();
      for (const replica of [g1, g2]) {
        // The token's 6 on each replica, then a refusal: each counts on its own.
        const statuses: number[] = [];
        for (let i = 0; i < 7; i++) statuses.push((await postGraphQL(replica.url, lookup(), { token })).status);
        expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429]);
        expect(replica.process.stdout()).toContain('Redis cannot be used for per-client limits');
      }
    } finally {
      await cluster.redis.restart();
    }
    await everyReplicaReports([g1, g2], 'gateway_rate_limits_degraded', 0);
    const token = await newToken();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await postGraphQL((i % 2 === 0 ? g2 : g1).url, lookup(), { token })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429]);
  });

  it("a token's subscriptions are counted over both replicas, and a killed replica's places come back within a hold", { timeout: 120_000 }, async () => {
    // Two more replicas, their operations not limited: every attempt below is judged by its token's places only.
    const [s1, s2] = await Promise.all([cluster.startReplica('s1', { RATE_LIMIT_TOKEN_OPERATIONS_PER_MINUTE: '0' }), cluster.startReplica('s2', { RATE_LIMIT_TOKEN_OPERATIONS_PER_MINUTE: '0' })]);
    await everyReplicaReports([s1, s2], 'gateway_rate_limits_degraded', 0);
    const token = await newToken();
    const [on1, on2] = [socket(s1, token), socket(s2, token)];
    const first = on1.subscribe({ model: 'PROJECT', identifiers: [ids[0]] }, WATCH);
    const second = on2.subscribe({ model: 'PROJECT', identifiers: [ids[1]] }, WATCH);
    await Promise.all([first.initial([ids[0]]), second.initial([ids[1]])]);

    const third = on1.subscribe({ model: 'PROJECT', identifiers: [ids[2]] }, WATCH);
    await third.waitFor((s) => s.errors.length > 0, 'a refusal');
    expect(third.errors.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
    const refused = await sse(s2.url, watchText(ids[2]), token);
    expect(refused.status).toBe(429);
    expect(refused.text).toContain('RATE_LIMIT_TOKEN_SUBSCRIPTIONS');

    // The place s1 gives back is free on s2 at once.
    first.unsubscribe();
    let stream: Awaited<ReturnType<typeof sse>> | undefined;
    await until(async () => {
      const answer = await sse(s2.url, watchText(ids[2]), token);
      if (answer.status === 200) stream = answer;
      else expect(answer.text).toContain('RATE_LIMIT_TOKEN_SUBSCRIPTIONS');
      return stream;
    }, 'a place on s2');
    stream!.abort();

    // s2 dies holding a place (and perhaps, for a moment, the stream's): they lapse, and s1 can take them.
    const again = on1.subscribe({ model: 'PROJECT', identifiers: [ids[0]] }, WATCH);
    await again.initial([ids[0]]);
    s2.kill();
    await s2.process.exited;
    await untilTrue(
      async () => {
        const next = on1.subscribe({ model: 'PROJECT', identifiers: [ids[2]] }, WATCH);
        await next.waitFor((s) => s.errors.length > 0 || s.countOf(ids[2]) > 0, 'a refusal or a first state');
        if (next.errors.length > 0) expect(next.errors[0].message).toContain('RATE_LIMIT_TOKEN_SUBSCRIPTIONS');
        return next.errors.length === 0;
      },
      "the killed replica's place to lapse",
      20 * 3 * LEASE_MS,
      50,
    );
  });
});
