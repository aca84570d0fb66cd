// Every refusal a client can act on is a GraphQL error with `extensions.code` and a short message: the CSRF header
// (403), the content type (415), a body that is not JSON (400), variables that do not fit the operation. Over SSE,
// errors of the operation arrive on an accepted stream; refusals of the request keep their status, in JSON. No message
// is longer than MAX_ERROR_MESSAGE_LENGTH, whatever it quotes of what the client sent.
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { GraphQLError, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import { isAsyncIterable, processRegularResult, type Plugin } from 'graphql-yoga';

type RequestParser = Parameters<Parameters<NonNullable<Plugin['onRequestParse']>>[0]['setRequestParser']>[0];

/** The same error with these extensions (GraphQLError's own are not to be changed: one may be shared). */
function withExtensions(error: GraphQLError, extensions: Record<string, unknown>): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions,
  });
}

/**
 * Longest error message a client is sent. GraphQL's messages quote what the client sent (a variable's value, a field
 * or argument name, a token), which may be 1 MB long: the message says what is wrong, and where, in far less.
 */
export const MAX_ERROR_MESSAGE_LENGTH = 1_024;

/** The message cut to MAX_ERROR_MESSAGE_LENGTH, ending with "…" (never in the middle of a surrogate pair). */
function shortMessage(message: string): string {
  let end = MAX_ERROR_MESSAGE_LENGTH - 1;
  const last = message.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${message.slice(0, end)}…`;
}

/** The same error with a short message, or itself when its message is short already. */
function shortened<E extends GraphQLError | GraphQLFormattedError>(error: E): E {
  if (typeof error?.message !== 'string' || error.message.length <= MAX_ERROR_MESSAGE_LENGTH) return error;
  const message = shortMessage(error.message);
  if (!(error instanceof GraphQLError)) return { ...error, message };
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  }) as E;
}

/** These errors with short messages, or null when every message is short already. */
export function withShortMessages<E extends GraphQLError | GraphQLFormattedError>(errors: readonly E[] | undefined): E[] | null {
  if (!errors?.some((e) => typeof e?.message === 'string' && e.message.length > MAX_ERROR_MESSAGE_LENGTH)) return null;
  return errors.map(shortened);
}

/** The result with short error messages, or null when it has none to cut. */
export function withShortErrorMessages<R extends { errors?: readonly (GraphQLError | GraphQLFormattedError)[] }>(result: R): R | null {
  const errors = withShortMessages(result.errors);
  return errors ? { ...result, errors } : null;
}

/** What a client that cannot send its body as JSON is told: never the body (Yoga's own error echoes all of it). */
function unreadable(request: Request, error: unknown): unknown {
  if (error instanceof GraphQLError && !error.extensions?.originalError) return error;
  const message = request.method === 'GET' ? 'The variables or extensions parameter is not valid JSON.' : 'The request body is not valid JSON.';
  return new GraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
}

const readableParsers = new Map<RequestParser, RequestParser>();

/** Yoga's request parser, with what its failures say replaced by a short typed error. */
function readable(parser: RequestParser): RequestParser {
  let wrapped = readableParsers.get(parser);
  if (!wrapped) {
    wrapped = async (request: Request) => {
      try {
        return await parser(request);
      } catch (error) {
        throw unreadable(request, error);
      }
    };
    readableParsers.set(parser, wrapped);
  }
  return wrapped;
}

/** The HTTP status of a response without `data` (GraphQL over HTTP: 4xx or 5xx under application/graphql-response+json). */
function statusOf(code: unknown): number {
  if (code === 'UNAUTHENTICATED') return 401;
  if (code === 'FORBIDDEN') return 403;
  if (code === 'INTERNAL_SERVER_ERROR') return 500;
  if (typeof code === 'string' && code.startsWith('UPSTREAM_')) return 502;
  return 400;
}

/**
 * An operation that did not start (no `data`: its variables or operation name did not fit) failed on its input. Over
 * graphql-ws, the HTTP status the executor gives these errors means nothing and is dropped.
 */
function withInputCodes(result: ExecutionResult, overWebSocket: boolean): ExecutionResult | null {
  const toFix = (e: GraphQLError) => e.extensions?.code === undefined || (overWebSocket && e.extensions?.http !== undefined);
  if ('data' in result || !result.errors?.some(toFix)) return null;
  return {
    ...result,
    errors: result.errors.map((e) => {
      if (!toFix(e)) return e;
      const { http, ...extensions } = e.extensions ?? {};
      return withExtensions(e, { code: 'BAD_USER_INPUT', ...extensions, ...(overWebSocket || http === undefined ? {} : { http }) });
    }),
  };
}

/** graphql-ws operations carry their `connection_init` payload in the context (see websocket.ts). */
const overWebSocket = (context: unknown) => (context as { connectionParams?: unknown } | undefined)?.connectionParams !== undefined;

const isSingleResult = (result: unknown): result is ExecutionResult =>
  typeof result === 'object' && result !== null && !Array.isArray(result) && !isAsyncIterable(result);

/** BAD_REQUEST: a refusal of the HTTP request itself (CSRF header, content type, method, body, no query). */
const refusesRequest = (error: GraphQLError) => error.extensions?.code === 'BAD_REQUEST';

/** The same error, answered with 200: it travels inside a stream. */
const onStream = (error: GraphQLError) =>
  error.extensions?.http ? withExtensions(error, { ...error.extensions, http: { ...(error.extensions.http as object), spec: false, status: 200 } }) : error;

/**
 * Typed refusals of HTTP requests (CSRF prevention included, in place of Yoga's own plugin) and of operations that did
 * not start. `csrfHeaders`: the headers that exempt a request a browser could send cross-site from being refused.
 */
export function useTypedRequestErrors(endpoint: string, csrfHeaders: string[]): Plugin {
  const csrf = useCSRFPrevention({ requestHeaders: csrfHeaders });
  const checkCsrf = csrf.onRequestParse as (payload: unknown) => void;
  return {
    onRequestParse(payload) {
      try {
        checkCsrf(payload);
      } catch {
        throw new GraphQLError(`Required CSRF header not present: send ${csrfHeaders.join(' or ')}, or a JSON content type.`, {
          extensions: { code: 'BAD_REQUEST', http: { status: 403 } },
        });
      }
      const { request, url, requestParser, setRequestParser } = payload;
      if (requestParser) return setRequestParser(readable(requestParser));
      // GET always has a parser; other methods are Yoga's to refuse with 405, other paths with 404.
      if (request.method === 'POST' && url.pathname === endpoint) {
        throw new GraphQLError('Unsupported content type: send the request as application/json.', { extensions: { code: 'BAD_REQUEST', http: { status: 415 } } });
      }
    },
    // Over graphql-ws as over HTTP: the telemetry placed after this plugin logs the codes given here.
    onExecute({ args }) {
      return {
        onExecuteDone({ result, setResult }) {
          const coded = isSingleResult(result) && withInputCodes(result, overWebSocket(args.contextValue));
          if (coded) setResult(coded);
        },
      };
    },
    onSubscribe({ args }) {
      return {
        onSubscribeResult({ result, setResult }) {
          const coded = isSingleResult(result) && withInputCodes(result, overWebSocket(args.contextValue));
          if (coded) setResult(coded);
        },
      };
    },
    // Yoga answers this one result as a stream (SSE, or multipart): graphql-sse's client, like a browser's EventSource,
    // reads nothing from a 4xx stream. Errors of the operation (variables, operation name, parse, validation) go on the
    // stream, with 200, as GraphQL over SSE asks; a refused request keeps its status, in JSON.
    onResultProcess({ result: toSend, resultProcessor, setResult, setResultProcessor }) {
      // Every answer over HTTP and SSE passes here: refusals of the request, parse and validation errors, results.
      // (Events of a subscription's stream carry the gateway's own messages only; Yoga's batching is off.)
      const result = (isSingleResult(toSend) && withShortErrorMessages(toSend)) || toSend;
      if (result !== toSend) setResult(result);
      if (!resultProcessor || resultProcessor === processRegularResult || !isSingleResult(result) || !result.errors?.some((e) => e.extensions?.http)) return;
      // (Under application/json Yoga would answer a `spec` refusal, such as a missing query, with 200.)
      if (result.errors.some(refusesRequest)) return setResultProcessor(processRegularResult, 'application/graphql-response+json');
      setResult({ ...result, errors: result.errors.map(onStream) });
    },
    // A response without data is 4xx or 5xx under application/graphql-response+json; `spec` keeps application/json 200.
    onExecutionResult({ result, setResult }) {
      if (!isSingleResult(result) || 'data' in result || !result.errors?.some((e) => !e.extensions?.http)) return;
      setResult({ ...result, errors: result.errors.map((e) => (e.extensions?.http ? e : withExtensions(e, { ...e.extensions, http: { spec: true, status: statusOf(e.extensions?.code) } }))) });
    },
  };
}
