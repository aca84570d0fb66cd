// The errors a client can act on: GraphQL errors with a stable `extensions.code`.
import { GraphQLError } from 'graphql';

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'UPSTREAM_RATE_LIMITED'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_ERROR';

export function gatewayError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

/** The longest token the gateway passes on: GitLab's are far shorter. */
export const MAX_TOKEN_LENGTH = 1024;

/** What a caller without a usable token is told: that none came, or that what came cannot be a GitLab token. */
export const missingToken = (caller?: { malformedToken?: boolean }) =>
  caller?.malformedToken
    ? gatewayError('UNAUTHENTICATED', `The GitLab token is malformed: a token is 1 to ${MAX_TOKEN_LENGTH} visible ASCII characters, without spaces or control characters.`)
    : gatewayError('UNAUTHENTICATED', 'A GitLab token is required: send "Authorization: Bearer <token>" or "PRIVATE-TOKEN: <token>".');
