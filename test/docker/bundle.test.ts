// The production bundle (scripts/build.ts, what the image's runtime stage runs) on its own: built into a temporary
// directory with no node_modules on its path, started as the image starts it (`node <flags> dist/main.js`, beside
// package.json only), in front of a stand-in, with Redis, tracing and compiled queries on. So every dependency loaded
// only for a setting (ioredis, OpenTelemetry's exporter, graphql-jit, ws, undici) is shown to be inside dist/main.js.
import { existsSync, readFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, LICENSES_FILE, type GatewayBuild } from '../../scripts/build.js';
import { startStandIn, type StandIn } from '../../src/stand-in/index.js';
import { redisAvailable, RedisServer } from '../cluster/helpers.js';
import { WATCH, wsConnection, type WsConnection } from '../live/helpers.js';
import { postGraphQL, spawnGateway, until, type GatewayProcess } from '../operability/helpers.js';
import { standInControl } from '../support/gateway.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { imageNodeFlags, REPO_ROOT } from '../support/processes.js';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
const QUERY = '{ modelRecords(model: PROJECT, first: 3) { totalCount nodes { recordIdentifier checksumInformation { checksumState } } } }';

/** Directories from `dir` up to the root that hold a node_modules, where Node would look for a package. */
function nodeModulesAbove(dir: string): string[] {
  const found: string[] = [];
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, 'node_modules'))) found.push(at);
    if (dirname(at) === at) return found;
  }
}

/** A TCP relay to Redis that keeps what its clients send: the commands ioredis sends as it connects. */
async function recordingRelay(to: number): Promise<{ port: number; sent(): string; close(): Promise<void> }> {
  let sent = '';
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: to });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {}).once('close', () => (sockets.delete(socket), client.destroy(), upstream.destroy()));
    }
    client.on('data', (chunk: Buffer) => (sent += chunk.toString('latin1')));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    sent: () => sent,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe.runIf(redisAvailable('the production bundle test'))('the production bundle, run from dist/ alone', () => {
  let app: string;
  let built: GatewayBuild;
  let standIn: StandIn;
  let redis: RedisServer;
  let relay: Awaited<ReturnType<typeof recordingRelay>>;
  let receiver: OtlpReceiver;
  let gateway: GatewayProcess;
  let conn: WsConnection | undefined;

  beforeAll(async () => {
    app = await mkdtemp(join(tmpdir(), 'gateway-bundle-'));
    built = await buildGateway(join(app, 'dist'));
    await copyFile(join(REPO_ROOT, 'package.json'), join(app, 'package.json'));
    standIn = await startStandIn({ records: 40, verifyIntervalMs: 40, failRate: 0 });
    redis = await RedisServer.start();
    relay = await recordingRelay(redis.port);
    const redisUrl = new URL(redis.url);
    redisUrl.port = String(relay.port);
    receiver = await startOtlpReceiver();
    gateway = await spawnGateway(
      {
        NODE_ENV: 'production',
        GITLAB_URL: standIn.url,
        REDIS_URL: redisUrl.href,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_BSP_SCHEDULE_DELAY: '20',
        QUERY_COMPILE_AFTER: '1',
        GRAPHIQL: 'true',
        LIVE_FAST_POLL_MS: '50',
      },
      60_000,
      { cwd: app, args: [...(await imageNodeFlags()), 'dist/main.js'] },
    );
  }, 180_000);

  afterAll(async () => {
    await conn?.dispose();
    gateway?.child.kill('SIGTERM');
    await gateway?.exited;
    await receiver?.close();
    await relay?.close();
    await redis?.stop();
    await standIn?.stop();
    if (app) await rm(app, { recursive: true, force: true });
  }, 60_000);

  it('is built where no node_modules can be found, and holds the licenses of what it bundles', async () => {
    expect(nodeModulesAbove(app)).toEqual([]);
    expect((await readdir(join(app, 'dist'))).sort()).toEqual(['graphiql-assets', LICENSES_FILE, 'main.js', 'monitor-page'].sort());
    // Only Node's modules, and ws's optional native helpers it does without, are left to find at run time.
    expect(built.runtimeImports.filter((path) => !path.startsWith('node:'))).toEqual(expect.arrayContaining(['bufferutil', 'utf-8-validate']));
    const licenses = await readFile(join(app, 'dist', LICENSES_FILE), 'utf8');
    for (const name of ['graphql', 'graphql-yoga', 'undici', 'ioredis', 'graphql-jit', 'ws', '@opentelemetry/exporter-trace-otlp-proto']) {
      expect(built.packages.map((p) => p.name)).toContain(name);
      expect(licenses).toContain(`\n${name}@`);
    }
    expect(licenses).toContain('Permission is hereby granted');
  });

  it('answers a query, the second time compiled, with the same upstream calls', async () => {
    const { lastSeq } = (await standInControl(standIn, 'GET', `requests?after=${Number.MAX_SAFE_INTEGER}`)) as { lastSeq: number };
    const first = await postGraphQL(gateway.url, QUERY);
    const second = await postGraphQL(gateway.url, QUERY);
    expect(first.status).toBe(200);
    expect(first.body.errors).toBeUndefined();
    expect((first.body.data as { modelRecords: { totalCount: number } }).modelRecords.totalCount).toBe(40);
    expect(second.body).toEqual(first.body);
    const metrics = await (await fetch(`${gateway.base}/metrics`)).text();
    expect(metrics).toMatch(/^gateway_graphql_compiled_queries_total 1$/m);
    // Each run makes the same calls (the page, and totalCount's), under its own request id.
    const { requests } = (await standInControl(standIn, 'GET', `requests?after=${lastSeq}`)) as { requests: RequestLogEntry[] };
    const byRequest = new Map<string | null, string[]>();
    for (const r of requests) byRequest.set(r.requestId, [...(byRequest.get(r.requestId) ?? []), `${r.method} ${r.path}?${r.query}`]);
    const runs = [...byRequest.values()];
    expect(runs).toHaveLength(2);
    expect(runs[0]).toContain('GET /api/v4/admin/data_management/projects?pagination=keyset&per_page=3');
    expect(runs[1]).toEqual(runs[0]);
  });

  it('exports the query\'s spans over OTLP/protobuf', async () => {
    await postGraphQL(gateway.url, 'query Traced { modelRecord(model: PROJECT, recordIdentifier: "1") { recordIdentifier } }');
    const spans = await until(() => {
      const names = receiver.spans().map((s) => s.name);
      return names.includes('query Traced') ? names : undefined;
    }, 'the spans of query Traced');
    expect(spans).toContain('GET /api/v4/admin/data_management/:model_name');
  });

  it('pushes checksum changes over graphql-ws after a recalculation, coordinated through Redis', async () => {
    conn = wsConnection({ gateway });
    const watcher = conn.subscribe({ model: 'PROJECT', identifiers: ['1', '2'] }, WATCH);
    await watcher.initial(['1', '2'], 15_000);
    const queued = await postGraphQL(gateway.url, 'mutation { recalculateAllChecksums(model: PROJECT, identifiers: ["1", "2"]) { errors } }');
    expect(queued.body.errors).toBeUndefined();
    await watcher.until('1', (c) => c.previousState !== null && c.state === 'SUCCEEDED', 'verified again', 15_000);
    expect(watcher.errors).toEqual([]);
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      expect((await client.keys('dmg:*')).length).toBeGreaterThan(0);
    } finally {
      client.disconnect();
    }
    // The client library names its own version to Redis (CLIENT SETINFO), read into the bundle when it was built.
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/ioredis/package.json'), 'utf8')) as { version: string };
    expect(relay.sent()).toContain(`$7\r\nLIB-VER\r\n$${version.length}\r\n${version}\r\n`);
    expect(relay.sent()).not.toContain('error-fetching-version');
  });

  it('serves GraphiQL and the monitor page from dist/', async () => {
    const page = await fetch(gateway.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/graphiql-assets/');
    const css = await fetch(`${gateway.base}/graphiql-assets/graphiql.css`);
    expect(css.status).toBe(200);
    expect((await css.text()).length).toBeGreaterThan(10_000);
    const monitor = await fetch(`${gateway.base}/`, { headers: { accept: 'text/html' } });
    expect(monitor.status).toBe(200);
    expect(monitor.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('stops cleanly on SIGTERM, having logged no error', async () => {
    await conn?.dispose();
    conn = undefined;
    gateway.child.kill('SIGTERM');
    const exit = await gateway.exited;
    expect(exit.code).toBe(0);
    expect(exit.stderr).toBe('');
    const levels = exit.stdout.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { level: number }).level);
    expect(levels.filter((level) => level >= 50)).toEqual([]);
  });
});
