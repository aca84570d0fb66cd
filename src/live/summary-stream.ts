// One verificationSummaryChanged subscriber's stream: each model's summary first, then each new one whose counts
// differ. A subscriber that reads slowly gets the latest summary of each model, never a queue of stale ones.
import type { GraphQLError } from 'graphql';
import { isUnknownModel, type Caller } from '../gitlab/client.js';
import type { ModelInfo } from '../models.js';
import { OperationEnd } from '../operation-end.js';
import { sameCounts, type ModelSummary, type SummaryWatch, type SummaryWatcher } from './summary-watch.js';

export type SummaryEvent = { summary: ModelSummary } | { failed: GraphQLError };

/** A hand-written async iterator (as RecordStream): unsubscribing stops every poll it holds at once. */
export class SummaryStream implements AsyncIterableIterator<SummaryEvent> {
  /** Per model, the newest summary not taken yet: at most one per model, however slowly the client reads. */
  private readonly waiting = new Map<ModelInfo, ModelSummary>();
  /** Per model, the last summary handed out (or waiting): what a new one is compared with. */
  private readonly last = new Map<ModelInfo, ModelSummary>();
  private failure: GraphQLError | null = null;
  private wake: (() => void) | null = null;
  private ended = false;
  private readonly stops = new Map<ModelInfo, () => void>();

  constructor(
    private readonly summaries: SummaryWatcher,
    private readonly models: readonly ModelInfo[],
    /** Every model of the dialect was asked for: one this GitLab does not know (an older GitLab) is left out. */
    private readonly leaveOutUnknown = false,
  ) {}

  /**
   * Watches every model, then reads each one's current summary: the poll's last one while the caller's token is known
   * to be good, else a computation (shared with whoever asks meanwhile). `caller` serves the shared polls, so it
   * carries no end; `end` cuts the first reads short when the client leaves.
   */
  async start(caller: Caller, end?: OperationEnd): Promise<this> {
    try {
      for (const model of this.models) {
        const watch: SummaryWatch = {
          subscription: this,
          caller,
          deliver: (summary) => this.offer(summary),
          fail: (error) => this.fail(error),
          end: () => void this.return(),
        };
        this.stops.set(model, this.summaries.watch(model, watch));
      }
      // Once the first summaries are in, or one of them failed, none is waited for any more.
      const reading = OperationEnd.within(end);
      const firsts = await Promise.all(
        this.models.map(async (model) => {
          try {
            return this.summaries.latest(caller, model) ?? (await this.summaries.summarize({ ...caller, end: reading }, model));
          } catch (error) {
            if (!this.leaveOutUnknown || !isUnknownModel(error)) throw error;
            this.stops.get(model)?.();
            this.stops.delete(model);
            return null;
          }
        }),
      );
      reading.end();
      for (const summary of firsts) if (summary) this.offer(summary);
      return this;
    } catch (error) {
      await this.return();
      throw error;
    }
  }

  private offer(summary: ModelSummary): void {
    if (this.ended) return;
    const last = this.last.get(summary.model);
    // An older computation answering late, or the same counts again (a query's and the poll's): nothing new.
    if (last && (last.seq >= summary.seq || sameCounts(last, summary))) return;
    this.last.set(summary.model, summary);
    this.waiting.delete(summary.model);
    this.waiting.set(summary.model, summary);
    this.wakeConsumer();
  }

  private fail(error: GraphQLError): void {
    if (this.ended) return;
    this.failure = error;
    this.waiting.clear();
    this.stop();
  }

  private stop(): void {
    this.ended = true;
    for (const stop of this.stops.values()) stop();
    this.stops.clear();
    this.wakeConsumer();
  }

  private wakeConsumer(): void {
    const wake = this.wake;
    this.wake = null;
    // As a promise would: the poll hands a summary to every subscriber in one loop and goes on.
    if (wake) queueMicrotask(wake);
  }

  /** The next event, null once ended, or undefined when there is none yet (`wake` is called then): see RecordStream.take. */
  take(wake: () => void): SummaryEvent | null | undefined {
    const next = this.waiting.entries().next();
    if (!next.done) {
      this.waiting.delete(next.value[0]);
      return { summary: next.value[1] };
    }
    if (this.failure) {
      const failed = this.failure;
      this.failure = null;
      return { failed };
    }
    if (this.ended) return null;
    this.wake = wake;
    return undefined;
  }

  next(): Promise<IteratorResult<SummaryEvent>> {
    return new Promise((resolve) => {
      const step = () => {
        const event = this.take(step);
        if (event !== undefined) resolve(event === null ? { value: undefined, done: true } : { value: event, done: false });
      };
      step();
    });
  }

  return(): Promise<IteratorResult<SummaryEvent>> {
    this.waiting.clear();
    this.failure = null;
    this.stop();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
