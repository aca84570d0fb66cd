// Where per-client limits are counted: in this process, or with REDIS_URL in Redis for all replicas together (atomic
// Lua scripts, every key with an expiry), falling back to this process while Redis cannot be used.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from './logger.js';

/** Every rate is a number of units per minute, with a minute's worth allowed in one burst. */
export const RATE_PERIOD_MS = 60_000;

/** Keys one process keeps at most for rates; past it, the least recently used go first (their clients start afresh). */
export const MAX_RATE_KEYS = 100_000;

/** How often keys whose window has passed are dropped, while there are any. */
const SWEEP_MS = 1_000;

/** After a Redis command fails or times out, how long calls are counted in memory before Redis is tried again. */
const COOL_OFF_MS = 1_000;

/** Longest wait for Redis on a client's request: past it, the request is counted in memory instead. */
const COMMAND_TIMEOUT_MS = 500;

/** A grace after start for the first connection to Redis, during which falling back is not worth a warning. */
const CONNECT_GRACE_MS = 5_000;

/** One rate to take `cost` from: `key` names the limit and whom it counts (a token's hash, an address). */
export interface RateCheck {
  key: string;
  perMinute: number;
  cost: number;
}

/** Which check refused (its index), and how long until it would allow the cost. */
export interface RateRefusal {
  index: number;
  waitMs: number;
}

export interface LimitStore {
  /** Takes every check's cost, or none of them: the first check that cannot allow its cost refuses. */
  takeRate(checks: readonly RateCheck[]): RateRefusal | null | Promise<RateRefusal | null>;
  /** Takes one of `max` places of `subject` (a token's active subscriptions): false when all are taken. */
  takePlace(subject: string, max: number): boolean | Promise<boolean>;
  /** Gives back a place taken. */
  releasePlace(subject: string): void;
  close(): Promise<void>;
}

/**
 * Rates in this process, as a generic cell rate algorithm: each key holds the moment its allowance is whole again
 * (its theoretical arrival time), so a key is dropped as soon as that moment has passed, when it would say nothing a
 * missing key does not. Keys are kept in the order of their last use.
 */
export class MemoryRates {
  private readonly tats = new Map<string, number>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly maxKeys = MAX_RATE_KEYS) {}

  get size(): number {
    return this.tats.size;
  }

  take(checks: readonly RateCheck[]): RateRefusal | null {
    const now = Date.now();
    const next: number[] = [];
    for (let i = 0; i < checks.length; i++) {
      const { key, perMinute, cost } = checks[i];
      const tat = Math.max(this.tats.get(key) ?? now, now);
      const after = tat + (cost * RATE_PERIOD_MS) / perMinute;
      const waitMs = after - RATE_PERIOD_MS - now;
      if (waitMs > 0) return { index: i, waitMs };
      next.push(after);
    }
    checks.forEach(({ key }, i) => {
      // Moved to the end: the first keys are the least recently used, the ones to drop when full.
      this.tats.delete(key);
      this.tats.set(key, next[i]);
    });
    if (this.tats.size > this.maxKeys) this.bound();
    this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
    return null;
  }

  /** Drops every key whose window has passed; stops sweeping once none is left. */
  sweep(now = Date.now()): void {
    for (const [key, tat] of this.tats) if (tat <= now) this.tats.delete(key);
    if (this.tats.size === 0) this.stop();
  }

  close(): void {
    this.tats.clear();
    this.stop();
  }

  private bound(): void {
    this.sweep();
    for (const key of this.tats.keys()) {
      if (this.tats.size <= this.maxKeys) break;
      this.tats.delete(key);
    }
  }

  private stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }
}

/** Places per subject in this process: an entry exists only while a place of it is taken. */
export class MemoryPlaces {
  private readonly counts = new Map<string, number>();

  get size(): number {
    return this.counts.size;
  }

  count(subject: string): number {
    return this.counts.get(subject) ?? 0;
  }

  entries(): IterableIterator<[string, number]> {
    return this.counts.entries();
  }

  take(subject: string, max: number): boolean {
    const count = this.count(subject);
    if (count >= max) return false;
    this.counts.set(subject, count + 1);
    return true;
  }

  /** A place Redis granted: counted here too, whatever the count, so it can be renewed and given back. */
  add(subject: string): void {
    this.counts.set(subject, this.count(subject) + 1);
  }

  release(subject: string): void {
    const left = this.count(subject) - 1;
    if (left > 0) this.counts.set(subject, left);
    else this.counts.delete(subject);
  }
}

export class MemoryLimitStore implements LimitStore {
  readonly rates = new MemoryRates();
  readonly places = new MemoryPlaces();

  takeRate(checks: readonly RateCheck[]): RateRefusal | null {
    return this.rates.take(checks);
  }

  takePlace(subject: string, max: number): boolean {
    return this.places.take(subject, max);
  }

  releasePlace(subject: string): void {
    this.places.release(subject);
  }

  close(): Promise<void> {
    this.rates.close();
    return Promise.resolve();
  }
}

/** Redis's own clock, in milliseconds, so replicas whose clocks differ still agree. */
const NOW = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

/**
 * The same algorithm as MemoryRates over KEYS, with ARGV holding (per minute, cost) per key: all or nothing. Each key
 * expires when its window has passed. Answers 0, or {index (1-based), ms to wait}.
 */
const TAKE_RATE = `${NOW}
local next = {}
for i, key in ipairs(KEYS) do
  local interval = ${RATE_PERIOD_MS} / tonumber(ARGV[2 * i - 1])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local after = tat + interval * tonumber(ARGV[2 * i])
  local wait = after - ${RATE_PERIOD_MS} - now
  if wait > 0 then return {i, math.ceil(wait)} end
  next[i] = after
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%.3f', next[i]), 'PX', math.max(1, math.ceil(next[i] - now)))
end
return 0
`;

/**
 * A subject's places: a hash of places per replica (KEYS[1]) and a sorted set of the replicas that hold some, scored by
 * when their hold lapses unless renewed (KEYS[2]). Replicas whose hold lapsed (killed, cut off) are dropped first, with
 * their places. ARGV: replica, most places, hold (ms). Answers 1 when a place was taken, else 0.
 */
const TAKE_PLACE = `${NOW}
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, replica in ipairs(lapsed) do
  redis.call('HDEL', KEYS[1], replica)
  redis.call('ZREM', KEYS[2], replica)
end
local taken = 0
for _, count in ipairs(redis.call('HVALS', KEYS[1])) do taken = taken + tonumber(count) end
if taken >= tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`;

/** A place given back: one fewer for this replica (ARGV[1]), never below none. */
const RELEASE_PLACE = `
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return left
`;

/** This replica's places of a subject written as it counts them (ARGV: replica, count, hold ms), its hold renewed. */
const RENEW_PLACES = `${NOW}
if tonumber(ARGV[2]) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`;

type LimitPipeline = {
  renewPlaces(counts: string, holders: string, replica: string, count: number, holdMs: number): LimitPipeline;
  exec(): Promise<unknown>;
};

type LimitCommands = Redis & {
  takeRate(numberOfKeys: number, ...args: (string | number)[]): Promise<0 | [number, number]>;
  takePlace(counts: string, holders: string, replica: string, max: number, holdMs: number): Promise<number>;
  releasePlace(counts: string, holders: string, replica: string): Promise<number>;
  renewPlaces(counts: string, holders: string, replica: string, count: number, holdMs: number): Promise<number>;
};

/**
 * Limits counted in Redis for every replica together. While Redis cannot be used (not connected, or a command failed
 * or took longer than COMMAND_TIMEOUT_MS), each replica counts in memory on its own: a warn line says so, and
 * `onDegraded` (a gauge) follows it. Places are also counted here, so this replica's are renewed in Redis while it
 * lives (each renewal writes its count whole, which also mends what an outage or a restarted Redis lost); a replica
 * that stops renewing loses them within a hold (3 x LIVE_LEASE_MS).
 */
export class RedisLimitStore implements LimitStore {
  private readonly id = randomUUID();
  private readonly redis: LimitCommands;
  private readonly memory = new MemoryLimitStore();
  private readonly holdMs: number;
  private readonly renewer: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  private coolUntil = 0;
  /** Counting in memory now (the gauge); `warned`: the warn line of this outage was written. */
  private degraded = true;
  private warned = false;
  private everReady = false;
  private closed = false;

  constructor(
    url: string,
    private readonly prefix: string,
    leaseMs: number,
    private readonly logger: Logger,
    private readonly onDegraded: (degraded: boolean) => void = () => {},
  ) {
    this.holdMs = 3 * leaseMs;
    // Fail fast while Redis is away (no queue of stale commands), and keep reconnecting in the background.
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: COMMAND_TIMEOUT_MS,
      retryStrategy: (times: number) => Math.min(100 * times, 2_000),
    }) as LimitCommands;
    this.redis.defineCommand('takeRate', { lua: TAKE_RATE });
    this.redis.defineCommand('takePlace', { numberOfKeys: 2, lua: TAKE_PLACE });
    this.redis.defineCommand('releasePlace', { numberOfKeys: 2, lua: RELEASE_PLACE });
    this.redis.defineCommand('renewPlaces', { numberOfKeys: 2, lua: RENEW_PLACES });
    // The URL may hold a password: errors show in the state (and the gauge), never in a log line.
    this.redis.on('error', () => {});
    this.redis.on('ready', () => {
      this.everReady = true;
      this.recovered();
      // What this replica holds, written again: Redis may have lost it, or let it lapse, meanwhile.
      void this.renew();
    });
    this.redis.on('close', () => this.fallBack(this.everReady));
    onDegraded(true);
    this.renewer = setInterval(() => void this.renew(), leaseMs);
    this.renewer.unref();
  }

  takeRate(checks: readonly RateCheck[]): RateRefusal | null | Promise<RateRefusal | null> {
    if (!this.usable()) return this.memory.takeRate(checks);
    const args: (string | number)[] = checks.map((c) => this.key(`rate:${c.key}`));
    for (const check of checks) args.push(check.perMinute, check.cost);
    return this.redis.takeRate(checks.length, ...args).then(
      (answer) => {
        this.recovered();
        return answer === 0 ? null : { index: answer[0] - 1, waitMs: answer[1] };
      },
      () => {
        this.failed();
        return this.memory.takeRate(checks);
      },
    );
  }

  takePlace(subject: string, max: number): boolean | Promise<boolean> {
    if (!this.usable()) return this.memory.takePlace(subject, max);
    return this.redis.takePlace(...this.placeKeys(subject), this.id, max, this.holdMs).then(
      (taken) => {
        this.recovered();
        if (taken === 1) this.memory.places.add(subject);
        return taken === 1;
      },
      () => {
        this.failed();
        return this.memory.takePlace(subject, max);
      },
    );
  }

  releasePlace(subject: string): void {
    this.memory.releasePlace(subject);
    if (this.closed || this.redis.status !== 'ready') return;
    // Lost (Redis away): the next renewal writes this replica's count whole.
    this.redis.releasePlace(...this.placeKeys(subject), this.id).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.renewer);
    if (this.redis.status === 'ready') {
      // Its places go at once, not a hold later.
      const pipeline = this.redis.pipeline() as unknown as LimitPipeline;
      for (const [subject] of this.memory.places.entries()) pipeline.renewPlaces(...this.placeKeys(subject), this.id, 0, this.holdMs);
      await pipeline.exec().catch(() => {});
    }
    this.redis.disconnect();
    await this.memory.close();
  }

  private usable(): boolean {
    if (!this.closed && this.redis.status === 'ready' && Date.now() >= this.coolUntil) return true;
    // Within the first connection's grace, counting in memory is expected: the gauge says so, no warning yet.
    this.fallBack(this.everReady || Date.now() - this.startedAt > CONNECT_GRACE_MS);
    return false;
  }

  private failed(): void {
    this.coolUntil = Date.now() + COOL_OFF_MS;
    this.fallBack(true);
  }

  private fallBack(warn: boolean): void {
    if (this.closed) return;
    if (!this.degraded) {
      this.degraded = true;
      this.onDegraded(true);
    }
    if (warn && !this.warned) {
      this.warned = true;
      this.logger.warn('Redis cannot be used for per-client limits: each replica counts them in memory, on its own, until it is back');
    }
  }

  private recovered(): void {
    if (this.closed) return;
    if (this.degraded) {
      this.degraded = false;
      this.onDegraded(false);
    }
    if (this.warned) {
      this.warned = false;
      this.logger.info('Redis can be used again: per-client limits are counted for all replicas together');
    }
  }

  /** Every LIVE_LEASE_MS: this replica's places, written whole, their holds renewed. */
  private async renew(): Promise<void> {
    if (this.closed || this.redis.status !== 'ready' || this.memory.places.size === 0) return;
    const pipeline = this.redis.pipeline() as unknown as LimitPipeline;
    for (const [subject, count] of this.memory.places.entries()) pipeline.renewPlaces(...this.placeKeys(subject), this.id, count, this.holdMs);
    await pipeline.exec().catch(() => {});
  }

  private key(name: string): string {
    return `${this.prefix}limits:${name}`;
  }

  private placeKeys(subject: string): [string, string] {
    return [this.key(`places:${subject}`), this.key(`holders:${subject}`)];
  }
}
