// Each subscriber's own token is checked by GitLab: once when it subscribes, then again every period.
import { GraphQLError } from 'graphql';
import type { Caller, GitLabClient } from '../gitlab/client.js';
import type { ModelInfo } from '../models.js';

/** GitLab's verdict on a token: the errors that mean "this token may not read this". */
export function isAuthError(error: unknown): error is GraphQLError {
  const code = error instanceof GraphQLError ? error.extensions.code : undefined;
  return code === 'UNAUTHENTICATED' || code === 'FORBIDDEN';
}

export class TokenChecker {
  private readonly verifiedAt = new Map<string, number>();

  constructor(
    private readonly client: GitLabClient,
    readonly freshMs: number,
  ) {}

  /** Whether GitLab accepted this token within the last period. */
  isFresh(token: string): boolean {
    const at = this.verifiedAt.get(token);
    return at !== undefined && Date.now() - at < this.freshMs;
  }

  markVerified(token: string): void {
    this.verifiedAt.set(token, Date.now());
  }

  forget(token: string): void {
    this.verifiedAt.delete(token);
  }

  /**
   * Asks GitLab with one cheap list call; returns the rejection, or null when the token is fine.
   * An outage is not a rejection: subscribers stay until GitLab says otherwise.
   */
  async check(caller: Caller, model: ModelInfo, identifier: string): Promise<GraphQLError | null> {
    try {
      await this.client.list(caller, model, { perPage: 1, identifiers: [identifier], page: { flavour: 'offset', page: 1 } });
      this.markVerified(caller.token ?? '');
      return null;
    } catch (error) {
      if (!isAuthError(error)) return null;
      this.forget(caller.token ?? '');
      return error;
    }
  }
}
