// The end of one operation: its client left, or completed it. What the operation still does for nobody stops then.

/**
 * Ends one operation: end() (graphql-ws), or its HTTP request's signal (the client went). Nothing is made or listened
 * to until something waits on it: no AbortController per operation (about 0.7 KB each, and ten thousand subscriptions
 * make no call of their own). Calls to GitLab in flight (hundreds for a big query) and waiters in the process (a
 * subscription's first read) use whenEnded(), which keeps nothing once they are done.
 */
export class OperationEnd {
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
