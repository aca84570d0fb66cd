// The end of one operation: its client left, or completed it. What the operation still does for nobody stops then.
import { setMaxListeners } from 'node:events';

/**
 * Ends one operation: end() (graphql-ws), or its HTTP request's signal (the client went). Nothing is made or listened
 * to until something waits on it. Its AbortSignal, for calls to GitLab, is made when one asks for it: a signal costs
 * about 0.7 KB, and ten thousand subscriptions make no call of their own. Each call listens to it (hundreds for a big
 * query), so it takes any number of listeners without Node's leak warning. Waiters in the process (a subscription's
 * first read) use whenEnded(), which keeps nothing once they are done.
 */
export class OperationEnd {
  private controller: AbortController | null = null;
  private emitter: EndEmitter | null = null;
  private waiters: Set<() => void> | null = null;
  private done = false;
  private following = false;

  /** `client`: the signal of the HTTP request, aborted when its client goes. */
  constructor(private readonly client?: AbortSignal) {}

  /** The end of an operation over HTTP, when its request has a signal. */
  static ofRequest(request: { signal?: AbortSignal }): OperationEnd | undefined {
    return request.signal ? new OperationEnd(request.signal) : undefined;
  }

  /** An end of its own (for one part of an operation) that also comes when `parent` ends. */
  static within(parent: OperationEnd | undefined): OperationEnd {
    const child = new OperationEnd();
    if (parent) child.whenEnded(parent.whenEnded(() => child.end()));
    return child;
  }

  get ended(): boolean {
    return this.done || this.client?.aborted === true;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      setMaxListeners(0, this.controller.signal);
      if (this.done) this.controller.abort();
      this.follow();
    }
    return this.controller.signal;
  }

  /**
   * This end as the emitter undici takes for `signal` (`aborted`, and an `abort` event): what calls to GitLab listen
   * to. An AbortController per operation cost about 3% of a request's CPU.
   */
  get emitterSignal(): EndEmitter {
    return (this.emitter ??= new EndEmitter(this));
  }

  /** Calls `then` once the operation ends (at once if it has); the function returned forgets it. */
  whenEnded(then: () => void): () => void {
    this.follow();
    if (this.done) {
      then();
      return () => {};
    }
    const waiters = (this.waiters ??= new Set());
    waiters.add(then);
    return () => {
      if (waiters.delete(then) && waiters.size === 0 && this.waiters === waiters) this.waiters = null;
    };
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.controller?.abort();
    const waiters = this.waiters;
    this.waiters = null;
    for (const then of waiters ?? []) then();
  }

  /** Listens to the client's signal, once something waits on this end. */
  private follow(): void {
    if (!this.client || this.following) return;
    this.following = true;
    if (this.client.aborted) this.end();
    else this.client.addEventListener('abort', () => this.end(), { once: true });
  }
}

type Listener = () => void;

/** An `abort` event source over an OperationEnd, shaped as undici's `signal` option accepts (an EventEmitter). */
export class EndEmitter {
  private readonly forgets = new Map<Listener, () => void>();

  constructor(private readonly end: OperationEnd) {}

  get aborted(): boolean {
    return this.end.ended;
  }

  on(_event: 'abort', listener: Listener): this {
    if (!this.forgets.has(listener)) {
      this.forgets.set(
        listener,
        this.end.whenEnded(() => {
          this.forgets.delete(listener);
          listener();
        }),
      );
    }
    return this;
  }

  once(event: 'abort', listener: Listener): this {
    return this.on(event, listener);
  }

  removeListener(_event: 'abort', listener: Listener): this {
    this.forgets.get(listener)?.();
    this.forgets.delete(listener);
    return this;
  }
}
