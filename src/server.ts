// The HTTP server: Yoga on /graphql and a liveness route, on one port, closed gracefully.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createYoga } from 'graphql-yoga';
import type { Config } from './config.js';
import { callerFrom, createContext } from './context.js';
import { GitLabClient } from './gitlab/client.js';
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
  close(): Promise<void>;
}

export function createGateway(config: Config, options: GatewayOptions) {
  const client = new GitLabClient(options.gitlabUrl, config.dialect, config.upstream);
  const yoga = createYoga<{ req: IncomingMessage; res: ServerResponse }>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: {
      title: 'Data management gateway',
      headers: options.demoToken ? JSON.stringify({ Authorization: `Bearer ${options.demoToken}` }, null, 2) : undefined,
    },
    context: ({ request }) => createContext(client, config, callerFrom(request.headers)),
  });
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    void yoga(req, res);
  });
  return { yoga, server, client };
}

export async function startGateway(config: Config, options: GatewayOptions): Promise<Gateway> {
  const { server, client } = createGateway(config, options);
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
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await client.close();
    },
  };
}
