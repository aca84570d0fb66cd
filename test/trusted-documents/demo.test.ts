// Demo mode (`src/main.ts` without GITLAB_URL, the embedded stand-in) with TRUSTED_DOCUMENTS_ONLY: GraphiQL keeps
// working on any document, its schema query included, over HTTP and SSE as it sends them (with the headers its page
// carries); every other client is held to the trusted documents, as in production; a start-up line says so.
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordCountDocument } from '../generated/trusted-documents/graphql.js';
import { spawnGateway, type GatewayProcess } from '../operability/helpers.js';
import { ARBITRARY, ARBITRARY_SUBSCRIPTION, connectedWsClient, hashOf, postJson, throughWs, TRUSTED_FILE } from './helpers.js';

/** What GraphiQL's fetcher asks for a query or mutation (@graphql-yoga/graphiql); subscriptions ask for an event stream. */
const GRAPHIQL_ACCEPT = 'application/graphql-response+json, application/json, multipart/mixed';
const REFUSAL = {
  message: 'Only trusted documents run here: send the documentId (or persisted query hash) of a document the gateway trusts.',
  extensions: { code: 'PERSISTED_QUERY_ONLY' },
};

let gateway: GatewayProcess;
let standInUrl: string;
/** The headers GraphiQL's page sends with every request: its own (additionalHeaders) and the demo token's. */
let graphiqlHeaders: Record<string, string>;

beforeAll(async () => {
  gateway = await spawnGateway({ TRUSTED_DOCUMENTS: TRUSTED_FILE, TRUSTED_DOCUMENTS_ONLY: 'true', MONITOR: 'false' });
  const demoLine = gateway
    .stdout()
    .split('\n')
    .map((l) => (l.startsWith('{') ? (JSON.parse(l) as { standInUrl?: string }) : {}))
    .find((l) => l.standInUrl);
  standInUrl = demoLine!.standInUrl!;
  const page = await (await fetch(gateway.url, { headers: { accept: 'text/html' } })).text();
  const additional = JSON.parse(/"additionalHeaders":(\{[^}]*\})/.exec(page)![1]) as Record<string, string>;
  const token = JSON.parse(JSON.parse(/"headers":("(?:[^"\\]|\\.)*")/.exec(page)![1]) as string) as Record<string, string>;
  graphiqlHeaders = { ...additional, ...token };
}, 150_000);
afterAll(async () => {
  if (!gateway) return;
  gateway.child.kill('SIGTERM');
  await gateway.exited;
});

async function standInRequests(after = 0): Promise<{ requests: unknown[]; lastSeq: number }> {
  return (await (await fetch(`${standInUrl}/-/stand-in/requests?after=${after}`)).json()) as { requests: unknown[]; lastSeq: number };
}

/** A query as GraphiQL's fetcher sends it. */
async function fromGraphiQL(query: string) {
  const res = await fetch(gateway.url, { method: 'POST', headers: { ...graphiqlHeaders, 'content-type': 'application/json', accept: GRAPHIQL_ACCEPT }, body: JSON.stringify({ query }) });
  return { status: res.status, body: (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] } };
}

/** A subscription as GraphiQL sends it (GET, an event stream): the first event's data, then the stream is closed. */
async function subscriptionFromGraphiQL(query: string): Promise<{ status: number; first: unknown }> {
  const abort = new AbortController();
  const res = await fetch(`${gateway.url}?${new URLSearchParams({ query })}`, { headers: { ...graphiqlHeaders, accept: 'text/event-stream' }, signal: abort.signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      const event = /event: next\ndata: (.*)\n\n/.exec(text);
      if (event) return { status: res.status, first: JSON.parse(event[1]) };
    }
    return { status: res.status, first: text };
  } finally {
    abort.abort();
  }
}

describe('demo mode with TRUSTED_DOCUMENTS_ONLY', () => {
  it('says at start that GraphiQL runs any document and other clients trusted ones only', () => {
    const line = gateway
      .stdout()
      .split('\n')
      .find((l) => l.includes('TRUSTED_DOCUMENTS_ONLY in demo mode'));
    expect(JSON.parse(line!)).toMatchObject({ level: 40, msg: expect.stringContaining("GraphiQL's requests run any document") });
  });

  it("GraphiQL's page marks its requests: the header it adds to each", () => {
    expect(graphiqlHeaders).toEqual({ 'x-graphql-yoga-csrf': 'graphiql', Authorization: 'Bearer glpat-standin-admin' });
  });

  it('GraphiQL runs an untrusted query and loads the schema; reaching the stand-in as usual', async () => {
    const { lastSeq } = await standInRequests(Number.MAX_SAFE_INTEGER);
    const answer = await fromGraphiQL(ARBITRARY);
    expect(answer.status).toBe(200);
    expect((answer.body.data?.modelRecords as { nodes: unknown[] }).nodes).toHaveLength(2);
    expect((await standInRequests(lastSeq)).requests.length).toBeGreaterThan(0);
    const schema = await fromGraphiQL(getIntrospectionQuery());
    expect(schema.body.data?.__schema).toMatchObject({ queryType: { name: 'Query' }, subscriptionType: { name: 'Subscription' } });
  });

  it('the same documents from any other client are refused, before and after GraphiQL ran them, and reach nothing', async () => {
    const { lastSeq } = await standInRequests(Number.MAX_SAFE_INTEGER);
    expect(await postJson(gateway.url, { query: ARBITRARY }, { 'x-request-id': 'demo-refused' })).toEqual({ status: 400, body: { errors: [REFUSAL] } });
    expect((await postJson(gateway.url, { query: getIntrospectionQuery() })).body).toEqual({ errors: [REFUSAL] });
    expect((await standInRequests(lastSeq)).requests).toEqual([]);
    const client = await connectedWsClient(gateway.url);
    try {
      const { lastSeq: afterConnect } = await standInRequests(Number.MAX_SAFE_INTEGER);
      expect(await throughWs(client, { query: ARBITRARY_SUBSCRIPTION })).toMatchObject({ error: [REFUSAL] });
      expect(await throughWs(client, { query: ARBITRARY })).toMatchObject({ error: [REFUSAL] });
      expect((await standInRequests(afterConnect)).requests).toEqual([]);
    } finally {
      await client.dispose();
    }
    // GraphiQL is still let through with the same document.
    expect((await fromGraphiQL(ARBITRARY)).status).toBe(200);
  });

  it('trusted documents run for any client', async () => {
    const answer = await postJson(gateway.url, { documentId: hashOf(RecordCountDocument), variables: { model: 'PROJECT' } });
    expect(answer).toEqual({ status: 200, body: { data: { modelRecords: { totalCount: 200 } } } });
  });

  // Last: the poll it starts may still be on its way to the stand-in when the subscription ends.
  it('GraphiQL runs an untrusted subscription over SSE', async () => {
    const { status, first } = await subscriptionFromGraphiQL('subscription { verificationSummaryChanged(models: [PROJECT]) { model total } }');
    expect(status).toBe(200);
    // The demo stand-in verifies records meanwhile, and the total sums state counts from calls made at once: a record
    // that moves between them is counted in neither state or in both (the field's description says so). Exact totals
    // are tested with verification off (test/summary/).
    expect(first).toEqual({ data: { verificationSummaryChanged: { model: 'PROJECT', total: expect.any(Number) } } });
    const { total } = (first as { data: { verificationSummaryChanged: { total: number } } }).data.verificationSummaryChanged;
    expect(total).toBeGreaterThan(150);
    expect(total).toBeLessThan(250);
  });
});
