// TRUSTED_DOCUMENTS_ONLY=true in front of a GitLab (not demo mode), with the file the project's codegen writes from
// test/operations/: trusted documents run however they are named (documentId, APQ hash, their full text, their text as
// the client wrote it); any other document is refused with PERSISTED_QUERY_ONLY over HTTP POST, GET, SSE and graphql-ws
// alike, before anything reaches GitLab, and is logged and counted as a rejected operation.
import { ApolloClient, ApolloLink, InMemoryCache } from '@apollo/client';
import { HttpLink } from '@apollo/client/link/http';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordCountDocument as WrittenRecordCount } from '../generated/operations.js';
import { ModelsDocument, RecordCountDocument, VerificationProgressDocument } from '../generated/trusted-documents/graphql.js';
import { startTestGateway, type TestGateway } from '../operability/gateway.js';
import { ADMIN, sample, until } from '../operability/helpers.js';
import {
  ARBITRARY,
  ARBITRARY_SUBSCRIPTION,
  codes,
  connectedWsClient,
  getJson,
  hashOf,
  postJson,
  sha256,
  throughSse,
  throughWs,
  TRUSTED_FILE,
  trustedMap,
} from './helpers.js';

const REFUSAL = {
  message: 'Only trusted documents run here: send the documentId (or persisted query hash) of a document the gateway trusts.',
  extensions: { code: 'PERSISTED_QUERY_ONLY' },
};

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ standIn: { records: 5, failRate: 0 }, env: { TRUSTED_DOCUMENTS: TRUSTED_FILE, TRUSTED_DOCUMENTS_ONLY: 'true' } });
});
afterAll(async () => {
  await gw?.close();
});

const COUNT = { data: { modelRecords: { totalCount: 5 } } };

describe('trusted documents run', () => {
  it('by documentId (POST and GET), by APQ hash, and sent in full as the file holds them', async () => {
    const id = hashOf(RecordCountDocument);
    const variables = { model: 'PROJECT' };
    expect((await postJson(gw.url, { documentId: id, variables })).body).toEqual(COUNT);
    expect((await getJson(gw.url, { documentId: id, variables })).body).toEqual(COUNT);
    const hex = id.slice('sha256:'.length);
    expect((await postJson(gw.url, { extensions: { persistedQuery: { version: 1, sha256Hash: hex } }, variables })).body).toEqual(COUNT);
    const text = trustedMap()[id];
    expect(sha256(text)).toBe(hex);
    expect((await postJson(gw.url, { query: text, variables })).body).toEqual(COUNT);
  });

  it('sent in full as the client wrote it: another layout and order of the same document (test/generated/operations.ts printed)', async () => {
    const written = print(WrittenRecordCount);
    expect(trustedMap()[hashOf(RecordCountDocument)]).not.toBe(written);
    expect((await postJson(gw.url, { query: written, variables: { model: 'PROJECT' } })).body).toEqual(COUNT);
    // Fields in another order, comments and commas: the same document. One more field: another one.
    const shuffled = '# the catalogue\nquery Models { models { singularName, pluralName restName name modelClass kind } }';
    expect((await postJson(gw.url, { query: shuffled })).body.data?.models).toBeDefined();
    const more = 'query Models { models { singularName pluralName restName name modelClass kind __typename } }';
    expect((await postJson(gw.url, { query: more })).body).toEqual({ errors: [REFUSAL] });
  });

});

describe('a front end set up as the client preset intends', () => {
  it("Apollo Client sends each generated document's own hash (generateHash), and it runs at once: no query text ever goes out", async () => {
    const bodies: { query?: string; extensions?: { persistedQuery?: { sha256Hash: string } } }[] = [];
    const http = new HttpLink({
      uri: gw.url,
      headers: { authorization: `Bearer ${ADMIN}` },
      fetch: async (input, init) => {
        bodies.push(JSON.parse(String(init?.body)) as (typeof bodies)[number]);
        return fetch(input, init);
      },
    });
    const hashes = new PersistedQueryLink({ generateHash: (document) => hashOf(document) });
    const client = new ApolloClient({ cache: new InMemoryCache(), link: ApolloLink.from([hashes, http]) });
    try {
      const models = await client.query({ query: ModelsDocument, fetchPolicy: 'no-cache' });
      expect(models.data?.models).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'PROJECT' })]));
      const count = await client.query({ query: RecordCountDocument, variables: { model: 'PROJECT' }, fetchPolicy: 'no-cache' });
      expect(count.data).toEqual(COUNT.data);
    } finally {
      client.stop();
    }
    expect(bodies.map((b) => ({ query: b.query, hash: b.extensions?.persistedQuery?.sha256Hash }))).toEqual([
      { query: undefined, hash: hashOf(ModelsDocument) },
      { query: undefined, hash: hashOf(RecordCountDocument) },
    ]);
  });
});

describe('any other document is refused with PERSISTED_QUERY_ONLY, and nothing reaches GitLab', () => {
  it('over HTTP POST (400, whatever the Accept) and GET', async () => {
    await gw.resetUpstream();
    expect(await postJson(gw.url, { query: ARBITRARY })).toEqual({ status: 400, body: { errors: [REFUSAL] } });
    expect(await postJson(gw.url, { query: ARBITRARY }, { accept: 'application/json' })).toEqual({ status: 400, body: { errors: [REFUSAL] } });
    expect(await getJson(gw.url, { query: ARBITRARY })).toEqual({ status: 400, body: { errors: [REFUSAL] } });
    // GraphiQL's header earns nothing outside demo mode.
    expect(await postJson(gw.url, { query: ARBITRARY }, { 'x-graphql-yoga-csrf': 'graphiql' })).toEqual({ status: 400, body: { errors: [REFUSAL] } });
    expect(await gw.upstream()).toEqual([]);
  });

  it('over SSE (graphql-sse client): the refusal arrives on the stream, for a query and for a subscription', async () => {
    await gw.resetUpstream();
    for (const query of [ARBITRARY, ARBITRARY_SUBSCRIPTION]) {
      expect(await throughSse(gw.url, { query })).toEqual({ next: [{ errors: [REFUSAL] }], completed: false });
    }
    expect(await gw.upstream()).toEqual([]);
    expect(sample(await gw.metrics(), 'gateway_live_subscriptions')).toBe(0);
  });

  it('over graphql-ws (graphql-ws client), for a query and for a subscription', async () => {
    const client = await connectedWsClient(gw.url);
    try {
      // The connection's token check is GitLab's; what follows must not be.
      await gw.resetUpstream();
      for (const query of [ARBITRARY, ARBITRARY_SUBSCRIPTION]) expect(await throughWs(client, { query })).toEqual({ next: [], completed: false, error: [REFUSAL] });
      expect(await gw.upstream()).toEqual([]);
      expect(sample(await gw.metrics(), 'gateway_live_subscriptions')).toBe(0);
    } finally {
      await client.dispose();
    }
  });

  it('an APQ registration of an untrusted document is refused and not kept; its hash alone is then PERSISTED_QUERY_NOT_FOUND', async () => {
    await gw.resetUpstream();
    const hash = sha256(ARBITRARY);
    const registration = await postJson(gw.url, { query: ARBITRARY, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
    expect(registration).toEqual({ status: 400, body: { errors: [REFUSAL] } });
    const hashAlone = await postJson(gw.url, { extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
    expect({ status: hashAlone.status, codes: codes(hashAlone) }).toEqual({ status: 404, codes: ['PERSISTED_QUERY_NOT_FOUND'] });
    expect(await gw.upstream()).toEqual([]);
  });

  it('the control: the same client with a trusted document does reach GitLab', async () => {
    await gw.resetUpstream();
    expect((await postJson(gw.url, { documentId: hashOf(RecordCountDocument), variables: { model: 'PROJECT' } })).body).toEqual(COUNT);
    expect((await gw.upstream()).length).toBeGreaterThan(0);
  });

  it('is logged with its request id and code, and counted as a rejected operation', async () => {
    const rejected = async () => sample(await gw.metrics(), 'gateway_graphql_operations_total', { operation: 'other', type: 'query', outcome: 'rejected' }) ?? 0;
    const before = await rejected();
    await postJson(gw.url, { query: ARBITRARY }, { 'x-request-id': 'refused-by-trusted-documents' });
    expect(await rejected()).toBe(before + 1);
    const line = await until(() => gw.logs().find((l) => l.requestId === 'refused-by-trusted-documents'), 'the log line');
    expect(line).toMatchObject({ operation: 'Arbitrary', type: 'query', upstreamCalls: 0, errorCodes: ['PERSISTED_QUERY_ONLY'], msg: 'query Arbitrary rejected' });
  });

  it('a trusted document named by a hash that is not its own, or an unknown documentId, stays refused', async () => {
    const unknown = await postJson(gw.url, { documentId: `sha256:${sha256(ARBITRARY)}` });
    expect({ status: unknown.status, codes: codes(unknown) }).toEqual({ status: 404, codes: ['PERSISTED_QUERY_NOT_FOUND'] });
    const models = trustedMap()[hashOf(ModelsDocument)];
    const wrongHash = await postJson(gw.url, { query: ARBITRARY, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(models) } } });
    expect({ status: wrongHash.status, codes: codes(wrongHash) }).toEqual({ status: 400, codes: ['PERSISTED_QUERY_HASH_MISMATCH'] });
  });
});

// Last: the poll these subscriptions start may still be on its way to the stand-in when they end.
describe('trusted subscriptions', () => {
  it('over graphql-ws: by documentId, by hash, or in full', async () => {
    const client = await connectedWsClient(gw.url);
    try {
      const id = hashOf(VerificationProgressDocument);
      for (const payload of [
        { query: '', documentId: id },
        { query: '', extensions: { persistedQuery: { version: 1, sha256Hash: id.slice('sha256:'.length) } } },
        { query: trustedMap()[id] },
      ]) {
        const seen = await throughWs(client, payload);
        expect(seen.error).toBeUndefined();
        expect(seen.next[0].data).toEqual({ verificationSummaryChanged: expect.objectContaining({ model: 'LFS_OBJECT', total: 5 }) });
      }
    } finally {
      await client.dispose();
    }
  });

  it('over SSE (graphql-sse client) by documentId', async () => {
    const seen = await throughSse(gw.url, { query: '', documentId: hashOf(VerificationProgressDocument) } as { query: string });
    expect(seen.error).toBeUndefined();
    expect(seen.next[0].data).toEqual({ verificationSummaryChanged: expect.objectContaining({ model: 'LFS_OBJECT', total: 5 }) });
  });
});
