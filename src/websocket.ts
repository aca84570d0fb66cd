// graphql-ws on the same port and path as HTTP; every operation goes through Yoga's envelope, so its plugins apply.
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { CloseCode, GRAPHQL_TRANSPORT_WS_PROTOCOL, handleProtocols, makeServer, MessageType, validateMessage, type SubscribePayload } from 'graphql-ws';
import { WebSocket } from 'ws';
import type { Config } from './config.js';
import { Interner } from './interning.js';
import { valueNestsDeeperThan } from './nesting.js';
import type { TokenChecker } from './live/token-checker.js';
import type { PayloadSender } from './live/shared-execution.js';
import { Outbox } from './ws-outbox.js';
import { SocketsPerToken } from './sockets-per-token.js';
import { callerFrom, connectionParamsHeaders, type GatewayContext } from './context.js';
import { OperationEnd } from './operation-end.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { PersistedQueryStore } from './persisted-queries.js';
import type { ClientLimits } from './rate-limits.js';
import { withShortErrorMessages, withShortMessages } from './request-errors.js';
import type { GatewayYoga } from './yoga.js';

/** How often an idle socket is pinged; one that does not answer within the same time is dropped. */
const KEEP_ALIVE_MS = 12_000;

/** RFC 6455's "Try Again Later": GitLab could not judge the token; graphql-ws clients retry it. */
const TRY_AGAIN_LATER = 1013;

/** A token that already holds WS_MAX_CONNECTIONS_PER_TOKEN sockets: "too many", as graphql-ws says of a second init. */
const TOO_MANY_CONNECTIONS = 4429;

/** Yoga marks parse and validation errors with an HTTP status for its own responses; it means nothing on a WebSocket. */
function withoutHttpExtension(error: GraphQLError): GraphQLError {
  if (!error.extensions?.http) return error;
  const { http: _http, ...extensions } = error.extensions;
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: error.originalError, extensions });
}

/** Operations over graphql-ws have no HTTP request of their own; plugins that look for one find no headers. */
const NO_HTTP_REQUEST = { headers: new Headers() } as Request;

type Executor = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };

/**
 * Subscription results can skip graphql-ws's per-message chain: this writes the same `next` message it would.
 * (Made apart from onSubscribe so the closure holds the outbox and the prefix only, not that call's whole scope.)
 */
function payloadSender(outbox: Outbox, id: string): PayloadSender {
  const prefix = Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":`).toString();
  const prefixBytes = Buffer.byteLength(prefix);
  return (payload) => outbox.send({ prefix, prefixBytes, payload });
}

/**
 * What graphql-ws keeps per connection for these hooks: the upgrade request, the socket, its outbox, its operations,
 * the payloads of subscribe messages on their way to onSubscribe (see compactSubscribe), and the end of each operation
 * (its `complete`, its end, or the socket's close).
 */
type Extra = { request: IncomingMessage; socket: WebSocket; outbox: Outbox; operations: Set<string>; payloads: Map<string, SubscribePayload>; ends: Map<string, OperationEnd> };

/** Messages only a server sends. graphql-ws throws on one from a client, which would close with 4500 and log an error. */
const SERVER_MESSAGES = new Set<string>([MessageType.ConnectionAck, MessageType.Next, MessageType.Error]);

/**
 * What graphql-ws gets of a client's message: null for a message only a server sends (the caller closes with 4400).
 * graphql-ws holds the text of a subscribe message for as long as the operation lives (its handler waits on the
 * results with the text in scope): for a subscription to 100 records, most of what the subscription costs. It gets a
 * short message of the same id instead, and onSubscribe takes the payload parsed here. Anything else graphql-ws would
 * refuse reaches it as it came, to be refused as usual.
 */
function screen(text: string, payloads: Map<string, SubscribePayload>, ends: Map<string, OperationEnd>): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  const type = (parsed as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && SERVER_MESSAGES.has(type)) return null;
  // graphql-ws stops a subscription on `complete` only once it has started: what it does meanwhile (its first read,
  // a query's calls) stops here.
  if (type === MessageType.Complete) ends.get(String((parsed as { id?: unknown }).id))?.end();
  if (type !== MessageType.Subscribe) return text;
  let message;
  try {
    message = validateMessage(parsed);
  } catch {
    return text;
  }
  if (message.type !== MessageType.Subscribe) return text;
  payloads.set(message.id, message.payload);
  return JSON.stringify({ id: message.id, type: MessageType.Subscribe, payload: { query: '' } });
}

export function attachGraphqlWs(yoga: GatewayYoga, config: Config, metrics: Metrics, logger: Logger, tokens: TokenChecker, persistedQueries: PersistedQueryStore, limits?: ClientLimits) {
  /** Each operation's end, by the payload graphql-ws hands to onSubscribe and then to onComplete (ids can be reused). */
  const endOf = new WeakMap<object, OperationEnd>();
  const sharedVariables = new Interner<Record<string, unknown>>();
  const socketsPerToken = new SocketsPerToken(config.wsMaxConnectionsPerToken);
  /** The place a socket holds among its token's, given back when it closes. */
  const placeOf = new WeakMap<WebSocket, () => void>();
  const protocol = makeServer<Record<string, unknown>, Extra>({
    execute: (args) => (args.rootValue as Executor).execute(args) as never,
    subscribe: (args) => (args.rootValue as Executor).subscribe(args) as never,
    // Messages may quote what the client sent (1 MB of it): cut, as over HTTP (request-errors.ts).
    onNext: (_ctx, _id, _payload, _args, result) => withShortErrorMessages(result) ?? undefined,
    onError: (_ctx, _id, _payload, errors) => withShortMessages(errors)?.map((e) => e.toJSON()) ?? undefined,
    // No session before GitLab accepts the token. None, or a malformed one: 4403 before anything reaches GitLab; one
    // GitLab refuses: 4403 too; GitLab down or failing: 1013. Verdicts are cached per token (TokenChecker).
    onConnect: async (ctx) => {
      const caller = callerFrom(connectionParamsHeaders(ctx.connectionParams));
      if (caller.token === null) return false;
      // Counted from connection_init to close, before GitLab is asked: a token at its bound costs GitLab nothing.
      const place = socketsPerToken.take(caller.token);
      if (!place) {
        ctx.extra.socket.close(TOO_MANY_CONNECTIONS, `At most ${config.wsMaxConnectionsPerToken} connections per token: close another one first.`);
        return false;
      }
      placeOf.set(ctx.extra.socket, place);
      // A request id of its own: the client's would reach GitLab as a header, unchecked.
      const admission = await tokens.admit({ token: caller.token, header: caller.header, requestId: randomUUID() });
      if (admission === 'accepted') return true;
      // graphql-ws then closes with 4403, which does nothing to a socket already closing with 1013.
      if (admission === 'unavailable') ctx.extra.socket.close(TRY_AGAIN_LATER, 'GitLab could not check the token; try again later.');
      // Many checks of other tokens under way (see MAX_CHECKS_IN_FLIGHT): come back rather than wait in a queue.
      if (admission === 'busy') ctx.extra.socket.close(TRY_AGAIN_LATER, 'Too many connections are being checked; try again later.');
      return false;
    },
    onSubscribe: async (ctx, id, compact) => {
      const payload = ctx.extra.payloads.get(id) ?? compact;
      ctx.extra.payloads.delete(id);
      // Per-client limits: each subscribe message is an operation of its connection's token and address. Refused with
      // an `error` message; the socket stays open.
      const limited = await limits?.wsOperation(ctx.extra.request, ctx.connectionParams);
      if (limited) return [limited];
      const active = ctx.extra.operations;
      if (active.size >= config.live.maxSubscriptionsPerConnection) {
        return [new GraphQLError(`At most ${config.live.maxSubscriptionsPerConnection} subscriptions per connection.`, { extensions: { code: 'BAD_USER_INPUT' } })];
      }
      // Before anything recursive (JSON.stringify below) walks them: nested too deep, they would overflow its stack.
      if (valueNestsDeeperThan(payload.variables, config.limits.nesting)) {
        return [new GraphQLError(`Variables nesting limit of ${config.limits.nesting} exceeded.`, { extensions: { code: 'BAD_USER_INPUT' } })];
      }
      // The protocol asks for a query string: an empty one with a persisted query's hash, or with a trusted document's
      // documentId, names a kept or trusted document.
      const { documentId } = payload as { documentId?: unknown };
      if (payload.extensions?.persistedQuery !== undefined || (documentId !== undefined && documentId !== null)) {
        try {
          (payload as { query: string }).query = persistedQueries.documentOf({ query: payload.query, documentId, extensions: payload.extensions }) as string;
        } catch (error) {
          return [withoutHttpExtension(error as GraphQLError)];
        }
      }
      // A thousand viewers of one dashboard send the same variables: keep one copy for as long as they watch.
      if (payload.variables) {
        const key = JSON.stringify(payload.variables);
        (payload as { variables?: Record<string, unknown> }).variables = sharedVariables.get(key) ?? sharedVariables.keep(key, payload.variables);
      }
      // randomUUID() hands back a tree of string pieces, which every subscription would keep; a copy is one flat string.
      const connectionParams = { ...ctx.connectionParams, 'x-request-id': Buffer.from(randomUUID(), 'latin1').toString('latin1') };
      const end = new OperationEnd();
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        req: ctx.extra.request,
        connectionParams,
        request: NO_HTTP_REQUEST,
        params: payload,
        operationEnd: end,
      });
      let document;
      try {
        document = parse(payload.query);
      } catch (error) {
        return [withoutHttpExtension(error as GraphQLError)];
      }
      let errors;
      try {
        errors = validate(schema, document);
      } catch (error) {
        // A rule that throws rather than reports answers this operation, instead of the socket closing with 4500.
        if (error instanceof GraphQLError) return [error];
        throw error;
      }
      if (errors.length > 0) return errors.map(withoutHttpExtension);
      // The parsed document comes from Yoga's cache and holds its text: keep that one copy rather than this message's.
      if (document.loc?.source.body === payload.query) (payload as { query: string }).query = document.loc.source.body;
      active.add(id);
      ctx.extra.ends.set(id, end);
      endOf.set(compact, end);
      // A subscription holds a place among its token's until it ends, however it ends (onComplete, or the socket's
      // close): its end is known above first, so a complete or a close while the place is taken still gives it back.
      const full = await limits?.wsSubscription(ctx.connectionParams, document, payload.operationName, end);
      if (full) {
        active.delete(id);
        if (ctx.extra.ends.get(id) === end) ctx.extra.ends.delete(id);
        endOf.delete(compact);
        return [full];
      }
      const contextValue = await contextFactory();
      const sendPayload = payloadSender(ctx.extra.outbox, id);
      return {
        schema,
        operationName: payload.operationName,
        document,
        variableValues: payload.variables,
        contextValue: Object.assign(contextValue, { sendPayload } satisfies Partial<GatewayContext>),
        rootValue: { execute, subscribe },
      };
    },
    onComplete: (ctx, id, compact) => {
      ctx.extra.operations.delete(id);
      // Whatever the operation still has on its way (a query's calls an error cut short) stops with it. The client may
      // have completed it and reused its id already: the id's entry is then the new operation's.
      const end = endOf.get(compact);
      end?.end();
      if (ctx.extra.ends.get(id) === end) ctx.extra.ends.delete(id);
    },
  });

  /** Called by the HTTP server's upgrade handler, which owns the raw socket the outbox writes frames to. */
  return function accept(socket: WebSocket, request: IncomingMessage, raw: Duplex): void {
    metrics.sockets.inc();
    const outbox = new Outbox(socket, raw, () => metrics.slowReaderWaits.inc(), {
      maxBufferedBytes: config.wsMaxBufferedBytes,
      onOverflow: () => {
        metrics.overflowCloses.inc();
        logger.warn({ maxBufferedBytes: config.wsMaxBufferedBytes }, 'a WebSocket client fell too far behind; cut off');
      },
    });
    const fail = (error: unknown, what: string) => {
      logger.error({ err: error }, `${what}; closing the WebSocket`);
      socket.close(CloseCode.InternalServerError, 'Internal server error');
    };
    // ws reports a client's bad frame (too big, not UTF-8, a bad close code) here, and closes with the matching code
    // itself: the client's fault, at debug, or any client could fill the error log.
    socket.once('error', (error: Error & { code?: string }) => logger.debug({ code: error.code, reason: error.message }, 'a WebSocket client sent a bad frame; closed'));
    let pongWait: NodeJS.Timeout | null = null;
    const pingTimer = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN || pongWait) return;
      pongWait = setTimeout(() => socket.terminate(), KEEP_ALIVE_MS);
      socket.ping();
    }, KEEP_ALIVE_MS);
    socket.on('pong', () => {
      if (pongWait) clearTimeout(pongWait);
      pongWait = null;
    });
    const payloads = new Map<string, SubscribePayload>();
    const ends = new Map<string, OperationEnd>();
    const refuseServerMessage = () => {
      logger.debug('a graphql-ws client sent a message only a server sends; closed with 4400');
      outbox.flush();
      socket.close(CloseCode.BadRequest, 'Invalid message received: next, error and connection_ack are sent by the server');
    };
    const closed = protocol.opened(
      {
        protocol: socket.protocol,
        send: (data) => outbox.send(data),
        close: (code, reason) => {
          outbox.flush();
          socket.close(code, reason);
        },
        onMessage: (handle) =>
          socket.on('message', (data) => {
            const text = screen(String(data), payloads, ends);
            if (text === null) return refuseServerMessage();
            handle(text).catch((error: unknown) => fail(error, 'graphql-ws message failed'));
          }),
      },
      { socket, request, outbox, operations: new Set(), payloads, ends },
    );
    socket.once('close', (code, reason) => {
      metrics.sockets.dec();
      metrics.peakBufferedBytes.observe(outbox.peakBytes);
      if (pongWait) clearTimeout(pongWait);
      clearInterval(pingTimer);
      placeOf.get(socket)?.();
      // Nobody is left to answer: every operation stops, those still subscribing too.
      for (const end of ends.values()) end.end();
      ends.clear();
      void closed(code, String(reason));
    });
  };
}

/** Lets graphql-ws pick the subprotocol: graphql-transport-ws, the only one a handshake offering it gets. */
export { handleProtocols } from 'graphql-ws';

const UNSERVED_SUBPROTOCOL = JSON.stringify({
  errors: [
    {
      message: `WebSocket clients must offer the ${GRAPHQL_TRANSPORT_WS_PROTOCOL} subprotocol (graphql-ws's client does); the legacy graphql-ws subprotocol of subscriptions-transport-ws is not served.`,
      extensions: { code: 'BAD_REQUEST' },
    },
  ],
});

/**
 * ws's verifyClient: a handshake that does not offer graphql-transport-ws (another subprotocol, or none) is refused
 * with 400 before any socket exists, rather than opened only to be closed with 4406.
 */
export function verifySubprotocol(
  info: { req: IncomingMessage },
  callback: (verified: boolean, code?: number, message?: string, headers?: OutgoingHttpHeaders) => void,
): void {
  if (handleProtocols(info.req.headers['sec-websocket-protocol'] ?? '') !== false) return callback(true);
  callback(false, 400, UNSERVED_SUBPROTOCOL, { 'Content-Type': 'application/json' });
}
