// One subscriber's stream: the current state of each watched record first, then every change, until it ends; either one
// event per record change, or one event per observation carrying all of its changes (a batch).
import type { GraphQLError } from 'graphql';
import type { GatewayContext } from '../context.js';
import { gatewayError, missingToken } from '../errors.js';
import { clientLeft, type Caller, type RecordJson } from '../gitlab/client.js';
import { recordKey } from '../gitlab/loaders.js';
import { Interner } from '../interning.js';
import type { ChecksumStateName, ModelInfo } from '../models.js';
import type { OperationEnd } from '../operation-end.js';
import { CallNotWanted } from './call-budget.js';
import type { ChangeBatch, RecordChange } from './pubsub.js';
import type { Snapshot, Watch, Watcher } from './watcher.js';

/** A drained buffer that never held more than this keeps its array; a bigger one is let go. */
const SMALL_BUFFER = 16;
/** Events a stream hands over in a row before it lets the event loop turn. */
const YIELD_EVERY = 16;

/** The one empty list of identifiers every event without unknown ones shares. */
export const NO_IDENTIFIERS: readonly string[] = Object.freeze([]);

/** The watched records' changes of one observation, or (first) their current states. */
export interface RecordBatch {
  readonly changes: readonly RecordChange[];
  /**
   * Watched identifiers, as the subscriber spelt them, that GitLab answered as absent: every one in the first batch,
   * then those whose record disappeared in this observation.
   */
  readonly unknownIdentifiers: readonly string[];
  /** Watching by state: more records were in the state than the subscription holds (see WatchSet.truncated). */
  readonly truncated: boolean;
}

/** `unknownIdentifiers`: the ones GitLab answered as absent since the subscriber's previous event (see RecordBatch). */
export type ChangeEvent = { change: RecordChange; model: ModelInfo; unknownIdentifiers: readonly string[]; truncated: boolean };
export type BatchEvent = { batch: RecordBatch; model: ModelInfo };
export type LiveEvent = ChangeEvent | BatchEvent | { failed: GraphQLError };

/** How a stream hands out changes: one event per record change, or one per observation. */
export type Delivery = 'each' | 'batch';

/**
 * Consumers to wake in a microtask, as a promise would: the watcher hands a batch to every watch in one loop and goes
 * on. One microtask for all of them, since each queueMicrotask() makes an async resource of its own.
 */
const toWake: Array<() => void> = [];

function wakeSoon(wake: () => void): void {
  if (toWake.length === 0) queueMicrotask(wakeAll);
  toWake.push(wake);
}

function wakeAll(): void {
  try {
    // Consumers woken here may wake others: they join the end of this round.
    for (let i = 0; i < toWake.length; i++) toWake[i]();
  } finally {
    toWake.length = 0;
  }
}

/** A model's batch cut down to one watch set's records, made once for every subscriber of that set (null: none of them). */
const batchesOfSet = new WeakMap<ChangeBatch, Map<WatchSet, RecordBatch | null>>();

function batchFor(batch: ChangeBatch, watched: WatchSet): RecordBatch | null {
  let bySet = batchesOfSet.get(batch);
  if (!bySet) batchesOfSet.set(batch, (bySet = new Map()));
  let mine = bySet.get(watched);
  if (mine === undefined) {
    const changes = batch.changes.filter((change) => watched.places.has(change.key));
    const unknownIdentifiers = batch.disappeared.length === 0 ? NO_IDENTIFIERS : identifiersOf(watched, batch.disappeared.filter((key) => watched.keys.has(key)));
    bySet.set(watched, (mine = changes.length > 0 || unknownIdentifiers.length > 0 ? { changes, unknownIdentifiers, truncated: watched.truncated === true } : null));
  }
  return mine;
}

/** These watched keys as the subscribers of the set spelt them: the set's last such list when it is the same. */
function identifiersOf(watched: WatchSet, keys: readonly string[]): readonly string[] {
  if (keys.length === 0) return NO_IDENTIFIERS;
  const identifiers = keys.map((key) => watched.keys.get(key)!);
  const last = watched.lastUnknown;
  if (last && last.length === identifiers.length && last.every((id, i) => id === identifiers[i])) return last;
  return (watched.lastUnknown = identifiers);
}

/**
 * A hand-written async iterator rather than an async generator: unsubscribing must stop the watch at once,
 * even while waiting for the next change (a generator would only see `return()` at its next `yield`).
 */
export class RecordStream implements AsyncIterableIterator<LiveEvent> {
  private buffer: LiveEvent[] = [];
  private bufferGrewTo = 0;
  /** Whom to tell once there may be something to take (see take()). */
  private wake: (() => void) | null = null;
  private ended = false;
  /** Set once the current states are handed out; the batches published before are in them (see start()). */
  private started = false;
  /** One event per change only: unknown identifiers no event has carried yet (a record disappeared, none changed). */
  private owedUnknown: readonly string[] = NO_IDENTIFIERS;
  private stopWatching: (() => void) | null = null;
  /** While the first events of a state watch are awaited: told when the stream stops meanwhile. */
  private onStop: (() => void) | null = null;
  private servedSinceYield = 0;

  constructor(
    private readonly watcher: Watcher,
    private readonly model: ModelInfo,
    private readonly watched: WatchSet,
    private readonly delivery: Delivery,
  ) {}

  /**
   * Watches first, then reads the current state. Nothing that happens in between is lost: the watcher's snapshot after
   * the read holds the read's answer or newer, so every batch published meanwhile is in it, and none needs keeping.
   * `caller` serves the watcher's polls and reads, shared with other subscribers, so it carries no end of its own;
   * `end` (the client left, or completed the operation) stops the stream during its first read, and the calls that
   * read still waits for are then not made, unless another subscriber watches their records.
   */
  async start(caller: Caller, end?: OperationEnd): Promise<this> {
    if (end?.ended) throw clientLeft();
    this.stopWatching = this.watcher.watch(this.watchOf(caller));
    try {
      const token = caller.token!;
      let seen = this.watcher.tokens.isFresh(token) ? this.watcher.snapshot(this.model, this.watched.keys.keys()) : null;
      if (!seen) {
        // This read is also the subscriber's own token check.
        let found = await unlessEnded(this.watcher.read(caller, this.model, this.watched.keys), end);
        // A read sent before this subscriber came may have skipped calls nobody watched then: ask again, alone.
        if (!this.ended && this.someSkipped(found)) found = await unlessEnded(this.watcher.read(caller, this.model, this.watched.keys, false), end);
        // Ended meanwhile (failed, or the gateway is closing): what it was told is in the buffer.
        if (this.ended) return this;
        for (const key of this.watched.keys.keys()) {
          const value = found.get(key);
          if (value instanceof Error) throw value;
        }
        this.watcher.tokens.markVerified(token);
        seen = this.watcher.snapshot(this.model, this.watched.keys.keys()) ?? this.answerOf(found);
      }
      this.offerFirst(seen.records.map((record) => this.watcher.firstEventOf(this.model, record)), seen.unknownKeys);
      this.started = true;
      return this;
    } catch (error) {
      await this.return();
      throw error;
    }
  }

  /** This stream as the watcher sees it: batches are taken once its first events are handed out. */
  private watchOf(caller: Caller): Watch {
    return {
      caller,
      model: this.model,
      keys: this.watched.keys,
      deliver: (batch) => {
        if (this.started) this.offerBatch(batch);
      },
      fail: (error) => this.fail(error),
      end: () => void this.return(),
    };
  }

  private someSkipped(found: Map<string, RecordJson | Error>): boolean {
    for (const key of this.watched.keys.keys()) if (found.get(key) instanceof CallNotWanted) return true;
    return false;
  }

  /** The read's own answer, should the watcher hold nothing of these records (it always does while they are watched). */
  private answerOf(found: Map<string, RecordJson | Error>): Snapshot {
    const records: RecordJson[] = [];
    const unknownKeys: string[] = [];
    for (const key of this.watched.keys.keys()) {
      const value = found.get(key);
      if (value === undefined) unknownKeys.push(key);
      else if (!(value instanceof Error)) records.push(value);
    }
    return { records, unknownKeys };
  }

  /**
   * Opens a stream that watches by checksum state (see StateWatcher): the records in the state first, then those that
   * enter it, change in it or leave it. Nothing is lost in between, as in start(): the watch comes first.
   */
  async startByState(state: ChecksumStateName, caller: Caller, end?: OperationEnd): Promise<this> {
    if (end?.ended) throw clientLeft();
    const states = this.watcher.states;
    this.stopWatching = states.watch(state, this.watchOf(caller));
    try {
      const stopped = new Promise<null>((resolve) => (this.onStop = () => resolve(null)));
      const first = await unlessEnded(Promise.race([states.current(caller, this.model, state), stopped]), end);
      // Ended meanwhile (its token refused, or the gateway is closing): what it was told is in the buffer.
      if (this.ended || !first) return this;
      // Even with no record in the state: a batch subscriber learns at once that none is.
      this.offerFirst(first, [], true);
      this.started = true;
      return this;
    } catch (error) {
      await this.return();
      throw error;
    } finally {
      this.onStop = null;
    }
  }

  /** The current states: in a batch stream one batch, shared by every subscriber of the set who gets the same states. */
  private offerFirst(changes: RecordChange[], unknownKeys: readonly string[], evenEmpty = false): void {
    const truncated = this.watched.truncated === true;
    const unknownIdentifiers = identifiersOf(this.watched, unknownKeys);
    if (this.delivery === 'each') {
      this.owedUnknown = unknownIdentifiers;
      for (const change of changes) this.offerChange(change);
      return;
    }
    const last = this.watched.firstBatch;
    const same = last !== undefined && last.truncated === truncated && last.unknownIdentifiers === unknownIdentifiers && last.changes.length === changes.length && changes.every((change, i) => last.changes[i] === change);
    const batch = same ? last : (this.watched.firstBatch = { changes, unknownIdentifiers, truncated });
    if (changes.length > 0 || unknownIdentifiers.length > 0 || evenEmpty) this.push({ batch, model: this.model });
  }

  private offerBatch(batch: ChangeBatch): void {
    const mine = batchFor(batch, this.watched);
    if (!mine) return;
    if (this.delivery === 'batch') return this.push({ batch: mine, model: this.model });
    this.owe(mine.unknownIdentifiers);
    for (const change of mine.changes) this.offerChange(change);
  }

  /** One event per change: the change, with the unknown identifiers owed so far. */
  private offerChange(change: RecordChange): void {
    let unknownIdentifiers = this.owedUnknown;
    this.owedUnknown = NO_IDENTIFIERS;
    if (unknownIdentifiers.length > 0) {
      // A record that disappeared and came back is known again.
      const identifier = this.watched.keys.get(change.key);
      if (unknownIdentifiers.includes(identifier!)) unknownIdentifiers = unknownIdentifiers.filter((id) => id !== identifier);
    }
    this.push({ change, model: this.model, unknownIdentifiers, truncated: this.watched.truncated === true });
  }

  private owe(identifiers: readonly string[]): void {
    if (identifiers.length === 0) return;
    this.owedUnknown = this.owedUnknown.length === 0 ? identifiers : [...new Set([...this.owedUnknown, ...identifiers])];
  }

  private fail(error: GraphQLError): void {
    this.push({ failed: error });
    this.stop();
  }

  private push(event: LiveEvent): void {
    if (this.ended && !('failed' in event)) return;
    this.buffer.push(event);
    this.bufferGrewTo = Math.max(this.bufferGrewTo, this.buffer.length);
    if (this.buffer.length > this.mostBuffered()) this.coalesce();
    this.wakeConsumer();
  }

  private wakeConsumer(): void {
    const wake = this.wake;
    this.wake = null;
    if (wake) wakeSoon(wake);
  }

  /** Events a subscriber that reads more slowly than changes arrive may owe before they are merged. */
  private mostBuffered(): number {
    return this.delivery === 'each' ? 2 * this.watched.keys.size + SMALL_BUFFER : SMALL_BUFFER;
  }

  /**
   * Merges what is buffered into the latest state of each record, chained to the state this subscriber was last sent
   * (the previousState of its first buffered change): intermediate states are skipped, as between two polls, and the
   * buffer stays within one event per watched record however far behind the client falls. A record that disappeared
   * after its buffered changes is only listed as unknown; one that came back after being listed is known again.
   */
  private coalesce(): void {
    const latest = new Map<string, RecordChange>();
    const unknown = new Map<string, string>();
    let failed: LiveEvent | undefined;
    for (const event of this.buffer) {
      if ('failed' in event) {
        failed = event;
        continue;
      }
      const [changes, identifiers] = 'change' in event ? [[event.change], event.unknownIdentifiers] : [event.batch.changes, event.batch.unknownIdentifiers];
      for (const identifier of identifiers) {
        const key = recordKey(identifier)!.key;
        latest.delete(key);
        unknown.set(key, identifier);
      }
      for (const change of changes) {
        unknown.delete(change.key);
        const earlier = latest.get(change.key);
        // Re-inserted, so the records come in the order of their latest change.
        latest.delete(change.key);
        latest.set(change.key, earlier ? { ...change, previousState: earlier.previousState } : change);
      }
    }
    const before = this.buffer.length;
    const changes = [...latest.values()];
    const unknownIdentifiers = unknown.size === 0 ? NO_IDENTIFIERS : [...unknown.values()];
    if (this.delivery === 'each') {
      const truncated = this.watched.truncated === true;
      this.buffer = changes.map((change, i) => ({ change, model: this.model, unknownIdentifiers: i === 0 ? unknownIdentifiers : NO_IDENTIFIERS, truncated }));
      // Nothing to carry them: the next event will.
      if (changes.length === 0) this.owedUnknown = unknownIdentifiers.length === 0 ? this.owedUnknown : [...new Set([...unknownIdentifiers, ...this.owedUnknown])];
    } else {
      this.buffer = changes.length > 0 || unknownIdentifiers.length > 0 ? [{ batch: { changes, unknownIdentifiers, truncated: this.watched.truncated === true }, model: this.model }] : [];
    }
    if (failed) this.buffer.push(failed);
    this.watcher.noteCoalesced(before - this.buffer.length);
  }

  private stop(): void {
    this.ended = true;
    this.onStop?.();
    this.stopWatching?.();
    this.stopWatching = null;
    this.wakeConsumer();
  }

  /**
   * The next event, null once the stream has ended, or undefined when there is none yet: `wake` is then called once
   * there may be one. For a consumer that drains events as they come (SharedResults): unlike next(), it allocates
   * nothing per event, and ten thousand subscribers each take every batch.
   */
  take(wake: () => void): LiveEvent | null | undefined {
    if (this.buffer.length > 0 && ++this.servedSinceYield >= YIELD_EVERY) {
      // A poll may hand thousands of subscribers a burst at once: let sockets (pongs, new connections) breathe.
      this.servedSinceYield = 0;
      setImmediate(wake);
      return undefined;
    }
    const event = this.buffer.shift();
    // A drained array keeps the room it grew to (100 first states): thousands of idle subscribers would keep it all.
    if (event && this.buffer.length === 0 && this.bufferGrewTo > SMALL_BUFFER) {
      this.buffer = [];
      this.bufferGrewTo = 0;
    }
    if (event) return event;
    this.servedSinceYield = 0;
    if (this.ended) return null;
    this.wake = wake;
    return undefined;
  }

  next(): Promise<IteratorResult<LiveEvent>> {
    return new Promise((resolve) => {
      const step = () => {
        const event = this.take(step);
        if (event !== undefined) resolve(event === null ? { value: undefined, done: true } : { value: event, done: false });
      };
      step();
    });
  }

  return(): Promise<IteratorResult<LiveEvent>> {
    this.buffer.length = 0;
    this.stop();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** The promise's outcome, unless the operation ends first: then clientLeft() at once. */
function unlessEnded<T>(promise: Promise<T>, end: OperationEnd | undefined): Promise<T> {
  if (!end) return promise;
  return new Promise((resolve, reject) => {
    const forget = end.whenEnded(() => reject(clientLeft()));
    promise.then(resolve, reject).finally(forget);
  });
}

/** The records one subscription watches; every subscription to the same list of the same model shares one. */
export interface WatchSet {
  /** recordKey() -> the identifier as the subscriber spelt it, in the subscriber's order. */
  keys: Map<string, string>;
  /** recordKey() -> its place in `keys`. */
  places: Map<string, number>;
  /** The last first batch handed out, reused while the records' current states are the same objects. */
  firstBatch?: RecordBatch;
  /** The last list of unknown identifiers handed out, reused while it is the same (see identifiersOf). */
  lastUnknown?: readonly string[];
  /** Watching by state: more records are in the state than the subscription holds (LIVE_MAX_IDENTIFIERS). */
  truncated?: boolean;
}

const watchSets = new Interner<WatchSet>();

/** Checks a subscription's arguments and opens its stream. */
export async function watchRecords(ctx: GatewayContext, model: ModelInfo, identifiers: readonly string[], delivery: Delivery): Promise<RecordStream> {
  const { maxIdentifiers } = ctx.config.live;
  if (!ctx.caller.token) throw missingToken(ctx.caller);
  if (identifiers.length === 0) throw gatewayError('BAD_USER_INPUT', 'identifiers must name at least one record.');
  if (identifiers.length > maxIdentifiers) throw gatewayError('BAD_USER_INPUT', `A subscription watches at most ${maxIdentifiers} records, got ${identifiers.length}.`);
  const keys = new Map<string, string>();
  for (const id of identifiers) {
    const key = recordKey(id);
    if (!key) throw gatewayError('BAD_USER_INPUT', `"${id.slice(0, 64)}" is not a record identifier (an integer, or URL-safe base64 of a composite key).`);
    if (!keys.has(key.key)) keys.set(key.key, id);
  }
  const setKey = `${model.enumName}\0${[...keys.values()].join('\0')}`;
  const watched = watchSets.get(setKey) ?? watchSets.keep(setKey, { keys, places: new Map([...keys.keys()].map((key, place) => [key, place])) });
  // The watcher's polls and reads serve every subscriber: none of them is cut off when this one leaves. Its first read
  // carries the subscribing operation's trace context (the polls carry their own).
  const { token, header, requestId, stats, end, trace } = ctx.caller;
  return new RecordStream(ctx.live, model, watched, delivery).start({ token, header, requestId, stats, trace }, end);
}

/** Opens a stream of the records of a model in one checksum state (see StateWatcher). */
export async function watchByState(ctx: GatewayContext, model: ModelInfo, state: ChecksumStateName, delivery: Delivery): Promise<RecordStream> {
  if (!ctx.caller.token) throw missingToken(ctx.caller);
  // The polls serve every subscriber of this model and state: none of them is cut off when this one leaves.
  const { token, header, requestId, stats, end, trace } = ctx.caller;
  return new RecordStream(ctx.live, model, ctx.live.states.watchSetOf(model, state), delivery).startByState(state, { token, header, requestId, stats, trace }, end);
}
