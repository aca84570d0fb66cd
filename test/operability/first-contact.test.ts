// What a person meets first: `GET /` (with the monitor page off) leads to GraphiQL when it is on, else names the
// endpoints; GraphiQL opens on the project's examples (a query, a mutation and two subscriptions, one tab each, with the
// demo token), and each of them runs.
import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.js';
import { graphiqlOptions } from '../../src/graphiql.js';
import { createLogger } from '../../src/logger.js';
import { startGateway, type Gateway } from '../../src/server.js';
import { startStandIn, type StandIn } from '../../src/stand-in/index.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN, postGraphQL } from './helpers.js';

let standIn: StandIn;
let demo: Gateway; // configured as in demo mode (GraphiQL and introspection on, the demo token in GraphiQL's headers), but MONITOR off
let demoBase: string;
let production: TestGateway; // GITLAB_URL set: GraphiQL off

beforeAll(async () => {
  standIn = await startStandIn({ records: 20, failRate: 0 });
  // The monitor page, on in demo mode, would take / (test/browser/monitor.test.ts covers it).
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', MONITOR: 'false' });
  [demo, production] = await Promise.all([
    startGateway(config, { gitlabUrl: standIn.url, demoToken: standIn.tokens.admin, logger: createLogger('silent') }),
    startTestGateway({ standIn: { records: 5 } }),
  ]);
  demoBase = new URL(demo.url).origin;
});
afterAll(async () => {
  await demo?.close();
  await production?.close();
  await standIn?.stop();
});

describe('GET /', () => {
  it('GraphiQL on (and the monitor page off): a redirect to /graphql', async () => {
    const res = await fetch(`${demoBase}/`, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 302, location: '/graphql' });
  });

  it('GraphiQL off: a small JSON index naming the endpoint, /healthz, /readyz and /metrics, each of which answers', async () => {
    const res = await fetch(`${production.base}/`);
    expect({ status: res.status, type: res.headers.get('content-type') }).toEqual({ status: 200, type: 'application/json' });
    const index = (await res.json()) as Record<string, string>;
    expect(index).toEqual({
      service: 'data-management-gateway',
      graphql: '/graphql',
      usage: 'POST GraphQL as application/json to /graphql with your GitLab token (Authorization: Bearer <token>); subscriptions over WebSocket (graphql-transport-ws) or SSE on the same URL.',
      graphiql: 'off: start the gateway with GRAPHIQL=true and GRAPHQL_INTROSPECTION=true to serve it at /graphql',
      healthz: '/healthz',
      readyz: '/readyz',
      metrics: '/metrics',
    });
    for (const path of [index.healthz, index.readyz, index.metrics]) expect({ path, status: (await fetch(`${production.base}${path}`)).status }).toEqual({ path, status: 200 });
    expect((await postGraphQL(`${production.base}${index.graphql}`, '{ __typename }')).body).toEqual({ data: { __typename: 'Query' } });
  });
});

describe("GraphiQL's examples", () => {
  const options = graphiqlOptions(ADMIN);
  const tabs = options.defaultTabs ?? [];
  const operation = (query: string) => parse(query).definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;

  it('four tabs, a query, a mutation and two subscriptions, each with the demo token; the page carries them', async () => {
    expect(tabs.map((t) => [operation(t.query!).operation, operation(t.query!).name?.value])).toEqual([
      ['query', 'ProjectRecords'],
      ['mutation', 'VerifyProject'],
      ['subscription', 'WatchProjects'],
      ['subscription', 'VerificationProgress'],
    ]);
    for (const tab of tabs) expect(JSON.parse(tab.headers!)).toEqual({ Authorization: `Bearer ${ADMIN}` });
    expect(options.defaultQuery).toBe(tabs[0].query);
    const html = await (await fetch(demo.url, { headers: { accept: 'text/html' } })).text();
    expect(html).toContain(JSON.stringify(options.defaultTabs));
    // Outside demo mode the examples say where the token goes, and carry none.
    const elsewhere = graphiqlOptions();
    expect(elsewhere.defaultTabs?.map((t) => t.headers)).toEqual([null, null, null, null]);
    expect(elsewhere.defaultTabs?.[0].query).toContain('{ "Authorization": "Bearer <token>" }');
  });

  it('the query and the mutation run without errors', async () => {
    const query = await postGraphQL(demo.url, tabs[0].query!);
    expect(query.body.errors).toBeUndefined();
    expect((query.body.data as { modelRecords: { nodes: unknown[] } }).modelRecords.nodes).toHaveLength(5);
    const mutation = await postGraphQL(demo.url, tabs[1].query!);
    expect(mutation.body).toEqual({ data: { recalculateChecksum: { errors: [], record: { recordIdentifier: '1', checksumInformation: expect.objectContaining({ checksumState: 'SUCCEEDED' }) } } } });
  });

  it('the subscription runs: its first event carries the current state of the watched records', async () => {
    const client = createClient({ url: demo.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${ADMIN}` }, retryAttempts: 0, lazy: true });
    try {
      type Batch = { changes: { record: { recordIdentifier: string } }[]; unknownIdentifiers: string[] };
      const events = client.iterate<{ checksumStateChangeBatches: Batch }>({ query: tabs[2].query! });
      const first = await events.next();
      await events.return?.();
      expect(first.done).toBe(false);
      const result = first.value as { data?: { checksumStateChangeBatches: Batch }; errors?: unknown };
      expect(result.errors).toBeUndefined();
      const batch = result.data?.checksumStateChangeBatches;
      expect(batch?.changes.map((c) => c.record.recordIdentifier).sort()).toEqual(['1', '2', '3']);
      expect(batch?.unknownIdentifiers).toEqual([]);
    } finally {
      await client.dispose();
    }
  });

  it('the summary subscription runs: its first event counts the records of each model it names', async () => {
    const client = createClient({ url: demo.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${ADMIN}` }, retryAttempts: 0, lazy: true });
    try {
      type Summary = { model: string; total: number; states: { state: string; count: number }[] };
      const events = client.iterate<{ verificationSummaryChanged: Summary }>({ query: tabs[3].query! });
      const firsts: Summary[] = [];
      for (let i = 0; i < 2; i++) {
        const next = await events.next();
        const result = next.value as { data?: { verificationSummaryChanged: Summary }; errors?: unknown };
        expect(result.errors).toBeUndefined();
        firsts.push(result.data!.verificationSummaryChanged);
      }
      await events.return?.();
      expect(firsts.map((s) => s.model).sort()).toEqual(['LFS_OBJECT', 'PROJECT']);
      for (const summary of firsts) {
        expect(summary.states.map((s) => s.state)).toEqual(['PENDING', 'STARTED', 'SUCCEEDED', 'FAILED', 'DISABLED']);
        expect(summary.states.reduce((sum, s) => sum + s.count, 0)).toBe(summary.total);
      }
    } finally {
      await client.dispose();
    }
  });
});
