// How many calls to GitLab the live layer may start per second, whatever subscribers ask: the rest wait their turn.

/** A call that no longer needs to be made: its waiter left the queue without using the budget. */
export class CallNotWanted extends Error {
  constructor() {
    super('Nobody waits for this call any more.');
  }
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
  /** Asked when its turn comes: a call nobody wants any more leaves the queue without taking a start. */
  wanted(): boolean;
}

/**
 * At most `perSecond` calls start in any second (a sliding window: the start times of the last `perSecond` calls are
 * kept). Calls under the budget start at once; the others wait in order of arrival, never fail because of it.
 */
export class CallBudget {
  /** Start times of the last `perSecond` calls, oldest at `oldest`. */
  private readonly starts: number[];
  private oldest = 0;
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly perSecond: number,
    /** Told each time a call has to wait. */
    private readonly onWait: () => void = () => {},
  ) {
    this.starts = new Array<number>(perSecond).fill(-Infinity);
  }

  /** Calls waiting for their turn. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Resolves when a call may start: at once while under budget, else in turn. A call that is no longer `wanted` when
   * its turn comes rejects with CallNotWanted and leaves its start to the next: its subscribers left while it waited,
   * and the calls behind it do not wait for it.
   */
  take(wanted: () => boolean = () => true): Promise<void> {
    if (this.queue.length === 0 && this.startIfAllowed()) return Promise.resolve();
    this.onWait();
    return new Promise((resolve, reject) => {
      this.queue.push({ resolve, reject, wanted });
      this.arm();
    });
  }

  /** Ends every wait (the gateway is closing): waiting calls are not made. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const waiter of this.queue.splice(0)) waiter.reject(new CallNotWanted());
  }

  private startIfAllowed(): boolean {
    const now = performance.now();
    if (now - this.starts[this.oldest] < 1000) return false;
    this.starts[this.oldest] = now;
    this.oldest = (this.oldest + 1) % this.perSecond;
    return true;
  }

  /** Wakes up when the oldest of the last `perSecond` starts is a second old. */
  private arm(): void {
    if (this.timer || this.queue.length === 0) return;
    const delay = Math.max(0, this.starts[this.oldest] + 1000 - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      while (this.queue.length > 0) {
        if (!this.queue[0].wanted()) {
          this.queue.shift()!.reject(new CallNotWanted());
          continue;
        }
        if (!this.startIfAllowed()) break;
        this.queue.shift()!.resolve();
      }
      this.arm();
    }, Math.ceil(delay));
    this.timer.unref();
  }
}
