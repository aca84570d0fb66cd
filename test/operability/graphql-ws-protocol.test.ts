// graphql-ws edges: a client that sends what only a server sends (next, error, connection_ack) is closed with 4400 and
// a reason, and writes nothing at error level (it closed with 4500 and logged an error with a stack every time); a bad
// frame is the client's fault as well. Only the graphql-transport-ws subprotocol is served: a handshake offering
// anything else (the legacy graphql-ws of subscriptions-transport-ws), or nothing, is refused before any socket exists.
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN, until } from './helpers.js';

let gw: TestGateway;

beforeAll(async () => {
  // At debug, so the test sees every line a misbehaving client causes.
  gw = await startTestGateway({ standIn: { records: 5 }, level: 'debug', env: { MAX_REQUEST_BODY_BYTES: '2000' } });
});
afterAll(async () => {
  await gw?.close();
});

const wsUrl = () => gw.url.replace(/^http/, 'ws');
const ERROR_LEVEL = 50;

/** An acknowledged graphql-transport-ws socket, and how it closed once it does. */
async function acknowledged(): Promise<{ socket: WebSocket; closed: Promise<{ code: number; reason: string }> }> {
  const socket = new WebSocket(wsUrl(), 'graphql-transport-ws');
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${ADMIN}` } })));
    socket.on('message', (data) => {
      if (String(data).includes('"connection_ack"')) resolve();
    });
  });
  return { socket, closed };
}

describe('messages only a server sends', () => {
  it.each([
    ['next', { id: '1', type: 'next', payload: { data: { __typename: 'Query' } } }],
    ['error', { id: '1', type: 'error', payload: [{ message: 'boom' }] }],
    ['connection_ack', { type: 'connection_ack' }],
  ])('%s: closed with 4400 and a reason; nothing at error level, one debug line', async (type, message) => {
    const from = gw.logs().length;
    const { socket, closed } = await acknowledged();
    socket.send(JSON.stringify(message));
    expect(await closed).toEqual({ code: 4400, reason: 'Invalid message received: next, error and connection_ack are sent by the server' });
    const lines = await until(() => {
      const since = gw.logs().slice(from);
      return since.some((l) => l.msg.includes('only a server sends')) ? since : undefined;
    }, `the log line of ${type}`);
    expect(lines.filter((l) => l.level >= ERROR_LEVEL)).toEqual([]);
    expect(lines.filter((l) => l.msg.includes('only a server sends')).map((l) => l.level)).toEqual([20]);
    expect(gw.rawLog().slice(-5_000)).not.toMatch(/\n\s+at |stack/);
  });

  it('a client that keeps doing it fills no error log', async () => {
    const from = gw.logs().length;
    for (let i = 0; i < 20; i++) {
      const { socket, closed } = await acknowledged();
      socket.send(JSON.stringify({ id: String(i), type: 'next', payload: {} }));
      expect((await closed).code).toBe(4400);
    }
    expect(gw.logs().slice(from).filter((l) => l.level >= ERROR_LEVEL)).toEqual([]);
  });

  it('a frame over MAX_REQUEST_BODY_BYTES: ws closes with 1009, and that is logged at debug, not as an error', async () => {
    const from = gw.logs().length;
    const { socket, closed } = await acknowledged();
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `{ __typename } # ${'x'.repeat(3000)}` } }));
    expect((await closed).code).toBe(1009);
    await until(() => (gw.logs().slice(from).some((l) => l.msg.includes('bad frame')) ? true : undefined), 'the log line of the bad frame');
    expect(gw.logs().slice(from).filter((l) => l.level >= ERROR_LEVEL)).toEqual([]);
  });
});

/** The handshake's outcome: the subprotocol of an opened socket, or the status and body of a refusal. */
function handshake(protocols?: string | string[]): Promise<{ opened: string } | { status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl(), protocols);
    socket.once('open', () => {
      resolve({ opened: socket.protocol });
      socket.close(1000);
    });
    socket.once('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    socket.once('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}

describe('subprotocols', () => {
  const refusal = {
    status: 400,
    type: 'application/json',
    body: JSON.stringify({
      errors: [
        {
          message: "WebSocket clients must offer the graphql-transport-ws subprotocol (graphql-ws's client does); the legacy graphql-ws subprotocol of subscriptions-transport-ws is not served.",
          extensions: { code: 'BAD_REQUEST' },
        },
      ],
    }),
  };

  it('graphql-transport-ws is served, alone or among others', async () => {
    expect(await handshake('graphql-transport-ws')).toEqual({ opened: 'graphql-transport-ws' });
    expect(await handshake(['graphql-ws', 'graphql-transport-ws'])).toEqual({ opened: 'graphql-transport-ws' });
  });

  it('the legacy graphql-ws (subscriptions-transport-ws), any other, or none: refused at the handshake with 400', async () => {
    expect(await handshake('graphql-ws')).toEqual(refusal);
    expect(await handshake('mqtt')).toEqual(refusal);
    expect(await handshake()).toEqual(refusal);
  });
});
