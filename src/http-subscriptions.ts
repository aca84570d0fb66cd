// Over HTTP a subscription is served as SSE only. One whose client does not accept text/event-stream is refused before
// it subscribes: a 406 (or a 401 without a token) leaves no watch, poll or token check behind.
import { GraphQLError, type ExecutionResult } from 'graphql';
import { isAsyncIterable, processRegularResult, type Plugin } from 'graphql-yoga';
import type { GatewayContext } from './context.js';
import { missingToken } from './errors.js';

const EVENT_STREAM_RANGES = new Set(['text/event-stream', 'text/*', '*/*']);

/** Whether Yoga answers this request as SSE (see its result processors): an Accept range that covers it, in UTF-8. */
export function acceptsEventStream(request: Request): boolean {
  const accept = request.headers.get('accept') || '*/*';
  return accept.split(',').some((range) => {
    const [mediaType, ...params] = range.replace(/\s/g, '').toLowerCase().split(';');
    const charset = params.find((param) => param.includes('charset='));
    return EVENT_STREAM_RANGES.has(mediaType) && (charset === undefined || charset === 'charset=utf-8');
  });
}

/** What graphql-ws and HTTP operations find in their context besides the gateway's own. */
type TransportContext = GatewayContext & { request?: Request; connectionParams?: unknown };

/** Ends a result stream nobody will read (Yoga found no representation the client accepts). */
function stop(stream: AsyncIterable<unknown>): void {
  const iterator = stream[Symbol.asyncIterator]();
  void Promise.resolve(iterator.return?.()).catch(() => {});
}

/**
 * Must come after telemetry (which logs the refusal) and before the subscription executor. Answers its refusals in
 * JSON whatever the client accepts, and, should any subscription still end up without a representation, stops it.
 */
export function useHttpSubscriptionGuard(): Plugin {
  const refusals = new WeakSet<GraphQLError>();
  const refuse = (error: GraphQLError): ExecutionResult => {
    refusals.add(error);
    return { errors: [error] };
  };
  return {
    onSubscribe({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as unknown as TransportContext;
      if (ctx.connectionParams !== undefined || !ctx.request || acceptsEventStream(ctx.request)) return;
      // No token is the first thing to fix, as for any other operation.
      if (!ctx.caller.token) {
        const unauthenticated = missingToken(ctx.caller);
        setResultAndStopExecution(refuse(new GraphQLError(unauthenticated.message, { extensions: { ...unauthenticated.extensions, http: { status: 401 } } })));
        return;
      }
      const message = 'A subscription over HTTP is answered as text/event-stream: send "Accept: text/event-stream", or subscribe over graphql-ws.';
      setResultAndStopExecution(refuse(new GraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 406, headers: { accept: 'text/event-stream' } } } })));
    },
    onResultProcess({ result, resultProcessor, setResultProcessor }) {
      if (resultProcessor) return;
      if (isAsyncIterable(result)) return stop(result);
      if (!Array.isArray(result) && result.errors?.some((error) => refusals.has(error as GraphQLError))) setResultProcessor(processRegularResult, 'application/json');
    },
  };
}
