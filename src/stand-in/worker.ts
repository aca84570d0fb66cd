// GitLab's background verification job: each period, per model, a batch of pending (or failed and due) records
// moves to started, and after a short while to succeeded or failed.
import { BLOCK_SIZE, FAILED, PENDING, STARTED, type ModelStore } from './store.js';

const STARTED_TIMEOUT_MS = 8 * 3_600_000;

export class VerificationWorker {
  private timer: NodeJS.Timeout | null = null;
  private readonly finishing = new Set<NodeJS.Timeout>();

  constructor(
    private readonly stores: () => Iterable<ModelStore>,
    private readonly intervalMs: number,
    private readonly batchSize: number,
    private readonly durationMs: number,
  ) {}

  start(): void {
    if (this.timer || this.intervalMs <= 0) return;
    this.timer = setInterval(() => this.runCycle(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const t of this.finishing) clearTimeout(t);
    this.finishing.clear();
  }

  /** One run of the job; returns how many records it started. */
  runCycle(now = Date.now()): number {
    let startedCount = 0;
    for (const store of this.stores()) {
      if (!store.verifiable) continue;
      const batch: number[] = [];
      for (let block = 0; block < store.blocks; block++) {
        // Only blocks that may hold a candidate for the batch, or a started record to time out, are read.
        const wanted = batch.length < this.batchSize && store.countInBlock(block, PENDING) + store.countInBlock(block, FAILED) > 0;
        if (!wanted && store.countInBlock(block, STARTED) === 0) continue;
        const end = Math.min(store.size, (block + 1) * BLOCK_SIZE);
        for (let i = block * BLOCK_SIZE; i < end; i++) {
          const state = store.state[i];
          if (state === STARTED && now - store.startedAtOf(i) > STARTED_TIMEOUT_MS) store.finish(i, now, true);
          else if (batch.length < this.batchSize && (state === PENDING || (state === FAILED && store.retryAt[i] <= now))) batch.push(i);
        }
      }
      for (const i of batch) store.start(i, now);
      startedCount += batch.length;
      if (batch.length > 0) this.finishLater(store, batch);
    }
    return startedCount;
  }

  private finishLater(store: ModelStore, batch: number[]): void {
    const timer = setTimeout(() => {
      this.finishing.delete(timer);
      const now = Date.now();
      for (const i of batch) store.finish(i, now);
    }, this.durationMs);
    timer.unref();
    this.finishing.add(timer);
  }
}
