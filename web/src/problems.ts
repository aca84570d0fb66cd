// What went wrong, from the API's `extensions.code` (or the transport), in words a person can act on.

/** Codes the gateway sends, plus the page's own: NETWORK (the gateway did not answer) and TOKEN_REFUSED (graphql-ws 4403). */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** The error of a GraphQL response, or of a transport failure, as an ApiError. */
export function fromGraphQLError(error: { message?: string; extensions?: Record<string, unknown> }): ApiError {
  const extensions = error.extensions ?? {};
  const code = typeof extensions.code === 'string' ? extensions.code : 'UNKNOWN';
  const retryAfter = typeof extensions.retryAfterSeconds === 'number' ? extensions.retryAfterSeconds : undefined;
  return new ApiError(code, error.message ?? 'Unknown error.', retryAfter);
}

/** A token GitLab does not accept: the page asks for another one. */
export function isTokenRefusal(error: ApiError): boolean {
  return error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN' || error.code === 'TOKEN_REFUSED';
}

/** Passing troubles: the page tries again by itself. */
export function isTransient(error: ApiError): boolean {
  return ['NETWORK', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'UPSTREAM_RATE_LIMITED', 'RATE_LIMITED', 'UPSTREAM_ERROR', 'INTERNAL_SERVER_ERROR'].includes(error.code);
}

/** One or two sentences: what happened, then what to do (or what the page does about it). */
export function describeProblem(error: ApiError): string {
  switch (error.code) {
    case 'UNAUTHENTICATED':
    case 'TOKEN_REFUSED':
      return 'GitLab did not accept this token (unknown, expired or revoked). Enter the personal access token of a GitLab administrator.';
    case 'FORBIDDEN':
      return "GitLab refused this token: it is not an administrator's, or it lacks the api scope that recalculation needs. Enter an administrator's token with the api scope.";
    case 'NOT_FOUND':
      return 'GitLab does not know this record any more, or its Data management API is turned off. Refresh the list; if every model says so, ask a GitLab administrator to enable the API.';
    case 'BAD_USER_INPUT':
      return `GitLab refused the request: ${error.message}`;
    case 'UPSTREAM_UNAVAILABLE':
      return 'GitLab cannot be reached; the page will retry.';
    case 'UPSTREAM_TIMEOUT':
      return 'GitLab did not answer in time; the page will retry.';
    case 'UPSTREAM_RATE_LIMITED':
      return `GitLab asks for fewer requests (rate limited); the page will retry${error.retryAfterSeconds ? ` in about ${error.retryAfterSeconds} s` : ''}.`;
    case 'RATE_LIMITED':
      return `The gateway asks this page for fewer requests (a per-client limit); the page will retry${error.retryAfterSeconds ? ` in about ${error.retryAfterSeconds} s` : ''}.`;
    case 'UPSTREAM_ERROR':
      return `GitLab is failing; the page will retry. (${error.message})`;
    case 'INTERNAL_SERVER_ERROR':
      return 'The gateway failed unexpectedly (its log says why); the page will retry.';
    case 'NETWORK':
      return 'The gateway cannot be reached (is it running?); the page will retry.';
    case 'GRAPHQL_VALIDATION_FAILED':
    case 'GRAPHQL_PARSE_FAILED':
      return `This page does not match the gateway's API (${error.message}). Reload the page; if it persists, the gateway and the page come from different versions.`;
    default:
      return error.message;
  }
}
