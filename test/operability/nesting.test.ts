// Deep nesting is refused before GraphQL's recursive parser sees it (2,000 nested lists in 4 KB used to overflow its
// stack: HTTP 500 with stack traces in the log, and a WebSocket closed with 4500). MAX_NESTING bounds `{`, `[` and `(`
// outside strings and comments, on every transport, and the nesting of the variables' JSON.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN, projectIds, until, type GraphQLBody } from './helpers.js';

let gw: TestGateway;
let ids: string[];

beforeAll(async () => {
  gw = await startTestGateway({ standIn: { failRate: 0 } });
  ids = await projectIds(gw.standIn.url, 2);
});
afterAll(async () => {
  await gw?.close();
});

/** `{ modelRecords(... identifiers: [[...]]) }`: nested `levels` + 2 deep (the braces and the parentheses). */
const nestedLists = (levels: number) => `{ modelRecords(model: PROJECT, identifiers: ${'['.repeat(levels)}"1"${']'.repeat(levels)}) { totalCount } }`;
const nestedSelections = (levels: number) => `{ ${'modelRecords { '.repeat(levels)}totalCount${' }'.repeat(levels)} }`;
/** A JSON request body whose variables nest `levels` deep, written as text (JSON.stringify itself overflows on it). */
const deepVariables = (query: string, levels: number) => `{"query":${JSON.stringify(query)},"variables":{"ids":${'['.repeat(levels)}${']'.repeat(levels)}}}`;

const NESTING_REFUSED = [{ message: 'Nesting limit of 64 exceeded.', extensions: { code: 'GRAPHQL_PARSE_FAILED' } }];
const VARIABLES_REFUSED = [{ message: 'Variables nesting limit of 64 exceeded.', extensions: { code: 'BAD_USER_INPUT' } }];

/** What every refusal here shares: a small 400 answer, no stack, nothing sent upstream, no error in the log. */
async function expectRefused(send: () => Promise<{ status: number; text: string }>, errors: unknown[]): Promise<void> {
  await gw.resetUpstream();
  const logged = gw.logs().length;
  const { status, text } = await send();
  expect(status).toBe(400);
  expect(text.length).toBeLessThan(300);
  expect(text).not.toMatch(/stack|\n\s+at /);
  expect(JSON.parse(text)).toEqual({ errors });
  expect(await gw.upstream()).toEqual([]);
  expect(gw.logs().slice(logged).filter((l) => l.level >= 50)).toEqual([]);
}

const postRaw = (body: unknown, headers: Record<string, string> = {}) => async () => {
  const res = await fetch(gw.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${ADMIN}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
};

describe('the nesting bound over HTTP', () => {
  it('2,000 nested lists (4 KB) are refused as a parse failure, not a crash', async () => {
    expect(nestedLists(2_000).length).toBeLessThan(4_200);
    await expectRefused(postRaw({ query: nestedLists(2_000) }), NESTING_REFUSED);
  });

  it('5,000 nested selections too', async () => {
    await expectRefused(postRaw({ query: nestedSelections(5_000) }), NESTING_REFUSED);
  });

  it('over GET too', async () => {
    await expectRefused(async () => {
      const res = await fetch(`${gw.url}?query=${encodeURIComponent(nestedLists(2_000))}`, {
        headers: { accept: 'application/graphql-response+json', authorization: `Bearer ${ADMIN}`, 'x-graphql-yoga-csrf': '1' },
      });
      return { status: res.status, text: await res.text() };
    }, NESTING_REFUSED);
  });

  it('64 levels go on to the parser and validation, 65 are refused', async () => {
    const at = await gw.post(nestedLists(62));
    expect(at.status).toBe(400);
    expect(at.body.errors?.map((e) => e.extensions?.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    await expectRefused(postRaw({ query: nestedLists(63) }), NESTING_REFUSED);
  });

  it('brackets in strings, block strings and comments do not count', async () => {
    const query = [
      `{ a: modelRecord(model: PROJECT, recordIdentifier: "${'[('.repeat(100)}\\"{") { id }`,
      `  b: modelRecord(model: PROJECT, recordIdentifier: """${'{['.repeat(100)} \\""" (""") { id } # ${'{'.repeat(100)}`,
      '}',
    ].join('\n');
    const res = await gw.post(query, { token: null });
    expect(res.body.data).toEqual({ a: null, b: null });
    expect(res.body.errors?.map((e) => e.extensions?.code)).not.toContain('GRAPHQL_PARSE_FAILED');
  });

  it('variables nested 100,000 deep are refused, for a query and for an SSE subscription', async () => {
    const levels = 100_000;
    await expectRefused(postRaw(deepVariables('query Q($ids: [ID!]) { modelRecords(model: PROJECT, identifiers: $ids) { totalCount } }', levels)), VARIABLES_REFUSED);
    // Not even declared: the operation never gets to ignore it.
    await expectRefused(postRaw(deepVariables('{ __typename }', levels)), VARIABLES_REFUSED);
    const watch = `subscription { checksumStateChanged(model: PROJECT, identifiers: ["${ids[0]}"]) { state } }`;
    await expectRefused(postRaw(deepVariables(watch, levels), { accept: 'text/event-stream, application/graphql-response+json' }), VARIABLES_REFUSED);
  });
});

describe('the nesting bound over graphql-ws', () => {
  it('refuses the document with an error message; the socket stays open and its other subscription keeps running', async () => {
    const messages: { id?: string; type: string; payload?: unknown }[] = [];
    const socket = new WebSocket(gw.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const closes: number[] = [];
    socket.on('close', (code) => closes.push(code));
    socket.on('message', (data) => messages.push(JSON.parse(String(data)) as (typeof messages)[number]));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const of = (id: string) => messages.filter((m) => m.id === id);
    try {
      socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${ADMIN}` } }));
      await until(() => (messages.some((m) => m.type === 'connection_ack') ? true : undefined), 'connection_ack');
      const watch = `subscription { checksumStateChanged(model: PROJECT, identifiers: ["${ids[0]}"]) { previousState state observedAt } }`;
      socket.send(JSON.stringify({ id: 'watch', type: 'subscribe', payload: { query: watch } }));
      await until(() => (of('watch').length === 1 ? true : undefined), 'the current state');

      const logged = gw.logs().length;
      socket.send(JSON.stringify({ id: 'lists', type: 'subscribe', payload: { query: nestedLists(2_000) } }));
      socket.send(JSON.stringify({ id: 'selections', type: 'subscribe', payload: { query: nestedSelections(5_000) } }));
      // Written as text: JSON.stringify itself would overflow on variables this deep.
      const deep = `{"id":"variables","type":"subscribe","payload":{"query":${JSON.stringify(watch)},"variables":{"ids":${'['.repeat(100_000)}${']'.repeat(100_000)}}}}`;
      socket.send(deep);
      await until(() => (of('lists').length + of('selections').length + of('variables').length === 3 ? true : undefined), 'the three refusals');
      expect(of('lists')).toEqual([{ id: 'lists', type: 'error', payload: NESTING_REFUSED }]);
      expect(of('selections')).toEqual([{ id: 'selections', type: 'error', payload: NESTING_REFUSED }]);
      expect(of('variables')).toEqual([{ id: 'variables', type: 'error', payload: VARIABLES_REFUSED }]);
      expect(gw.logs().slice(logged).filter((l) => l.level >= 50)).toEqual([]);

      // Still served: a recalculation of the watched record reaches the first subscription.
      const recalculated = await gw.post(`mutation { recalculateChecksum(model: PROJECT, recordIdentifier: "${ids[0]}") { errors } }`);
      expect(recalculated.body).toEqual({ data: { recalculateChecksum: { errors: [] } } } satisfies GraphQLBody);
      await until(() => (of('watch').length >= 2 ? true : undefined), 'a change after the refusals');
      expect(of('watch').every((m) => m.type === 'next')).toBe(true);
      expect(closes).toEqual([]);
    } finally {
      socket.close(1000);
    }
  });
});
