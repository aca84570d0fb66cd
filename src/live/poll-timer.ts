// The pace every shared poll keeps: one timer and never two cycles at once, fast while something moves or just after a
// recalculation, slow otherwise, backing off while GitLab fails, and nothing at all once stopped.
import type { GraphQLError } from 'graphql';
import type { LiveOptions } from './watcher.js';

/** How long a recalculation through the gateway keeps a poll fast, at least. */
const SETTLED_AFTER_HURRY_MS = 10_000;

export class PollTimer {
  private timer: NodeJS.Timeout | null = null;
  private dueAt = Infinity;
  private running = false;
  private stopped = false;
  private failures = 0;
  private fastUntil = 0;
  private failedThisCycle = false;

  constructor(
    private readonly options: Pick<LiveOptions, 'fastPollMs' | 'slowPollMs' | 'maxBackoffMs'>,
    /** One cycle; resolves to the delay before the next one, or null for none until schedule() is called again. */
    private readonly cycle: () => Promise<number | null>,
  ) {}

  /** Runs a cycle after `delayMs`, unless one is due sooner or is running (it schedules the next itself). */
  schedule(delayMs: number): void {
    if (this.stopped || this.running) return;
    const dueAt = Date.now() + delayMs;
    if (this.timer && this.dueAt <= dueAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = dueAt;
    this.timer = setTimeout(() => void this.fire(), delayMs);
    this.timer.unref();
  }

  /** A recalculation went through the gateway: fast for a while, starting now. */
  hurry(): void {
    this.fastUntil = Date.now() + Math.max(SETTLED_AFTER_HURRY_MS, 3 * this.options.fastPollMs);
    this.schedule(this.options.fastPollMs);
  }

  /** Fast while `busy` (records pending or started) or just after a recalculation, else slow. */
  pace(busy: boolean): number {
    return busy || Date.now() < this.fastUntil ? this.options.fastPollMs : this.options.slowPollMs;
  }

  /** The delay after a cycle GitLab failed: doubling from the fast pace, at least its Retry-After, at most the cap. */
  backOff(error: unknown): number {
    this.failures++;
    this.failedThisCycle = true;
    const retryAfter = Number((error as GraphQLError | null)?.extensions?.retryAfterSeconds ?? 0) * 1000;
    return Math.min(this.options.maxBackoffMs, Math.max(retryAfter, this.options.fastPollMs * 2 ** this.failures));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async fire(): Promise<void> {
    this.timer = null;
    this.dueAt = Infinity;
    if (this.stopped) return;
    this.running = true;
    this.failedThisCycle = false;
    let next: number | null = null;
    try {
      next = await this.cycle();
    } finally {
      this.running = false;
      // A cycle that did not back off went well: the next failure starts from the fast pace again.
      if (!this.failedThisCycle) this.failures = 0;
    }
    if (next !== null) this.schedule(next);
  }
}
