// The subscribers of the fan-out benchmark, in a process of their own (forked by bench/scenarios/fanout.ts) so their
// memory and CPU are not the gateway's. A minimal graphql-transport-ws client on `ws`: one message handler per socket
// and a map by subscription id, since the general client's per-subscription listeners do not scale to 10,000.
// Driven over IPC: start -> ready, measure, report -> report, stop.
import WebSocket from 'ws';
import type { Delivery } from '../../src/live/subscription.js';
import type { ReplayedChange, ReplayedObservation } from './bare-broadcaster.js';

/** Which subscription the subscribers use: checksumStateChanged (an event per record change) or its batches. */
export type { Delivery } from '../../src/live/subscription.js';

export interface StartMessage {
  type: 'start';
  /** ws://.../graphql */
  url: string;
  token: string;
  identifiers: string[];
  delivery: Delivery;
  subscribers: number;
  sockets: number;
  timeoutMs: number;
}

export type ParentMessage = StartMessage | { type: 'measure' } | { type: 'report' } | { type: 'stop' };

export interface ReadyMessage {
  type: 'ready';
  subscribed: number;
  /** Subscribers that received the current state of every watched record. */
  complete: number;
  initialEvents: number;
  errors: string[];
  ms: number;
  timedOut: boolean;
}

export interface ReportMessage {
  type: 'report';
  /** Change events (previousState not null) received since `measure`; a batch counts each of its changes. */
  changes: number;
  /** `next` messages that carried them. */
  messages: number;
  /** Subscribers that received a settled state (succeeded or failed) of every watched record since `measure`. */
  settledSubscribers: number;
  latency: { p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number };
  /** Date.now() of the last change received, 0 if none. */
  lastChangeAt: number;
  errors: string[];
  rssBytes: number;
  /** CPU this process spent since `measure`: the subscribers share the machine's cores with the gateway. */
  cpuMs: number;
  /** The observations the first subscriber was sent since `measure`, for the floor's replay (bare-broadcaster.ts). */
  observations: ReplayedObservation[];
}

const CHANGE_FIELDS = 'previousState state observedAt record { recordIdentifier }';
const QUERIES: Record<Delivery, string> = {
  each: `subscription Watch($identifiers: [ID!]!) { checksumStateChanged(model: PROJECT, identifiers: $identifiers) { ${CHANGE_FIELDS} } }`,
  batch: `subscription WatchBatches($identifiers: [ID!]!) { checksumStateChangeBatches(model: PROJECT, identifiers: $identifiers) { changes { ${CHANGE_FIELDS} } } }`,
};

/** Latency histogram in whole milliseconds (observedAt has millisecond resolution). */
const MAX_MS = 600_000;
let histogram = new Uint32Array(MAX_MS + 1);
let changes = 0;
let messages = 0;
let lastChangeAt = 0;
const errors: string[] = [];
const sockets: WebSocket[] = [];

interface Sub {
  initial: number;
  settled: Uint8Array;
  settledCount: number;
}
let subs: Sub[] = [];
let position = new Map<string, number>();
let measuring = false;
/** The first subscriber's changes since `measure`, by observedAt. */
let observed = new Map<string, { observedMs: number; changes: ReplayedChange[] }>();
let cpuAtMeasure = process.cpuUsage();

function send(message: ReadyMessage | ReportMessage): void {
  process.send!(message);
}

function noteError(message: string): void {
  if (errors.length < 20) errors.push(message);
}

function percentileOf(p: number): number {
  if (changes === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * changes));
  let seen = 0;
  for (let ms = 0; ms <= MAX_MS; ms++) {
    seen += histogram[ms];
    if (seen >= rank) return ms;
  }
  return MAX_MS;
}

function maxOf(): number {
  for (let ms = MAX_MS; ms >= 0; ms--) if (histogram[ms] > 0) return ms;
  return NaN;
}

interface ChangeJson {
  previousState: string | null;
  state: string;
  observedAt: string;
  record: { recordIdentifier: string };
  /** Date.parse(observedAt), once per parsed payload. */
  observedMs?: number;
}

type Payload = { data?: { checksumStateChanged?: ChangeJson; checksumStateChangeBatches?: { changes: ChangeJson[] } }; errors?: unknown[] };

const NEXT_START = Buffer.from('{"id":"');
const NEXT_MIDDLE = Buffer.from('","type":"next","payload":');

/** Payloads a socket's subscribers were sent, parsed: the last one, and the small ones by their text. */
interface SocketCache {
  bytes: Buffer | null;
  payload: Payload | null;
  small: Map<string, Payload>;
}

/** Payloads up to this size are looked up by their text (per-record events: a change goes to many subscriptions in turn). */
const SMALL_PAYLOAD_BYTES = 1024;
const SMALL_PAYLOADS_KEPT = 10_000;

/**
 * A `next` message as {id, payload}, or null for any other message. Subscriptions of one socket sent the same payload
 * (one shared result, differing only in the id) parse it once: real subscribers would each parse on their own machine,
 * and here the load process shares the gateway's 2 cores.
 */
function nextOf(raw: Buffer, cache: SocketCache): { id: string; payload: Payload } | null {
  if (raw.length < NEXT_START.length || raw.compare(NEXT_START, 0, NEXT_START.length, 0, NEXT_START.length) !== 0) return null;
  const middle = raw.indexOf(NEXT_MIDDLE, NEXT_START.length);
  if (middle < 0) return null;
  const id = raw.toString('latin1', NEXT_START.length, middle);
  const body = raw.subarray(middle + NEXT_MIDDLE.length, raw.length - 1);
  if (cache.bytes && cache.bytes.equals(body)) return { id, payload: cache.payload! };
  if (body.length <= SMALL_PAYLOAD_BYTES) {
    const text = body.toString();
    let payload = cache.small.get(text);
    if (!payload) {
      if (cache.small.size >= SMALL_PAYLOADS_KEPT) cache.small.clear();
      cache.small.set(text, (payload = JSON.parse(text) as Payload));
    }
    return { id, payload };
  }
  cache.payload = JSON.parse(body.toString()) as Payload;
  // A copy: a view would see the memory under it change if it were ever reused.
  cache.bytes = Buffer.from(body);
  return { id, payload: cache.payload };
}

function onNext(sub: Sub | undefined, payload: Payload, received: number): void {
  const data = payload.data;
  const batch = data?.checksumStateChangeBatches?.changes ?? (data?.checksumStateChanged ? [data.checksumStateChanged] : null);
  if (!sub || !batch) {
    noteError(`unexpected: ${JSON.stringify(payload).slice(0, 200)}`);
    return;
  }
  if (measuring) messages++;
  for (const event of batch) {
    if (event.previousState === null) {
      sub.initial++;
      continue;
    }
    if (!measuring) continue;
    changes++;
    lastChangeAt = received;
    event.observedMs ??= Date.parse(event.observedAt);
    histogram[Math.min(MAX_MS, Math.max(0, received - event.observedMs))]++;
    if (sub === subs[0]) {
      let observation = observed.get(event.observedAt);
      if (!observation) observed.set(event.observedAt, (observation = { observedMs: event.observedMs, changes: [] }));
      observation.changes.push({ recordIdentifier: event.record.recordIdentifier, previousState: event.previousState, state: event.state });
    }
    if (event.state === 'SUCCEEDED' || event.state === 'FAILED') {
      const i = position.get(event.record.recordIdentifier);
      if (i !== undefined && !sub.settled[i]) {
        sub.settled[i] = 1;
        sub.settledCount++;
      }
    }
  }
}

function observationsSinceMeasure(): ReplayedObservation[] {
  const all = [...observed.values()].sort((a, b) => a.observedMs - b.observedMs);
  return all.map((o) => ({ atMs: o.observedMs - all[0].observedMs, changes: o.changes }));
}

async function start(m: StartMessage): Promise<void> {
  const began = performance.now();
  position = new Map(m.identifiers.map((id, i) => [id, i]));
  subs = Array.from({ length: m.subscribers }, () => ({ initial: 0, settled: new Uint8Array(m.identifiers.length), settledCount: 0 }));
  const perSocket = Math.ceil(m.subscribers / m.sockets);
  const opened: Promise<void>[] = [];
  for (let s = 0; s * perSocket < m.subscribers; s++) {
    const firstId = s * perSocket;
    const count = Math.min(perSocket, m.subscribers - firstId);
    opened.push(
      new Promise<void>((resolve) => {
        const socket = new WebSocket(m.url, 'graphql-transport-ws');
        sockets.push(socket);
        socket.on('error', (error) => {
          noteError(`socket ${s}: ${error.message}`);
          resolve();
        });
        socket.on('close', (code, reason) => {
          if (code !== 1000) noteError(`socket ${s} closed ${code} ${reason.toString()} at +${((performance.now() - began) / 1000).toFixed(1)} s`);
          resolve();
        });
        socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${m.token}` } })));
        const cache: SocketCache = { bytes: null, payload: null, small: new Map() };
        socket.on('message', (raw: Buffer) => {
          const received = Date.now();
          const next = nextOf(raw, cache);
          if (next) {
            onNext(subs[firstId + Number(next.id)], next.payload, received);
            return;
          }
          const message = JSON.parse(raw.toString()) as { type: string; payload?: unknown };
          if (message.type === 'connection_ack') {
            for (let i = 0; i < count; i++) {
              socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: QUERIES[m.delivery], variables: { identifiers: m.identifiers } } }));
            }
            resolve();
            return;
          }
          if (message.type === 'ping') {
            socket.send(JSON.stringify({ type: 'pong' }));
            return;
          }
          if (message.type === 'error' || message.type === 'complete') noteError(`${message.type} ${JSON.stringify(message.payload ?? '').slice(0, 200)}`);
        });
      }),
    );
  }
  await Promise.all(opened);
  const deadline = began + m.timeoutMs;
  const completeCount = () => subs.filter((s) => s.initial >= m.identifiers.length).length;
  while (completeCount() < m.subscribers && performance.now() < deadline && errors.length < 20) await new Promise((r) => setTimeout(r, 50));
  const complete = completeCount();
  send({
    type: 'ready',
    subscribed: m.subscribers,
    complete,
    initialEvents: subs.reduce((a, s) => a + s.initial, 0),
    errors,
    ms: Math.round(performance.now() - began),
    timedOut: complete < m.subscribers,
  });
}

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'start':
      void start(message);
      break;
    case 'measure':
      cpuAtMeasure = process.cpuUsage();
      histogram = new Uint32Array(MAX_MS + 1);
      changes = 0;
      messages = 0;
      lastChangeAt = 0;
      observed = new Map();
      for (const sub of subs) {
        sub.settled.fill(0);
        sub.settledCount = 0;
      }
      measuring = true;
      break;
    case 'report':
      send({
        type: 'report',
        changes,
        messages,
        settledSubscribers: subs.filter((s) => s.settledCount === s.settled.length).length,
        latency: { p50Ms: percentileOf(50), p90Ms: percentileOf(90), p99Ms: percentileOf(99), maxMs: maxOf() },
        lastChangeAt,
        errors,
        rssBytes: process.memoryUsage.rss(),
        cpuMs: (({ user, system }) => (user + system) / 1000)(process.cpuUsage(cpuAtMeasure)),
        observations: observationsSinceMeasure(),
      });
      break;
    case 'stop':
      for (const socket of sockets) socket.terminate();
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
