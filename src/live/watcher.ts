// One shared, adaptive poll per model, whatever the number of subscribers: fetch the watched records, diff, publish.
import { GraphQLError } from 'graphql';
import type { Caller, GitLabClient, RecordJson } from '../gitlab/client.js';
import { fetchByIdentifiers, recordKey } from '../gitlab/loaders.js';
import type { ChecksumStateName, ModelInfo } from '../models.js';
import type { ChangeBatch, ChangeBus, RecordChange } from './pubsub.js';
import { isAuthError, TokenChecker } from './token-checker.js';
import type { Metrics } from '../metrics.js';

export interface LiveOptions {
  /** Pace while any watched record is pending or started, or just after a recalculation. */
  fastPollMs: number;
  /** Pace while every watched record is settled. */
  slowPollMs: number;
  /** How often each subscriber's token is checked again. */
  authRecheckMs: number;
  /** Longest wait between polls while GitLab fails. */
  maxBackoffMs: number;
}

/** One subscription, as the watcher sees it. */
export interface Watch {
  caller: Caller;
  model: ModelInfo;
  /** recordKey() -> the identifier as the subscriber spelt it. */
  keys: Map<string, string>;
  /** Every batch of the model's changes: the watch picks out its own records. */
  deliver(batch: ChangeBatch): void;
  revoke(error: GraphQLError): void;
  /** The gateway is shutting down: complete the subscription. */
  end(): void;
}

interface Observed {
  /** When the read that saw it was sent: an older read answering late never overwrites a newer one. */
  readSeq: number;
  signature: string;
  state: ChecksumStateName;
  record: RecordJson;
  observedAt: string;
  /** The first event a new subscriber gets for this observation, made once and shared by all who subscribe meanwhile. */
  firstEvent?: RecordChange;
}

class ModelPoll {
  readonly watches = new Set<Watch>();
  /** recordKey() -> identifier and how many watches share it. */
  readonly watched = new Map<string, { identifier: string; refs: number }>();
  readonly observed = new Map<string, Observed>();
  timer: NodeJS.Timeout | null = null;
  dueAt = Infinity;
  polling = false;
  failures = 0;
  fastUntil = 0;
  unsubscribeBus: (() => void) | null = null;

  constructor(readonly model: ModelInfo) {}
}

const SETTLED_AFTER_HURRY_MS = 10_000;

/** What of a record's checksum information counts as a change. */
export function signatureOf(record: RecordJson): string {
  const c = record.checksum_information;
  // join() makes one flat string; a template literal would leave a tree of pieces for every record observed.
  return c ? [c.checksum_state, c.checksum, c.checksum_retry_count, c.checksum_failure, c.last_checksum, c.checksum_retry_at].join('|') : 'none';
}

function stateOf(record: RecordJson): ChecksumStateName {
  return record.checksum_information?.checksum_state ?? 'disabled';
}

export class Watcher {
  private readonly polls = new Map<ModelInfo, ModelPoll>();
  private recheckTimer: NodeJS.Timeout | null = null;
  private readSeq = 0;
  private readonly pendingReads = new Map<string, { ids: Set<string>; promise: Promise<Map<string, RecordJson | Error>> }>();
  readonly tokens: TokenChecker;
  /** Counters for metrics and benchmarks. */
  readonly stats = { cycles: 0, failedCycles: 0, published: 0 };

  constructor(
    private readonly client: GitLabClient,
    private readonly bus: ChangeBus,
    readonly options: LiveOptions,
    private readonly metrics?: Metrics,
  ) {
    this.tokens = new TokenChecker(client, options.authRecheckMs);
  }

  get activeSubscriptions(): number {
    let n = 0;
    for (const poll of this.polls.values()) n += poll.watches.size;
    return n;
  }

  /** A subscriber that reads slowly had `events` buffered events merged into later ones (see RecordStream). */
  noteCoalesced(events: number): void {
    this.metrics?.coalescedEvents.inc(events);
  }

  /** Starts watching; the returned function stops, and the last watcher of a record takes it out of the poll. */
  watch(watch: Watch): () => void {
    const poll = this.pollOf(watch.model);
    poll.watches.add(watch);
    for (const [key, identifier] of watch.keys) {
      const entry = poll.watched.get(key);
      if (entry) entry.refs++;
      else poll.watched.set(key, { identifier, refs: 1 });
    }
    this.schedule(poll, this.paceOf(poll));
    this.startRechecks();
    this.metrics?.subscriptions.set(this.activeSubscriptions);
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      this.unwatch(poll, watch);
    };
  }

  /** The last observation of these records, if every one is known: spares GitLab a call per new subscriber. */
  snapshot(model: ModelInfo, keys: Iterable<string>): RecordJson[] | null {
    const poll = this.polls.get(model);
    if (!poll) return null;
    const records: RecordJson[] = [];
    for (const key of keys) {
      const seen = poll.observed.get(key);
      if (!seen) return null;
      records.push(seen.record);
    }
    return records;
  }

  /**
   * A new subscriber's first event of a record (previousState null). For the record as last observed it is one shared
   * object, so its result is executed once for all who subscribe before the next observation.
   */
  firstEventOf(model: ModelInfo, record: RecordJson): RecordChange {
    const key = recordKey(record.record_identifier)!.key;
    const seen = this.polls.get(model)?.observed.get(key);
    if (seen && seen.record === record) {
      seen.firstEvent ??= { key, record, signature: seen.signature, previousState: null, state: seen.state, observedAt: seen.observedAt };
      return seen.firstEvent;
    }
    return { key, record, signature: signatureOf(record), previousState: null, state: stateOf(record), observedAt: new Date().toISOString() };
  }

  /** Takes in records read anywhere (a poll, a new subscriber, a mutation) and publishes what changed. */
  observe(model: ModelInfo, records: Iterable<RecordJson>, readSeq = this.nextReadSeq()): void {
    const poll = this.polls.get(model);
    if (!poll) return;
    const observedAt = new Date().toISOString();
    const changes: RecordChange[] = [];
    for (const record of records) {
      const key = recordKey(record.record_identifier)?.key;
      if (!key || !poll.watched.has(key)) continue;
      const before = poll.observed.get(key);
      if (before && before.readSeq > readSeq) continue;
      // An unchanged record keeps the signature object subscribers already hold, so each observation does not add one.
      const seen = signatureOf(record);
      const signature = before?.signature === seen ? before.signature : seen;
      poll.observed.set(key, { readSeq, signature, state: stateOf(record), record, observedAt });
      if (before && before.signature !== signature) {
        changes.push({ key, record, signature, previousState: before.state, state: stateOf(record), observedAt });
      }
    }
    if (changes.length > 0) {
      this.stats.published += changes.length;
      const batch: ChangeBatch = { model: model.enumName, changes };
      this.bus.publish(batch);
    }
    this.schedule(poll, this.paceOf(poll));
  }

  /** Numbers reads in the order they are sent. */
  private nextReadSeq(): number {
    return ++this.readSeq;
  }

  /**
   * Reads records for new subscribers: the reads of one token for one model in the same tick share one fetch, so a
   * burst of subscriptions costs GitLab one call per 100 records, not one per subscriber. What it reads is observed.
   */
  read(caller: Caller, model: ModelInfo, identifiers: Iterable<string>): Promise<Map<string, RecordJson | Error>> {
    const batchKey = `${model.enumName}\u0000${caller.token}`;
    let batch = this.pendingReads.get(batchKey);
    if (!batch) {
      const ids = new Set<string>();
      const promise = new Promise<Map<string, RecordJson | Error>>((resolve) =>
        setImmediate(() => {
          this.pendingReads.delete(batchKey);
          const readSeq = this.nextReadSeq();
          void fetchByIdentifiers(this.client, caller, model, ids).then((found) => {
            this.observe(model, [...found.values()].filter((v): v is RecordJson => !(v instanceof Error)), readSeq);
            resolve(found);
          });
        }),
      );
      batch = { ids, promise };
      this.pendingReads.set(batchKey, batch);
    }
    for (const id of identifiers) batch.ids.add(id);
    return batch.promise;
  }

  /** A recalculation went through the gateway: watch this model closely for a while. */
  hurry(model: ModelInfo): void {
    const poll = this.polls.get(model);
    if (!poll) return;
    poll.fastUntil = Date.now() + Math.max(SETTLED_AFTER_HURRY_MS, 3 * this.options.fastPollMs);
    this.schedule(poll, this.options.fastPollMs);
  }

  /** Stops every poll and completes every subscription. */
  close(): void {
    for (const poll of [...this.polls.values()]) {
      for (const watch of [...poll.watches]) watch.end();
      if (poll.timer) clearTimeout(poll.timer);
      poll.unsubscribeBus?.();
    }
    this.polls.clear();
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    this.recheckTimer = null;
  }

  private pollOf(model: ModelInfo): ModelPoll {
    let poll = this.polls.get(model);
    if (!poll) {
      poll = new ModelPoll(model);
      const created = poll;
      poll.unsubscribeBus = this.bus.subscribe(model.enumName, (batch) => {
        for (const watch of created.watches) watch.deliver(batch);
      });
      this.polls.set(model, poll);
    }
    return poll;
  }

  private unwatch(poll: ModelPoll, watch: Watch): void {
    poll.watches.delete(watch);
    this.metrics?.subscriptions.set(this.activeSubscriptions);
    for (const key of watch.keys.keys()) {
      const entry = poll.watched.get(key);
      if (entry && --entry.refs === 0) {
        poll.watched.delete(key);
        poll.observed.delete(key);
      }
    }
    if (poll.watches.size === 0) {
      // Nobody watches: no polling at all.
      if (poll.timer) clearTimeout(poll.timer);
      poll.unsubscribeBus?.();
      this.polls.delete(poll.model);
    }
    if (this.polls.size === 0 && this.recheckTimer) {
      clearInterval(this.recheckTimer);
      this.recheckTimer = null;
    }
  }

  private paceOf(poll: ModelPoll): number {
    if (Date.now() < poll.fastUntil) return this.options.fastPollMs;
    for (const key of poll.watched.keys()) {
      const state = poll.observed.get(key)?.state;
      if (state === undefined || state === 'pending' || state === 'started') return this.options.fastPollMs;
    }
    return this.options.slowPollMs;
  }

  /** Polls after `delayMs`, unless a poll is already due sooner. */
  private schedule(poll: ModelPoll, delayMs: number): void {
    if (this.polls.get(poll.model) !== poll || poll.polling) return;
    const dueAt = Date.now() + delayMs;
    if (poll.timer && poll.dueAt <= dueAt) return;
    if (poll.timer) clearTimeout(poll.timer);
    poll.dueAt = dueAt;
    poll.timer = setTimeout(() => void this.cycle(poll), delayMs);
    poll.timer.unref();
  }

  private async cycle(poll: ModelPoll): Promise<void> {
    poll.timer = null;
    poll.dueAt = Infinity;
    if (this.polls.get(poll.model) !== poll || poll.watched.size === 0) return;
    const caller = this.pollingCaller(poll);
    if (!caller) return;
    poll.polling = true;
    this.stats.cycles++;
    const started = performance.now();
    let outcome = 'success';
    let delay: number;
    try {
      const readSeq = this.nextReadSeq();
      const found = await fetchByIdentifiers(this.client, caller, poll.model, [...poll.watched.values()].map((w) => w.identifier));
      const failure = [...found.values()].find((v): v is Error => v instanceof Error);
      this.observe(poll.model, [...found.values()].filter((v): v is RecordJson => !(v instanceof Error)), readSeq);
      if (failure && isAuthError(failure)) {
        // This subscriber's token no longer works: cut its subscriptions off, poll again with another one.
        this.revokeToken(caller.token ?? '', failure);
        outcome = 'rejected_token';
        delay = 0;
      } else if (failure) {
        this.stats.failedCycles++;
        outcome = 'upstream_error';
        poll.failures++;
        const retryAfter = failure instanceof GraphQLError ? Number(failure.extensions.retryAfterSeconds ?? 0) * 1000 : 0;
        delay = Math.min(this.options.maxBackoffMs, Math.max(retryAfter, this.options.fastPollMs * 2 ** poll.failures));
      } else {
        poll.failures = 0;
        delay = this.paceOf(poll);
      }
    } finally {
      poll.polling = false;
      this.metrics?.pollCycles.inc({ model: poll.model.enumName, outcome });
      this.metrics?.pollDuration.observe({ model: poll.model.enumName }, (performance.now() - started) / 1000);
    }
    this.schedule(poll, delay);
  }

  /** Any current subscriber's token serves the shared poll: they all may read every record of the model. */
  private pollingCaller(poll: ModelPoll): Caller | null {
    for (const watch of poll.watches) if (watch.caller.token) return watch.caller;
    return null;
  }

  private revokeToken(token: string, error: GraphQLError): void {
    this.tokens.forget(token);
    for (const poll of [...this.polls.values()]) {
      for (const watch of [...poll.watches]) if (watch.caller.token === token) watch.revoke(error);
    }
  }

  private startRechecks(): void {
    if (this.recheckTimer) return;
    this.recheckTimer = setInterval(() => void this.recheckTokens(), this.options.authRecheckMs);
    this.recheckTimer.unref();
  }

  /** One call per distinct token, however many subscriptions share it. */
  private async recheckTokens(): Promise<void> {
    const byToken = new Map<string, Watch>();
    for (const poll of this.polls.values()) for (const watch of poll.watches) if (watch.caller.token) byToken.set(watch.caller.token, watch);
    await Promise.all(
      [...byToken].map(async ([token, watch]) => {
        const [firstIdentifier] = watch.keys.values();
        const rejection = await this.tokens.check(watch.caller, watch.model, firstIdentifier);
        if (rejection) this.revokeToken(token, rejection);
      }),
    );
  }
}
