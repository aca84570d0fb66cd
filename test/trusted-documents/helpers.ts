// What the trusted-documents suites share: the file the project's own codegen writes from test/operations/ (the client
// preset's persisted documents), the hash each generated document carries, and clients for every transport.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FormattedExecutionResult } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client } from 'graphql-ws';
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import { REPO_ROOT } from '../support/processes.js';
import { ADMIN } from '../operability/helpers.js';

/** Written by `npm run generate` (codegen.ts): sha256:<hash> to document, for test/operations/*.graphql. */
export const TRUSTED_FILE = `${REPO_ROOT}test/generated/trusted-documents/persisted-documents.json`;

export const trustedMap = (): Record<string, string> => JSON.parse(readFileSync(TRUSTED_FILE, 'utf8')) as Record<string, string>;

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The hash the client preset puts on each generated document (`sha256:<hex>`), as a front end sends it as documentId. */
export const hashOf = (document: unknown): string => (document as { __meta__: { hash: string } }).__meta__.hash;

/** A document no one trusts, that would reach GitLab if it ran. */
export const ARBITRARY = 'query Arbitrary { modelRecords(model: PROJECT, first: 2) { nodes { id checksumInformation { checksumState } } } }';
export const ARBITRARY_SUBSCRIPTION = 'subscription ArbitraryWatch { checksumStateChanged(model: PROJECT, identifiers: ["1"]) { state } }';

export interface Answer {
  status: number;
  body: FormattedExecutionResult;
}

const headersFor = (extra: Record<string, string> = {}) => ({
  'content-type': 'application/json',
  accept: 'application/graphql-response+json, application/json',
  authorization: `Bearer ${ADMIN}`,
  ...extra,
});

export async function postJson(url: string, body: object, extra?: Record<string, string>): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', headers: headersFor(extra), body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as FormattedExecutionResult };
}

/** A GET as clients send one: parameters in the URL, and a header that passes CSRF prevention. */
export async function getJson(url: string, params: Record<string, string | object>, extra?: Record<string, string>): Promise<Answer> {
  const search = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  const res = await fetch(`${url}?${search}`, { headers: headersFor({ 'x-graphql-yoga-csrf': '1', ...extra }) });
  return { status: res.status, body: (await res.json()) as FormattedExecutionResult };
}

export const codes = (answer: Answer | FormattedExecutionResult | { errors?: readonly { extensions?: { code?: unknown } }[] }) =>
  ('body' in answer ? answer.body : answer).errors?.map((e) => e.extensions?.code);

export interface Seen {
  next: FormattedExecutionResult[];
  error?: unknown;
  completed: boolean;
}

/** One operation through graphql-sse's own client, until its first event (then disposed), its completion or its failure. */
export async function throughSse(url: string, payload: { query: string; variables?: Record<string, unknown> }): Promise<Seen> {
  // Its own pool, closed at the end: a spare connection in the global one would hold up the gateway's close.
  const agent = new Agent();
  const client = createSseClient({
    url,
    singleConnection: false,
    retryAttempts: 0,
    headers: { authorization: `Bearer ${ADMIN}` },
    fetchFn: ((input: string, init: object) => undiciFetch(input, { ...init, dispatcher: agent })) as unknown as typeof fetch,
  });
  const seen: Seen = { next: [], completed: false };
  try {
    return await new Promise<Seen>((resolve) => {
      const stop = client.subscribe(payload, {
        next: (result) => {
          seen.next.push(result as FormattedExecutionResult);
          stop();
          resolve(seen);
        },
        error: (error) => resolve({ ...seen, error }),
        complete: () => resolve({ ...seen, completed: true }),
      });
    });
  } finally {
    client.dispose();
    await agent.destroy();
  }
}

/** A graphql-ws client of the admin, connected (its token judged by GitLab) before it is handed over. */
export async function connectedWsClient(url: string): Promise<Client> {
  const client = createWsClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${ADMIN}` }, retryAttempts: 0, lazy: false });
  await new Promise<void>((resolve, reject) => {
    client.on('connected', () => resolve());
    client.on('closed', (event) => reject(new Error(`closed before connected: ${(event as { code?: number }).code}`)));
  });
  return client;
}

/** One operation over graphql-ws: its first result (then completed by the client), or its error. */
export function throughWs(client: Client, payload: Record<string, unknown>): Promise<Seen> {
  return new Promise<Seen>((resolve) => {
    const seen: Seen = { next: [], completed: false };
    const stop = client.subscribe(payload as { query: string }, {
      next: (result) => {
        seen.next.push(result as FormattedExecutionResult);
        stop();
        resolve(seen);
      },
      error: (error) => resolve({ ...seen, error }),
      complete: () => resolve({ ...seen, completed: true }),
    });
  });
}
