// graphql-ws on the same port and path as HTTP; every operation goes through Yoga's envelope, so its plugins apply.
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Config } from './config.js';
import { callerFrom, connectionParamsHeaders } from './context.js';
import type { Metrics } from './metrics.js';
import type { GatewayYoga } from './yoga.js';

/** Yoga marks validation errors with an HTTP status for its own responses; it means nothing on a WebSocket. */
function withoutHttpExtension(error: GraphQLError): GraphQLError {
  if (!error.extensions?.http) return error;
  const { http: _http, ...extensions } = error.extensions;
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: error.originalError, extensions });
}

type Executor = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };

export function attachGraphqlWs(sockets: WebSocketServer, yoga: GatewayYoga, config: Config, metrics: Metrics): void {
  const subscriptionsOf = new WeakMap<WebSocket, Set<string>>();
  sockets.on('connection', (socket) => {
    metrics.sockets.inc();
    socket.once('close', () => metrics.sockets.dec());
  });
  useServer<Record<string, unknown>, { request: IncomingMessage; socket: WebSocket }>(
    {
      execute: (args) => (args.rootValue as Executor).execute(args) as never,
      subscribe: (args) => (args.rootValue as Executor).subscribe(args) as never,
      // No token, no connection: closed with 4403 before anything reaches GitLab.
      onConnect: (ctx) => callerFrom(connectionParamsHeaders(ctx.connectionParams)).token !== null,
      onSubscribe: async (ctx, id, payload) => {
        const active = subscriptionsOf.get(ctx.extra.socket) ?? new Set<string>();
        subscriptionsOf.set(ctx.extra.socket, active);
        if (active.size >= config.live.maxSubscriptionsPerConnection) {
          return [new GraphQLError(`At most ${config.live.maxSubscriptionsPerConnection} subscriptions per connection.`, { extensions: { code: 'BAD_USER_INPUT' } })];
        }
        const connectionParams = { ...ctx.connectionParams, 'x-request-id': randomUUID() };
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          req: ctx.extra.request,
          connectionParams,
          request: { headers: new Headers() } as Request,
          params: payload,
        });
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error as GraphQLError];
        }
        let errors;
        try {
          errors = validate(schema, document);
        } catch (error) {
          // A rule that throws rather than reports answers this operation, instead of graphql-ws closing the socket with 4500.
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        if (errors.length > 0) return errors.map(withoutHttpExtension);
        active.add(id);
        return {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
      onComplete: (ctx, id) => {
        subscriptionsOf.get(ctx.extra.socket)?.delete(id);
      },
    },
    sockets,
  );
}
