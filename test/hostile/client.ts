// The hostile client: sends a case over its transport and records what came back, as raw as it came. What it leaves
// open (held subscriptions, sockets that do not read) stays open until it leaves.
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { ADMIN } from '../support/gateway.js';
import { hasRawFrames, isMany, itemsOf, type HostileCase, type HttpCase, type Request, type WsCase } from './cases.js';

/** One answer as the client got it: an HTTP body, the data of an SSE event, or a graphql-ws message. */
export interface Reply {
  text: string;
  /** HTTP and SSE: the response's status. */
  status?: number;
}

/** What one operation of the case got: the class check reads these. */
export type Answer = { kind: 'data' } | { kind: 'errors'; codes: (string | undefined)[] } | { kind: 'closed'; code: number } | { kind: 'none' } | { kind: 'http'; status: number; codes: (string | undefined)[] | null };

export interface Outcome {
  replies: Reply[];
  /** One per operation sent (HTTP request, SSE stream, subscribe message), in order. */
  answers: Answer[];
  /** graphql-ws: whether the socket was acknowledged, and how the gateway closed it (null: it did not). */
  acknowledged?: boolean;
  closedByGateway?: { code: number; reason: string } | null;
  /** Problems of the exchange itself (no answer in time, an unreadable answer). */
  problems: string[];
}

export interface Sending {
  url: string;
  /** Sent as X-Request-Id on HTTP, so the stand-in's log tells this case's calls apart. */
  requestId: string;
  /** Resolves when the client must leave (it destroys its request or socket then). */
  leave?: Promise<void>;
  /** graphql-ws, for a client that does not read: resolves once the gateway has dealt with everything it sent. */
  dealtWith?: (sent: { markerId: string }) => Promise<void>;
}

const ANSWER_WAIT_MS = 15_000;
/** Marker look-ups sent so far (see Sending.dealtWith): each one names a record of its own. */
let markers = 0;
const agent = new Agent({ keepAlive: true, maxSockets: 8 });


/** The codes of a GraphQL response's errors, or null when the text is not a GraphQL response with errors. */
function errorCodes(text: string): { data: boolean; codes: (string | undefined)[] | null } {
  try {
    const body = JSON.parse(text) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
    const codes = Array.isArray(body.errors) && body.errors.length > 0 ? body.errors.map((e) => e?.extensions?.code) : null;
    return { data: body.data !== undefined && body.data !== null, codes };
  } catch {
    return { data: false, codes: null };
  }
}

function answerOfResult(text: string): Answer {
  const { data, codes } = errorCodes(text);
  if (codes) return { kind: 'errors', codes };
  return data ? { kind: 'data' } : { kind: 'none' };
}

/** Everything a case holds open, closed when the client leaves. */
export class HostileClient {
  private readonly open = new Set<{ close(): void; subscriptions(): number; isSocket: boolean }>();

  /** Subscriptions the client holds open and the gateway has not ended. */
  subscriptionsHeld(): number {
    let n = 0;
    for (const held of this.open) n += held.subscriptions();
    return n;
  }

  socketsHeld(): number {
    return [...this.open].filter((h) => h.isSocket).length;
  }

  hold(held: { close(): void; subscriptions(): number; isSocket: boolean }): () => void {
    this.open.add(held);
    return () => this.open.delete(held);
  }

  /** Closes everything it holds: its sockets, its streams. */
  leave(): void {
    for (const held of [...this.open]) held.close();
    this.open.clear();
  }

  send(c: HostileCase, sending: Sending): Promise<Outcome> {
    return c.transport === 'graphql-ws' ? this.sendWs(c, sending) : this.sendHttp(c, sending);
  }

  // -------------------------------------------------------------------------------------------------------------
  // HTTP and SSE

  private async sendHttp(c: HttpCase, sending: Sending): Promise<Outcome> {
    const outcome: Outcome = { replies: [], answers: [], problems: [] };
    const requests: (Request | null)[] = c.body !== undefined ? [null] : isMany(c.request) ? itemsOf(c.request) : [c.request ?? {}];
    // A flood goes a few at a time, over kept-alive connections.
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const request = requests[next++];
        if (c.transport === 'sse') await this.sse(c, request, sending, outcome);
        else await this.http(c, request, sending, outcome);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, requests.length) }, worker));
    return outcome;
  }

  private headersOf(c: HttpCase, sending: Sending, hasBody: boolean): Record<string, string> {
    const headers: Record<string, string> = { accept: c.accept ?? (c.transport === 'sse' ? 'text/event-stream' : 'application/graphql-response+json, application/json'), 'x-request-id': sending.requestId };
    const contentType = c.contentType === undefined ? (hasBody ? 'application/json' : null) : c.contentType;
    if (contentType !== null) headers['content-type'] = contentType;
    const token = c.token === undefined ? ADMIN : c.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    return { ...headers, ...c.headers };
  }

  private target(c: HttpCase, request: Request | null, sending: Sending): { path: string; body: string | null } {
    const url = new URL(sending.url);
    if (c.transport === 'http-get') {
      for (const [key, value] of Object.entries(request ?? {})) url.searchParams.set(key, typeof value === 'string' ? value : JSON.stringify(value));
      return { path: url.pathname + url.search, body: null };
    }
    if (request === null) return { path: url.pathname, body: c.body ?? '' };
    let body = JSON.stringify(request);
    if (c.rawVariables !== undefined) body = `${body.slice(0, -1)}${body.length > 2 ? ',' : ''}"variables":${c.rawVariables}}`;
    return { path: url.pathname, body };
  }

  /** Sends one request; resolves with the response as it came (or the error that ended it). */
  private exchange(c: HttpCase, request: Request | null, sending: Sending, onResponse: (res: IncomingMessage, destroy: () => void) => Promise<void>): Promise<void> {
    const { path, body } = this.target(c, request, sending);
    const url = new URL(sending.url);
    return new Promise<void>((resolve) => {
      const req = httpRequest(
        { host: url.hostname, port: url.port, path, method: c.transport === 'http-get' ? 'GET' : 'POST', headers: this.headersOf(c, sending, body !== null), agent: c.transport === 'sse' || sending.leave ? undefined : agent },
        (res) => void onResponse(res, () => req.destroy()).then(resolve, resolve),
      );
      req.on('error', () => resolve());
      void sending.leave?.then(() => {
        req.destroy();
        resolve();
      });
      req.end(body ?? undefined);
    });
  }

  private async http(c: HttpCase, request: Request | null, sending: Sending, outcome: Outcome): Promise<void> {
    let answered = false;
    await this.exchange(c, request, sending, async (res) => {
      const text = await readAll(res);
      answered = true;
      const status = res.statusCode ?? 0;
      outcome.replies.push({ text, status });
      const { data, codes } = errorCodes(text);
      if (status === 200) outcome.answers.push(codes ? { kind: 'errors', codes } : data ? { kind: 'data' } : { kind: 'none' });
      else outcome.answers.push({ kind: 'http', status, codes });
    });
    if (!answered && !sending.leave) outcome.problems.push('no answer');
  }

  /** An SSE stream: its first events are its answer; a stream the case holds stays open until the client leaves. */
  private async sse(c: HttpCase, request: Request | null, sending: Sending, outcome: Outcome): Promise<void> {
    let answered = false;
    await this.exchange(c, request, sending, async (res, destroy) => {
      const status = res.statusCode ?? 0;
      if (!String(res.headers['content-type']).startsWith('text/event-stream')) {
        const text = await readAll(res);
        answered = true;
        outcome.replies.push({ text, status });
        outcome.answers.push({ kind: 'http', status, codes: errorCodes(text).codes });
        return;
      }
      let ended = false;
      const release = this.hold({ close: destroy, subscriptions: () => (ended ? 0 : 1), isSocket: false });
      res.once('close', () => {
        ended = true;
        release();
      });
      const first = await new Promise<Answer>((resolve) => {
        const timer = setTimeout(() => resolve({ kind: 'none' }), ANSWER_WAIT_MS);
        let buffer = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const type = /^event: (.*)$/m.exec(event)?.[1];
            const data = event
              .split('\n')
              .filter((line) => line.startsWith('data:'))
              .map((line) => line.slice(5).trimStart())
              .join('\n');
            if (type === 'complete') ended = true;
            if (type !== 'next') continue;
            outcome.replies.push({ text: data, status });
            clearTimeout(timer);
            resolve(answerOfResult(data));
          }
        });
        res.once('end', () => {
          clearTimeout(timer);
          resolve({ kind: 'none' });
        });
      });
      answered = first.kind !== 'none';
      outcome.answers.push(first);
      if (!c.holds) {
        destroy();
        release();
      }
    });
    if (!answered && !sending.leave) outcome.problems.push(`no SSE event within ${ANSWER_WAIT_MS} ms`);
  }

  // -------------------------------------------------------------------------------------------------------------
  // graphql-ws

  private async sendWs(c: WsCase, sending: Sending): Promise<Outcome> {
    const outcome: Outcome = { replies: [], answers: [], problems: [], acknowledged: false, closedByGateway: null };
    const socket = new WebSocket(sending.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const ended = new Set<string>();
    const answered = new Map<string, Answer>();
    let open = true;
    let closedByClient = false;
    let pongs = 0;
    const wakers = new Set<() => void>();
    const wake = () => wakers.forEach((w) => w());
    /** Resolves when `probe` holds (checked after every message), or after `ms`. */
    const waitFor = (probe: () => boolean, ms: number) =>
      new Promise<boolean>((resolve) => {
        if (probe()) return resolve(true);
        const check = () => {
          if (!probe()) return;
          clearTimeout(timer);
          wakers.delete(check);
          resolve(true);
        };
        const timer = setTimeout(() => {
          wakers.delete(check);
          resolve(false);
        }, ms);
        wakers.add(check);
      });

    const ids: string[] = [];
    const release = this.hold({
      close: () => {
        closedByClient = true;
        socket.terminate();
      },
      subscriptions: () => (open ? new Set(ids.filter((id) => !ended.has(id))).size : 0),
      isSocket: true,
    });
    socket.on('message', (raw) => {
      const text = String(raw);
      let message: { id?: string; type?: string; payload?: unknown };
      try {
        message = JSON.parse(text) as typeof message;
      } catch {
        outcome.problems.push(`a frame that is not JSON: ${text.slice(0, 100)}`);
        return;
      }
      if (message.type === 'connection_ack') outcome.acknowledged = true;
      if (message.type === 'pong') pongs++;
      // Pongs count as answers only when they echo a big ping (the size check then reads them).
      if (message.type !== 'pong' || text.length > 32 * 1024) outcome.replies.push({ text });
      const id = message.id;
      if (id !== undefined) {
        if (message.type === 'error') {
          ended.add(id);
          answered.set(id, { kind: 'errors', codes: Array.isArray(message.payload) ? message.payload.map((e: { extensions?: { code?: string } }) => e?.extensions?.code) : [undefined] });
        } else if (message.type === 'next' && !answered.has(id)) {
          answered.set(id, answerOfResult(JSON.stringify(message.payload)));
        } else if (message.type === 'complete') {
          ended.add(id);
        }
      }
      wake();
    });
    const closed = new Promise<void>((resolve) =>
      socket.once('close', (code, reason) => {
        open = false;
        if (!closedByClient) outcome.closedByGateway = { code, reason: String(reason) };
        release();
        wake();
        resolve();
      }),
    );
    socket.on('error', () => {});
    const opened = await new Promise<boolean>((resolve) => {
      socket.once('open', () => resolve(true));
      socket.once('close', () => resolve(false));
    });
    if (!opened) {
      outcome.problems.push('the WebSocket did not open');
      return outcome;
    }

    if (!c.noInit) {
      const payload = c.connectionParams !== undefined ? c.connectionParams : c.token === null ? {} : { Authorization: `Bearer ${c.token === undefined ? ADMIN : c.token}` };
      socket.send(JSON.stringify({ type: 'connection_init', payload }));
      if (!(await waitFor(() => outcome.acknowledged === true || !open, ANSWER_WAIT_MS))) outcome.problems.push(`no connection_ack nor close within ${ANSWER_WAIT_MS} ms`);
    }

    const frames = itemsOf<Request | string | Uint8Array>(c.messages).map((message, i): { id: string | null; text: string | Uint8Array } => {
      if (message instanceof Uint8Array) return { id: null, text: message };
      if (typeof message !== 'string') return { id: String(i), text: JSON.stringify({ id: String(i), type: 'subscribe', payload: message }) };
      try {
        const parsed = JSON.parse(message) as { id?: unknown; type?: unknown };
        return { id: parsed.type === 'subscribe' && typeof parsed.id === 'string' ? parsed.id : null, text: message };
      } catch {
        return { id: null, text: message };
      }
    });
    const markerId = String(800_000_000 + ++markers);
    if (open && c.doesNotRead) {
      socket.pause();
      frames.push({ id: null, text: JSON.stringify({ id: 'marker', type: 'subscribe', payload: { query: `{ modelRecord(model: PROJECT, recordIdentifier: "${markerId}") { id } }` } }) });
    }
    let sent = 0;
    for (const frame of frames) {
      if (!open) break;
      if (frame.id !== null) ids.push(frame.id);
      socket.send(frame.text, { binary: false });
      sent++;
    }
    if (c.doesNotRead && sent > 0) {
      await sending.dealtWith?.({ markerId });
      socket.resume();
    }
    const leaving = sending.leave?.then(() => {
      closedByClient = true;
      socket.terminate();
    });

    // Each operation's answer: its first result or error, or the socket's end. Frames of no operation are answered by
    // a pong each (pings), or by the gateway closing the socket.
    // Protocol abuse to refuse is answered by the socket's close: wait for it, not for answers that may come first.
    const pings = frames.filter((f) => f.id === null && typeof f.text === 'string' && f.text.includes('"ping"')).length;
    const untracked = ids.length === 0 && sent > 0;
    const closeExpected = c.answer === 'refused' && hasRawFrames(c);
    await waitFor(
      () => !open || (!closeExpected && (untracked ? pings > 0 && pongs >= pings : ids.every((id) => answered.has(id) || ended.has(id)))),
      c.doesNotRead ? 4 * ANSWER_WAIT_MS : ANSWER_WAIT_MS,
    );
    await leaving;
    for (const id of ids) {
      const answer = answered.get(id) ?? (ended.has(id) ? { kind: 'data' as const } : null);
      if (answer) outcome.answers.push(answer);
      else if (outcome.closedByGateway) outcome.answers.push({ kind: 'closed', code: outcome.closedByGateway.code });
      else outcome.answers.push({ kind: 'none' });
    }
    // Frames of no operation: the socket's close answers them, or a pong each.
    if (ids.length === 0 && outcome.closedByGateway) outcome.answers.push({ kind: 'closed', code: outcome.closedByGateway.code });
    else if (ids.length === 0 && pings > 0) outcome.answers.push(pongs >= pings ? { kind: 'data' } : { kind: 'none' });
    if (!c.holds && open) {
      closedByClient = true;
      socket.close(1000);
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (open) socket.terminate();
    }
    return outcome;
  }
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function closeAgent(): void {
  agent.destroy();
}
