// Watching by checksum state: the records of a model that are in one state now, every record that enters it later, and
// each one that leaves it (with its new state). One poll per model and state for the whole process.
import type { GraphQLError } from 'graphql';
import type { Caller, GitLabClient, ListQuery, RecordJson } from '../gitlab/client.js';
import { fetchByIdentifiers, recordKey, type ListCalls } from '../gitlab/loaders.js';
import type { ChecksumStateName, ModelInfo } from '../models.js';
import { OperationEnd } from '../operation-end.js';
import { CallNotWanted, type CallBudget } from './call-budget.js';
import type { RecordChange } from './pubsub.js';
import type { WatchSet } from './subscription.js';
import { PollTimer } from './poll-timer.js';
import { TokenRechecks } from './token-rechecks.js';
import { isAuthError, type TokenChecker } from './token-checker.js';
import { signatureOf, type LiveOptions, type Watch } from './watcher.js';
import type { Tracing } from '../trace-context.js';

/** Records per listed page: the most GitLab returns in one. */
const PAGE_SIZE = 100;
/** LIVE_MAX_IDENTIFIERS's default. */
const DEFAULT_MAX_IDENTIFIERS = 1_000;

interface Member {
  record: RecordJson;
  signature: string;
  /** The first event of this record for new subscribers, made once while it is unchanged. */
  firstEvent?: RecordChange;
  observedAt: string;
}

class StatePoll {
  readonly watches = new Set<Watch>();
  /** The records in the state, as every subscription of this poll sees them (keys in GitLab's order). */
  readonly watched: WatchSet = { keys: new Map(), places: new Map(), truncated: false };
  members = new Map<string, Member>();
  listed = false;
  /** The token the last listing was made with: its subscribers need no check of their own. */
  listedWith: string | null = null;
  /** Subscribers waiting for the first listing. */
  waiters: Array<{ resolve(): void; reject(error: unknown): void }> = [];
  /** Whether the model has records pending or started: they may enter (or leave) the state at any moment. */
  busy = true;
  timer!: PollTimer;
  readonly end = new OperationEnd();

  constructor(
    readonly model: ModelInfo,
    readonly state: ChecksumStateName,
  ) {}
}

export class StateWatcher {
  private readonly polls = new Map<string, StatePoll>();
  private readonly rechecks: TokenRechecks;

  constructor(
    private readonly client: GitLabClient,
    private readonly options: LiveOptions,
    private readonly budget: CallBudget,
    private readonly tokens: TokenChecker,
    /** Tells the watcher's subscription count (metrics) that this one changed. */
    private readonly changed: () => void,
    /** Tracing on: every poll cycle is a span of its own. */
    private readonly tracing: Tracing | null = null,
  ) {
    const callers = () => [...this.polls.values()].flatMap((poll) => [...poll.watches].map((watch) => watch.caller));
    this.rechecks = new TokenRechecks(tokens, budget, options.authRecheckMs, callers, (token, error) => this.revokeToken(token, error));
  }

  get activeSubscriptions(): number {
    let n = 0;
    for (const poll of this.polls.values()) n += poll.watches.size;
    return n;
  }

  /** The watch set every subscription to this model and state shares (it changes as records enter and leave). */
  watchSetOf(model: ModelInfo, state: ChecksumStateName): WatchSet {
    return this.pollOf(model, state).watched;
  }

  /** Starts watching; the returned function stops, and the last watch of a poll ends it. */
  watch(state: ChecksumStateName, watch: Watch): () => void {
    const poll = this.pollOf(watch.model, state);
    poll.watches.add(watch);
    this.changed();
    this.rechecks.start();
    if (!poll.listed) poll.timer.schedule(0);
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      this.unwatch(poll, watch);
    };
  }

  /**
   * A new subscriber's first events: every record in the state now (previousState null). Waits for the first listing;
   * a token other than the one it was made with is checked with GitLab unless it was accepted recently.
   */
  async current(caller: Caller, model: ModelInfo, state: ChecksumStateName): Promise<RecordChange[]> {
    const poll = this.pollOf(model, state);
    if (!poll.listed) await new Promise<void>((resolve, reject) => poll.waiters.push({ resolve, reject }));
    if (caller.token && caller.token !== poll.listedWith && !this.tokens.isFresh(caller.token)) {
      const rejection = await this.tokens.check({ token: caller.token, header: caller.header, requestId: caller.requestId, end: caller.end, trace: caller.trace });
      if (rejection) throw rejection;
    }
    const changes: RecordChange[] = [];
    for (const [key, member] of poll.members) {
      member.firstEvent ??= { key, record: member.record, signature: member.signature, previousState: null, state, observedAt: member.observedAt };
      changes.push(member.firstEvent);
    }
    return changes;
  }

  hurry(model: ModelInfo): void {
    for (const poll of this.polls.values()) {
      if (poll.model !== model) continue;
      poll.timer.hurry();
    }
  }

  close(): void {
    for (const poll of [...this.polls.values()]) {
      for (const watch of [...poll.watches]) watch.end();
      poll.timer.stop();
      poll.end.end();
    }
    this.polls.clear();
    this.rechecks.stop();
  }

  private pollOf(model: ModelInfo, state: ChecksumStateName): StatePoll {
    const key = `${model.enumName}\u0000${state}`;
    let poll = this.polls.get(key);
    if (!poll) {
      const created = new StatePoll(model, state);
      created.timer = new PollTimer(this.options, () => this.cycle(created));
      this.polls.set(key, (poll = created));
    }
    return poll;
  }

  private unwatch(poll: StatePoll, watch: Watch): void {
    poll.watches.delete(watch);
    this.changed();
    const key = `${poll.model.enumName}\u0000${poll.state}`;
    if (poll.watches.size === 0 && this.polls.get(key) === poll) {
      // Nobody watches: no polling, and the calls under way are cut off.
      poll.timer.stop();
      this.polls.delete(key);
      poll.end.end();
      // Their subscribers have all gone (each stopped waiting when it stopped).
      for (const waiter of poll.waiters.splice(0)) waiter.reject(new CallNotWanted());
    }
    if (this.polls.size === 0) this.rechecks.stop();
  }

  /**
   * One look: whether verification is under way in the model (one call per state that is not watched: pending,
   * started), the first LIVE_MAX_IDENTIFIERS records in the state (a call per 100), and the records that left it
   * (a call per 100 of them, by identifiers). Records entering or changing are published with the ones leaving.
   */
  private async cycle(poll: StatePoll): Promise<number | null> {
    const caller = [...poll.watches].find((watch) => watch.caller.token)?.caller;
    if (poll.end.ended || !caller) return null;
    // Tracing on: a root span, parent of the cycle's calls.
    const span = this.tracing?.poll('state', poll.model.enumName, { 'gateway.live.state': poll.state });
    let outcome = 'success';
    const calls: Caller = { token: caller.token, header: caller.header, requestId: caller.requestId, end: poll.end, trace: span?.trace };
    const list: ListCalls['list'] = async (_caller, model, query) => {
      await this.budget.take(() => !poll.end.ended);
      return this.client.list(calls, model, query);
    };
    try {
      const others = (['pending', 'started'] as const).filter((s) => s !== poll.state);
      const [busy, listing] = await Promise.all([
        Promise.all(others.map((s) => list(calls, poll.model, { perPage: 1, checksumState: s, page: { flavour: 'offset', page: 1 } }))),
        this.listState(list, calls, poll),
      ]);
      const leaving = [...poll.members.keys()].filter((key) => !listing.records.has(key));
      const left = leaving.length === 0 ? new Map<string, RecordJson | Error>() : await fetchByIdentifiers({ list, splitIdentifiers: (m, ids, call) => this.client.splitIdentifiers(m, ids, call) }, calls, poll.model, leaving.map((key) => String(poll.members.get(key)!.record.record_identifier)));
      poll.busy = busy.some((page) => page.records.length > 0) || (others.length < 2 && listing.records.size > 0);
      this.apply(poll, listing.records, listing.truncated, left);
      poll.listedWith = caller.token;
      return poll.timer.pace(poll.busy);
    } catch (error) {
      outcome = 'stopped';
      if (poll.end.ended) return null;
      if (isAuthError(error)) {
        outcome = 'rejected_token';
        this.revokeToken(caller.token ?? '', error);
        return 0;
      }
      outcome = 'error';
      // A first listing that fails fails its waiting subscribers: a model GitLab cannot filter by state, say.
      for (const waiter of poll.waiters.splice(0)) waiter.reject(error);
      return poll.timer.backOff(error);
    } finally {
      span?.end(outcome);
    }
  }

  /** The first LIVE_MAX_IDENTIFIERS records in the state, in GitLab's order, and whether more are in it. */
  private async listState(list: ListCalls['list'], calls: Caller, poll: StatePoll): Promise<{ records: Map<string, RecordJson>; truncated: boolean }> {
    const records = new Map<string, RecordJson>();
    const max = this.options.maxIdentifiers ?? DEFAULT_MAX_IDENTIFIERS;
    for (let page = 1; ; page++) {
      const answer = await list(calls, poll.model, { perPage: PAGE_SIZE, checksumState: poll.state, page: { flavour: 'offset', page } });
      let taken = 0;
      for (const record of answer.records) {
        if (records.size >= max) break;
        const key = recordKey(record.record_identifier)?.key;
        if (key) records.set(key, record);
        taken++;
      }
      if (records.size >= max) return { records, truncated: taken < answer.records.length || answer.nextPage !== null };
      if (answer.nextPage === null || answer.records.length === 0) return { records, truncated: false };
    }
  }

  /** Publishes what changed since the last listing, and makes this listing the current members. */
  private apply(poll: StatePoll, listed: Map<string, RecordJson>, truncated: boolean, left: Map<string, RecordJson | Error>): void {
    const max = this.options.maxIdentifiers ?? DEFAULT_MAX_IDENTIFIERS;
    const observedAt = new Date().toISOString();
    const changes: RecordChange[] = [];
    const disappeared: string[] = [];
    const members = new Map<string, Member>();
    for (const [key, record] of listed) {
      const before = poll.members.get(key);
      const signature = signatureOf(record);
      if (before && before.signature === signature) {
        members.set(key, before);
        continue;
      }
      members.set(key, { record, signature, observedAt });
      // Entered the state (from one not known here), or changed in it (a failure retried and failed again).
      if (poll.listed) changes.push({ key, record, signature, previousState: before ? poll.state : null, state: poll.state, observedAt });
    }
    for (const [key, value] of left) {
      if (value instanceof Error) {
        // Not read this time: still a member until a read says where it went.
        members.set(key, poll.members.get(key)!);
        continue;
      }
      const state = value.checksum_information?.checksum_state ?? 'disabled';
      const signature = signatureOf(value);
      if (state === poll.state) {
        // Still in the state: pushed beyond the first LIVE_MAX_IDENTIFIERS by lower ones, or back in it (failed again)
        // by the time it was read. It stays watched until it leaves, up to twice LIVE_MAX_IDENTIFIERS records in all.
        const before = poll.members.get(key)!;
        if (members.size >= 2 * max) continue;
        if (before.signature === signature) {
          members.set(key, before);
          continue;
        }
        members.set(key, { record: value, signature, observedAt });
        changes.push({ key, record: value, signature, previousState: poll.state, state, observedAt });
        continue;
      }
      changes.push({ key, record: value, signature, previousState: poll.state, state, observedAt });
    }
    for (const key of poll.members.keys()) if (!members.has(key) && !left.has(key) && !listed.has(key)) disappeared.push(key);
    // Every record of this batch is in the watch set while it is handed out; the ones that left go after.
    for (const key of members.keys()) this.addKey(poll.watched, key, members.get(key)!.record);
    poll.watched.truncated = truncated;
    poll.members = members;
    if (changes.length > 0 || disappeared.length > 0) {
      const batch = { model: poll.model.enumName, changes, disappeared, readSeq: Date.now() * 1000 };
      for (const watch of poll.watches) watch.deliver(batch);
    }
    for (const key of [...poll.watched.keys.keys()]) {
      if (!members.has(key)) {
        poll.watched.keys.delete(key);
        poll.watched.places.delete(key);
      }
    }
    if (!poll.listed) {
      poll.listed = true;
      for (const waiter of poll.waiters.splice(0)) waiter.resolve();
    }
  }

  private addKey(watched: WatchSet, key: string, record: RecordJson): void {
    if (watched.keys.has(key)) return;
    watched.keys.set(key, String(record.record_identifier));
    watched.places.set(key, watched.places.size);
  }

  private revokeToken(token: string, error: GraphQLError): void {
    this.tokens.forget(token);
    for (const poll of [...this.polls.values()]) {
      for (const watch of [...poll.watches]) if (watch.caller.token === token) watch.fail(error);
    }
  }
}
