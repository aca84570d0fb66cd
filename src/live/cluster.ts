// Replicas as one system: who polls a model for everybody (a lease), what every replica watches (registrations), and
// what one replica learns reaching the others (pub/sub). Alone (no REDIS_URL), every replica is its own cluster.
import { randomUUID } from 'node:crypto';
import { Redis, type ChainableCommander } from 'ioredis';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { ChangeBatch } from './pubsub.js';

/** What is polled for the cluster: a model's watched records, or its counts per state. */
export type PollKind = 'records' | 'summary';

/** What one replica tells the others. Never a token: only models, identifiers, records and counts. */
export type ClusterMessage =
  | { type: 'changes'; batch: ChangeBatch }
  | { type: 'summary'; model: string; summary: unknown }
  | { type: 'hurry'; model: string };

export interface Cluster {
  /** How soon a replica that does not poll a model asks for its lease again. */
  readonly recheckMs: number;
  /** Whether this replica polls `kind` of `model` for the cluster now (takes the lease when it is free). */
  mayPoll(kind: PollKind, model: string): Promise<boolean>;
  /** This replica no longer polls or watches `kind` of `model`: its lease goes at once. */
  leave(kind: PollKind, model: string): void;
  /** This replica watches these identifiers of a model now (added), or no longer (removed). */
  register(model: string, added: readonly string[], removed: readonly string[]): void;
  /** The identifiers of a model that the other replicas watch, for the poller to read with its own. */
  watchedElsewhere(model: string): Promise<string[]>;
  /** Tells the other replicas (never this one). */
  publish(message: ClusterMessage): void;
  /** Told of every message of the other replicas. */
  onMessage(listener: (message: ClusterMessage) => void): void;
  close(): Promise<void>;
}

/** One process: it polls everything it watches, and has nobody to tell. */
export class LocalCluster implements Cluster {
  readonly recheckMs = Infinity;
  mayPoll(): Promise<boolean> {
    return Promise.resolve(true);
  }
  leave(): void {}
  register(): void {}
  watchedElsewhere(): Promise<string[]> {
    return Promise.resolve([]);
  }
  publish(): void {}
  onMessage(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Renews the lease only if it is still ours (the fencing value), in one step. */
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * The cluster on Redis. A poll's lease is a key set NX with a fencing value (this replica's id and a number from a
 * counter), renewed every third of LIVE_LEASE_MS and deleted on leave. Each replica keeps a set of the identifiers it
 * watches per model, with a TTL it renews, and a sorted set of who watches a model. While Redis cannot be used, every
 * replica polls for itself (degraded: more GitLab load, no update lost) and rejoins when Redis answers again.
 */
export class RedisCluster implements Cluster {
  readonly recheckMs: number;
  private readonly id = randomUUID();
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly channel: string;
  /** Lease key -> our fencing value, for the leases held. */
  private readonly leases = new Map<string, string>();
  /** Model -> the identifiers this replica watches: written to Redis, and written again after an outage. */
  private readonly watching = new Map<string, Set<string>>();
  private readonly listeners: Array<(message: ClusterMessage) => void> = [];
  private readonly timer: NodeJS.Timeout;
  private up = false;
  private closed = false;

  constructor(
    url: string,
    private readonly prefix: string,
    private readonly leaseMs: number,
    private readonly logger: Logger,
    private readonly metrics?: Metrics,
  ) {
    this.recheckMs = Math.max(50, Math.floor(leaseMs / 2));
    this.channel = `${prefix}events`;
    // Fail fast while Redis is away (no queue of stale commands), and keep trying to reconnect in the background.
    const options = { lazyConnect: false, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: (times: number) => Math.min(100 * times, 2_000) };
    this.commands = new Redis(url, options);
    this.subscriber = new Redis(url, { ...options, enableOfflineQueue: true });
    for (const connection of [this.commands, this.subscriber]) {
      // Errors show in the connection's state (degraded); the URL, which may hold a password, is never logged.
      connection.on('error', () => {});
      connection.on('ready', () => void this.changed());
      connection.on('end', () => void this.changed());
      connection.on('close', () => void this.changed());
    }
    this.subscriber.on('message', (_channel: string, text: string) => this.receive(text));
    void this.subscriber.subscribe(this.channel).catch(() => {});
    this.timer = setInterval(() => void this.renew(), Math.max(50, Math.floor(leaseMs / 3)));
    this.timer.unref();
    this.metrics?.redisConnected.set(0);
    this.metrics?.liveDegraded.set(1);
    this.countLeases();
  }

  async mayPoll(kind: PollKind, model: string): Promise<boolean> {
    if (!this.up) return true;
    const key = this.leaseKey(kind, model);
    if (this.leases.has(key)) return true;
    try {
      if ((await this.commands.exists(key)) === 1) return false;
      const value = `${this.id}:${await this.commands.incr(`${this.prefix}fence`)}`;
      if ((await this.commands.set(key, value, 'PX', this.leaseMs, 'NX')) !== 'OK') return false;
      this.leases.set(key, value);
      this.countLeases();
      return true;
    } catch {
      // Redis went away meanwhile: poll, as every replica does while it is away.
      return true;
    }
  }

  leave(kind: PollKind, model: string): void {
    const key = this.leaseKey(kind, model);
    const value = this.leases.get(key);
    if (value === undefined) return;
    this.leases.delete(key);
    this.countLeases();
    this.commands.eval(RELEASE, 1, key, value).catch(() => {});
  }

  register(model: string, added: readonly string[], removed: readonly string[]): void {
    let ids = this.watching.get(model);
    if (!ids) this.watching.set(model, (ids = new Set()));
    for (const id of added) ids.add(id);
    for (const id of removed) ids.delete(id);
    if (ids.size === 0) this.watching.delete(model);
    if (!this.up) return;
    const key = this.watchKey(model);
    const pipeline = this.commands.multi();
    if (added.length > 0) pipeline.sadd(key, ...added);
    if (removed.length > 0) pipeline.srem(key, ...removed);
    if (this.watching.has(model)) {
      this.extendRegistration(pipeline, model);
    } else {
      pipeline.del(key);
      pipeline.zrem(this.watchersKey(model), this.id);
    }
    pipeline.exec().catch(() => {});
  }

  async watchedElsewhere(model: string): Promise<string[]> {
    if (!this.up) return [];
    try {
      const watchers = this.watchersKey(model);
      await this.commands.zremrangebyscore(watchers, '-inf', Date.now());
      const others = (await this.commands.zrange(watchers, 0, -1)).filter((id) => id !== this.id);
      if (others.length === 0) return [];
      return await this.commands.sunion(...others.map((id) => `${this.prefix}watch:${model}:${id}`));
    } catch {
      return [];
    }
  }

  publish(message: ClusterMessage): void {
    if (!this.up) return;
    this.commands.publish(this.channel, JSON.stringify({ from: this.id, ...message })).catch(() => {});
  }

  onMessage(listener: (message: ClusterMessage) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    if (this.up) {
      // Leases go at once (another replica takes the polls now, not a lease period later), and so do registrations.
      const pipeline = this.commands.multi();
      for (const [key, value] of this.leases) pipeline.eval(RELEASE, 1, key, value);
      for (const model of this.watching.keys()) {
        pipeline.del(this.watchKey(model));
        pipeline.zrem(this.watchersKey(model), this.id);
      }
      await pipeline.exec().catch(() => {});
    }
    this.leases.clear();
    this.subscriber.disconnect();
    this.commands.disconnect();
  }

  private receive(text: string): void {
    let message: ClusterMessage & { from?: string };
    try {
      message = JSON.parse(text) as ClusterMessage & { from?: string };
    } catch {
      return;
    }
    if (message.from === this.id) return;
    for (const listener of this.listeners) listener(message);
  }

  /** Both connections ready: joined (again). Either one down: degraded, polling for itself. */
  private async changed(): Promise<void> {
    const up = !this.closed && this.commands.status === 'ready' && this.subscriber.status === 'ready';
    if (up === this.up) return;
    this.up = up;
    this.metrics?.redisConnected.set(up ? 1 : 0);
    this.metrics?.liveDegraded.set(up ? 0 : 1);
    if (!up) {
      // Leases lapse while Redis is away: whoever polls after it comes back takes them anew.
      this.leases.clear();
      this.countLeases();
      if (!this.closed) this.logger.warn('Redis cannot be used: every replica polls GitLab for itself until it is back');
      return;
    }
    this.logger.info('Redis connected: polls and changes are shared with the other replicas');
    // What this replica watches, written again: Redis may have lost it, or expired it during the outage.
    for (const [model, ids] of this.watching) this.register(model, [...ids], []);
  }

  /** Every third of a lease period: the leases held, and the registrations, are extended. */
  private async renew(): Promise<void> {
    if (!this.up) return;
    const held = [...this.leases];
    try {
      const pipeline = this.commands.multi();
      for (const [key, value] of held) pipeline.eval(RENEW, 1, key, value, this.leaseMs);
      for (const model of this.watching.keys()) this.extendRegistration(pipeline, model);
      const results = (await pipeline.exec()) ?? [];
      held.forEach(([key, value], i) => {
        // Not ours any more (it lapsed, and another replica took it): stop polling for the cluster.
        if (results[i]?.[1] !== 1 && this.leases.get(key) === value) this.leases.delete(key);
      });
      this.countLeases();
    } catch {
      // Redis is going away: the connection's state says so in a moment.
    }
  }

  /**
   * This replica's registration of a model lives three lease periods unless extended: its set of identifiers, its entry
   * in the model's set of watchers, and that set itself (so no key outlives the last replica that watched the model).
   */
  private extendRegistration(pipeline: ChainableCommander, model: string): void {
    const ttl = 3 * this.leaseMs;
    pipeline.pexpire(this.watchKey(model), ttl);
    pipeline.zadd(this.watchersKey(model), Date.now() + ttl, this.id);
    pipeline.pexpire(this.watchersKey(model), ttl);
  }

  private countLeases(): void {
    for (const kind of ['records', 'summary'] as const) {
      let n = 0;
      for (const key of this.leases.keys()) if (key.startsWith(`${this.prefix}lease:${kind}:`)) n++;
      this.metrics?.pollsLed.set({ kind }, n);
    }
  }

  private leaseKey(kind: PollKind, model: string): string {
    return `${this.prefix}lease:${kind}:${model}`;
  }

  private watchKey(model: string): string {
    return `${this.prefix}watch:${model}:${this.id}`;
  }

  private watchersKey(model: string): string {
    return `${this.prefix}watchers:${model}`;
  }
}
