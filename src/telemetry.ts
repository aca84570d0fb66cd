// One log line and a few metrics per GraphQL operation: its name, duration, upstream calls and error codes.
import { getOperationAST, type DocumentNode, type ExecutionResult, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GatewayContext } from './context.js';
import { operationLineWriter, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** Longest operation name put in a log line or a metric label: names are the client's, and one name can be 1 MB. */
const MAX_NAME_LENGTH = 100;

/** The operation's name (null: anonymous) and type ('unknown': no such operation, or no document). */
export function describe(document: DocumentNode | undefined, operationName?: string | null) {
  const op = document ? getOperationAST(document, operationName) : null;
  return { name: op?.name?.value ?? null, type: op?.operation ?? 'unknown' };
}

/** The distinct codes of these errors; one without a code counts as `fallback`. */
export function codesOf(errors: readonly unknown[] | undefined, fallback = 'INTERNAL_SERVER_ERROR'): string[] {
  if (errors === undefined || errors.length === 0) return [];
  return [...new Set(errors.map((e) => String((e as GraphQLError | null)?.extensions?.code ?? fallback)))];
}

/** A client's operation name cut to a readable length, for a log line or a span. */
export function shortName(name: string): string {
  return name.length > MAX_NAME_LENGTH ? `${name.slice(0, MAX_NAME_LENGTH)}…` : name;
}

/** A client's operation name as a log line shows it. */
function loggedName(name: string | null): string {
  return name === null ? 'anonymous' : shortName(name);
}

/**
 * Whether GitLab accepted the operation's token: the operation reached GitLab (or, a subscription, subscribed, which
 * checks the token) and no error says GitLab refused it or did not really answer.
 */
function tokenAccepted(type: string, upstreamCalls: number, errorCodes: string[]): boolean {
  const reached = upstreamCalls > 0 || (type === 'subscription' && errorCodes.length === 0);
  return reached && !errorCodes.some((code) => code === 'UNAUTHENTICATED' || code === 'FORBIDDEN' || code.startsWith('UPSTREAM_'));
}

/**
 * The `operation` label: clients choose names, so only names seen in operations GitLab accepted the token of are
 * labels, at most `max` of them; any other name is `other`. Series stay bounded whatever clients send.
 */
class OperationLabels {
  private readonly known = new Set<string>();

  constructor(private readonly max: number) {}

  learn(name: string | null): void {
    if (name !== null && name.length <= MAX_NAME_LENGTH && this.known.size < this.max) this.known.add(name);
  }

  of(name: string | null): string {
    if (name === null) return 'anonymous';
    return this.known.has(name) ? name : 'other';
  }
}

/** The request id of an operation refused before its context exists (HTTP header, or graphql-ws connection params). */
function requestIdOf(initial: unknown): string | undefined {
  const { request, connectionParams } = (initial ?? {}) as { request?: { headers?: Headers }; connectionParams?: Record<string, unknown> };
  const fromParams = connectionParams?.['x-request-id'];
  return typeof fromParams === 'string' ? fromParams : (request?.headers?.get?.('x-request-id') ?? undefined);
}

export function useOperationTelemetry(logger: Logger, metrics: Metrics, maxOperationNames: number): Plugin<GatewayContext> {
  const labels = new OperationLabels(maxOperationNames);
  const writeLine = operationLineWriter(logger);
  const record = (ctx: GatewayContext, document: DocumentNode, operationName: string | null | undefined, started: number, errors: readonly GraphQLError[] | undefined, phase?: string) => {
    const { name, type } = describe(document, operationName);
    const durationMs = performance.now() - started;
    const errorCodes = codesOf(errors);
    const upstreamCalls = ctx.caller.stats?.upstreamCalls ?? 0;
    const outcome = errorCodes.length === 0 ? 'success' : 'error';
    if (tokenAccepted(type, upstreamCalls, errorCodes)) labels.learn(name);
    const operation = labels.of(name);
    metrics.operations.inc(operation, type, outcome);
    metrics.operationDuration.observe(durationMs / 1000, operation, type);
    if (!logger.isLevelEnabled('info')) return;
    const logged = loggedName(name);
    writeLine({ requestId: ctx.caller.requestId, operation: logged, type, durationMs: Math.round(durationMs * 10) / 10, upstreamCalls, errorCodes, phase }, `${type} ${logged} ${outcome}`);
  };
  return {
    // Refused documents (limits, unknown fields, introspection off) never execute: log them here.
    onValidate({ params, context }) {
      const started = performance.now();
      return ({ valid, result }) => {
        if (valid) return;
        const { name, type } = describe(params.documentAST);
        const durationMs = performance.now() - started;
        metrics.operations.inc(labels.of(name), type, 'rejected');
        const errorCodes = codesOf(result as GraphQLError[], 'GRAPHQL_VALIDATION_FAILED');
        const logged = loggedName(name);
        writeLine({ requestId: requestIdOf(context), operation: logged, type, durationMs: Math.round(durationMs * 10) / 10, upstreamCalls: 0, errorCodes }, `${type} ${logged} rejected`);
      };
    },
    onExecute({ args }) {
      const started = performance.now();
      return {
        onExecuteDone({ result }) {
          if (Symbol.asyncIterator in (result as object)) return;
          record(args.contextValue, args.document, args.operationName, started, (result as ExecutionResult).errors);
        },
      };
    },
    onSubscribe({ args }) {
      const started = performance.now();
      return {
        onSubscribeResult({ result }) {
          const errors = Symbol.asyncIterator in (result as object) ? undefined : (result as ExecutionResult).errors;
          record(args.contextValue, args.document, args.operationName, started, errors, 'subscribed');
        },
      };
    },
  };
}
