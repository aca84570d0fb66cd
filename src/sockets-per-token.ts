// How many graphql-ws sockets each token holds open (WS_MAX_CONNECTIONS_PER_TOKEN), so that no one token can take
// every socket the gateway can hold. Keyed by the token's hash, never the token; a token with no socket has no entry.
import { tokenKey } from './live/token-checker.js';

export class SocketsPerToken {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Takes a place for one socket of this token: the function that gives it back (once), or null when none is left. */
  take(token: string): (() => void) | null {
    const key = tokenKey(token);
    const count = this.counts.get(key) ?? 0;
    if (count >= this.max) return null;
    this.counts.set(key, count + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left > 0) this.counts.set(key, left);
      else this.counts.delete(key);
    };
  }
}
