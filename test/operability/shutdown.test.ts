// Graceful shutdown of the gateway as a process: SIGTERM while queries are in flight lets every one of them finish,
// closes graphql-ws sockets with 1001, refuses new connections and exits 0 within SHUTDOWN_TIMEOUT_MS; past that
// timeout the remaining connections are cut and the process exits anyway, without waiting for GitLab.
//
// A small proxy between the gateway and the stand-in holds chosen requests until the test releases them, so "in
// flight" does not depend on how fast a busy machine is.
import { connect } from 'node:net';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startStandIn, type StandIn } from '../../src/stand-in/index.js';
import { ADMIN, postGraphQL, projectIds, spawnGateway, until, type GatewayProcess, type LogLine, type Posted } from './helpers.js';

const QUERIES = 20;
const SHUTDOWN_TIMEOUT_MS = 20_000;
const SHORT_TIMEOUT_MS = 300;

interface HoldingProxy {
  url: string;
  /** Request ids of the requests held now. */
  held(): string[];
  release(prefix: string): void;
  close(): Promise<void>;
}

/** Forwards everything to `target`, except requests whose x-request-id starts with `holdPrefix`: those wait for release(). */
async function startHoldingProxy(target: string, holdPrefix: string): Promise<HoldingProxy> {
  const waiting: { id: string; go: () => void }[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const forward = () => {
      const upstream = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    };
    const id = String(req.headers['x-request-id'] ?? '');
    if (id.startsWith(holdPrefix)) waiting.push({ id, go: forward });
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => waiting.map((w) => w.id),
    release(prefix) {
      for (const w of waiting.filter((x) => x.id.startsWith(prefix))) {
        waiting.splice(waiting.indexOf(w), 1);
        w.go();
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let standIn: StandIn;
let proxy: HoldingProxy;
let graceful: GatewayProcess;
let cut: GatewayProcess;
let ids: string[];

beforeAll(async () => {
  standIn = await startStandIn({ records: 30, failRate: 0 });
  proxy = await startHoldingProxy(standIn.url, 'shutdown-');
  ids = await projectIds(standIn.url, QUERIES);
  const common = { GITLAB_URL: proxy.url, GITLAB_API_DIALECT: 'plural' };
  // Both processes start at once: start-up is most of this file's time.
  [graceful, cut] = await Promise.all([
    // Silent: so this also shows that LOG_LEVEL=silent prints no log line, from start to exit.
    spawnGateway({ ...common, LOG_LEVEL: 'silent', SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS), LIVE_FAST_POLL_MS: '200', LIVE_SLOW_POLL_MS: '200' }),
    spawnGateway({ ...common, SHUTDOWN_TIMEOUT_MS: String(SHORT_TIMEOUT_MS) }),
  ]);
}, 150_000);

afterAll(async () => {
  graceful?.kill();
  cut?.kill();
  await proxy?.close();
  await standIn?.stop();
});

/** Whether a TCP connection to the port is refused (true) or accepted (false, closed again at once). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

const logLines = (stdout: string): LogLine[] =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

/** A graphql-ws connection with one live subscription, recording its messages and how it was closed. */
async function liveSocket(url: string, identifier: string) {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const messages: { type: string; id?: string; payload?: unknown }[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${ADMIN}` } }));
  await until(() => (messages.some((m) => m.type === 'connection_ack') ? true : undefined), 'connection_ack');
  socket.send(
    JSON.stringify({
      id: 'live',
      type: 'subscribe',
      payload: { query: `subscription { checksumStateChanged(model: PROJECT, identifiers: ["${identifier}"]) { record { recordIdentifier } } }` },
    }),
  );
  await until(() => (messages.some((m) => m.id === 'live' && m.type === 'next') ? true : undefined), 'the first event', 60_000);
  return { messages, closed };
}

describe('SIGTERM', () => {
  it('in-flight queries all succeed, the socket closes with 1001, new connections are refused, exit 0 in time', async () => {
    const { messages, closed } = await liveSocket(graceful.url, ids[0]);
    expect(messages.find((m) => m.type === 'next')).toEqual({ id: 'live', type: 'next', payload: { data: { checksumStateChanged: { record: { recordIdentifier: ids[0] } } } } });

    const done: boolean[] = new Array(QUERIES).fill(false);
    const responses = Promise.all(
      ids.map(async (id, i) => {
        const res = await postGraphQL(graceful.url, `query InFlight { modelRecord(model: PROJECT, recordIdentifier: "${id}") { recordIdentifier } }`, { requestId: `shutdown-${i}` });
        done[i] = true;
        return res;
      }),
    );
    // Every query has reached the proxy, which holds it: all twenty are in flight.
    await until(() => (proxy.held().length === QUERIES ? true : undefined), 'all queries upstream', 60_000);
    expect(proxy.held().sort()).toEqual(ids.map((_, i) => `shutdown-${i}`).sort());

    const signalledAt = performance.now();
    graceful.child.kill('SIGTERM');
    const exit = graceful.exited.then((e) => ({ ...e, afterMs: performance.now() - signalledAt }));

    // The listener goes at once, while every query is still held upstream.
    await until(async () => ((await refused(graceful.port)) ? true : undefined), 'new connections to be refused', 30_000, 10);
    expect({ done: done.filter(Boolean).length, held: proxy.held().length }).toEqual({ done: 0, held: QUERIES });
    // Live sockets go at once too, with 1001.
    expect(await closed).toEqual({ code: 1001, reason: 'Going away' });
    expect(messages.filter((m) => m.type === 'error')).toEqual([]);

    proxy.release('shutdown-');
    const results: Posted[] = await responses;
    for (const [i, res] of results.entries()) {
      expect({ i, status: res.status, body: res.body }).toEqual({ i, status: 200, body: { data: { modelRecord: { recordIdentifier: ids[i] } } } });
    }

    const { code, signal, stderr, stdout, afterMs } = await exit;
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(afterMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    // LOG_LEVEL=silent: the ready line (a start-up line, written whatever the level) and nothing else, not even on
    // shutdown. Every line is JSON.
    expect(stdout.split('\n')).toEqual([expect.stringMatching(/^\{.*\}$/), '']);
    expect(logLines(stdout)).toEqual([
      { level: 30, time: expect.any(Number), service: 'data-management-gateway', url: graceful.url, graphiql: false, msg: `Gateway ready: ${graceful.url}` },
    ]);
    expect(await refused(graceful.port)).toBe(true);
  }, 120_000);

  it('past SHUTDOWN_TIMEOUT_MS, remaining connections are cut and the process exits 0 without waiting for GitLab', async () => {
    const pending = postGraphQL(cut.url, `query Slow { modelRecords(model: PROJECT, first: 1) { nodes { model } } }`, { requestId: 'shutdown-slow' }).then(
      (res) => ({ answered: res }),
      (error: unknown) => ({ failed: String(error) }),
    );
    await until(() => (proxy.held().includes('shutdown-slow') ? true : undefined), 'the slow query upstream', 60_000);

    const signalledAt = performance.now();
    cut.child.kill('SIGTERM');
    const { code, signal, stdout, stderr } = await cut.exited;
    const afterMs = performance.now() - signalledAt;
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    // It exited while GitLab still had not answered: it did not wait for the upstream request.
    expect(proxy.held()).toEqual(['shutdown-slow']);
    expect(afterMs).toBeGreaterThanOrEqual(SHORT_TIMEOUT_MS - 50);

    expect(await pending).toEqual({ failed: 'TypeError: fetch failed' });
    const lines = logLines(stdout);
    expect(stdout.split('\n').filter((l) => l !== '' && !l.startsWith('{'))).toEqual([]);
    expect(lines.filter((l) => l.msg === 'shutting down')).toMatchObject([{ level: 30, signal: 'SIGTERM' }]);
    expect(lines.filter((l) => l.level >= 40)).toMatchObject([{ level: 40, timeoutMs: SHORT_TIMEOUT_MS, msg: 'shutdown timed out; closing remaining connections' }]);
    expect(lines.at(-1)).toMatchObject({ level: 30, msg: 'stopped' });
  }, 120_000);
});
