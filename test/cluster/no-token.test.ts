// No token ever reaches Redis: after subscriptions, summaries and mutations on three replicas, each with a token of its
// own, no key, no value and no pub/sub message (recorded from the start by a client subscribed to every channel) holds
// any of them or a hash of one, nor anything that looks like a GitLab token. And every key and channel is under the
// cluster's prefix.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Subscriber, WsConnection } from '../live/helpers.js';
import type { SummaryConnection, SummarySubscriber } from '../summary-live/helpers.js';
import {
  everyFinalState,
  matches,
  projects,
  recalculateAll,
  recalculateOne,
  redisAvailable,
  RedisServer,
  restProject,
  soleLeader,
  startCluster,
  verifyToTheEnd,
  watch,
  type Cluster,
  type Replica,
} from './helpers.js';

const PACE_MS = 250;

const available = redisAvailable('the cluster token test');

/** Every key of a Redis and what it holds, as text (bytes read as latin1, so nothing is lost to decoding). */
async function dump(client: Redis): Promise<{ key: string; type: string; text: string }[]> {
  const entries: { key: string; type: string; text: string }[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scanBuffer(cursor, 'COUNT', 1000);
    cursor = String(next);
    for (const raw of keys) {
      const key = raw.toString('latin1');
      const type = await client.type(raw);
      let values: Buffer[] = [];
      if (type === 'string') values = [(await client.getBuffer(raw)) ?? Buffer.alloc(0)];
      else if (type === 'set') values = await client.smembersBuffer(raw);
      else if (type === 'hash') values = Object.entries(await client.hgetallBuffer(raw)).flatMap(([field, value]) => [Buffer.from(field, 'latin1'), value]);
      else if (type === 'zset') values = await client.zrangeBuffer(raw, 0, -1, 'WITHSCORES');
      else if (type === 'list') values = await client.lrangeBuffer(raw, 0, -1);
      else if (type === 'stream') values = (await client.xrangeBuffer(raw, '-', '+')).flatMap(([id, fields]) => [id, ...fields]);
      else if (type !== 'none') throw new Error(`key ${key} is a ${type}, which this test cannot read`);
      entries.push({ key, type, text: values.map((v) => v.toString('latin1')).join('\n') });
    }
  } while (cursor !== '0');
  return entries;
}

describe.skipIf(!available)('what three replicas write to Redis', () => {
  let redis: RedisServer;
  let listener: Redis;
  let reader: Redis;
  const messages: { channel: string; text: string }[] = [];
  let cluster: Cluster;
  let replicas: Replica[];
  const sockets: (WsConnection | SummaryConnection)[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    listener = redis.client();
    reader = redis.client();
    await Promise.all([listener.connect(), reader.connect()]);
    listener.on('pmessageBuffer', (_pattern: Buffer, channel: Buffer, message: Buffer) => messages.push({ channel: channel.toString('latin1'), text: message.toString('latin1') }));
    await listener.psubscribe('*');
    cluster = await startCluster({ verifyIntervalMs: 0, verifyBatchSize: 1_000, verifyDurationMs: 300 }, { LIVE_FAST_POLL_MS: String(PACE_MS), LIVE_SLOW_POLL_MS: String(PACE_MS) }, redis);
    replicas = await Promise.all(['g1', 'g2', 'g3'].map((name) => cluster.startReplica(name)));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.dispose()));
    await cluster?.close();
    listener?.disconnect();
    reader?.disconnect();
    await redis?.stop('SIGKILL');
  });

  it('no key, value or message holds a token', { timeout: 60_000 }, async () => {
    const ids = await projects(cluster.standIn, 10);
    const watchers: Subscriber[] = [];
    const summaries: SummarySubscriber[] = [];
    for (const replica of replicas) {
      const socket = replica.socket();
      const summarySocket = replica.summarySocket();
      sockets.push(socket, summarySocket);
      watchers.push(...watch([socket], 2, ids));
      summaries.push(summarySocket.subscribe(['PROJECT']));
    }
    await Promise.all([...watchers.map((s) => s.initial(ids)), ...summaries.map((s) => s.first(['PROJECT']))]);
    await soleLeader(replicas, 'records');
    await soleLeader(replicas, 'summary');

    // A mutation through one replica, seen on the others; then a bulk recalculation and GitLab's verification job.
    const watched = ids[0];
    await recalculateOne(replicas[0], watched);
    const recalculated = await restProject(cluster.standIn, watched);
    await Promise.all(watchers.map((s) => s.until(watched, (c) => matches(c, recalculated), 'the recalculated state', 10_000)));
    await recalculateAll(replicas[1], ids);
    await everyFinalState(watchers, await verifyToTheEnd(cluster, ids));
    await Promise.all(summaries.map((s) => s.waitFor((sub) => sub.of('PROJECT').length >= 2, 'a second summary')));

    const keys = await dump(reader);
    expect(keys.length).toBeGreaterThan(0);
    expect(messages.length).toBeGreaterThan(0);
    expect(keys.filter((k) => !k.key.startsWith(cluster.prefix)).map((k) => k.key)).toEqual([]);
    expect([...new Set(messages.map((m) => m.channel))].filter((c) => !c.startsWith(cluster.prefix))).toEqual([]);

    // The tokens whole, without GitLab's prefix, and their SHA-256 (the gateway keys its caches by it); GitLab's prefix.
    const sha256 = (token: string) => createHash('sha256').update(token).digest();
    const secrets = [
      ...replicas.flatMap((r) => [r.token, r.token.replace(/^glpat-/, ''), sha256(r.token).toString('hex'), sha256(r.token).toString('base64'), sha256(r.token).toString('base64url')]),
      'glpat-',
    ];
    const holding = (text: string) => secrets.filter((secret) => text.includes(secret));
    expect(keys.flatMap((k) => holding(`${k.key}\n${k.text}`).map((secret) => `${k.type} ${k.key}: ${secret}`))).toEqual([]);
    expect(messages.flatMap((m) => holding(`${m.channel}\n${m.text}`).map((secret) => `message on ${m.channel}: ${secret}`))).toEqual([]);
  });
});
