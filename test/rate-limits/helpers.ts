// Helpers of the per-client limit tests: a bare graphql-ws session whose every message the test sees, an SSE request
// read up to its first event, and a token of the test's own on the stand-in.
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import WebSocket from 'ws';
import { standInControl } from '../support/gateway.js';

export interface WsMessage {
  id?: string;
  type: string;
  payload?: unknown;
}

export interface WsSession {
  socket: WebSocket;
  messages: WsMessage[];
  send(message: WsMessage): void;
  /** Resolves with the first message (received so far or later) that `probe` accepts. */
  next(probe: (m: WsMessage) => boolean, what: string, timeoutMs?: number): Promise<WsMessage>;
  close(): Promise<void>;
}

/** A graphql-transport-ws socket with this token, acknowledged; or a refusal as the close that ended it. */
export async function wsSession(url: string, token: string, headers: Record<string, string> = {}): Promise<WsSession> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws', { headers });
  const messages: WsMessage[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (raw) => {
    messages.push(JSON.parse(String(raw)) as WsMessage);
    for (const wake of [...waiters]) wake();
  });
  socket.on('close', () => {
    for (const wake of [...waiters]) wake();
  });
  const next = (probe: (m: WsMessage) => boolean, what: string, timeoutMs = 10_000) =>
    new Promise<WsMessage>((resolve, reject) => {
      const check = () => {
        const found = messages.find(probe);
        if (!found && socket.readyState !== WebSocket.CLOSED) return;
        clearTimeout(timer);
        waiters.delete(check);
        if (found) resolve(found);
        else reject(new Error(`the socket closed before ${what}; received: ${JSON.stringify(messages)}`));
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; received: ${JSON.stringify(messages)}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () => resolve());
  });
  socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } }));
  await next((m) => m.type === 'connection_ack', 'connection_ack');
  return {
    socket,
    messages,
    send: (message) => socket.send(JSON.stringify(message)),
    next,
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.close(1000);
      await closed;
    },
  };
}

export interface SseAnswer {
  status: number;
  headers: Headers;
  /** The JSON body of a refusal, or the text read of the stream up to its first event (or its end). */
  body: unknown;
  text: string;
  /** Ends the stream (the client leaves). */
  abort(): void;
}

/** An SSE request (POST, Accept: text/event-stream), read until its first event or its end (`toTheEnd`: its end only). */
export async function sse(url: string, query: string, token: string, headers: Record<string, string> = {}, toTheEnd = false): Promise<SseAnswer> {
  const abort = new AbortController();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ query }),
    signal: abort.signal,
  });
  if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: JSON.parse(text) as unknown, text, abort: () => abort.abort() };
  }
  const reader = res.body!.getReader();
  let text = '';
  while (toTheEnd || (!text.includes('event: next') && !text.includes('event: complete'))) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  return { status: res.status, headers: res.headers, body: undefined, text, abort: () => abort.abort() };
}

/** A fresh administrator's token on the stand-in, so each test counts against its own allowance. */
export async function adminToken(standIn: { url: string }, name: string): Promise<string> {
  const token = `glpat-limits-${name}-${randomBytes(6).toString('hex')}`;
  await standInControl(standIn, 'POST', 'tokens', { token, role: 'admin' });
  return token;
}

/** What a refusal for a rate says: RATE_LIMITED, with the whole seconds to wait (1 to `atMost`). */
export function expectRateLimited(error: { message: string; extensions?: Record<string, unknown> } | undefined, setting: string, atMost: number): number {
  expect(error?.extensions?.code).toBe('RATE_LIMITED');
  const retryAfter = error?.extensions?.retryAfterSeconds as number;
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(atMost);
  expect(error?.message).toContain(setting);
  expect(error?.message).toContain(`Try again in ${retryAfter} s.`);
  return retryAfter;
}
