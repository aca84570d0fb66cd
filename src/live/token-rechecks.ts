// GitLab is asked again, every LIVE_AUTH_RECHECK_MS, about each token that holds a subscription open: a token revoked
// in GitLab ends its subscriptions even when the polls are made with another subscriber's token.
import type { GraphQLError } from 'graphql';
import type { Caller } from '../gitlab/client.js';
import type { CallBudget } from './call-budget.js';
import type { TokenChecker } from './token-checker.js';

export class TokenRechecks {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly tokens: TokenChecker,
    private readonly budget: CallBudget,
    private readonly periodMs: number,
    /** The callers of every subscription open now. */
    private readonly callers: () => Iterable<Caller>,
    /** Ends the subscriptions of a token GitLab refused. */
    private readonly revoke: (token: string, error: GraphQLError) => void,
  ) {}

  /** Checks periodically from now on, until stop(): while some subscription is open. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.round(), this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One call per distinct token, each in the live layer's budget; a round still running skips the next. */
  private async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const byToken = new Map<string, Caller>();
    for (const caller of this.callers()) if (caller.token) byToken.set(caller.token, caller);
    try {
      await Promise.all(
        [...byToken].map(async ([token, caller]) => {
          try {
            await this.budget.take();
          } catch {
            return; // the gateway is closing
          }
          const rejection = await this.tokens.check({ token, header: caller.header, requestId: caller.requestId });
          if (rejection) this.revoke(token, rejection);
        }),
      );
    } finally {
      this.running = false;
    }
  }
}
