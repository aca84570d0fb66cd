// Automatic persisted queries, driven by Apollo Client's own persisted-query link over HTTP (POST, and GET for hashed
// queries): the first call of a document misses and is sent again with its text, later calls send only the hash. Also:
// a hash that is not its query's, graphql-ws, the bounds of the store, and the store turned off.
import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, gql, InMemoryCache } from '@apollo/client';
import { HttpLink } from '@apollo/client/link/http';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN, projectIds } from './helpers.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** One request as the gateway received it: whether it carried the document's text, and the answer's status. */
interface Sent {
  method: string;
  withQuery: boolean;
  hash: string | undefined;
  status?: number;
}

/** fetch, recording what each request carried (the link's own fetch, so this is exactly what went out). */
function recordingFetch(sent: Sent[]): typeof fetch {
  return async (input, init) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const params = (method === 'GET' ? { query: url.searchParams.get('query'), extensions: JSON.parse(url.searchParams.get('extensions') ?? 'null') } : JSON.parse(String(init?.body))) as {
      query?: string | null;
      extensions?: { persistedQuery?: { sha256Hash: string } } | null;
    };
    const entry: Sent = { method, withQuery: typeof params.query === 'string' && params.query !== '', hash: params.extensions?.persistedQuery?.sha256Hash };
    sent.push(entry);
    const res = await fetch(input, init);
    entry.status = res.status;
    return res;
  };
}

function apolloClient(url: string, sent: Sent[], useGETForHashedQueries = false) {
  const persisted = new PersistedQueryLink({ sha256, useGETForHashedQueries });
  const http = new HttpLink({ uri: url, fetch: recordingFetch(sent), headers: { authorization: `Bearer ${ADMIN}` } });
  return new ApolloClient({ cache: new InMemoryCache(), link: ApolloLink.from([persisted, http]) });
}

const RECORD = gql`
  query Record($id: ID!) {
    modelRecord(model: PROJECT, recordIdentifier: $id) { id recordIdentifier }
  }
`;
const RECORD_MODEL = gql`
  query RecordModel($id: ID!) {
    modelRecord(model: PROJECT, recordIdentifier: $id) { id recordIdentifier model }
  }
`;

/** A request made by hand, for what Apollo's link never sends (a wrong hash, a hash alone at once). */
async function post(url: string, body: object) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] } };
}
const persisted = (query: string | undefined, hash = sha256(query ?? '')) => ({ query, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
const codes = (answer: { body: { errors?: { extensions?: { code?: string } }[] } }) => answer.body.errors?.map((e) => e.extensions?.code);

describe('with the default store', () => {
  let gw: TestGateway;
  let ids: string[];
  beforeAll(async () => {
    gw = await startTestGateway({ standIn: { records: 10, failRate: 0 } });
    ids = await projectIds(gw.standIn.url, 4);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("Apollo's link over POST: the first call misses and sends the query, later calls only the hash; the results are right", async () => {
    const sent: Sent[] = [];
    const client = apolloClient(gw.url, sent);
    for (const id of ids.slice(0, 3)) {
      const { data, error } = await client.query({ query: RECORD, variables: { id }, fetchPolicy: 'no-cache' });
      expect(error).toBeUndefined();
      expect(data).toEqual({ modelRecord: { __typename: 'ModelRecord', id: `gid://gitlab/Project/${id}`, recordIdentifier: id } });
    }
    const hash = sent[0].hash;
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(sent).toEqual([
      { method: 'POST', withQuery: false, hash, status: 404 },
      { method: 'POST', withQuery: true, hash, status: 200 },
      { method: 'POST', withQuery: false, hash, status: 200 },
      { method: 'POST', withQuery: false, hash, status: 200 },
    ]);
    client.stop();
  });

  it("Apollo's link with GET for hashed queries: the hash goes in the URL, the miss is sent again by POST", async () => {
    const sent: Sent[] = [];
    const client = apolloClient(gw.url, sent, true);
    for (const id of ids.slice(0, 3)) {
      const { data } = await client.query({ query: RECORD_MODEL, variables: { id }, fetchPolicy: 'no-cache' });
      expect((data as { modelRecord: object }).modelRecord).toEqual({ __typename: 'ModelRecord', id: `gid://gitlab/Project/${id}`, recordIdentifier: id, model: 'PROJECT' });
    }
    const hash = sent[0].hash;
    expect(sent).toEqual([
      { method: 'GET', withQuery: false, hash, status: 404 },
      { method: 'POST', withQuery: true, hash, status: 200 },
      { method: 'GET', withQuery: false, hash, status: 200 },
      { method: 'GET', withQuery: false, hash, status: 200 },
    ]);
    client.stop();
  });

  it('a hash that is not the SHA-256 of its query is PERSISTED_QUERY_HASH_MISMATCH (400): nothing runs, nothing is kept', async () => {
    const query = `{ modelRecord(model: PROJECT, recordIdentifier: "${ids[3]}") { id } }`;
    const wrong = sha256(`${query} `);
    await gw.resetUpstream();
    const answer = await post(gw.url, persisted(query, wrong));
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ errors: [{ message: 'The persisted query hash is not the SHA-256 of the query sent with it.', extensions: { code: 'PERSISTED_QUERY_HASH_MISMATCH' } }] });
    expect(await gw.upstream()).toEqual([]);
    expect(codes(await post(gw.url, persisted(undefined, wrong)))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    // A malformed extension is a request error, not a miss a client would answer by sending the query again.
    const malformed = await post(gw.url, { query, extensions: { persistedQuery: { version: 2, sha256Hash: sha256(query) } } });
    expect({ status: malformed.status, codes: codes(malformed) }).toEqual({ status: 400, codes: ['BAD_REQUEST'] });
  });

  it('over graphql-ws: a kept document runs from its hash (with an empty query, as the protocol requires a string), a wrong hash is refused', async () => {
    const query = `query WsRecord { modelRecord(model: PROJECT, recordIdentifier: "${ids[0]}") { recordIdentifier } }`;
    const client = createClient({ url: gw.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${ADMIN}` }, retryAttempts: 0 });
    const run = (payload: { query: string; extensions: Record<string, unknown> }) =>
      new Promise<{ data?: unknown; errors?: unknown }>((resolve) => {
        let result: { data?: unknown; errors?: unknown } = {};
        client.subscribe(payload, { next: (r) => (result = r), error: (errors) => resolve({ errors }), complete: () => resolve(result) });
      });
    try {
      const hashOnly = { query: '', extensions: persisted(query).extensions };
      expect(await run(hashOnly)).toMatchObject({ errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] });
      // Kept over HTTP, found over graphql-ws: one store.
      expect(codes(await post(gw.url, persisted(query)))).toBeUndefined();
      expect(await run(hashOnly)).toEqual({ data: { modelRecord: { recordIdentifier: ids[0] } } });
      const mismatch = await run({ query, extensions: persisted(query, sha256('another document')).extensions });
      expect(mismatch).toEqual({ errors: [{ message: 'The persisted query hash is not the SHA-256 of the query sent with it.', extensions: { code: 'PERSISTED_QUERY_HASH_MISMATCH' } }] });
    } finally {
      await client.dispose();
    }
  });
});

describe('a bounded store', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ standIn: { records: 5 }, env: { APQ_MAX_ENTRIES: '2', APQ_MAX_BYTES: '1000' } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  const doc = (name: string, pad = 0) => `query ${name} { __typename }${pad > 0 ? ` # ${'x'.repeat(pad)}` : ''}`;
  const known = async (query: string) => {
    const answer = await post(gw.url, persisted(undefined, sha256(query)));
    if (answer.status === 200) return true;
    expect(codes(answer)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    return false;
  };

  it('keeps at most APQ_MAX_ENTRIES documents, dropping the least recently used', async () => {
    const [a, b, c] = [doc('A'), doc('B'), doc('C')];
    for (const query of [a, b]) expect((await post(gw.url, persisted(query))).body).toEqual({ data: { __typename: 'Query' } });
    expect(await known(a)).toBe(true); // A is now the most recently used: C pushes B out.
    await post(gw.url, persisted(c));
    expect({ a: await known(a), b: await known(b), c: await known(c) }).toEqual({ a: true, b: false, c: true });
  });

  it('keeps at most APQ_MAX_BYTES of documents: a larger one runs but is not kept; a kept one that no longer fits goes', async () => {
    const big = doc('Big', 1000);
    expect((await post(gw.url, persisted(big))).body).toEqual({ data: { __typename: 'Query' } });
    expect(await known(big)).toBe(false);
    const [d, e] = [doc('D', 600), doc('E', 600)];
    await post(gw.url, persisted(d));
    await post(gw.url, persisted(e));
    expect({ d: await known(d), e: await known(e) }).toEqual({ d: false, e: true });
  });
});

describe('APQ_MAX_ENTRIES=0', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ standIn: { records: 5 }, env: { APQ_MAX_ENTRIES: '0' } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("answers PERSISTED_QUERY_NOT_SUPPORTED, and Apollo's link then sends every query in full", async () => {
    const sent: Sent[] = [];
    const client = apolloClient(gw.url, sent);
    const [id] = await projectIds(gw.standIn.url, 1);
    for (let i = 0; i < 3; i++) {
      const { data } = await client.query({ query: RECORD, variables: { id }, fetchPolicy: 'no-cache' });
      expect((data as { modelRecord: { recordIdentifier: string } }).modelRecord.recordIdentifier).toBe(id);
    }
    expect(sent.map(({ withQuery, hash, status }) => ({ withQuery, hashed: hash !== undefined, status }))).toEqual([
      { withQuery: false, hashed: true, status: 400 },
      { withQuery: true, hashed: false, status: 200 },
      { withQuery: true, hashed: false, status: 200 },
      { withQuery: true, hashed: false, status: 200 },
    ]);
    client.stop();
  });
});
