// The graphql-transport-ws protocol as a raw client speaks it: what a subscribe message carries (operation name,
// variables) reaches the operation, and messages the protocol forbids close the socket with graphql-ws's own codes.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Harness } from '../support/gateway.js';
import { rawSocket, recordsIn, startLive } from './helpers.js';

let h: Harness;

beforeAll(async () => {
  h = await startLive({ verifyIntervalMs: 0 }, {});
});
afterAll(async () => {
  await h?.close();
});

interface RawConnection {
  send(message: unknown): void;
  /** Messages received so far, parsed. */
  messages: Array<{ id?: string; type: string; payload?: unknown }>;
  closed: Promise<{ code: number; reason: string }>;
  waitFor(probe: (m: RawConnection['messages'][number]) => boolean): Promise<RawConnection['messages'][number]>;
  close(): void;
}

/** A socket that has sent connection_init and received connection_ack. */
async function connect(): Promise<RawConnection> {
  const messages: RawConnection['messages'] = [];
  const waiters = new Set<() => void>();
  const socket = await rawSocket(h, (text) => {
    messages.push(JSON.parse(text));
    for (const wake of [...waiters]) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  return {
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    messages,
    closed,
    waitFor: (probe) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no such message; received ${JSON.stringify(messages)}`)), 5_000);
        const check = () => {
          const found = messages.find(probe);
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        check();
      }),
    close: () => socket.close(),
  };
}

const TWO_OPERATIONS = /* GraphQL */ `
  subscription Small($identifiers: [ID!]!) { checksumStateChanged(model: PROJECT, identifiers: $identifiers) { state } }
  subscription Batches($identifiers: [ID!]!) { checksumStateChangeBatches(model: PROJECT, identifiers: $identifiers) { changes { record { recordIdentifier } } } }
`;

it('runs the operation the message names, with its variables', async () => {
  const [a, b] = (await recordsIn(h, 'projects', 'succeeded')).map((r) => String(r.record_identifier));
  const conn = await connect();
  try {
    conn.send({ id: 'batches', type: 'subscribe', payload: { query: TWO_OPERATIONS, operationName: 'Batches', variables: { identifiers: [b, a] } } });
    conn.send({ id: 'small', type: 'subscribe', payload: { query: TWO_OPERATIONS, operationName: 'Small', variables: { identifiers: [a] } } });
    const batch = await conn.waitFor((m) => m.id === 'batches');
    const small = await conn.waitFor((m) => m.id === 'small');
    expect(batch).toEqual({ id: 'batches', type: 'next', payload: { data: { checksumStateChangeBatches: { changes: [{ record: { recordIdentifier: b } }, { record: { recordIdentifier: a } }] } } } });
    expect(small).toEqual({ id: 'small', type: 'next', payload: { data: { checksumStateChanged: { state: 'SUCCEEDED' } } } });
    // Without an operation name, a document of two operations is refused, with a code (and no HTTP status).
    conn.send({ id: 'unnamed', type: 'subscribe', payload: { query: TWO_OPERATIONS, variables: { identifiers: [a] } } });
    const refused = await conn.waitFor((m) => m.id === 'unnamed');
    expect(refused).toEqual({ id: 'unnamed', type: 'error', payload: [{ message: 'Could not determine what operation to execute.', extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } }] });
    // A syntax error likewise, with where it is.
    conn.send({ id: 'broken', type: 'subscribe', payload: { query: 'subscription {' } });
    expect(await conn.waitFor((m) => m.id === 'broken')).toEqual({
      id: 'broken',
      type: 'error',
      payload: [{ message: 'Syntax Error: Expected Name, found <EOF>.', locations: [{ line: 1, column: 15 }], extensions: { code: 'GRAPHQL_PARSE_FAILED' } }],
    });
  } finally {
    conn.close();
  }
});

it.each([
  ['variables that are not an object', 4400, { id: '1', type: 'subscribe', payload: { query: 'subscription { __typename }', variables: 42 } }],
  ['a query that is not a string', 4400, { id: '1', type: 'subscribe', payload: { query: 7 } }],
  ['text that is not JSON', 4400, '{"id":"1","type":"subscribe"'],
])('a subscribe message with %s closes the socket with %i', async (_, code, message) => {
  const conn = await connect();
  conn.send(message);
  expect((await conn.closed).code).toBe(code);
});

it('a second subscribe with an id in use closes the socket with 4409', async () => {
  const [a] = (await recordsIn(h, 'projects', 'succeeded')).map((r) => String(r.record_identifier));
  const conn = await connect();
  const subscribe = { id: 'same', type: 'subscribe', payload: { query: TWO_OPERATIONS, operationName: 'Small', variables: { identifiers: [a] } } };
  conn.send(subscribe);
  await conn.waitFor((m) => m.id === 'same');
  conn.send(subscribe);
  expect(await conn.closed).toEqual({ code: 4409, reason: 'Subscriber for same already exists' });
});
