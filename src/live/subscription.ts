// One subscriber's stream: the current state of each watched record first, then every change, until it ends; either one
// event per record change, or one event per observation carrying all of its changes (a batch).
import type { GraphQLError } from 'graphql';
import type { GatewayContext } from '../context.js';
import { gatewayError, missingToken } from '../errors.js';
import type { Caller, RecordJson } from '../gitlab/client.js';
import { recordKey } from '../gitlab/loaders.js';
import { Interner } from '../interning.js';
import type { ModelInfo } from '../models.js';
import type { ChangeBatch, RecordChange } from './pubsub.js';
import type { Watch, Watcher } from './watcher.js';

/** A drained buffer that never held more than this keeps its array; a bigger one is let go. */
const SMALL_BUFFER = 16;
/** Events a stream hands over in a row before it lets the event loop turn. */
const YIELD_EVERY = 16;

/** The watched records' changes of one observation, or (first) their current states. */
export interface RecordBatch {
  readonly changes: readonly RecordChange[];
}

export type ChangeEvent = { change: RecordChange; model: ModelInfo };
export type BatchEvent = { batch: RecordBatch; model: ModelInfo };
export type LiveEvent = ChangeEvent | BatchEvent | { revoked: GraphQLError };

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
    bySet.set(watched, (mine = changes.length > 0 ? { changes } : null));
  }
  return mine;
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
  private started = false;
  private early: ChangeBatch[] = [];
  /**
   * While starting, what this subscriber was last sent of each record (by its place in the watch set), so a change
   * that arrives during the first read is not sent again with the current state. Once started, the watcher's changes
   * are a chain of different states, so nothing needs it: it is let go (it is 8 bytes per watched record).
   */
  private lastSent: Array<string | undefined> | null;
  private stopWatching: (() => void) | null = null;
  private servedSinceYield = 0;

  constructor(
    private readonly watcher: Watcher,
    private readonly model: ModelInfo,
    private readonly watched: WatchSet,
    private readonly delivery: Delivery,
  ) {
    this.lastSent = new Array<string | undefined>(watched.keys.size);
  }

  /** Watches first, then reads the current state, so nothing that happens in between is lost. */
  async start(caller: Caller): Promise<this> {
    const watch: Watch = {
      caller,
      model: this.model,
      keys: this.watched.keys,
      deliver: (batch) => (this.started ? this.offerBatch(batch) : this.early.push(batch)),
      revoke: (error) => this.revoke(error),
      end: () => void this.return(),
    };
    this.stopWatching = this.watcher.watch(watch);
    try {
      const token = caller.token!;
      let records = this.watcher.tokens.isFresh(token) ? this.watcher.snapshot(this.model, this.watched.keys.keys()) : null;
      if (!records) {
        // This read is also the subscriber's own token check.
        const found = await this.watcher.read(caller, this.model, this.watched.keys.values());
        for (const key of this.watched.keys.keys()) {
          const value = found.get(key);
          if (value instanceof Error) throw value;
        }
        this.watcher.tokens.markVerified(token);
        // What the watcher holds now is this read, or newer, and every change published meanwhile is in it: the
        // current states are the ones all subscribers share, and the changes that came early are already in them.
        records = this.watcher.snapshot(this.model, this.watched.keys.keys());
        if (records) {
          this.early = [];
        } else {
          // A record GitLab does not know is never observed: the read's own answer, and the early changes after it.
          records = [];
          for (const key of this.watched.keys.keys()) {
            const value = found.get(key);
            if (value && !(value instanceof Error)) records.push(value);
          }
        }
      }
      this.offerFirst(records.map((record) => this.watcher.firstEventOf(this.model, record)));
      this.started = true;
      const early = this.early;
      this.early = [];
      for (const batch of early) this.offerBatch(batch);
      this.lastSent = null;
      return this;
    } catch (error) {
      await this.return();
      throw error;
    }
  }

  /** The current states: in a batch stream one batch, shared by every subscriber of the set who gets the same states. */
  private offerFirst(changes: RecordChange[]): void {
    if (this.delivery === 'each') {
      for (const change of changes) this.offer(change);
      return;
    }
    const last = this.watched.firstBatch;
    const same = last !== undefined && last.changes.length === changes.length && changes.every((change, i) => last.changes[i] === change);
    const batch = same ? last : (this.watched.firstBatch = { changes: changes.filter((change) => this.watched.places.has(change.key)) });
    this.offerShared(batch);
  }

  private offerBatch(batch: ChangeBatch): void {
    if (this.delivery === 'each') {
      for (const change of batch.changes) this.offer(change);
      return;
    }
    const mine = batchFor(batch, this.watched);
    if (mine) this.offerShared(mine);
  }

  private offer(change: RecordChange): void {
    if (this.isNew(change)) this.push({ change, model: this.model });
  }

  /** A shared batch as it is, unless this subscriber already has some of its states: then a batch of its own without them. */
  private offerShared(batch: RecordBatch): void {
    const changes = this.lastSent ? batch.changes.filter((change) => this.isNew(change)) : batch.changes;
    if (changes.length > 0) this.push({ batch: changes.length === batch.changes.length ? batch : { changes }, model: this.model });
  }

  /** Whether this watched record's state is new to the subscriber, noting it as sent (checked only while starting). */
  private isNew(change: RecordChange): boolean {
    const place = this.watched.places.get(change.key);
    if (place === undefined) return false;
    if (!this.lastSent) return true;
    if (this.lastSent[place] === change.signature) return false;
    this.lastSent[place] = change.signature;
    return true;
  }

  private revoke(error: GraphQLError): void {
    this.push({ revoked: error });
    this.stop();
  }

  private push(event: LiveEvent): void {
    if (this.ended && !('revoked' in event)) return;
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
   * buffer stays within one event per watched record however far behind the client falls.
   */
  private coalesce(): void {
    const latest = new Map<string, RecordChange>();
    let revoked: LiveEvent | undefined;
    for (const event of this.buffer) {
      if ('revoked' in event) {
        revoked = event;
        continue;
      }
      for (const change of 'change' in event ? [event.change] : event.batch.changes) {
        const earlier = latest.get(change.key);
        // Re-inserted, so the records come in the order of their latest change.
        latest.delete(change.key);
        latest.set(change.key, earlier ? { ...change, previousState: earlier.previousState } : change);
      }
    }
    const before = this.buffer.length;
    const changes = [...latest.values()];
    this.buffer = this.delivery === 'each' ? changes.map((change) => ({ change, model: this.model })) : [{ batch: { changes }, model: this.model }];
    if (revoked) this.buffer.push(revoked);
    this.watcher.noteCoalesced(before - this.buffer.length);
  }

  private stop(): void {
    this.ended = true;
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

/** The records one subscription watches; every subscription to the same list of the same model shares one. */
export interface WatchSet {
  /** recordKey() -> the identifier as the subscriber spelt it, in the subscriber's order. */
  keys: Map<string, string>;
  /** recordKey() -> its place in `keys`. */
  places: Map<string, number>;
  /** The last first batch handed out, reused while the records' current states are the same objects. */
  firstBatch?: RecordBatch;
}

const watchSets = new Interner<WatchSet>();

/** Checks a subscription's arguments and opens its stream. */
export async function watchRecords(ctx: GatewayContext, model: ModelInfo, identifiers: readonly string[], delivery: Delivery): Promise<RecordStream> {
  const { maxIdentifiers } = ctx.config.live;
  if (!ctx.caller.token) throw missingToken();
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
  return new RecordStream(ctx.live, model, watched, delivery).start(ctx.caller);
}
