// Over SSE (graphql-sse's distinct connections mode), errors found before execution arrive on an accepted stream, as
// GraphQL over SSE asks: a 400 event stream was dropped by graphql-sse's client, message and all. JSON answers keep
// their statuses; a request refused as such (CSRF header, no query) keeps its status too, in JSON rather than a stream.
import type { FormattedExecutionResult } from 'graphql';
import { createClient } from 'graphql-sse';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN, projectIds } from './helpers.js';

let gw: TestGateway;
let ids: string[];
const agent = new Agent();

beforeAll(async () => {
  gw = await startTestGateway({ standIn: { records: 5, failRate: 0 } });
  ids = await projectIds(gw.standIn.url, 1);
});
afterAll(async () => {
  await agent.destroy();
  await gw?.close();
});

const LOOKUP = 'query Lookup($id: ID!) { modelRecord(model: PROJECT, recordIdentifier: $id) { recordIdentifier } }';
const WATCH = 'subscription Watch($ids: [ID!]!) { checksumStateChanged(model: PROJECT, identifiers: $ids) { state } }';

type Seen = { next: FormattedExecutionResult[]; error?: unknown; completed: boolean };

/** One operation through graphql-sse's own client (distinct connections), until it completes or fails. */
function throughSseClient(query: string, variables: Record<string, unknown>, operationName?: string): Promise<Seen> {
  // Its own pool, destroyed with the suite: the global one would keep a spare connection that holds up the gateway's close.
  const client = createClient({
    url: gw.url,
    singleConnection: false,
    retryAttempts: 0,
    headers: { authorization: `Bearer ${ADMIN}` },
    fetchFn: ((url: string, init: object) => undiciFetch(url, { ...init, dispatcher: agent })) as unknown as typeof fetch,
  });
  const seen: Seen = { next: [], completed: false };
  return new Promise<Seen>((resolve) => {
    client.subscribe(
      { query, variables, operationName },
      {
        next: (result) => seen.next.push(result as FormattedExecutionResult),
        error: (error) => resolve({ ...seen, error }),
        complete: () => resolve({ ...seen, completed: true }),
      },
    );
  }).finally(() => client.dispose());
}

const typed = (code: string, message: RegExp) => ({ next: [{ errors: [expect.objectContaining({ message: expect.stringMatching(message), extensions: { code } })] }], completed: true });

describe("graphql-sse's client gets the errors found before execution", () => {
  it.each([
    ['a query with a missing variable', LOOKUP, {}],
    ['a query with a wrongly typed variable', LOOKUP, { id: { nested: 1 } }],
    ['a query with null for a non-null variable', LOOKUP, { id: null }],
    ['a subscription with a missing variable', WATCH, {}],
    ['a subscription with a wrongly typed variable', WATCH, { ids: [[1]] }],
  ])('%s: BAD_USER_INPUT as a next event, then complete', async (_name, query, variables) => {
    await gw.resetUpstream();
    expect(await throughSseClient(query, variables)).toEqual(typed('BAD_USER_INPUT', /^Variable "\$(id|ids)"/));
    expect(await gw.upstream()).toEqual([]);
  });

  it('an operation name the document does not have, a syntax error and an unknown field too', async () => {
    expect(await throughSseClient(LOOKUP, { id: ids[0] }, 'Other')).toEqual(typed('OPERATION_RESOLUTION_FAILURE', /operation/));
    expect(await throughSseClient('query {', {})).toEqual(typed('GRAPHQL_PARSE_FAILED', /Syntax Error/));
    expect(await throughSseClient('{ nope }', {})).toEqual(typed('GRAPHQL_VALIDATION_FAILED', /nope/));
  });

  it('and the same operation with its variables right runs', async () => {
    expect(await throughSseClient(LOOKUP, { id: ids[0] })).toEqual({ next: [{ data: { modelRecord: { recordIdentifier: ids[0] } } }], completed: true });
  });
});

async function send(accept: string, body: object | string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await fetch(gw.url, { method: 'POST', headers: { accept, authorization: `Bearer ${ADMIN}`, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('on the wire', () => {
  it('Accept: text/event-stream: 200, text/event-stream, a next event with the error, then complete', async () => {
    const answer = await send('text/event-stream', { query: LOOKUP, variables: {} });
    expect({ status: answer.status, type: answer.type }).toEqual({ status: 200, type: 'text/event-stream' });
    const events = [...answer.text.matchAll(/^event: (\w+)\ndata:(.*)$/gm)].map(([, event, data]) => ({ event, data: data.trim() === '' ? null : JSON.parse(data) }));
    expect(events).toEqual([
      { event: 'next', data: { errors: [{ message: 'Variable "$id" of required type "ID!" was not provided.', locations: [{ line: 1, column: 14 }], extensions: { code: 'BAD_USER_INPUT' } }] } },
      { event: 'complete', data: null },
    ]);
  });

  it('JSON answers keep their status: 400 under application/graphql-response+json and application/json', async () => {
    for (const accept of ['application/graphql-response+json', 'application/json']) {
      const answer = await send(accept, { query: LOOKUP, variables: {} });
      expect({ status: answer.status, type: answer.type, codes: (JSON.parse(answer.text) as { errors: { extensions: { code: string } }[] }).errors.map((e) => e.extensions.code) }).toEqual({
        status: 400,
        type: `${accept}; charset=utf-8`,
        codes: ['BAD_USER_INPUT'],
      });
    }
  });

  it('a refused request keeps its status under Accept: text/event-stream, with its error in JSON', async () => {
    const csrf = await send('text/event-stream', { query: LOOKUP, variables: { id: ids[0] } }, { 'content-type': 'text/plain' });
    const noQuery = await send('text/event-stream', {});
    for (const [answer, status] of [[csrf, 403], [noQuery, 400]] as const) {
      expect({ status: answer.status, type: answer.type }).toEqual({ status, type: 'application/graphql-response+json; charset=utf-8' });
      expect((JSON.parse(answer.text) as { errors: { extensions: { code: string } }[] }).errors.map((e) => e.extensions.code)).toEqual(['BAD_REQUEST']);
    }
  });
});
