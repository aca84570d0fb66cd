// Request limits (graphql-armor's depth, aliases, tokens and cost; body size; page size), the introspection switch
// with field suggestions, and GraphiQL's switch. A rejected request sends nothing to GitLab.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN, projectIds } from './helpers.js';

/** Limits low enough to trip with small documents; each gateway sets only what it tests. */
let armored: TestGateway; // MAX_DEPTH=4, MAX_ALIASES=3, MAX_COST=50; introspection and GraphiQL left at their defaults (off)
let tokens: TestGateway; // MAX_TOKENS=17
let closed: TestGateway; // MAX_PAGE_SIZE=10, MAX_REQUEST_BODY_BYTES=2000, GRAPHQL_INTROSPECTION=false, GRAPHIQL=false
let open: TestGateway; // GRAPHQL_INTROSPECTION=true, GRAPHIQL=true
let ids: string[];

beforeAll(async () => {
  [armored, tokens, closed, open] = await Promise.all([
    startTestGateway({ standIn: { records: 20 }, env: { MAX_DEPTH: '4', MAX_ALIASES: '3', MAX_COST: '50' } }),
    startTestGateway({ standIn: { records: 20 }, env: { MAX_TOKENS: '17' } }),
    startTestGateway({ standIn: { records: 20 }, env: { MAX_PAGE_SIZE: '10', MAX_REQUEST_BODY_BYTES: '2000', GRAPHQL_INTROSPECTION: 'false', GRAPHIQL: 'false' } }),
    startTestGateway({ standIn: { records: 20 }, env: { GRAPHQL_INTROSPECTION: 'true', GRAPHIQL: 'true' } }),
  ]);
  // Every stand-in is seeded alike.
  ids = await projectIds(armored.standIn.url, 4);
});
afterAll(async () => {
  await Promise.all([armored, tokens, closed, open].filter(Boolean).map((g) => g.close()));
});

const aliases = (n: number) => `query Aliased { ${ids.slice(0, n).map((id, i) => `a${i}: modelRecord(model: PROJECT, recordIdentifier: "${id}") { recordIdentifier }`).join(' ')} }`;
const page = (first: number) => `query Page { modelRecords(model: PROJECT, first: ${first}) { nodes { id } } }`;

/** Sends `query`, expects exactly `errors` and no data, and checks GitLab heard nothing. */
async function rejected(gw: TestGateway, query: string, errors: unknown[]): Promise<void> {
  await gw.resetUpstream();
  const res = await gw.post(query);
  expect(res.body.data ?? undefined).toBeUndefined();
  expect(res.body.errors).toEqual(errors);
  expect(await gw.upstream()).toEqual([]);
}

describe('graphql-armor limits', () => {
  it('depth: 4 levels pass, 5 are refused', async () => {
    const ok = await armored.post(`{ modelRecords(model: PROJECT, first: 1) { nodes { checksumInformation { checksumState } } } }`);
    expect(ok.body.errors).toBeUndefined();
    expect((ok.body.data as { modelRecords: { nodes: unknown[] } }).modelRecords.nodes).toHaveLength(1);
    await rejected(armored, `{ modelRecords(model: PROJECT, first: 1) { edges { node { checksumInformation { checksumState } } } } }`, [
      { message: 'Query depth limit of 4 exceeded, found 5.', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
    ]);
  });

  it('aliases: 3 pass, 4 are refused', async () => {
    const ok = await armored.post(aliases(3));
    expect(ok.body).toEqual({ data: { a0: { recordIdentifier: ids[0] }, a1: { recordIdentifier: ids[1] }, a2: { recordIdentifier: ids[2] } } });
    await rejected(armored, aliases(4), [{ message: 'Aliases limit of 3 exceeded, found 4.', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }]);
  });

  it('cost: first 6 (cost 43.5) passes, first 7 (cost 50.75) is refused', async () => {
    const ok = await armored.post(page(6));
    expect((ok.body.data as { modelRecords: { nodes: unknown[] } }).modelRecords.nodes).toHaveLength(6);
    await rejected(armored, page(7), [{ message: 'Query Cost limit of 50 exceeded, found 50.75.', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }]);
  });

  it('tokens: 17 pass, 18 are refused as a parse failure', async () => {
    const ok = await tokens.post(`{ modelRecords(model: PROJECT, first: 1) { nodes { id } } }`);
    expect((ok.body.data as { modelRecords: { nodes: unknown[] } }).modelRecords.nodes).toHaveLength(1);
    await rejected(tokens, `{ modelRecords(model: PROJECT, first: 1) { nodes { id model } } }`, [
      { message: 'Token limit of 17 exceeded.', extensions: { code: 'GRAPHQL_PARSE_FAILED' } },
    ]);
  });

  it('over graphql-ws too: a document over a limit gets an error message, nothing goes upstream', async () => {
    const socket = new WebSocket(armored.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const messages: { type: string; id?: string; payload?: unknown }[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    const closedWith = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${ADMIN}` } }));
    await waitFor(() => messages.some((m) => m.type === 'connection_ack'));
    // From here: what the documents cost (the connection's token check is behind).
    await armored.resetUpstream();
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: aliases(4) } }));
    await waitFor(() => messages.some((m) => m.id === '1'));
    expect(messages.filter((m) => m.id === '1')).toEqual([{ id: '1', type: 'error', payload: [{ message: 'Aliases limit of 3 exceeded, found 4.', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] }]);
    // The connection survives a refused document.
    socket.send(JSON.stringify({ id: '2', type: 'subscribe', payload: { query: aliases(1) } }));
    await waitFor(() => messages.some((m) => m.id === '2' && m.type === 'complete'));
    expect(messages.filter((m) => m.id === '2')).toEqual([
      { id: '2', type: 'next', payload: { data: { a0: { recordIdentifier: ids[0] } } } },
      { id: '2', type: 'complete' },
    ]);
    expect((await armored.upstream()).map((e) => e.params['identifiers[]'])).toEqual([[ids[0]]]);
    socket.close(1000);
    expect(await closedWith).toBe(1000);
  });
});

describe('body and page size', () => {
  const body = (bytes: number) => {
    const base = JSON.stringify({ query: '{ __typename }', variables: { pad: '' } });
    return JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(bytes - base.length) } });
  };

  it('a body of exactly MAX_REQUEST_BODY_BYTES is served; one byte more is 413', async () => {
    expect(Buffer.byteLength(body(2000))).toBe(2000);
    const ok = await fetch(closed.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(2000) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ data: { __typename: 'Query' } });

    const big = await fetch(closed.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(2001) });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ errors: [{ message: 'The request body exceeds 2000 bytes.', extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('a chunked body without a length is refused with 411', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(closed.url, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (r) => {
        let text = '';
        r.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: r.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.write(body(1500).slice(0, 700));
      req.end(body(1500).slice(700));
    });
    expect(res.status).toBe(411);
    expect(JSON.parse(res.body)).toEqual({ errors: [{ message: 'A Content-Length is required.', extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('a graphql-ws message over the limit closes the socket with 1009', async () => {
    // graphql-ws reports the oversized frame with console.error and a stack trace; keep the test output clean.
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    onTestFinished(() => quiet.mockRestore());
    const socket = new WebSocket(closed.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const closedWith = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${ADMIN}`, pad: 'x'.repeat(2100) } }));
    expect(await closedWith).toBe(1009);
  });

  it('first over MAX_PAGE_SIZE is BAD_USER_INPUT before any upstream call; MAX_PAGE_SIZE itself is fine', async () => {
    const ok = await closed.post(page(10));
    expect((ok.body.data as { modelRecords: { nodes: unknown[] } }).modelRecords.nodes).toHaveLength(10);
    await closed.resetUpstream();
    const res = await closed.post(page(11));
    expect(res.body).toEqual({
      data: { modelRecords: null },
      errors: [{ message: 'first must be between 1 and 10.', locations: [{ line: 1, column: 14 }], path: ['modelRecords'], extensions: { code: 'BAD_USER_INPUT' } }],
    });
    expect(await closed.upstream()).toEqual([]);
  });
});

describe('introspection and GraphiQL switches', () => {
  // Only __schema itself is an introspection field here (__typename is not): one error, exactly.
  const INTROSPECT = '{ __schema { __typename } }';
  const TYPE = '{ __type(name: "ModelRecord") { name } }';
  const MISSPELT = '{ modelRecordz(model: PROJECT, first: 1) { nodes { id } } }';

  it('GRAPHQL_INTROSPECTION=false: __schema and __type are refused; a misspelt field gets no suggestion', async () => {
    await rejected(closed, INTROSPECT, [
      { message: 'GraphQL introspection has been disabled, but the requested query contained the field "__schema".', locations: [{ line: 1, column: 3 }], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
    ]);
    await rejected(closed, TYPE, [
      { message: 'GraphQL introspection has been disabled, but the requested query contained the field "__type".', locations: [{ line: 1, column: 3 }], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
    ]);
    const res = await closed.post(MISSPELT);
    expect(res.body.errors).toEqual([
      { message: 'Cannot query field "modelRecordz" on type "Query". [Suggestion hidden]', locations: [{ line: 1, column: 3 }], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
    ]);
    expect(JSON.stringify(res.body)).not.toContain('Did you mean');
    expect(JSON.stringify(res.body)).not.toContain('"modelRecords"');
  });

  it('with GITLAB_URL set and no GRAPHQL_INTROSPECTION, introspection is off too', async () => {
    await rejected(armored, INTROSPECT, [
      { message: 'GraphQL introspection has been disabled, but the requested query contained the field "__schema".', locations: [{ line: 1, column: 3 }], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
    ]);
    expect((await armored.post(MISSPELT)).body.errors?.[0].message).toBe('Cannot query field "modelRecordz" on type "Query". [Suggestion hidden]');
  });

  it('GRAPHQL_INTROSPECTION=true: introspection answers, and suggestions are given', async () => {
    const res = await open.post(`{ __schema { queryType { name } } __type(name: "ModelRecord") { name fields { name } } }`);
    expect(res.body.errors).toBeUndefined();
    const data = res.body.data as { __schema: { queryType: { name: string } }; __type: { name: string; fields: { name: string }[] } };
    expect(data.__schema).toEqual({ queryType: { name: 'Query' } });
    expect(data.__type.fields.map((f) => f.name).sort()).toEqual(['checksumInformation', 'createdAt', 'fileSize', 'id', 'model', 'modelClass', 'recordIdentifier']);
    expect((await open.post(MISSPELT)).body.errors).toEqual([
      { message: 'Cannot query field "modelRecordz" on type "Query". Did you mean "modelRecord" or "modelRecords"?', locations: [{ line: 1, column: 3 }], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
    ]);
  });

  it('GRAPHIQL=false: GET /graphql for a browser is no GraphiQL page but a 406 saying it is off, and its assets are not served', async () => {
    // What fetch sends, and what a browser's address bar sends (before, the second got a 403 about a CSRF header).
    for (const accept of ['text/html', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8']) {
      const res = await fetch(closed.url, { headers: { accept } });
      const text = await res.text();
      expect({ accept, status: res.status, type: res.headers.get('content-type') }).toEqual({ accept, status: 406, type: 'text/html; charset=utf-8' });
      expect(text).toContain('<h1>GraphiQL is off</h1>');
      expect(text).toContain('<code>GRAPHIQL=true</code> and <code>GRAPHQL_INTROSPECTION=true</code>');
      expect(text).not.toContain('graphiql-assets');
    }
    expect((await fetch(`${closed.base}/graphiql-assets/graphiql.css`)).status).not.toBe(200);
  });

  it('GRAPHIQL=true: the same request is GraphiQL, with its assets served locally', async () => {
    const res = await fetch(open.url, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).toContain('<title>Data management gateway</title>');
    expect(html).toContain('/graphiql-assets/graphiql.css');
    expect(html).not.toContain('unpkg.com');
    const css = await fetch(`${open.base}/graphiql-assets/graphiql.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css');
  });
});

async function waitFor(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
