// One shared, adaptive poll per model, whatever the number of subscribers: fetch the watched records, diff, publish.
import { GraphQLError } from 'graphql';
import { gatewayError } from '../errors.js';
import type { Caller, GitLabClient, RecordJson } from '../gitlab/client.js';
import { fetchByIdentifiers, recordKey } from '../gitlab/loaders.js';
import { MODELS_BY_ENUM, type ChecksumStateName, type ModelInfo } from '../models.js';
import { CallBudget, CallNotWanted } from './call-budget.js';
import { LocalCluster, type Cluster } from './cluster.js';
import type { ChangeBatch, ChangeBus, RecordChange } from './pubsub.js';
import { isAuthError, TokenChecker } from './token-checker.js';
import type { Metrics } from '../metrics.js';
import { StateWatcher } from './state-watch.js';
import { SummaryWatcher } from './summary-watch.js';
import type { Tracing } from '../trace-context.js';

export interface LiveOptions {
  /** Pace while any watched record is pending or started, or just after a recalculation. */
  fastPollMs: number;
  /** Pace while every watched record is settled, or unknown to GitLab. */
  slowPollMs: number;
  /** How often each subscriber's token is checked again. */
  authRecheckMs: number;
  /** Longest wait between polls while GitLab fails. */
  maxBackoffMs: number;
  /** Calls to GitLab the live layer starts per second at most: polls, first reads and token re-checks together. */
  maxUpstreamCallsPerSecond: number;
  /** Records one subscription watches at most (LIVE_MAX_IDENTIFIERS): watching by state, the first ones in it. */
  maxIdentifiers?: number;
  /** Distinct records watched by all subscriptions together, at most (LIVE_MAX_WATCHED_IDENTIFIERS); unbounded if absent. */
  maxWatchedIdentifiers?: number;
}

/** One subscription, as the watcher sees it. */
export interface Watch {
  caller: Caller;
  model: ModelInfo;
  /** recordKey() -> the identifier as the subscriber spelt it. */
  keys: Map<string, string>;
  /** Every batch of the model's changes: the watch picks out its own records. */
  deliver(batch: ChangeBatch): void;
  /** Ends the subscription with this error: a token GitLab stopped accepting, an identifier GitLab refuses. */
  fail(error: GraphQLError): void;
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

/** What the watcher last learnt of some records: the ones GitLab has, and the keys it answered as absent. */
export interface Snapshot {
  records: RecordJson[];
  unknownKeys: string[];
}

class ModelPoll {
  readonly watches = new Set<Watch>();
  /** recordKey() -> identifier and how many watches share it. */
  readonly watched = new Map<string, { identifier: string; refs: number }>();
  /** Identifiers only other replicas watch (this replica polls for the cluster): recordKey() -> identifier. */
  remote = new Map<string, string>();
  readonly observed = new Map<string, Observed>();
  /** Keys a successful read answered as absent -> that read's sequence number. They do not hold the fast pace. */
  readonly absent = new Map<string, number>();
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

/** The records of a read's answer. */
function recordsOf(found: Map<string, RecordJson | Error>): RecordJson[] {
  return [...found.values()].filter((v): v is RecordJson => !(v instanceof Error));
}

/** The requested keys GitLab answered as absent: a call that succeeded without them. */
function absentKeysOf(keys: Iterable<string>, found: Map<string, RecordJson | Error>): string[] {
  const absent: string[] = [];
  for (const key of keys) if (!found.has(key)) absent.push(key);
  return absent;
}

/** The keys of these identifiers GitLab could read (recordKey() refuses the rest before any call). */
function keysOf(identifiers: Iterable<string>): string[] {
  const keys: string[] = [];
  for (const id of identifiers) {
    const key = recordKey(id)?.key;
    if (key) keys.push(key);
  }
  return keys;
}

/** A first read for new subscribers: recordKey() -> identifier of what it asks for, and its answer. */
interface PendingRead {
  ids: Map<string, string>;
  promise: Promise<Map<string, RecordJson | Error>>;
}

function asksFor(read: PendingRead, keys: ReadonlyMap<string, string>): boolean {
  for (const key of keys.keys()) if (!read.ids.has(key)) return false;
  return true;
}

/** Watched here, or (this replica polling for the cluster) by another replica. */
function isWatched(poll: ModelPoll, key: string): boolean {
  return poll.watched.has(key) || poll.remote.has(key);
}

/** A per-record error that is the client's: GitLab refused the identifier itself (400). */
const isRefusedIdentifier = (error: Error): error is GraphQLError => error instanceof GraphQLError && error.extensions.code === 'BAD_USER_INPUT';

export class Watcher {
  private readonly polls = new Map<ModelInfo, ModelPoll>();
  private recheckTimer: NodeJS.Timeout | null = null;
  private rechecking = false;
  private readSeq = 0;
  /** Distinct records watched, all models together (the sum of every poll's `watched`). */
  private watchedRecords = 0;
  /** Per model and token: the read still taking identifiers (this tick), and the reads sent and not yet answered. */
  private readonly openReads = new Map<string, PendingRead>();
  private readonly readsInFlight = new Map<string, Set<PendingRead>>();
  private readonly budget: CallBudget;
  readonly tokens: TokenChecker;
  /** Counts per state of whole models (verificationSummary), in the same budget of calls. */
  readonly summaries: SummaryWatcher;
  /** Subscriptions by checksum state (the records in a state, as they enter and leave it), in the same budget. */
  readonly states: StateWatcher;
  /** Counters for metrics and benchmarks. */
  readonly stats = { cycles: 0, failedCycles: 0, published: 0 };

  constructor(
    private readonly client: GitLabClient,
    private readonly bus: ChangeBus,
    readonly options: LiveOptions,
    private readonly metrics?: Metrics,
    /** The gateway's one cache of GitLab's verdicts on tokens (see server.ts); a cache of its own otherwise. */
    tokens?: TokenChecker,
    /** The other replicas (REDIS_URL), or none. */
    private readonly cluster: Cluster = new LocalCluster(),
    /** Tracing on: every poll cycle is a span of its own (see tracing.ts). */
    private readonly tracing: Tracing | null = null,
  ) {
    this.tokens = tokens ?? new TokenChecker(client, { ttlMs: options.authRecheckMs, freshMs: options.authRecheckMs, maxEntries: 10_000 });
    this.budget = new CallBudget(options.maxUpstreamCallsPerSecond, () => metrics?.liveUpstreamWaits.inc());
    this.summaries = new SummaryWatcher(client, options, this.budget, this.tokens, metrics, cluster, tracing);
    this.states = new StateWatcher(client, options, this.budget, this.tokens, () => metrics?.subscriptions.set(this.activeSubscriptions), tracing);
    cluster.onMessage((message) => {
      if (message.type === 'changes') this.observeElsewhere(message.batch);
      else if (message.type === 'hurry') this.hurryHere(message.model);
      else this.summaries.observeElsewhere(message.model, message.summary);
    });
  }

  /** checksumStateChanged and checksumStateChangeBatches subscriptions, by identifiers or by state. */
  get activeSubscriptions(): number {
    let n = this.states?.activeSubscriptions ?? 0;
    for (const poll of this.polls.values()) n += poll.watches.size;
    return n;
  }

  /** A subscriber that reads slowly had `events` buffered events merged into later ones (see RecordStream). */
  noteCoalesced(events: number): void {
    this.metrics?.coalescedEvents.inc(events);
  }

  /**
   * Starts watching; the returned function stops, and the last watcher of a record takes it out of the poll. A watch
   * whose new records would take the process past LIVE_MAX_WATCHED_IDENTIFIERS is refused (BAD_USER_INPUT), and nothing
   * of it is kept; records someone already watches cost nothing.
   */
  watch(watch: Watch): () => void {
    const max = this.options.maxWatchedIdentifiers ?? Infinity;
    const watchedOfModel = this.polls.get(watch.model)?.watched;
    let added = 0;
    for (const key of watch.keys.keys()) if (!watchedOfModel?.has(key)) added++;
    if (this.watchedRecords + added > max) {
      throw gatewayError('BAD_USER_INPUT', `The gateway already watches nearly as many records as it may (LIVE_MAX_WATCHED_IDENTIFIERS, ${max}): this subscription would add ${added}. Watch fewer records, or try again later.`);
    }
    const poll = this.pollOf(watch.model);
    poll.watches.add(watch);
    for (const [key, identifier] of watch.keys) {
      const entry = poll.watched.get(key);
      if (entry) entry.refs++;
      else poll.watched.set(key, { identifier, refs: 1 });
    }
    this.watchedRecords += added;
    if (added > 0) this.cluster.register(watch.model.enumName, [...watch.keys].filter(([key]) => poll.watched.get(key)?.refs === 1).map(([, id]) => id), []);
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

  /**
   * What was last learnt of these records, if every one is known (read, or answered as absent): spares GitLab a call
   * per new subscriber.
   */
  snapshot(model: ModelInfo, keys: Iterable<string>): Snapshot | null {
    const poll = this.polls.get(model);
    if (!poll) return null;
    const records: RecordJson[] = [];
    const unknownKeys: string[] = [];
    for (const key of keys) {
      const seen = poll.observed.get(key);
      if (seen) records.push(seen.record);
      else if (poll.absent.has(key)) unknownKeys.push(key);
      else return null;
    }
    return { records, unknownKeys };
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

  /**
   * Takes in records read anywhere (a poll, a new subscriber, a mutation) and publishes what changed. `absentKeys`: the
   * keys the same read asked for and GitLab answered as absent. A record that disappears is published as such; one that
   * appears after being absent, as a change from no state (previousState null).
   */
  observe(model: ModelInfo, records: Iterable<RecordJson>, readSeq = this.nextReadSeq(), absentKeys: Iterable<string> = []): void {
    const poll = this.polls.get(model);
    const observedAt = new Date().toISOString();
    const changes: RecordChange[] = [];
    const disappeared: string[] = [];
    // For the other replicas: records read here that this replica does not know yet (a mutation's result, a record
    // only others watch, first read here). They may know them, and drop what is not news to them.
    const firstSeen: RecordChange[] = [];
    const newer = (key: string) => (poll?.observed.get(key)?.readSeq ?? -1) > readSeq || (poll?.absent.get(key) ?? -1) > readSeq;
    for (const record of records) {
      const key = recordKey(record.record_identifier)?.key;
      if (!key) continue;
      if (!poll || !isWatched(poll, key)) {
        firstSeen.push({ key, record, signature: signatureOf(record), previousState: null, state: stateOf(record), observedAt });
        continue;
      }
      if (newer(key)) continue;
      const before = poll.observed.get(key);
      const appeared = !before && poll.absent.delete(key);
      // An unchanged record keeps the signature object subscribers already hold, so each observation does not add one.
      const seen = signatureOf(record);
      const signature = before?.signature === seen ? before.signature : seen;
      const state = stateOf(record);
      poll.observed.set(key, { readSeq, signature, state, record, observedAt });
      const change = { key, record, signature, previousState: before?.state ?? null, state, observedAt };
      if ((before && before.signature !== signature) || appeared) changes.push(change);
      else if (!before && !poll.watched.has(key)) firstSeen.push(change);
    }
    for (const key of absentKeys) {
      if (!poll || !isWatched(poll, key) || newer(key)) continue;
      poll.absent.set(key, readSeq);
      if (poll.observed.delete(key)) disappeared.push(key);
    }
    if (changes.length > 0 || disappeared.length > 0) {
      this.stats.published += changes.length;
      this.bus.publish({ model: model.enumName, changes, disappeared, readSeq });
    }
    if (changes.length > 0 || disappeared.length > 0 || firstSeen.length > 0) {
      this.cluster.publish({ type: 'changes', batch: { model: model.enumName, changes: firstSeen.length > 0 ? [...changes, ...firstSeen] : changes, disappeared, readSeq } });
    }
    if (poll) this.schedule(poll, this.paceOf(poll));
  }

  /**
   * Changes another replica observed: taken in as this replica's own observations of the records it watches (so a
   * read here finds no change in them again), and handed to its subscribers. An observation older than what this
   * replica knows of a record is left out: nobody gets an older state after a newer one.
   */
  private observeElsewhere(batch: ChangeBatch): void {
    const model = MODELS_BY_ENUM.get(batch.model);
    const poll = model && this.polls.get(model);
    if (!poll) return;
    const newer = (key: string) => (poll.observed.get(key)?.readSeq ?? -1) > batch.readSeq || (poll.absent.get(key) ?? -1) > batch.readSeq;
    const changes: RecordChange[] = [];
    const disappeared: string[] = [];
    for (const change of batch.changes) {
      if (!isWatched(poll, change.key) || newer(change.key)) continue;
      const before = poll.observed.get(change.key);
      poll.absent.delete(change.key);
      poll.observed.set(change.key, { readSeq: batch.readSeq, signature: change.signature, state: change.state, record: change.record, observedAt: change.observedAt });
      // Seen here already (this replica's own read of the same moment): nothing new for its subscribers.
      if (before?.signature === change.signature) continue;
      changes.push({ ...change, previousState: before ? before.state : change.previousState });
    }
    for (const key of batch.disappeared) {
      if (!isWatched(poll, key) || newer(key)) continue;
      poll.absent.set(key, batch.readSeq);
      if (poll.observed.delete(key)) disappeared.push(key);
    }
    if (changes.length > 0 || disappeared.length > 0) this.bus.publish({ model: batch.model, changes, disappeared, readSeq: batch.readSeq });
    this.schedule(poll, this.paceOf(poll));
  }

  /** Numbers reads in the order they are sent. */
  private nextReadSeq(): number {
    // Microseconds of the clock, made unique: comparable with the numbers of the other replicas' reads.
    this.readSeq = Math.max(this.readSeq + 1, Date.now() * 1000);
    return this.readSeq;
  }

  /**
   * Reads records for new subscribers (`keys`: recordKey() -> identifier). The reads of one token for one model in the
   * same tick share one fetch, and a subscriber whose records a read of its token already sent asks for waits for that
   * one (unless `joinSent` is false): a burst of subscriptions costs GitLab one call per 100 records, not one per
   * subscriber. What it reads is observed; its calls wait for the budget like the poll's, and a call none of whose
   * records is watched any more when its turn comes is not made (its keys answer CallNotWanted).
   */
  read(caller: Caller, model: ModelInfo, keys: ReadonlyMap<string, string>, joinSent = true): Promise<Map<string, RecordJson | Error>> {
    const readKey = `${model.enumName}\u0000${caller.token}`;
    if (joinSent) {
      for (const sent of this.readsInFlight.get(readKey) ?? []) if (asksFor(sent, keys)) return sent.promise;
    }
    let open = this.openReads.get(readKey);
    if (!open) {
      let resolve!: (found: Map<string, RecordJson | Error>) => void;
      const read: PendingRead = { ids: new Map(), promise: new Promise((settle) => (resolve = settle)) };
      this.openReads.set(readKey, read);
      setImmediate(() => void this.send(readKey, caller, model, read).then(resolve));
      open = read;
    }
    for (const [key, identifier] of keys) if (!open.ids.has(key)) open.ids.set(key, identifier);
    return open.promise;
  }

  /** Sends a first read once its tick is over, and observes what it learns; never fails (errors are per key). */
  private async send(readKey: string, caller: Caller, model: ModelInfo, read: PendingRead): Promise<Map<string, RecordJson | Error>> {
    this.openReads.delete(readKey);
    const poll = this.polls.get(model);
    if (!poll) return new Map([...read.ids.keys()].map((key) => [key, new CallNotWanted()]));
    const inFlight = this.readsInFlight.get(readKey) ?? new Set<PendingRead>();
    this.readsInFlight.set(readKey, inFlight.add(read));
    try {
      const readSeq = this.nextReadSeq();
      const found = await fetchByIdentifiers(this.upstreamFor(poll), caller, model, read.ids.values());
      this.observe(model, recordsOf(found), readSeq, absentKeysOf(read.ids.keys(), found));
      return found;
    } catch (error) {
      // Never left pending: its subscribers would wait for ever.
      return new Map([...read.ids.keys()].map((key) => [key, error as Error]));
    } finally {
      inFlight.delete(read);
      if (inFlight.size === 0 && this.readsInFlight.get(readKey) === inFlight) this.readsInFlight.delete(readKey);
    }
  }

  /** A recalculation went through this replica: every replica watches this model closely for a while. */
  hurry(model: ModelInfo): void {
    this.cluster.publish({ type: 'hurry', model: model.enumName });
    this.hurryHere(model.enumName);
  }

  private hurryHere(name: string): void {
    const model = MODELS_BY_ENUM.get(name);
    if (!model) return;
    this.summaries.hurry(model);
    this.states.hurry(model);
    const poll = this.polls.get(model);
    if (!poll) return;
    poll.fastUntil = Date.now() + Math.max(SETTLED_AFTER_HURRY_MS, 3 * this.options.fastPollMs);
    this.schedule(poll, this.options.fastPollMs);
  }

  /** Stops every poll and completes every subscription. */
  close(): void {
    this.summaries.close();
    this.states.close();
    for (const poll of [...this.polls.values()]) {
      for (const watch of [...poll.watches]) watch.end();
      if (poll.timer) clearTimeout(poll.timer);
      poll.unsubscribeBus?.();
    }
    this.polls.clear();
    this.budget.close();
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    this.recheckTimer = null;
  }

  /**
   * The client as one poll's reads see it: every list call waits for its turn in the budget, and a call none of whose
   * records is still watched is not made (its subscribers left while it waited).
   */
  private upstreamFor(poll: ModelPoll): GitLabClient {
    const wanted = (identifiers: readonly string[]) => this.polls.get(poll.model) === poll && keysOf(identifiers).some((key) => isWatched(poll, key));
    const list: GitLabClient['list'] = async (caller, model, query) => {
      if (!wanted(query.identifiers ?? [])) throw new CallNotWanted();
      await this.budget.take(() => wanted(query.identifiers ?? []));
      if (!wanted(query.identifiers ?? [])) throw new CallNotWanted();
      return this.client.list(caller, model, query);
    };
    return new Proxy(this.client, { get: (client, property) => (property === 'list' ? list : Reflect.get(client, property)) });
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
    const removed: string[] = [];
    for (const key of watch.keys.keys()) {
      const entry = poll.watched.get(key);
      if (entry && --entry.refs === 0) {
        poll.watched.delete(key);
        this.watchedRecords--;
        poll.observed.delete(key);
        poll.absent.delete(key);
        removed.push(entry.identifier);
      }
    }
    if (removed.length > 0) this.cluster.register(poll.model.enumName, [], removed);
    if (poll.watches.size === 0) {
      // Nobody watches: no polling at all, here or for the cluster.
      if (poll.timer) clearTimeout(poll.timer);
      poll.unsubscribeBus?.();
      this.polls.delete(poll.model);
      this.cluster.leave('records', poll.model.enumName);
    }
    if (this.polls.size === 0 && this.recheckTimer) {
      clearInterval(this.recheckTimer);
      this.recheckTimer = null;
    }
  }

  /**
   * Fast while a watched record is pending or started (or just after a recalculation), else slow. A record not read yet
   * does not count (its subscriber's own read is on its way), nor one GitLab answered as absent.
   */
  private paceOf(poll: ModelPoll): number {
    if (Date.now() < poll.fastUntil) return this.options.fastPollMs;
    for (const seen of poll.observed.values()) {
      if (seen.state === 'pending' || seen.state === 'started') return this.options.fastPollMs;
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
    // With other replicas, one of them polls this model for all (it holds the lease); the others hear of its changes.
    const mine = await this.cluster.mayPoll('records', poll.model.enumName);
    if (!mine || this.polls.get(poll.model) !== poll) {
      poll.polling = false;
      this.forgetWatchedElsewhere(poll);
      this.schedule(poll, Math.min(this.paceOf(poll), this.cluster.recheckMs));
      return;
    }
    await this.takeInWatchedElsewhere(poll);
    this.stats.cycles++;
    const started = performance.now();
    let outcome = 'success';
    let delay: number;
    const keys = [...poll.watched.keys(), ...poll.remote.keys()];
    // A poll serves every subscriber: its calls carry its own trace (a root span when tracing is on), never one
    // subscriber's.
    const span = this.tracing?.poll('records', poll.model.enumName, { 'gateway.live.watched': keys.length });
    try {
      const readSeq = this.nextReadSeq();
      const identifiers = [...[...poll.watched.values()].map((w) => w.identifier), ...poll.remote.values()];
      const found = await fetchByIdentifiers(this.upstreamFor(poll), { ...caller, trace: span?.trace }, poll.model, identifiers);
      this.observe(poll.model, recordsOf(found), readSeq, absentKeysOf(keys, found));
      // Only the errors of records still watched count; a call skipped for want of watchers is no failure.
      let authFailure: GraphQLError | undefined;
      let failure: Error | undefined;
      const refused = new Map<string, GraphQLError>();
      for (const [key, value] of found) {
        if (!(value instanceof Error) || value instanceof CallNotWanted || !isWatched(poll, key)) continue;
        if (isAuthError(value)) authFailure ??= value;
        else if (isRefusedIdentifier(value)) refused.set(key, value);
        else failure ??= value;
      }
      // An identifier GitLab refuses fails the subscriptions that watch it, and leaves the poll with them: not everybody's cycle.
      if (refused.size > 0) this.failWatchesOf(poll, refused);
      if (authFailure) {
        // This subscriber's token no longer works: cut its subscriptions off, poll again with another one.
        this.revokeToken(caller.token ?? '', authFailure);
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
      span?.end(outcome);
      this.metrics?.pollCycles.inc({ model: poll.model.enumName, outcome });
      this.metrics?.pollDuration.observe({ model: poll.model.enumName }, (performance.now() - started) / 1000);
    }
    this.schedule(poll, delay);
  }

  /** Polling for the cluster: the records only other replicas watch are read and published with this replica's own. */
  private async takeInWatchedElsewhere(poll: ModelPoll): Promise<void> {
    const remote = new Map<string, string>();
    for (const identifier of await this.cluster.watchedElsewhere(poll.model.enumName)) {
      const key = recordKey(identifier)?.key;
      if (key && !poll.watched.has(key)) remote.set(key, identifier);
    }
    this.forgetWatchedElsewhere(poll, remote);
    poll.remote = remote;
  }

  /** What this replica knew of records only others watch, no longer watched anywhere (or polled by another replica). */
  private forgetWatchedElsewhere(poll: ModelPoll, still: ReadonlyMap<string, string> = new Map()): void {
    for (const key of poll.remote.keys()) {
      if (still.has(key) || poll.watched.has(key)) continue;
      poll.observed.delete(key);
      poll.absent.delete(key);
    }
    if (still.size === 0) poll.remote = new Map();
  }

  /** Ends every subscription that watches one of these keys, with the error GitLab gave for it. */
  private failWatchesOf(poll: ModelPoll, refused: Map<string, GraphQLError>): void {
    for (const watch of [...poll.watches]) {
      for (const key of watch.keys.keys()) {
        const error = refused.get(key);
        if (!error) continue;
        watch.fail(error);
        break;
      }
    }
  }

  /** Any current subscriber's token serves the shared poll: they all may read every record of the model. */
  private pollingCaller(poll: ModelPoll): Caller | null {
    for (const watch of poll.watches) if (watch.caller.token) return watch.caller;
    return null;
  }

  private revokeToken(token: string, error: GraphQLError): void {
    this.tokens.forget(token);
    for (const poll of [...this.polls.values()]) {
      for (const watch of [...poll.watches]) if (watch.caller.token === token) watch.fail(error);
    }
  }

  private startRechecks(): void {
    if (this.recheckTimer) return;
    this.recheckTimer = setInterval(() => void this.recheckTokens(), this.options.authRecheckMs);
    this.recheckTimer.unref();
  }

  /**
   * One call per distinct token, however many subscriptions share it, each waiting for the budget. A round that has
   * not finished when the next is due is not doubled: the next one is skipped.
   */
  private async recheckTokens(): Promise<void> {
    if (this.rechecking) return;
    this.rechecking = true;
    const byToken = new Map<string, Watch>();
    for (const poll of this.polls.values()) for (const watch of poll.watches) if (watch.caller.token) byToken.set(watch.caller.token, watch);
    try {
      await Promise.all(
        [...byToken].map(async ([token, watch]) => {
          try {
            await this.budget.take();
          } catch {
            return; // the gateway is closing
          }
          // Gone while it waited: whoever still uses the token is checked next round.
          if (!this.polls.get(watch.model)?.watches.has(watch)) return;
          const [firstIdentifier] = watch.keys.values();
          // Not part of the operation that subscribed, long over: no trace of it goes to GitLab.
          const rejection = await this.tokens.check({ ...watch.caller, trace: undefined }, watch.model, firstIdentifier);
          if (rejection) this.revokeToken(token, rejection);
        }),
      );
    } finally {
      this.rechecking = false;
    }
  }
}
