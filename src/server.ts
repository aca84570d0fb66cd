// The HTTP server: /graphql (HTTP, SSE, WebSocket), /healthz, /readyz, /metrics and GraphiQL's assets on one port.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Config } from './config.js';
import { GitLabClient } from './gitlab/client.js';
import { GRAPHIQL_ASSETS_PATH, serveGraphiQLAsset } from './graphiql.js';
import { InMemoryChangeBus } from './live/pubsub.js';
import { TokenChecker } from './live/token-checker.js';
import { Watcher } from './live/watcher.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { attachGraphqlWs, handleProtocols } from './websocket.js';
import { createGatewayYoga } from './yoga.js';

export interface GatewayOptions {
  gitlabUrl: string;
  /** Demo mode: GraphiQL opens with this token already in its headers, and /readyz uses it. */
  demoToken?: string;
  logger?: Logger;
}

export interface Gateway {
  url: string;
  server: Server;
  client: GitLabClient;
  live: Watcher;
  metrics: Metrics;
  /** Stops accepting, completes subscriptions, closes sockets with 1001, lets in-flight operations finish. */
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

export async function startGateway(config: Config, options: GatewayOptions): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = new Metrics();
  const client = new GitLabClient(options.gitlabUrl, config.dialect, config.upstream, (e) => {
    metrics.upstreamRequests.inc({ route: e.route, method: e.method, status: String(e.status) });
    metrics.upstreamDuration.observe({ route: e.route, method: e.method }, e.durationMs / 1000);
  });
  // One cache of GitLab's verdicts on tokens: the WebSocket connection check and the live layer's checks share it.
  const tokens = new TokenChecker(client, { ...config.tokenCache, freshMs: config.live.authRecheckMs });
  const live = new Watcher(client, new InMemoryChangeBus(), config.live, metrics, tokens);
  const yoga = createGatewayYoga(config, { client, live, logger, metrics, demoToken: options.demoToken });
  const readinessToken = config.readinessToken ?? options.demoToken ?? null;
  let probing: ReturnType<GitLabClient['probe']> | null = null;
  let closing = false;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      if (closing) return json(res, 503, { status: 'shutting down' });
      // Probes that arrive while one is out share its answer: a burst of them is one call to GitLab.
      probing ??= client.probe(readinessToken).finally(() => (probing = null));
      const probe = await probing;
      // Without a token to ask with, an auto dialect is learnt on the first client request.
      const ready = probe.reachable && (probe.dialectKnown || !readinessToken);
      return json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', upstreamReachable: probe.reachable, dialect: probe.dialectKnown ? probe.dialect : 'unknown' });
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(await metrics.registry.metrics());
      return;
    }
    if (config.graphiql && path.startsWith(GRAPHIQL_ASSETS_PATH) && (await serveGraphiQLAsset(path, res))) return;
    const requestId = (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].slice(0, 128)) || randomUUID();
    req.headers['x-request-id'] = requestId;
    res.setHeader('x-request-id', requestId);
    // Bound the body here (Yoga's own limit is off for throughput): a declared length over the limit, or no length at all.
    const length = req.headers['content-length'];
    if (req.method === 'POST' && length === undefined && req.headers['transfer-encoding']) return json(res, 411, { errors: [{ message: 'A Content-Length is required.', extensions: { code: 'BAD_REQUEST' } }] });
    if (length !== undefined && Number(length) > config.limits.requestBodyBytes) {
      return json(res, 413, { errors: [{ message: `The request body exceeds ${config.limits.requestBodyBytes} bytes.`, extensions: { code: 'BAD_REQUEST' } }] });
    }
    await yoga(req, res);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent) json(res, 500, { errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else res.destroy();
    });
  });
  // Longer than the idle timeout of load balancers (60 s) and of HTTP clients, so the gateway is never the side that
  // closes a kept-alive connection just as a client sends on it (the client would see a reset).
  server.keepAliveTimeout = 65_000;
  const sockets = new WebSocketServer({ noServer: true, path: yoga.graphqlEndpoint, maxPayload: config.limits.requestBodyBytes, handleProtocols });
  const acceptGraphqlWs = attachGraphqlWs(yoga, config, metrics, logger, tokens);
  // The upgrade is handled here rather than by ws so the raw socket is at hand (see Outbox); a wrong path still gets 400.
  server.on('upgrade', (request: IncomingMessage, raw: Duplex, head: Buffer) => {
    sockets.handleUpgrade(request, raw, head, (socket) => acceptGraphqlWs(socket, request, raw));
  });

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
    metrics,
    async close() {
      closing = true;
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      live.close();
      for (const socket of sockets.clients) socket.close(1001, 'Going away');
      sockets.close();
      // Keep-alive connections go as soon as their in-flight request is answered.
      server.closeIdleConnections();
      const idleSweep = setInterval(() => server.closeIdleConnections(), 50);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), config.shutdownTimeoutMs)));
      if (await Promise.race([drained.then(() => false), timedOut])) {
        logger.warn({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; closing remaining connections');
        server.closeAllConnections();
        for (const socket of sockets.clients) socket.terminate();
      }
      clearInterval(idleSweep);
      clearTimeout(timer);
      // No client waits for GitLab any more; a shared poll or a cut-off request may: do not wait for those answers
      // (close() would, up to the upstream timeouts, past SHUTDOWN_TIMEOUT_MS).
      await client.destroy();
    },
  };
}
