// The floor of scenario 3: a WebSocket server that does no GraphQL and no polling. It speaks just enough
// graphql-transport-ws for bench/lib/subscribers.ts, and replays the observations a gateway run delivered (same
// changes, same spacing), each one stamped with the time it is sent. Its messages go through the gateway's own Outbox
// (src/ws-outbox.ts), so they are framed and written as the gateway writes them. Started by bench/scenarios/fanout.ts,
// loopback only; POST /replay with the observations as JSON starts a replay.
import { createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { Outbox } from '../../src/ws-outbox.js';

export interface ReplayedChange {
  recordIdentifier: string;
  previousState: string;
  state: string;
}

/** One observation of the gateway run: when it was observed (ms after the first one) and what changed. */
export interface ReplayedObservation {
  atMs: number;
  changes: ReplayedChange[];
}

interface Subscription {
  /** `{"id":"<id>","type":"next","payload":`, made once. */
  prefix: string;
  prefixBytes: number;
  batch: boolean;
}

interface Connection {
  outbox: Outbox;
  subscriptions: Subscription[];
}

const connections = new Set<Connection>();

const changeJson = (c: { previousState: string | null; state: string; recordIdentifier: string }, observedAt: string) =>
  `{"previousState":${c.previousState === null ? 'null' : `"${c.previousState}"`},"state":"${c.state}","observedAt":"${observedAt}","record":{"recordIdentifier":"${c.recordIdentifier}"}}`;

/** The `next` payloads of one observation for each kind of subscription: one per change, or one batch. */
function payloadsOf(changes: Array<{ previousState: string | null; state: string; recordIdentifier: string }>) {
  const observedAt = new Date().toISOString();
  const each = changes.map((c) => Buffer.from(`{"data":{"checksumStateChanged":${changeJson(c, observedAt)}}}`));
  const batch = Buffer.from(`{"data":{"checksumStateChangeBatches":{"changes":[${changes.map((c) => changeJson(c, observedAt)).join(',')}]}}}`);
  return { each, batch: [batch] };
}

function sendToAll(payloads: { each: Buffer[]; batch: Buffer[] }, only?: Connection, subscription?: Subscription): void {
  for (const connection of only ? [only] : connections) {
    for (const sub of subscription ? [subscription] : connection.subscriptions) {
      // Queued whatever the backlog: a replay owes every subscriber everything, as the gateway does.
      for (const payload of sub.batch ? payloads.batch : payloads.each) void connection.outbox.send({ prefix: sub.prefix, prefixBytes: sub.prefixBytes, payload });
    }
  }
}

function replay(observations: ReplayedObservation[]): void {
  const began = performance.now();
  for (const observation of observations) {
    setTimeout(() => sendToAll(payloadsOf(observation.changes)), Math.max(0, began + observation.atMs - performance.now()));
  }
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/replay') return void res.writeHead(404).end();
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    replay(JSON.parse(Buffer.concat(chunks).toString()) as ReplayedObservation[]);
    res.writeHead(202).end();
  });
});

const wss = new WebSocketServer({ server, handleProtocols: (protocols) => (protocols.has('graphql-transport-ws') ? 'graphql-transport-ws' : false) });
wss.on('connection', (ws) => {
  // The Outbox writes frames to the raw socket under the WebSocket, as the gateway's upgrade handler hands it over.
  const connection: Connection = { outbox: new Outbox(ws, (ws as unknown as { _socket: Duplex })._socket, () => {}), subscriptions: [] };
  connections.add(connection);
  ws.on('close', () => connections.delete(connection));
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string; id?: string; payload?: { query: string; variables: { identifiers: string[] } } };
    if (message.type === 'connection_init') ws.send('{"type":"connection_ack"}');
    else if (message.type === 'ping') ws.send('{"type":"pong"}');
    else if (message.type === 'subscribe' && message.id !== undefined && message.payload) {
      const prefix = `{"id":"${message.id}","type":"next","payload":`;
      const subscription = { prefix, prefixBytes: Buffer.byteLength(prefix), batch: message.payload.query.includes('checksumStateChangeBatches') };
      connection.subscriptions.push(subscription);
      const current = message.payload.variables.identifiers.map((recordIdentifier) => ({ recordIdentifier, previousState: null, state: 'SUCCEEDED' }));
      sendToAll(payloadsOf(current), connection, subscription);
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') console.log(`bare broadcaster listening on http://127.0.0.1:${address.port}`);
});
process.once('SIGTERM', () => {
  for (const client of wss.clients) client.terminate();
  server.close(() => process.exit(0));
});
