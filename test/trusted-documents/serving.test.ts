// TRUSTED_DOCUMENTS set (TRUSTED_DOCUMENTS_ONLY off): the file the project's codegen writes from test/operations/ is
// served by documentId (POST and GET, with or without `sha256:`), by APQ hash, over graphql-ws too; its documents are
// never replaced by an APQ registration; other documents still run, and APQ still works for them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelsDocument, RecordCountDocument, VerificationProgressDocument } from '../generated/trusted-documents/graphql.js';
import { startTestGateway, type TestGateway } from '../operability/gateway.js';
import { ARBITRARY, codes, connectedWsClient, getJson, hashOf, postJson, sha256, throughWs, TRUSTED_FILE, trustedMap } from './helpers.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ standIn: { records: 5, failRate: 0 }, env: { TRUSTED_DOCUMENTS: TRUSTED_FILE, LOG_LEVEL: 'silent' } });
});
afterAll(async () => {
  await gw?.close();
});

const COUNT_VARIABLES = { model: 'PROJECT' };
const MODEL_NAMES = expect.arrayContaining([expect.objectContaining({ name: 'PROJECT', restName: 'projects' })]);

describe('a trusted document named by its documentId', () => {
  it('runs over POST, as codegen writes the id (sha256:<hex>) and as the hex alone, and reaches GitLab as usual', async () => {
    const id = hashOf(RecordCountDocument);
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    await gw.resetUpstream();
    for (const documentId of [id, id.slice('sha256:'.length)]) {
      const answer = await postJson(gw.url, { documentId, variables: COUNT_VARIABLES });
      expect(answer).toEqual({ status: 200, body: { data: { modelRecords: { totalCount: 5 } } } });
    }
    expect((await gw.upstream()).length).toBeGreaterThan(0);
  });

  it('runs over GET (documentId in the URL)', async () => {
    const answer = await getJson(gw.url, { documentId: hashOf(ModelsDocument) });
    expect(answer.status).toBe(200);
    expect(answer.body.data?.models).toEqual(MODEL_NAMES);
  });

  it('an unknown one is PERSISTED_QUERY_NOT_FOUND (404); a malformed one, or one sent with a query, BAD_REQUEST (400)', async () => {
    await gw.resetUpstream();
    expect(await postJson(gw.url, { documentId: `sha256:${sha256('query Unknown { __typename }')}` })).toEqual({
      status: 404,
      body: { errors: [{ message: 'No trusted document has this documentId.', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] },
    });
    for (const documentId of ['Models', 42, `md5:${sha256('x').slice(0, 32)}`]) {
      const answer = await postJson(gw.url, { documentId });
      expect({ documentId, status: answer.status, codes: codes(answer) }).toEqual({ documentId, status: 400, codes: ['BAD_REQUEST'] });
    }
    const both = await postJson(gw.url, { documentId: hashOf(ModelsDocument), query: ARBITRARY });
    expect({ status: both.status, codes: codes(both) }).toEqual({ status: 400, codes: ['BAD_REQUEST'] });
    expect(await gw.upstream()).toEqual([]);
  });
});

describe('a trusted document named by an APQ hash', () => {
  const persisted = (query: string | undefined, hash: string) => ({ query, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });

  it('runs from the hash alone at once, without the miss a client answers by sending the query', async () => {
    const [hash, text] = Object.entries(trustedMap()).find(([, document]) => document.startsWith('query Models '))!;
    const hex = hash.slice('sha256:'.length);
    const answer = await postJson(gw.url, persisted(undefined, hex));
    expect(answer.status).toBe(200);
    expect(answer.body.data?.models).toEqual(MODEL_NAMES);
    // Over GET too, as Apollo's link sends hashed queries with useGETForHashedQueries.
    expect((await getJson(gw.url, { extensions: persisted(undefined, hex).extensions })).body.data?.models).toEqual(MODEL_NAMES);
    // With its own text it runs too; with another text under its hash it is refused, and the file's document stays.
    expect((await postJson(gw.url, persisted(text, hex))).status).toBe(200);
    const replaced = await postJson(gw.url, persisted(ARBITRARY, hex));
    expect({ status: replaced.status, codes: codes(replaced) }).toEqual({ status: 400, codes: ['PERSISTED_QUERY_HASH_MISMATCH'] });
    expect((await postJson(gw.url, persisted(undefined, hex))).body.data?.models).toEqual(MODEL_NAMES);
  });

  it('other documents still run, and APQ still keeps them', async () => {
    expect((await postJson(gw.url, { query: ARBITRARY })).body.data?.modelRecords).toBeDefined();
    const hash = sha256(ARBITRARY);
    expect(codes(await postJson(gw.url, persisted(undefined, hash)))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    expect((await postJson(gw.url, persisted(ARBITRARY, hash))).status).toBe(200);
    expect((await postJson(gw.url, persisted(undefined, hash))).body.data?.modelRecords).toBeDefined();
  });
});

describe('with APQ_MAX_ENTRIES=0', () => {
  let off: TestGateway;
  beforeAll(async () => {
    off = await startTestGateway({ standIn: { records: 5 }, env: { TRUSTED_DOCUMENTS: TRUSTED_FILE, APQ_MAX_ENTRIES: '0', LOG_LEVEL: 'silent' } });
  });
  afterAll(async () => {
    await off?.close();
  });

  it('trusted documents are still served by hash; any other hash is PERSISTED_QUERY_NOT_SUPPORTED', async () => {
    const hex = hashOf(ModelsDocument).slice('sha256:'.length);
    const trusted = await postJson(off.url, { extensions: { persistedQuery: { version: 1, sha256Hash: hex } } });
    expect(trusted.body.data?.models).toEqual(MODEL_NAMES);
    const other = await postJson(off.url, { extensions: { persistedQuery: { version: 1, sha256Hash: sha256(ARBITRARY) } } });
    expect(codes(other)).toEqual(['PERSISTED_QUERY_NOT_SUPPORTED']);
  });
});

// Last: the poll the subscription starts may still be on its way to the stand-in when it ends.
describe('over graphql-ws', () => {
  it('a documentId runs with an empty query, as the protocol requires a string', async () => {
    const client = await connectedWsClient(gw.url);
    try {
      const seen = await throughWs(client, { query: '', documentId: hashOf(VerificationProgressDocument) });
      expect(seen.error).toBeUndefined();
      expect(seen.next[0].data).toEqual({ verificationSummaryChanged: expect.objectContaining({ model: 'LFS_OBJECT', total: 5 }) });
    } finally {
      await client.dispose();
    }
  });
});
