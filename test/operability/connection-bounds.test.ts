// What a client can hold by sending slowly, or by opening connections: REQUEST_TIMEOUT_MS bounds the time to send a
// request (and only that: answers that take long, SSE streams, are not cut), MAX_CONNECTIONS the connections open.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startGateway, type Gateway } from '../../src/server.js';
import { startStandIn, type StandIn } from '../../src/stand-in/index.js';
import { ADMIN, parseMetrics, postGraphQL, projectIds, until, type LogLine } from './helpers.js';

const REQUEST_TIMEOUT_MS = 1_000;
/** A body the gateway accepts (MAX_REQUEST_BODY_BYTES' default), of which the slow client sends half. */
const DECLARED_BYTES = 1_000_000;

/** A GitLab in front of the stand-in whose list calls wait, while `hold` is set, until it is released. */
interface HoldingGitLab {
  url: string;
  held(): number;
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

async function holdingGitLab(standInUrl: string): Promise<HoldingGitLab> {
  let holding = false;
  let waiting: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    const forward = async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([name, value]) => typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name))) as Record<string, string>;
      const answer = await fetch(`${standInUrl}${req.url}`, { method: req.method, headers, body: chunks.length > 0 ? Buffer.concat(chunks) : undefined });
      const out: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (!['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding'].includes(name)) out[name] = value;
      });
      res.writeHead(answer.status, out).end(Buffer.from(await answer.arrayBuffer()));
    };
    const isList = req.method === 'GET' && /\/admin\/data_management\/[a-z_]+$/.test(new URL(req.url ?? '/', 'http://gitlab').pathname);
    if (holding && isList) waiting.push(() => void forward());
    else void forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => waiting.length,
    hold: () => void (holding = true),
    release() {
      holding = false;
      for (const go of waiting) go();
      waiting = [];
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface RawExchange {
  socket: Socket;
  /** Everything the gateway wrote back. */
  received(): string;
  /** Whether the gateway closed the connection (the client never ends it here). */
  closed(): boolean;
}

/** A client on a raw connection that sends `text` and then nothing: it neither ends its request nor closes. */
async function rawClient(port: number, text: string): Promise<RawExchange> {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  let closed = false;
  socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(text);
  return { socket, received: () => received, closed: () => closed };
}

/** Declares a 1 MB JSON body and sends half of it. */
function halfABody(port: number): Promise<RawExchange> {
  const head = `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${ADMIN}\r\nContent-Length: ${DECLARED_BYTES}\r\n\r\n`;
  return rawClient(port, `${head}{"query":"{ __typename }","variables":{"pad":"${'x'.repeat(DECLARED_BYTES / 2)}`);
}

/** Waits until the gateway has answered 408 and closed the connection. */
async function timedOut(exchange: RawExchange, what: string): Promise<void> {
  await until(() => (exchange.closed() ? true : undefined), `the gateway to close ${what}`, 20 * REQUEST_TIMEOUT_MS);
  expect(exchange.received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
}

/** An SSE subscription over a raw HTTP request: its `next` events as they come, and whether the stream has ended. */
function sseSubscription(url: string, query: string, variables: Record<string, unknown>) {
  const events: unknown[] = [];
  let ended = false;
  let status = 0;
  const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${ADMIN}` } }, (res: IncomingMessage) => {
    status = res.statusCode ?? 0;
    let buffer = '';
    res.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!/^event: next$/m.test(event)) continue;
        const data = event.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim()).join('\n');
        events.push(JSON.parse(data));
      }
    });
    res.on('close', () => (ended = true));
  });
  req.on('error', () => (ended = true));
  req.end(JSON.stringify({ query, variables }));
  return { events, ended: () => ended, status: () => status, close: () => req.destroy() };
}

const WATCH_BATCHES = 'subscription ($ids: [ID!]!) { checksumStateChangeBatches(model: PROJECT, identifiers: $ids) { changes { record { recordIdentifier } state previousState } } }';
const RECALCULATE = 'mutation ($id: ID!) { recalculateChecksum(model: PROJECT, recordIdentifier: $id) { errors } }';

describe('REQUEST_TIMEOUT_MS', () => {
  let standIn: StandIn;
  let gitlab: HoldingGitLab;
  let gateway: Gateway;
  let port: number;
  let log = '';
  const logLines = () => log.split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine);

  beforeAll(async () => {
    // No verification job: a change arrives only when the test recalculates a record.
    standIn = await startStandIn({ records: 10, verifyIntervalMs: 0 });
    gitlab = await holdingGitLab(standIn.url);
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', GITLAB_URL: gitlab.url, GITLAB_API_DIALECT: 'plural', REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), LIVE_FAST_POLL_MS: '60000', LIVE_SLOW_POLL_MS: '60000' });
    gateway = await startGateway(config, { gitlabUrl: gitlab.url, logger: createLogger('info', { write: (chunk: string) => void (log += chunk) }) });
    port = Number(new URL(gateway.url).port);
  });
  afterAll(async () => {
    gitlab?.release();
    await gateway?.close();
    await gitlab?.close();
    await standIn?.stop();
  });

  it('a client that declares 1 MB, sends half and stalls is answered 408 and disconnected, without an error logged', async () => {
    const from = logLines().length;
    const slow = await halfABody(port);
    await timedOut(slow, 'a connection whose body stalled');
    slow.socket.destroy();
    expect(logLines().slice(from).filter((l) => l.level >= 50)).toEqual([]);
  });

  it('so is one that stalls within its headers', async () => {
    const slow = await rawClient(port, `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n`);
    await timedOut(slow, 'a connection whose headers stalled');
    slow.socket.destroy();
  });

  it('an SSE subscription is not cut: it still delivers after a request started later has timed out', async () => {
    const [id] = await projectIds(standIn.url, 1);
    const sse = sseSubscription(gateway.url, WATCH_BATCHES, { ids: [id] });
    try {
      await until(() => (sse.events.length > 0 ? true : undefined), 'the first batch');
      expect(sse.status()).toBe(200);
      // Node checks every connection's request at once: by the time this later one is cut, the stream's request has
      // been older than REQUEST_TIMEOUT_MS at a check, and would have been cut with it.
      const slow = await halfABody(port);
      await timedOut(slow, 'a connection whose body stalled');
      slow.socket.destroy();
      expect(sse.ended()).toBe(false);
      const result = await postGraphQL(gateway.url, RECALCULATE, { variables: { id } });
      expect(result.body).toEqual({ data: { recalculateChecksum: { errors: [] } } });
      await until(() => (sse.events.length > 1 ? true : undefined), 'the batch of the recalculation');
      expect(sse.events[1]).toMatchObject({ data: { checksumStateChangeBatches: { changes: [{ record: { recordIdentifier: id }, state: 'SUCCEEDED' }] } } });
      expect(sse.ended()).toBe(false);
    } finally {
      sse.close();
    }
  }, 60_000);

  it('a query whose GitLab answer takes longer than REQUEST_TIMEOUT_MS is answered', async () => {
    gitlab.hold();
    const answer = postGraphQL(gateway.url, '{ modelRecords(model: PROJECT, first: 2) { nodes { recordIdentifier } } }');
    try {
      await until(() => (gitlab.held() > 0 ? true : undefined), 'the list call to reach GitLab');
      // Its request was complete before this one started: a check that cuts this one would have cut it.
      const slow = await halfABody(port);
      await timedOut(slow, 'a connection whose body stalled');
      slow.socket.destroy();
    } finally {
      gitlab.release();
    }
    const { status, body } = await answer;
    expect(status).toBe(200);
    expect((body.data?.modelRecords as { nodes: unknown[] }).nodes).toHaveLength(2);
  }, 60_000);
});

describe('MAX_CONNECTIONS', () => {
  const MAX = 3;
  let standIn: StandIn;
  let gateway: Gateway;
  let port: number;

  beforeAll(async () => {
    standIn = await startStandIn({ records: 5 });
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', GITLAB_URL: standIn.url, GITLAB_API_DIALECT: 'plural', MAX_CONNECTIONS: String(MAX), LOG_LEVEL: 'silent' });
    gateway = await startGateway(config, { gitlabUrl: standIn.url, logger: createLogger('silent') });
    port = Number(new URL(gateway.url).port);
  });
  afterAll(async () => {
    await gateway?.close();
    await standIn?.stop();
  });

  it('a connection past MAX_CONNECTIONS (WebSockets counted) is closed unanswered, and counted; one is served again once another closed', async () => {
    const websocket = new WebSocket(gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    await new Promise<void>((resolve, reject) => {
      websocket.once('error', reject);
      websocket.on('message', (raw) => String(raw).includes('connection_ack') && resolve());
      websocket.once('open', () => websocket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${ADMIN}` } })));
    });
    const held = [websocket, ...(await Promise.all(Array.from({ length: MAX - 1 }, () => rawClient(port, ''))))];
    const extra = await rawClient(port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await until(() => (extra.closed() ? true : undefined), 'the gateway to close the connection past MAX_CONNECTIONS');
    expect(extra.received()).toBe('');

    (held.pop() as RawExchange).socket.destroy();
    const text = await until(async () => {
      const res = await fetch(`${new URL(gateway.url).origin}/metrics`);
      return res.ok ? res.text() : undefined;
    }, '/metrics once a connection is free');
    const dropped = parseMetrics(text).find((s) => s.name === 'gateway_http_dropped_connections_total')?.value;
    expect(dropped).toBeGreaterThanOrEqual(1);
    for (const h of held) (h instanceof WebSocket ? h.terminate() : h.socket.destroy());
  });
});
