// Counts per checksum state of whole models: one computation per model at a time for the whole process, shared by every
// query and subscriber that asks meanwhile, and one adaptive poll per model while anybody subscribes to it.
import type { GraphQLError } from 'graphql';
import { clientLeft, type Caller, type GitLabClient } from '../gitlab/client.js';
import { countModel, type Count, type ModelCounts } from '../gitlab/counting.js';
import type { Metrics } from '../metrics.js';
import { CHECKSUM_STATES, MODELS_BY_ENUM, type ChecksumStateName, type ModelInfo } from '../models.js';
import { OperationEnd } from '../operation-end.js';
import type { CallBudget } from './call-budget.js';
import { LocalCluster, type Cluster } from './cluster.js';
import { isAuthError, tokenKey, type TokenChecker } from './token-checker.js';
import { PollTimer } from './poll-timer.js';
import { TokenRechecks } from './token-rechecks.js';
import type { LiveOptions } from './watcher.js';
import type { CallTrace, Tracing } from '../trace-context.js';

/** What a summary says of one model, at one moment as far as GitLab's API allows (see countModel). */
export interface ModelSummary extends ModelCounts {
  model: ModelInfo;
  /** Numbers summaries in the order their computations began: an older one never follows a newer one. */
  seq: number;
  /** When its first call was sent. */
  observedAt: string;
  verifiedPerMinute: number | null;
  estimatedCompletionAt: string | null;
}

/** One verificationSummaryChanged subscription's interest in one model. */
export interface SummaryWatch {
  /** The subscription it belongs to: one subscription watches each of its models. */
  subscription: object;
  caller: Caller;
  deliver(summary: ModelSummary): void;
  /** Ends the subscription: GitLab stopped accepting its token. */
  fail(error: GraphQLError): void;
  /** The gateway is shutting down. */
  end(): void;
}

/** How far back the pace of verification is measured. */
const PACE_WINDOW_MS = 5 * 60_000;
/** Observations kept per model for it: the oldest go first. */
const PACE_SAMPLES = 64;
/** A pace needs observations at least this far apart. */
const PACE_MIN_SPAN_MS = 1_000;

/** Records waiting for verification or being verified. */
const backlogOf = (states: Record<ChecksumStateName, Count>) => states.pending.count + states.started.count;

/**
 * PENDING + STARTED over time, for one model. The records leaving them per minute are the falls between consecutive
 * observations: a bulk recalculation adding records meanwhile hides none of them (a rise is not subtracted).
 */
class Backlog {
  private readonly samples: Array<{ at: number; backlog: number }> = [];

  add(at: number, backlog: number): void {
    this.samples.push({ at, backlog });
    while (this.samples.length > PACE_SAMPLES || (this.samples.length > 0 && this.samples[0].at < at - PACE_WINDOW_MS)) this.samples.shift();
  }

  perMinute(): number | null {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at - first.at < PACE_MIN_SPAN_MS) return null;
    let fallen = 0;
    for (let i = 1; i < this.samples.length; i++) fallen += Math.max(0, this.samples[i - 1].backlog - this.samples[i].backlog);
    return (fallen * 60_000) / (last.at - first.at);
  }
}

/** One computation of a model's counts, with whoever waits for it; cut off once all of them have left. */
class Computation {
  readonly end = new OperationEnd();
  private waiting = 0;
  promise!: Promise<ModelSummary>;

  constructor(readonly token: string) {}

  /**
   * Its summary, unless `end` (the waiter's operation, or its part of it) ends first; the waiter leaves then. A waiter
   * without an end holds it to the finish.
   */
  join(end?: OperationEnd): Promise<ModelSummary> {
    this.waiting++;
    if (!end) return this.promise;
    return new Promise((resolve, reject) => {
      const forget = end.whenEnded(() => {
        reject(clientLeft());
        if (--this.waiting === 0) this.end.end();
      });
      this.promise.then(resolve, reject).finally(forget);
    });
  }
}

class SummaryPoll {
  readonly watches = new Set<SummaryWatch>();
  latest: ModelSummary | null = null;
  timer!: PollTimer;
  /** Ended when its last watch leaves: a computation only it waited for is cut off then. */
  readonly end = new OperationEnd();

  constructor(readonly model: ModelInfo) {}
}

export class SummaryWatcher {
  private readonly computations = new Map<ModelInfo, Computation>();
  private readonly polls = new Map<ModelInfo, SummaryPoll>();
  /** Per model of this GitLab (a bounded set): the pace of verification, and the state that was largest. */
  private readonly backlogs = new Map<ModelInfo, Backlog>();
  private readonly largest = new Map<ModelInfo, ChecksumStateName>();
  private seq = 0;
  /** GitLab's verdicts under way on tokens joining a computation (see verify), by the token's hash. */
  private readonly verdicts = new Map<string, Promise<GraphQLError | null>>();
  /** Open subscriptions -> how many models each one watches. */
  private readonly modelsPerSubscription = new Map<object, number>();
  private readonly rechecks: TokenRechecks;

  constructor(
    private readonly client: GitLabClient,
    private readonly options: LiveOptions,
    private readonly budget: CallBudget,
    private readonly tokens: TokenChecker,
    private readonly metrics?: Metrics,
    /** The other replicas: one of them polls a model's counts for all. */
    private readonly cluster: Cluster = new LocalCluster(),
    /** Tracing on: every poll cycle is a span of its own. */
    private readonly tracing: Tracing | null = null,
  ) {
    const callers = () => [...this.polls.values()].flatMap((poll) => [...poll.watches].map((watch) => watch.caller));
    this.rechecks = new TokenRechecks(tokens, budget, options.authRecheckMs, callers, (token, error) => this.revokeToken(token, error));
  }

  /** verificationSummaryChanged subscriptions open now, whatever the number of models each one watches. */
  get activeSubscriptions(): number {
    return this.modelsPerSubscription.size;
  }

  /**
   * The counts of a model now: the computation under way if there is one (the caller's token is then checked on its
   * own, from the cache of GitLab's verdicts when it is fresh), else a new one with the caller's token.
   */
  async summarize(caller: Caller, model: ModelInfo): Promise<ModelSummary> {
    // This caller's wait ends when it has its answer, or gave up (a refused token, a sibling field's error, its client
    // left): a computation nobody waits for any more makes no more calls.
    const waiting = OperationEnd.within(caller.end);
    try {
      const running = this.computations.get(model);
      if (running && running.token !== caller.token) {
        const [summary] = await Promise.all([running.join(waiting), this.verify(caller)]);
        return summary;
      }
      return await (running ?? this.compute(caller, model, false, caller.trace)).join(waiting);
    } finally {
      waiting.end();
    }
  }

  /** The last summary a poll made, if the caller may see it without asking GitLab again. */
  latest(caller: Caller, model: ModelInfo): ModelSummary | null {
    const latest = this.polls.get(model)?.latest ?? null;
    return latest && caller.token && this.tokens.isFresh(caller.token) ? latest : null;
  }

  /** Starts polling a model for this watch (the first summary is the subscriber's to read); returns the stop. */
  watch(model: ModelInfo, watch: SummaryWatch): () => void {
    let poll = this.polls.get(model);
    if (!poll) {
      const created = new SummaryPoll(model);
      created.timer = new PollTimer(this.options, () => this.cycle(created));
      this.polls.set(model, (poll = created));
    }
    poll.watches.add(watch);
    this.modelsPerSubscription.set(watch.subscription, (this.modelsPerSubscription.get(watch.subscription) ?? 0) + 1);
    this.metrics?.summarySubscriptions.set(this.activeSubscriptions);
    poll.timer.schedule(this.paceOf(poll));
    this.rechecks.start();
    const watched = poll;
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      this.unwatch(watched, watch);
    };
  }

  /** A recalculation went through the gateway: poll this model's counts closely for a while. */
  hurry(model: ModelInfo): void {
    const poll = this.polls.get(model);
    if (!poll) return;
    poll.timer.hurry();
  }

  close(): void {
    for (const poll of [...this.polls.values()]) {
      for (const watch of [...poll.watches]) watch.end();
      poll.timer.stop();
      poll.end.end();
    }
    this.polls.clear();
    for (const computation of this.computations.values()) computation.end.end();
    this.rechecks.stop();
  }

  /**
   * GitLab's verdict on a token that joins a computation made with another: throws its rejection. Asked every time (a
   * query's own calls would have been judged), in one call shared by the queries of that token that join meanwhile.
   */
  private async verify(caller: Caller): Promise<void> {
    if (!caller.token) return;
    const key = tokenKey(caller.token);
    let verdict = this.verdicts.get(key);
    if (!verdict) {
      verdict = this.tokens.check({ token: caller.token, header: caller.header, requestId: caller.requestId, trace: caller.trace }).finally(() => this.verdicts.delete(key));
      this.verdicts.set(key, verdict);
    }
    const rejection = await verdict;
    if (rejection) throw rejection;
  }

  /**
   * A new computation of a model's counts; a poll's calls wait for the live layer's budget. Its calls carry `trace`:
   * the query's that started it, or the poll cycle's.
   */
  private compute(caller: Caller, model: ModelInfo, budgeted: boolean, trace: CallTrace | undefined): Computation {
    const computation = new Computation(caller.token ?? '');
    // Shared by whoever joins: its calls end when all of them have left, not when the first one does.
    const calls: Caller = { token: caller.token, header: caller.header, requestId: caller.requestId, end: computation.end, trace };
    // Microseconds of the clock, made unique: comparable with the other replicas' summaries.
    const seq = (this.seq = Math.max(this.seq + 1, Date.now() * 1000));
    const startedAt = Date.now();
    const list = async (query: Parameters<GitLabClient['list']>[2]) => {
      if (budgeted) await this.budget.take(() => !computation.end.ended);
      return this.client.list(calls, model, query);
    };
    const dialect = this.client.dialect;
    computation.promise = countModel(list, { dialect: () => dialect.dialect, dialectKnown: () => dialect.known, largestBefore: this.largest.get(model) })
      .then((counts) => {
        this.metrics?.summaryComputations.inc({ model: model.enumName, outcome: 'success' });
        if (caller.token) this.tokens.markVerified(caller.token);
        const summary = this.summaryOf(model, counts, seq, startedAt);
        // A query's counts are news for the subscribers too.
        const poll = this.polls.get(model);
        if (poll) {
          this.publish(poll, summary);
          // The pace follows what was just learnt: a backlog found by a subscriber's first read makes the poll fast.
          poll.timer.schedule(this.paceOf(poll));
        }
        return summary;
      })
      .catch((error: unknown) => {
        this.metrics?.summaryComputations.inc({ model: model.enumName, outcome: 'error' });
        throw error;
      })
      .finally(() => {
        if (this.computations.get(model) === computation) this.computations.delete(model);
      });
    // Nobody may be waiting by the time it fails (all left): the failure is theirs, already told.
    computation.promise.catch(() => {});
    this.computations.set(model, computation);
    return computation;
  }

  private summaryOf(model: ModelInfo, counts: ModelCounts, seq: number, startedAt: number): ModelSummary {
    let backlog = this.backlogs.get(model);
    if (!backlog) this.backlogs.set(model, (backlog = new Backlog()));
    const waiting = backlogOf(counts.states);
    backlog.add(startedAt, waiting);
    const largest = CHECKSUM_STATES.reduce((a, b) => (counts.states[b].count > counts.states[a].count ? b : a));
    this.largest.set(model, largest);
    const verifiedPerMinute = backlog.perMinute();
    const estimatedCompletionAt =
      waiting > 0 && verifiedPerMinute !== null && verifiedPerMinute > 0 ? new Date(startedAt + (waiting / verifiedPerMinute) * 60_000).toISOString() : null;
    return { ...counts, model, seq, observedAt: new Date(startedAt).toISOString(), verifiedPerMinute, estimatedCompletionAt };
  }

  private unwatch(poll: SummaryPoll, watch: SummaryWatch): void {
    poll.watches.delete(watch);
    const models = (this.modelsPerSubscription.get(watch.subscription) ?? 1) - 1;
    if (models > 0) this.modelsPerSubscription.set(watch.subscription, models);
    else this.modelsPerSubscription.delete(watch.subscription);
    this.metrics?.summarySubscriptions.set(this.activeSubscriptions);
    if (poll.watches.size === 0 && this.polls.get(poll.model) === poll) {
      // Nobody watches: no polling at all.
      poll.timer.stop();
      this.polls.delete(poll.model);
      poll.end.end();
      this.cluster.leave('summary', poll.model.enumName);
    }
    if (this.polls.size === 0) this.rechecks.stop();
  }

  /** Fast while records wait for verification or are being verified, or just after a recalculation; else slow. */
  private paceOf(poll: SummaryPoll): number {
    return poll.timer.pace(poll.latest !== null && backlogOf(poll.latest.states) > 0);
  }

  /** One poll of a model's counts: the computation under way if any (a query's), else a new one in the budget. */
  private async cycle(poll: SummaryPoll): Promise<number | null> {
    const caller = [...poll.watches].find((watch) => watch.caller.token)?.caller;
    if (this.polls.get(poll.model) !== poll || !caller) return null;
    // With other replicas, one of them counts this model for all (it holds the lease); the others hear its summaries.
    if (!(await this.cluster.mayPoll('summary', poll.model.enumName))) return Math.min(this.paceOf(poll), this.cluster.recheckMs);
    const running = this.computations.get(poll.model);
    // Tracing on: a root span; joining a query's computation under way, the calls are that query's.
    const span = this.tracing?.poll('summary', poll.model.enumName);
    let outcome = 'success';
    try {
      const summary = await (running ?? this.compute(caller, poll.model, true, span?.trace)).join(poll.end);
      this.publish(poll, summary);
      this.cluster.publish({ type: 'summary', model: poll.model.enumName, summary: { ...summary, model: poll.model.enumName } });
      return this.paceOf(poll);
    } catch (error) {
      outcome = this.polls.get(poll.model) !== poll ? 'stopped' : 'error';
      if (this.polls.get(poll.model) !== poll) return null;
      if (!isAuthError(error)) return poll.timer.backOff(error);
      outcome = 'rejected_token';
      // The token it was computed with no longer works: its subscriptions end, another one's token serves next.
      this.revokeToken(running?.token ?? caller.token ?? '', error);
      return 0;
    } finally {
      span?.end(outcome, { 'gateway.live.joined': running !== undefined });
    }
  }

  /** A summary another replica made (it polls the model for all): this replica's subscribers get it too. */
  observeElsewhere(name: string, received: unknown): void {
    const model = MODELS_BY_ENUM.get(name);
    const poll = model && this.polls.get(model);
    if (!poll) return;
    const summary = { ...(received as Omit<ModelSummary, 'model'>), model };
    let backlog = this.backlogs.get(model);
    if (!backlog) this.backlogs.set(model, (backlog = new Backlog()));
    backlog.add(Date.parse(summary.observedAt), backlogOf(summary.states));
    this.publish(poll, summary);
    poll.timer.schedule(this.paceOf(poll));
  }

  /** Hands a summary to every watch of its model when a count differs from the last one they got. */
  private publish(poll: SummaryPoll, summary: ModelSummary): void {
    const before = poll.latest;
    if (before && before.seq > summary.seq) return;
    poll.latest = summary;
    if (before && sameCounts(before, summary)) return;
    for (const watch of poll.watches) watch.deliver(summary);
  }

  private revokeToken(token: string, error: GraphQLError): void {
    this.tokens.forget(token);
    for (const poll of [...this.polls.values()]) {
      for (const watch of [...poll.watches]) if (watch.caller.token === token) watch.fail(error);
    }
  }
}

/** Whether two summaries of a model have the same counts. */
export function sameCounts(a: ModelCounts, b: ModelCounts): boolean {
  if (a.verifiable !== b.verifiable || a.total.count !== b.total.count || a.total.exact !== b.total.exact) return false;
  return CHECKSUM_STATES.every((s) => a.states[s].count === b.states[s].count && a.states[s].exact === b.states[s].exact);
}
