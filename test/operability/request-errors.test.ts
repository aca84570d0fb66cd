// Every refusal a client can act on carries `extensions.code` and a short message, with no stack and no echo of what
// the client sent: variables that do not fit the operation, the CSRF header, the content type, a body that is not JSON.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN, projectIds, until } from './helpers.js';

let gw: TestGateway;
let ids: string[];

beforeAll(async () => {
  gw = await startTestGateway({ standIn: { records: 5 } });
  ids = await projectIds(gw.standIn.url, 1);
});
afterAll(async () => {
  await gw?.close();
});

interface Answer {
  status: number;
  text: string;
  body: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
}

async function send(init: RequestInit, url = gw.url): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as Answer['body'] };
}

/** A short typed refusal: this status and code, a message, nothing else (no stack, no original error, no data). */
function expectRefusal(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, codes: answer.body.errors?.map((e) => e.extensions?.code) }).toEqual({ status, codes: [code] });
  expect(answer.body.data).toBeUndefined();
  expect(answer.text.length).toBeLessThan(400);
  expect(answer.text).not.toMatch(/stack|originalError|SyntaxError|\n\s+at /);
}

/** No log line of level error or above since `from` (a client's mistake is not the gateway's error). */
const noErrorLogsSince = (from: number) => expect(gw.logs().slice(from).filter((l) => l.level >= 50)).toEqual([]);

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${ADMIN}` };
const LOOKUP = 'query Lookup($id: ID!) { modelRecord(model: PROJECT, recordIdentifier: $id) { id } }';

describe('variables that do not fit the operation', () => {
  it('a wrongly typed or a missing variable is BAD_USER_INPUT (400), logged with that code, and nothing reaches GitLab', async () => {
    await gw.resetUpstream();
    const from = gw.logs().length;
    for (const variables of [{ id: { nested: 1 } }, {}, { id: null }]) {
      const answer = await send({ method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ query: LOOKUP, variables }) });
      expectRefusal(answer, 400, 'BAD_USER_INPUT');
      expect(answer.body.errors?.[0].message).toMatch(/^Variable "\$id"/);
    }
    expect(await gw.upstream()).toEqual([]);
    expect(gw.logs().slice(from).map((l) => l.errorCodes)).toEqual([['BAD_USER_INPUT'], ['BAD_USER_INPUT'], ['BAD_USER_INPUT']]);
    noErrorLogsSince(from);
  });

  it('over graphql-ws too, for a query and for a subscription', async () => {
    const messages: { id?: string; type: string; payload?: unknown }[] = [];
    const socket = new WebSocket(gw.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    socket.on('message', (data) => messages.push(JSON.parse(String(data)) as (typeof messages)[number]));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    try {
      socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${ADMIN}` } }));
      await until(() => (messages.some((m) => m.type === 'connection_ack') ? true : undefined), 'connection_ack');
      const watch = 'subscription Watch($ids: [ID!]!) { checksumStateChanged(model: PROJECT, identifiers: $ids) { state } }';
      socket.send(JSON.stringify({ id: 'q', type: 'subscribe', payload: { query: LOOKUP, variables: { id: [1, 2] } } }));
      socket.send(JSON.stringify({ id: 's', type: 'subscribe', payload: { query: watch, variables: {} } }));
      await until(() => (['q', 's'].every((id) => messages.some((m) => m.id === id && m.type === 'complete')) ? true : undefined), 'both answers');
      for (const id of ['q', 's']) {
        const [next] = messages.filter((m) => m.id === id && m.type === 'next') as { payload: Answer['body'] }[];
        expect(next.payload.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
        expect(JSON.stringify(next.payload)).not.toMatch(/http|stack/);
      }
    } finally {
      socket.close(1000);
    }
  });
});

describe('refusals of the HTTP request itself', () => {
  it('CSRF: a form-like POST without x-graphql-yoga-csrf is 403 BAD_REQUEST, saying what to send', async () => {
    const answer = await send({ method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ query: '{ __typename }' }) });
    expectRefusal(answer, 403, 'BAD_REQUEST');
    expect(answer.body.errors?.[0].message).toBe('Required CSRF header not present: send x-graphql-yoga-csrf, or a JSON content type.');
  });

  it('a content type no parser reads is 415 BAD_REQUEST with a body (it was empty)', async () => {
    for (const headers of <Record<string, string>[]>[{ 'content-type': 'application/xml' }, { 'x-graphql-yoga-csrf': '1' }]) {
      const answer = await send({ method: 'POST', headers: { accept: 'application/json', ...headers }, body: '<query/>' });
      expectRefusal(answer, 415, 'BAD_REQUEST');
      expect(answer.body.errors?.[0].message).toBe('Unsupported content type: send the request as application/json.');
    }
  });

  it('a body that is not JSON (900 KB) is answered in a few bytes: 400 BAD_REQUEST, never the body', async () => {
    const from = gw.logs().length;
    const body = `{"query": "${'x'.repeat(900_000)}`;
    const answer = await send({ method: 'POST', headers: JSON_HEADERS, body });
    expectRefusal(answer, 400, 'BAD_REQUEST');
    expect(answer.body).toEqual({ errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
    noErrorLogsSince(from);
    expect(gw.rawLog().slice(-10_000)).not.toContain('x'.repeat(100));
  });

  it('a GET whose variables are not JSON is 400 BAD_REQUEST (it was a 500 with a stack in the log)', async () => {
    const from = gw.logs().length;
    const query = encodeURIComponent(LOOKUP);
    const answer = await send({ headers: { accept: 'application/json', 'x-graphql-yoga-csrf': '1', authorization: `Bearer ${ADMIN}` } }, `${gw.url}?query=${query}&variables=%7Bnot-json`);
    expectRefusal(answer, 400, 'BAD_REQUEST');
    expect(answer.body.errors?.[0].message).toBe('The variables or extensions parameter is not valid JSON.');
    noErrorLogsSince(from);
    // The same GET with JSON variables works.
    const ok = await send({ headers: { accept: 'application/json', 'x-graphql-yoga-csrf': '1', authorization: `Bearer ${ADMIN}` } }, `${gw.url}?query=${query}&variables=${encodeURIComponent(JSON.stringify({ id: ids[0] }))}`);
    expect(ok.body).toEqual({ data: { modelRecord: { id: `gid://gitlab/Project/${ids[0]}` } } });
  });
});
