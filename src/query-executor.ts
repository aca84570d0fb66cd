// Queries and mutations run on graphql-js's own executor: per request it costs about a quarter less CPU than Yoga's
// default (@graphql-tools/executor), whose extras (@defer, @stream, abort signals) the schema does not use.
// Subscriptions keep their own executor (live/shared-execution.ts).
import { execute, GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** An operation that could not start (its variables or operation name do not fit) is a 400, as Yoga's executor says. */
function withBadRequestStatus(result: ExecutionResult): ExecutionResult {
  for (const error of result.errors ?? []) {
    if (!(error instanceof GraphQLError)) continue;
    Object.defineProperty(error, 'extensions', { value: { ...error.extensions, http: { ...(error.extensions?.http as object | undefined), status: 400 } } });
  }
  return result;
}

function executeOperation(args: ExecutionArgs) {
  const result = execute(args);
  return result instanceof Promise || 'data' in result ? result : withBadRequestStatus(result);
}

export const useGraphqlJsExecutor = (): Plugin => ({ onExecute: ({ setExecuteFn }) => setExecuteFn(executeOperation) });
