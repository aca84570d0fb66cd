// Error messages quote what the client sent (a variable's value, a field name, a token): whatever its length, the answer
// stays short, over HTTP, SSE and graphql-ws alike, with the message cut at 1,024 characters (ending "…") and its code kept.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN, until } from './helpers.js';

const LONG = 500_000;
const MAX_MESSAGE = 1_024;
/** An answer of one error whose message is cut: the message, its locations, code and status, in far less than 500 KB. */
const MAX_ANSWER_BYTES = 4_096;

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ standIn: { records: 5 } });
});
afterAll(async () => {
  await gw?.close();
});

interface Case {
  name: string;
  body: Record<string, unknown>;
  code: string;
  /** How the message starts (what it is about), before the client's text it quotes. */
  starts: string;
}

const PAGE = 'query Page($first: Int) { modelRecords(model: PROJECT, first: $first) { totalCount } }';
const CASES: Case[] = [
  { name: 'a variable of the wrong type, 500 KB long', body: { query: PAGE, variables: { first: 'x'.repeat(LONG) } }, code: 'BAD_USER_INPUT', starts: 'Variable "$first" got invalid value "xxx' },
  { name: 'a field name of 500 KB', body: { query: `{ ${'f'.repeat(LONG)} }` }, code: 'GRAPHQL_VALIDATION_FAILED', starts: 'Cannot query field "fff' },
  { name: 'an argument name of 500 KB', body: { query: `{ modelRecords(model: PROJECT, ${'a'.repeat(LONG)}: 1) { totalCount } }` }, code: 'GRAPHQL_VALIDATION_FAILED', starts: 'Unknown argument "aaa' },
  { name: 'an unexpected name of 500 KB (a syntax error)', body: { query: `{ __typename } ${'n'.repeat(LONG)}` }, code: 'GRAPHQL_PARSE_FAILED', starts: 'Syntax Error: Unexpected Name "nnn' },
];

/** One error, cut: its message at most 1,024 characters ending with "…", starting as expected, with its code. */
function expectCut(errors: { message: string; extensions?: { code?: string } }[] | undefined, c: Case): void {
  expect(errors?.map((e) => e.extensions?.code)).toEqual([c.code]);
  const { message } = errors![0];
  expect(message.startsWith(c.starts)).toBe(true);
  expect(message.length).toBe(MAX_MESSAGE);
  expect(message.endsWith('…')).toBe(true);
}

describe('over HTTP', () => {
  for (const c of CASES) {
    it(`${c.name}: a short answer, with its code and status`, async () => {
      const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(c.body) });
      const text = await res.text();
      expect(res.status).toBe(400);
      expect(Buffer.byteLength(text)).toBeLessThan(MAX_ANSWER_BYTES);
      expectCut((JSON.parse(text) as { errors?: [] }).errors, c);
    });
  }

  it('a message within the bound comes whole', async () => {
    const res = await gw.post(PAGE, { variables: { first: 'x'.repeat(100) } });
    expect(res.body.errors?.[0].message).toBe(`Variable "$first" got invalid value "${'x'.repeat(100)}"; Int cannot represent non-integer value: "${'x'.repeat(100)}"`);
  });
});

describe('over SSE', () => {
  it('a subscription with a field name of 500 KB gets a short error event', async () => {
    const c: Case = { name: 'field', body: { query: `subscription { ${'f'.repeat(LONG)} }` }, code: 'GRAPHQL_VALIDATION_FAILED', starts: 'Cannot query field "fff' };
    const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(c.body) });
    const text = await res.text();
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(Buffer.byteLength(text)).toBeLessThan(MAX_ANSWER_BYTES);
    const data = /^event: next\ndata: (.*)$/m.exec(text)?.[1];
    expectCut((JSON.parse(data!) as { errors?: [] }).errors, c);
  });
});

describe('over graphql-ws', () => {
  it('errors of a subscribe message (parse, validation) and of a result (variables) are short too', async () => {
    const messages: { id?: string; type: string; payload?: unknown; size: number }[] = [];
    const socket = new WebSocket(gw.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    socket.on('message', (data) => messages.push({ ...(JSON.parse(String(data)) as { type: string }), size: (data as Buffer).length }));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    try {
      socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${ADMIN}` } }));
      await until(() => (messages.some((m) => m.type === 'connection_ack') ? true : undefined), 'connection_ack');
      CASES.forEach((c, i) => socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: c.body })));
      const answered = (id: string) => messages.some((m) => m.id === id && (m.type === 'error' || m.type === 'complete'));
      await until(() => (CASES.every((_, i) => answered(String(i))) ? true : undefined), 'every answer');
      CASES.forEach((c, i) => {
        const answers = messages.filter((m) => m.id === String(i) && m.type !== 'complete');
        expect(answers).toHaveLength(1);
        const [answer] = answers;
        expect(answer.size).toBeLessThan(MAX_ANSWER_BYTES);
        // A variable of the wrong type is found by execution (a `next` result); the rest before it (an `error`).
        expectCut(answer.type === 'next' ? (answer.payload as { errors?: [] }).errors : (answer.payload as []), c);
        expect(answer.type).toBe(c.code === 'BAD_USER_INPUT' ? 'next' : 'error');
      });
    } finally {
      socket.close(1000);
    }
  });
});
