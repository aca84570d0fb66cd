// The HTTP server: Yoga (HTTP and SSE) and graphql-ws on /graphql, plus a liveness route, on one port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from './config.js';
import { callerFrom, connectionParamsHeaders, createContext } from './context.js';
import { GitLabClient } from './gitlab/client.js';
import { InMemoryChangeBus } from './live/pubsub.js';
import { Watcher } from './live/watcher.js';
import { schema } from './schema/index.js';

export interface GatewayOptions {
  gitlabUrl: string;
  /** Demo mode: GraphiQL opens with this token already in its headers. */
  demoToken?: string;
}

export interface Gateway {
  url: string;
  server: Server;
  client: GitLabClient;
  live: Watcher;
  close(): Promise<void>;
}

interface ServerContext {
  req: IncomingMessage;
  res?: ServerResponse;
  /** Set for graphql-ws operations: the payload of `connection_init`. */
  connectionParams?: Readonly<Record<string, unknown>>;
}

export function createGateway(config: Config, options: GatewayOptions) {
  const client = new GitLabClient(options.gitlabUrl, config.dialect, config.upstream);
  const live = new Watcher(client, new InMemoryChangeBus(), config.live);
  const yoga = createYoga<ServerContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: {
      title: 'Data management gateway',
      headers: options.demoToken ? JSON.stringify({ Authorization: `Bearer ${options.demoToken}` }, null, 2) : undefined,
    },
    context: ({ request, connectionParams }) =>
      createContext(client, config, live, callerFrom(connectionParams ? connectionParamsHeaders(connectionParams) : request.headers)),
  });
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    void yoga(req, res);
  });
  const sockets = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  attachGraphqlWs(sockets, yoga, config);
  return { yoga, server, client, live, sockets };
}

/** graphql-ws on the same port and path; every operation goes through Yoga's envelope, so its plugins apply. */
function attachGraphqlWs(sockets: WebSocketServer, yoga: ReturnType<typeof createYoga<ServerContext>>, config: Config): void {
  const subscriptionsOf = new WeakMap<WebSocket, Set<string>>();
  useServer<Record<string, unknown>, { request: IncomingMessage; socket: WebSocket }>(
    {
      execute: (args) => (args.rootValue as { execute: typeof import('graphql').execute }).execute(args),
      subscribe: (args) => (args.rootValue as { subscribe: typeof import('graphql').subscribe }).subscribe(args),
      onConnect: (ctx) => {
        // No token, no connection: closed with 4403 before anything reaches GitLab.
        const caller = callerFrom(connectionParamsHeaders(ctx.connectionParams));
        return caller.token !== null;
      },
      onSubscribe: async (ctx, id, payload) => {
        const active = subscriptionsOf.get(ctx.extra.socket) ?? new Set<string>();
        subscriptionsOf.set(ctx.extra.socket, active);
        if (active.size >= config.live.maxSubscriptionsPerConnection) {
          return [new GraphQLError(`At most ${config.live.maxSubscriptionsPerConnection} subscriptions per connection.`, { extensions: { code: 'BAD_USER_INPUT' } })];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          req: ctx.extra.request,
          connectionParams: ctx.connectionParams,
          request: { headers: new Headers() },
          params: payload,
        });
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error as GraphQLError];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
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

export async function startGateway(config: Config, options: GatewayOptions): Promise<Gateway> {
  const { server, client, live, sockets } = createGateway(config, options);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  return {
    url: `http://${host}:${port}/graphql`,
    server,
    client,
    live,
    async close() {
      live.close();
      for (const socket of sockets.clients) socket.close(1001, 'Going away');
      await new Promise<void>((resolve) => {
        sockets.close(() => resolve());
      });
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await client.close();
    },
  };
}
