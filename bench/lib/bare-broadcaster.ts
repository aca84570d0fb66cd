// The floor of scenario 3: a WebSocket server that does no GraphQL and no polling. It speaks just enough
// graphql-transport-ws for bench/lib/subscribers.ts, and replays the observations a gateway run delivered (same
// changes, same spacing), each one stamped with the time it is sent. Every socket's messages of an observation go out
// in one corked write, large payloads by reference, as the gateway's outbox does. Started by bench/scenarios/fanout.ts,
// loopback only; POST /replay with a Replay body starts a replay.
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';

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
  start: Buffer;
  batch: boolean;
}

interface Connection {
  socket: Socket;
  subscriptions: Subscription[];
}

const connections = new Set<Connection>();
const SUFFIX = Buffer.from('}');
/** Payloads from this size are written by reference; smaller messages are copied into shared chunks. */
const BY_REFERENCE_BYTES = 2048;
const CHUNK_BYTES = 64 * 1024;

const changeJson = (c: { previousState: string | null; state: string; recordIdentifier: string }, observedAt: string) =>
  `{"previousState":${c.previousState === null ? 'null' : `"${c.previousState}"`},"state":"${c.state}","observedAt":"${observedAt}","record":{"recordIdentifier":"${c.recordIdentifier}"}}`;

/** The `next` payloads of one observation for each kind of subscription: one per change, or one batch. */
function payloadsOf(changes: Array<{ previousState: string | null; state: string; recordIdentifier: string }>) {
  const observedAt = new Date().toISOString();
  const each = changes.map((c) => Buffer.from(`{"data":{"checksumStateChanged":${changeJson(c, observedAt)}}}`));
  const batch = Buffer.from(`{"data":{"checksumStateChangeBatches":{"changes":[${changes.map((c) => changeJson(c, observedAt)).join(',')}]}}}`);
  return { each, batch: [batch] };
}

/** Writes an unmasked text frame's header for a body of `length` bytes at `offset`; answers the header's size. */
function writeHeader(target: Buffer, offset: number, length: number): number {
  target[offset] = 0x81;
  if (length < 126) return (target[offset + 1] = length), 2;
  if (length <= 0xffff) return (target[offset + 1] = 126), target.writeUInt16BE(length, offset + 2), 4;
  return (target[offset + 1] = 127), target.writeBigUInt64BE(BigInt(length), offset + 2), 10;
}

function sendToAll(payloads: { each: Buffer[]; batch: Buffer[] }, only?: Connection, subscription?: Subscription): void {
  for (const connection of only ? [only] : connections) {
    const parts: Buffer[] = [];
    let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let used = 0;
    const room = (bytes: number) => {
      if (used + bytes <= chunk.length) return;
      if (used > 0) parts.push(chunk.subarray(0, used));
      chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
      used = 0;
    };
    for (const sub of subscription ? [subscription] : connection.subscriptions) {
      for (const payload of sub.batch ? payloads.batch : payloads.each) {
        const length = sub.start.length + payload.length + SUFFIX.length;
        if (payload.length >= BY_REFERENCE_BYTES) {
          // The head goes after what the chunk holds already, and the two leave as one part.
          room(10 + sub.start.length);
          used += writeHeader(chunk, used, length);
          used += sub.start.copy(chunk, used);
          parts.push(chunk.subarray(0, used), payload, SUFFIX);
          chunk = chunk.subarray(used);
          used = 0;
        } else {
          room(10 + length);
          used += writeHeader(chunk, used, length);
          used += sub.start.copy(chunk, used);
          used += payload.copy(chunk, used);
          used += SUFFIX.copy(chunk, used);
        }
      }
    }
    if (used > 0) parts.push(chunk.subarray(0, used));
    connection.socket.cork();
    for (const part of parts) connection.socket.write(part);
    connection.socket.uncork();
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
  // The raw socket, so that an observation's frames for this connection leave in one corked write.
  const connection: Connection = { socket: (ws as unknown as { _socket: Socket })._socket, subscriptions: [] };
  connections.add(connection);
  ws.on('close', () => connections.delete(connection));
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string; id?: string; payload?: { query: string; variables: { identifiers: string[] } } };
    if (message.type === 'connection_init') ws.send('{"type":"connection_ack"}');
    else if (message.type === 'ping') ws.send('{"type":"pong"}');
    else if (message.type === 'subscribe' && message.id !== undefined && message.payload) {
      const subscription = { start: Buffer.from(`{"id":"${message.id}","type":"next","payload":`), batch: message.payload.query.includes('checksumStateChangeBatches') };
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
