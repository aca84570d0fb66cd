// The HTTP server: /graphql (HTTP, SSE, WebSocket), /healthz, /readyz, /metrics, GraphiQL's assets, and at / the
// monitor page (MONITOR) or an index, on one port.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Config } from './config.js';
import { ORIGIN_REFUSED, refusedOrigin } from './cors.js';
import { GitLabClient } from './gitlab/client.js';
import { GRAPHIQL_ASSETS_PATH, serveGraphiQLAsset } from './graphiql.js';
import { LocalCluster, RedisCluster } from './live/cluster.js';
import { InMemoryChangeBus } from './live/pubsub.js';
import { TokenChecker } from './live/token-checker.js';
import { Watcher } from './live/watcher.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { isMonitorPath, monitorDocumentsFile, serveMonitor } from './monitor.js';
import { logUpstreamAttempt } from './upstream-log.js';
import { PersistedQueryStore } from './persisted-queries.js';
import { ClientLimits } from './rate-limits.js';
import { schema } from './schema/index.js';
import { loadTrustedDocuments } from './trusted-documents.js';
import { attachGraphqlWs, handleProtocols, verifySubprotocol } from './websocket.js';
import { createFastPath } from './fast-path.js';
import { createGatewayYoga } from './yoga.js';
import { startTracing } from './trace-context.js';

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

/** `GET /` without GraphiQL: where things are. */
const INDEX = {
  service: 'data-management-gateway',
  graphql: '/graphql',
  usage: 'POST GraphQL as application/json to /graphql with your GitLab token (Authorization: Bearer <token>); subscriptions over WebSocket (graphql-transport-ws) or SSE on the same URL.',
  graphiql: 'off: start the gateway with GRAPHIQL=true and GRAPHQL_INTROSPECTION=true to serve it at /graphql',
  healthz: '/healthz',
  readyz: '/readyz',
  metrics: '/metrics',
};

const MONITOR_OFF = 'The monitor page is off: start the gateway with MONITOR=true to serve it at / and /monitor.';

/** What a browser opening /graphql gets when GraphiQL is off, rather than a refusal about a CSRF header. */
const GRAPHIQL_OFF = `<!doctype html>
<html><head><meta charset="utf-8"><title>GraphiQL is off</title></head><body>
<h1>GraphiQL is off</h1>
<p>This gateway answers GraphQL at <code>/graphql</code> to API clients (POST, <code>application/json</code>, with a GitLab
token in <code>Authorization: Bearer &lt;token&gt;</code>). GraphiQL is off, as it is by default when <code>GITLAB_URL</code> is set.</p>
<p>To serve GraphiQL here, start the gateway with <code>GRAPHIQL=true</code> and <code>GRAPHQL_INTROSPECTION=true</code>
(GraphiQL reads the schema by introspection).</p>
<p>Health: <a href="/healthz">/healthz</a>, readiness: <a href="/readyz">/readyz</a>, metrics: <a href="/metrics">/metrics</a>.</p>
</body></html>
`;

/** Whether Yoga would render GraphiQL for this request, were it on: a GET of the endpoint accepting HTML. */
function wantsGraphiQL(req: IncomingMessage, path: string, endpoint: string): boolean {
  return req.method === 'GET' && (path === endpoint || path === `${endpoint}/`) && String(req.headers.accept ?? '').includes('text/html');
}

/** /readyz's body beyond its status: why it is not ready, or why the dialect is not known yet. */
function readinessDetail(reachable: boolean, dialectKnown: boolean, withToken: boolean): string | undefined {
  if (!reachable) return 'GitLab does not answer.';
  if (dialectKnown) return undefined;
  if (withToken) return 'GitLab answers, but the probe with GITLAB_READINESS_TOKEN failed (a refused token, or the Data management API is off), so the dialect is not known.';
  return 'The API dialect is learnt from the first client request; set GITLAB_READINESS_TOKEN for /readyz to learn it before.';
}

/**
 * A client has REQUEST_TIMEOUT_MS to send its whole request, headers included (Node then answers 408 and closes the
 * connection); the time its answer takes (a slow GitLab, an SSE stream) is not counted. Node checks every 30 s by
 * default, which would let a request run up to twice as long: here, every second at most.
 */
function requestBounds(config: Config) {
  return { requestTimeout: config.requestTimeoutMs, connectionsCheckingInterval: Math.min(1_000, config.requestTimeoutMs) };
}

export async function startGateway(config: Config, options: GatewayOptions): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logLevel);
  // First: a bad file is a bad setting (a ConfigError), found before anything is opened.
  const trustedDocuments = loadTrustedDocuments(config, { schema, monitorDocuments: monitorDocumentsFile(), warn: (message) => logger.warn(message) });
  const metrics = new Metrics();
  // OTEL_*: the OpenTelemetry SDK is loaded only when tracing is configured; off, this is null.
  const tracing = await startTracing(config.tracing, logger);
  /** Set when the shutdown drops the connections to GitLab: calls that fail then are no failure of GitLab's. */
  let droppingUpstream = false;
  const client = new GitLabClient(options.gitlabUrl, config.dialect, config.upstream, (e) => {
    metrics.upstreamRequests.inc(e.route, e.method, e.abandoned ? 'abandoned' : String(e.status));
    metrics.upstreamDuration.observe(e.durationMs / 1000, e.route, e.method);
    if (!droppingUpstream) logUpstreamAttempt(logger, e);
  });
  if (config.graphiql && !config.introspection) {
    logger.warn('GRAPHIQL is on but GRAPHQL_INTROSPECTION is off: GraphiQL cannot load the schema ("Error fetching schema"), so it offers no completion, checks or docs; set GRAPHQL_INTROSPECTION=true as well');
  }
  // One cache of GitLab's verdicts on tokens: the WebSocket connection check and the live layer's checks share it.
  const tokens = new TokenChecker(client, { ...config.tokenCache, freshMs: config.live.authRecheckMs });
  // With REDIS_URL the replicas share their polls and changes; alone, the process is its own cluster.
  const cluster = config.redis ? new RedisCluster(config.redis.url, config.redis.keyPrefix, config.live.leaseMs, logger, metrics) : new LocalCluster();
  const live = new Watcher(client, new InMemoryChangeBus(), config.live, metrics, tokens, cluster, tracing);
  // Per-client limits, counted in Redis for all replicas together with REDIS_URL, else in this process.
  const limits = new ClientLimits(config, metrics, logger);
  // One store of persisted queries for HTTP and graphql-ws: a hash registered over one works over the other.
  if (trustedDocuments?.only && config.gitlabUrl === null) {
    logger.warn("TRUSTED_DOCUMENTS_ONLY in demo mode: GraphiQL's requests run any document; every other client runs trusted documents only, as in production");
  } else if (trustedDocuments?.only && config.graphiql) {
    logger.warn('GRAPHIQL is on with TRUSTED_DOCUMENTS_ONLY: GraphiQL runs trusted documents only (its schema query is not one of them)');
  }
  // Trusted documents are served from the same store as persisted queries, by either kind of hash, over every transport.
  const persistedQueries = new PersistedQueryStore(config.persistedQueries, trustedDocuments);
  const { yoga, validDocuments } = createGatewayYoga(config, { client, live, logger, metrics, demoToken: options.demoToken, persistedQueries, trustedDocuments, limits, tracing });
  const fastPath = createFastPath(yoga, yoga.graphqlEndpoint, validDocuments);
  const corsOn = config.corsOrigins.length > 0;
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
      // Ready means GitLab answers. Without a token to ask with, an auto dialect is learnt on the first client request,
      // which a replica that waits to be ready would never get; with one, not learning it is a misconfiguration.
      const ready = probe.reachable && (probe.dialectKnown || !readinessToken);
      const detail = readinessDetail(probe.reachable, probe.dialectKnown, readinessToken !== null);
      return json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', upstreamReachable: probe.reachable, dialect: probe.dialectKnown ? probe.dialect : 'unknown', ...(detail && { detail }) });
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(await metrics.registry.metrics());
      return;
    }
    if ((path === '/' || isMonitorPath(path)) && (req.method === 'GET' || req.method === 'HEAD')) {
      if (config.monitor) return serveMonitor(req, res, path, options.demoToken);
      if (path !== '/') return json(res, 404, { error: MONITOR_OFF });
      if (config.graphiql) return void res.writeHead(302, { location: yoga.graphqlEndpoint, 'content-length': 0 }).end();
      return json(res, 200, INDEX);
    }
    if (config.graphiql && path.startsWith(GRAPHIQL_ASSETS_PATH) && (await serveGraphiQLAsset(path, res))) return;
    const requestId = (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].slice(0, 128)) || randomUUID();
    req.headers['x-request-id'] = requestId;
    res.setHeader('x-request-id', requestId);
    // Whether a request is refused, and which CORS headers it gets, depends on its Origin.
    res.setHeader('vary', 'Origin');
    // A preflight or request from a page at another origin: refused here, saying why (Yoga would only leave out the
    // CORS headers, or refuse a preflight for the CSRF header).
    if (refusedOrigin(req, config.corsOrigins)) return json(res, 403, { errors: [{ message: ORIGIN_REFUSED, extensions: { code: 'BAD_REQUEST' } }] });
    if (!config.graphiql && wantsGraphiQL(req, path, yoga.graphqlEndpoint)) {
      res.writeHead(406, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(GRAPHIQL_OFF) }).end(GRAPHIQL_OFF);
      return;
    }
    // Bound the body here (Yoga's own limit is off for throughput): a declared length over the limit, or no length at all.
    const length = req.headers['content-length'];
    if (req.method === 'POST' && length === undefined && req.headers['transfer-encoding']) return json(res, 411, { errors: [{ message: 'A Content-Length is required.', extensions: { code: 'BAD_REQUEST' } }] });
    if (length !== undefined && Number(length) > config.limits.requestBodyBytes) {
      return json(res, 413, { errors: [{ message: `The request body exceeds ${config.limits.requestBodyBytes} bytes.`, extensions: { code: 'BAD_REQUEST' } }] });
    }
    // Every GraphQL operation over HTTP (SSE too) counts against its token's and address's rates; past one: 429.
    if ((path === yoga.graphqlEndpoint || path === `${yoga.graphqlEndpoint}/`) && !wantsGraphiQL(req, path, yoga.graphqlEndpoint)) {
      const limited = limits.answeredHttp(req, res);
      if (limited === true || (limited !== false && (await limited))) return;
    }
    if (fastPath.takes(req, corsOn)) return fastPath.handle(req, res);
    await yoga(req, res);
  };
  const server = createServer(requestBounds(config), (req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent) json(res, 500, { errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else res.destroy();
    });
  });
  // Longer than the idle timeout of load balancers (60 s) and of HTTP clients, so the gateway is never the side that
  // closes a kept-alive connection just as a client sends on it (the client would see a reset).
  server.keepAliveTimeout = 65_000;
  // Past it, a new connection is closed at once (WebSockets count, for as long as they are open).
  server.maxConnections = config.maxConnections;
  server.on('drop', () => metrics.droppedConnections.inc());
  const sockets = new WebSocketServer({ noServer: true, path: yoga.graphqlEndpoint, maxPayload: config.limits.requestBodyBytes, handleProtocols, verifyClient: verifySubprotocol });
  const acceptGraphqlWs = attachGraphqlWs(yoga, config, metrics, logger, tokens, persistedQueries, limits);
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
      // Its leases go now: another replica takes the polls at once, not a lease period later.
      const leftCluster = cluster.close();
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
      droppingUpstream = true;
      await Promise.all([client.destroy(), leftCluster, limits.close()]);
      // Last: the spans of everything above (the operations drained, the polls stopped) are exported before exit.
      await tracing?.shutdown();
    },
  };
}
