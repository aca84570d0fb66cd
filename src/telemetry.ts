// One log line and a few metrics per GraphQL operation: its name, duration, upstream calls and error codes.
import { getOperationAST, type DocumentNode, type ExecutionResult, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GatewayContext } from './context.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

function describe(document: DocumentNode, operationName?: string | null) {
  const op = getOperationAST(document, operationName);
  return { operation: op?.name?.value ?? 'anonymous', type: op?.operation ?? 'unknown' };
}

function codesOf(errors: readonly GraphQLError[] | undefined, fallback = 'INTERNAL_SERVER_ERROR'): string[] {
  return [...new Set((errors ?? []).map((e) => String(e.extensions?.code ?? fallback)))];
}

/** The request id of an operation refused before its context exists (HTTP header, or graphql-ws connection params). */
function requestIdOf(initial: unknown): string | undefined {
  const { request, connectionParams } = (initial ?? {}) as { request?: { headers?: Headers }; connectionParams?: Record<string, unknown> };
  const fromParams = connectionParams?.['x-request-id'];
  return typeof fromParams === 'string' ? fromParams : (request?.headers?.get?.('x-request-id') ?? undefined);
}

export function useOperationTelemetry(logger: Logger, metrics: Metrics): Plugin<GatewayContext> {
  const record = (ctx: GatewayContext, document: DocumentNode, operationName: string | null | undefined, started: number, errors: readonly GraphQLError[] | undefined, extra: object = {}) => {
    const { operation, type } = describe(document, operationName);
    const durationMs = performance.now() - started;
    const errorCodes = codesOf(errors);
    const outcome = errorCodes.length === 0 ? 'success' : 'error';
    metrics.operations.inc({ operation, type, outcome });
    metrics.operationDuration.observe({ operation, type }, durationMs / 1000);
    if (!logger.isLevelEnabled('info')) return;
    logger.info(
      { requestId: ctx.caller.requestId, operation, type, durationMs: Math.round(durationMs * 10) / 10, upstreamCalls: ctx.caller.stats?.upstreamCalls ?? 0, errorCodes, ...extra },
      `${type} ${operation} ${outcome}`,
    );
  };
  return {
    // Refused documents (limits, unknown fields, introspection off) never execute: log them here.
    onValidate({ params, context }) {
      const started = performance.now();
      return ({ valid, result }) => {
        if (valid) return;
        const { operation, type } = describe(params.documentAST);
        const durationMs = performance.now() - started;
        metrics.operations.inc({ operation, type, outcome: 'rejected' });
        const errorCodes = codesOf(result as GraphQLError[], 'GRAPHQL_VALIDATION_FAILED');
        logger.info({ requestId: requestIdOf(context), operation, type, durationMs: Math.round(durationMs * 10) / 10, upstreamCalls: 0, errorCodes }, `${type} ${operation} rejected`);
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
          record(args.contextValue, args.document, args.operationName, started, errors, { phase: 'subscribed' });
        },
      };
    },
  };
}
