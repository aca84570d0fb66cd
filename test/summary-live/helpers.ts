// Helpers of the verificationSummaryChanged tests: a subscriber that keeps every summary it receives (over graphql-ws
// or SSE), the stand-in's own counts to compare them with, and the gateway's summary gauge.
import { print, type FormattedExecutionResult, type GraphQLFormattedError } from 'graphql';
import { VerificationSummaryChangedDocument, type VerificationSummaryChangedSubscription } from '../generated/operations.js';
import { sample } from '../operability/helpers.js';
import { ADMIN, API, type Harness } from '../support/gateway.js';
import { sseConnection, wsConnection, type Transport } from '../live/helpers.js';

export type Summary = VerificationSummaryChangedSubscription['verificationSummaryChanged'];
export type StateName = Summary['states'][number]['state'];

const QUERY = print(VerificationSummaryChangedDocument);

/** What graphql-ws's and graphql-sse's clients have in common. */
interface Subscribable {
  subscribe(
    payload: { query: string; variables?: Record<string, unknown> },
    sink: { next(value: FormattedExecutionResult<Record<string, unknown>, unknown>): void; error(error: unknown): void; complete(): void },
  ): () => void;
}

/** One verificationSummaryChanged subscription and everything it received, in order. */
export class SummarySubscriber {
  readonly summaries: Summary[] = [];
  /** Errors sent as a result, or as a protocol error (graphql-sse passes GraphQL errors that way). */
  readonly errors: GraphQLFormattedError[] = [];
  /** What ended it otherwise: a socket closed or a stream cut. */
  readonly failures: unknown[] = [];
  completed = false;
  private readonly waiters = new Set<() => void>();
  private readonly dispose: () => void;

  constructor(client: Subscribable, models: string[] | undefined) {
    this.dispose = client.subscribe(
      { query: QUERY, variables: models === undefined ? {} : { models } },
      {
        next: (result) => {
          if (result.errors) this.errors.push(...result.errors);
          const summary = result.data?.verificationSummaryChanged as Summary | undefined;
          if (summary) this.summaries.push(summary);
          this.wake();
        },
        error: (error) => {
          if (Array.isArray(error)) this.errors.push(...(error as GraphQLFormattedError[]));
          else this.failures.push(error);
          this.wake();
        },
        complete: () => {
          this.completed = true;
          this.wake();
        },
      },
    );
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }

  get ended(): boolean {
    return this.completed || this.errors.length > 0 || this.failures.length > 0;
  }

  get codes(): unknown[] {
    return this.errors.map((e) => e.extensions?.code);
  }

  /** The summaries of one model, in the order they came. */
  of(model: string): Summary[] {
    return this.summaries.filter((s) => s.model === model);
  }

  /** Resolves once `probe` holds (checked after every message), or rejects after `timeoutMs` with what arrived. */
  waitFor(probe: (s: this) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (probe(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!probe(this)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received: ${JSON.stringify(this.account())}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Waits for the first summary of every model named; fails at once if the subscription ends instead. */
  async first(models: string[], timeoutMs = 10_000): Promise<void> {
    await this.waitFor((s) => s.ended || models.every((m) => s.of(m).length > 0), `the first summary of ${models.join(', ')}`, timeoutMs);
    if (this.ended) throw new Error(`the subscription ended before its first summaries: ${JSON.stringify(this.account())}`);
  }

  /** A short account of what arrived, for failure messages. */
  account(): unknown[] {
    return [
      ...this.summaries.map((s) => `${s.model}:${s.states.map((c) => `${c.state[0]}${c.count}${c.exact ? '' : '+'}`).join('/')}`),
      ...this.errors.map((e) => ({ error: e.extensions?.code ?? e.message })),
      ...this.failures.map((f) => ({ failure: String((f as { code?: unknown }).code ?? f) })),
      ...(this.completed ? ['complete'] : []),
    ];
  }

  unsubscribe(): void {
    this.dispose();
  }
}

export interface SummaryConnection {
  subscribe(models?: string[]): SummarySubscriber;
  /** Close events of the socket (graphql-ws only), in order. */
  closes: { code: number; reason: string }[];
  dispose(): Promise<void>;
}

/** One graphql-ws socket, or an SSE client (a stream per subscription), with this token (null: none). */
export function summaryConnection(h: Harness, transport: Transport, token: string | null = ADMIN): SummaryConnection {
  if (transport === 'graphql-ws') {
    const conn = wsConnection(h, token === null ? null : { Authorization: `Bearer ${token}` });
    return { subscribe: (models) => new SummarySubscriber(conn.client as unknown as Subscribable, models), closes: conn.closes, dispose: () => conn.dispose() };
  }
  const conn = sseConnection(h, token);
  return { subscribe: (models) => new SummarySubscriber(conn.client as unknown as Subscribable, models), closes: [], dispose: () => conn.dispose() };
}

/** A summary's count of one state. */
export function countIn(summary: Summary, state: StateName): number {
  const found = summary.states.find((s) => s.state === state);
  if (!found) throw new Error(`no ${state} in ${JSON.stringify(summary)}`);
  return found.count;
}

/** Records waiting for verification or being verified. */
export const backlogOf = (summary: Summary) => countIn(summary, 'PENDING') + countIn(summary, 'STARTED');

export interface StandInCounts {
  total: number;
  states: Record<'pending' | 'started' | 'succeeded' | 'failed' | 'disabled', number>;
  verifiable: boolean;
}

/** The stand-in's own counts of one model (by plural path name), read at one instant. */
export async function standInCounts(h: Harness, plural: string): Promise<StandInCounts> {
  const all = (await h.control('GET', 'counts')) as Record<string, StandInCounts>;
  return all[plural];
}

/** A summary as the stand-in's counts would read: every count exact. */
export function summaryCounts(counts: StandInCounts): Pick<Summary, 'total' | 'totalExact' | 'verificationEnabled' | 'states'> {
  return {
    total: counts.total,
    totalExact: true,
    verificationEnabled: counts.verifiable,
    states: (['pending', 'started', 'succeeded', 'failed', 'disabled'] as const).map((state) => ({ state: state.toUpperCase() as StateName, count: counts.states[state], exact: true })),
  };
}

/** Only the counts of a summary, to compare with summaryCounts. */
export const countsOf = ({ total, totalExact, verificationEnabled, states }: Summary) => ({ total, totalExact, verificationEnabled, states });

/** The list calls (GET of a model's collection, whatever the query) among logged upstream requests. */
export const modelCalls = <T extends { method: string; path: string }>(entries: T[], path: string): T[] => entries.filter((e) => e.method === 'GET' && e.path === `${API}${path}`);

/** Active verificationSummaryChanged subscriptions, as the gateway's /metrics says. */
export async function summaryGauge(h: Harness): Promise<number> {
  const text = await (await fetch(new URL('/metrics', h.gateway.url))).text();
  return sample(text, 'gateway_summary_subscriptions') ?? 0;
}
