// GitLab's verdict on each token, one cache for the whole gateway: the WebSocket connection check asks it before
// `connection_ack`, and each subscriber's token is checked when it subscribes and again every period.
// Entries are keyed by a hash of the token (never the token), bounded in number (the oldest go) and in age.
import { createHash } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { Caller, GitLabClient } from '../gitlab/client.js';
import { MODELS_BY_ENUM, type ModelInfo } from '../models.js';

/** GitLab's verdict on a token: the errors that mean "this token may not read this". */
export function isAuthError(error: unknown): error is GraphQLError {
  const code = error instanceof GraphQLError ? error.extensions.code : undefined;
  return code === 'UNAUTHENTICATED' || code === 'FORBIDDEN';
}

/**
 * What the connection check concludes: GitLab took the token, refused it, or could not say (down, failing, slow); or
 * the check was not sent, MAX_CHECKS_IN_FLIGHT others being under way.
 */
export type Admission = 'accepted' | 'refused' | 'unavailable' | 'busy';

/**
 * Connection checks of distinct tokens under way at once, at most: a client that makes up a token per socket costs GitLab
 * this many calls at a time (a pool's worth), not one per socket; the sockets past it are told to come back.
 */
export const MAX_CHECKS_IN_FLIGHT = 32;

export interface TokenCacheOptions {
  /** How long the connection check trusts GitLab's last verdict on a token. */
  ttlMs: number;
  /** How long after GitLab accepted a token a new subscriber need not be checked again (the re-check period). */
  freshMs: number;
  /** Tokens remembered at most; the least recently checked go first. */
  maxEntries: number;
}

interface Entry {
  acceptedAt?: number;
  refusedAt?: number;
  /** The connection check under way: sockets that come meanwhile share its answer. */
  checking?: Promise<Admission>;
}

/** PROJECT is a model of both dialects: a page of one of it is the cheapest call that needs an accepted token. */
const PROJECT = MODELS_BY_ENUM.get('PROJECT')!;

/** What stands for a token in the gateway's maps: its SHA-256, never the token itself. */
export const tokenKey = (token: string | null) => createHash('sha256').update(token ?? '').digest('base64');

export class TokenChecker {
  /** In the order entries were last written: the first is the one to evict. */
  private readonly entries = new Map<string, Entry>();
  private checksInFlight = 0;

  constructor(
    private readonly client: GitLabClient,
    private readonly options: TokenCacheOptions,
  ) {}

  /** Whether GitLab accepted this token within the last period. */
  isFresh(token: string): boolean {
    const at = this.entries.get(tokenKey(token))?.acceptedAt;
    return at !== undefined && Date.now() - at < this.options.freshMs;
  }

  markVerified(token: string): void {
    this.write(tokenKey(token), { acceptedAt: Date.now() });
  }

  forget(token: string): void {
    this.entries.delete(tokenKey(token));
  }

  /**
   * Asks GitLab with one cheap list call; returns the rejection, or null when the token is fine.
   * An outage is not a rejection: subscribers stay until GitLab says otherwise.
   */
  async check(caller: Caller, model: ModelInfo = PROJECT, identifier?: string): Promise<GraphQLError | null> {
    try {
      await this.client.list(caller, model, { perPage: 1, identifiers: identifier === undefined ? null : [identifier], page: { flavour: 'offset', page: 1 } });
      this.markVerified(caller.token ?? '');
      return null;
    } catch (error) {
      if (!isAuthError(error)) return null;
      this.write(tokenKey(caller.token), { refusedAt: Date.now() });
      return error;
    }
  }

  /**
   * The connection check: GitLab's verdict on the caller's token, from the cache while it is recent, else from one
   * call shared by every socket that asks meanwhile. Only GitLab's verdicts are kept, never an outage. With
   * MAX_CHECKS_IN_FLIGHT calls under way, a token that needs a new one is answered 'busy' at once, not queued.
   */
  admit(caller: Caller): Promise<Admission> {
    const key = tokenKey(caller.token);
    const entry = this.entries.get(key);
    const now = Date.now();
    if (entry?.acceptedAt !== undefined && now - entry.acceptedAt < this.options.ttlMs) return Promise.resolve('accepted');
    if (entry?.refusedAt !== undefined && now - entry.refusedAt < this.options.ttlMs) return Promise.resolve('refused');
    if (entry?.checking) return entry.checking;
    if (this.checksInFlight >= MAX_CHECKS_IN_FLIGHT) return Promise.resolve('busy');
    const checking: Promise<Admission> = this.ask(caller).then((admission) => {
      this.record(key, checking, admission);
      return admission;
    });
    this.write(key, { ...entry, checking });
    return checking;
  }

  private async ask(caller: Caller): Promise<Admission> {
    // No counters of an operation: the socket's first operation must not be charged with this call.
    const asking: Caller = { token: caller.token, header: caller.header, requestId: caller.requestId };
    this.checksInFlight++;
    try {
      await this.client.list(asking, PROJECT, { perPage: 1, page: { flavour: 'offset', page: 1 } });
      return 'accepted';
    } catch (error) {
      if (isAuthError(error)) return 'refused';
      // A 404 (the API disabled) or a 400 comes after GitLab has authenticated the token: it is good.
      const code = error instanceof GraphQLError ? error.extensions.code : undefined;
      return code === 'NOT_FOUND' || code === 'BAD_USER_INPUT' ? 'accepted' : 'unavailable';
    } finally {
      this.checksInFlight--;
    }
  }

  private record(key: string, checking: Promise<Admission>, admission: Admission): void {
    if (admission === 'accepted') return this.write(key, { acceptedAt: Date.now() });
    if (admission === 'refused') return this.write(key, { refusedAt: Date.now() });
    // An outage is no verdict: the next socket asks again.
    const entry = this.entries.get(key);
    if (entry?.checking !== checking) return;
    if (entry.acceptedAt === undefined && entry.refusedAt === undefined) this.entries.delete(key);
    else delete entry.checking;
  }

  /** Replaces an entry, making it the newest; then drops what is too old, and the oldest beyond the bound. */
  private write(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    const expiredBefore = Date.now() - Math.max(this.options.ttlMs, this.options.freshMs);
    for (const [oldest, first] of this.entries) {
      const expired = !first.checking && Math.max(first.acceptedAt ?? -Infinity, first.refusedAt ?? -Infinity) < expiredBefore;
      if (!expired && this.entries.size <= this.options.maxEntries) break;
      this.entries.delete(oldest);
    }
  }
}
