// Helpers of the subscription tests: real graphql-ws and graphql-sse clients against the gateway, a subscriber that
// records everything it receives, and a few direct calls to the stand-in.
import type { FormattedExecutionResult, GraphQLFormattedError } from 'graphql';
import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import type { StandInOverrides } from '../../src/stand-in/index.js';
import { ADMIN, API, standInRest, startHarness, type Harness } from '../support/gateway.js';

export { API };

/** A harness whose gateway logs nothing (the tests read what they need from the clients and the stand-in). */
export function startLive(standIn: StandInOverrides, env: Record<string, string>): Promise<Harness> {
  return startHarness(standIn, { LOG_LEVEL: 'silent', ...env });
}

export type State = 'PENDING' | 'STARTED' | 'SUCCEEDED' | 'FAILED' | 'DISABLED';

export interface ChecksumInfo {
  checksum: string | null;
  checksumState: State;
  checksumFailure: string | null;
  checksumRetryCount: number | null;
  lastChecksum: string | null;
}

export interface Change {
  record: { id: string; recordIdentifier: string; model: string; checksumInformation: ChecksumInfo | null };
  previousState: State | null;
  state: State;
  observedAt: string;
}

/** Everything a change carries, as WATCH and WATCH_BATCHES select it. */
const CHANGE_FIELDS = /* GraphQL */ `
  record {
    id
    recordIdentifier
    model
    checksumInformation { checksum checksumState checksumFailure checksumRetryCount lastChecksum }
  }
  previousState
  state
  observedAt
`;

export const WATCH = /* GraphQL */ `
  subscription Watch($model: ModelName!, $identifiers: [ID!]!) {
    checksumStateChanged(model: $model, identifiers: $identifiers) { ${CHANGE_FIELDS} }
  }
`;

/** Only what the fan-out test needs: 500 subscribers times 100 records is a lot of JSON. */
export const WATCH_SMALL = /* GraphQL */ `
  subscription WatchSmall($model: ModelName!, $identifiers: [ID!]!) {
    checksumStateChanged(model: $model, identifiers: $identifiers) { record { recordIdentifier } previousState state }
  }
`;

export const FAILURE = /^Error during verification: File is not checksummable - file does not exist at: \/var\/opt\/gitlab\/gitlab-rails\/shared\/projects\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{60}$/;
export const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The batch subscription, with the same selection of each change as WATCH. */
export const WATCH_BATCHES = /* GraphQL */ `
  subscription WatchBatches($model: ModelName!, $identifiers: [ID!]!) {
    checksumStateChangeBatches(model: $model, identifiers: $identifiers) { changes { ${CHANGE_FIELDS} } }
  }
`;

/** What both clients offer: graphql-ws's and graphql-sse's `subscribe` have the same shape. */
interface Subscribable {
  subscribe(payload: { query: string; variables?: Record<string, unknown> }, sink: {
    next(value: FormattedExecutionResult<Record<string, unknown>, unknown>): void;
    error(error: unknown): void;
    complete(): void;
  }): () => void;
}

export type Received =
  | { kind: 'data'; change: Change; at: number }
  | { kind: 'errors'; errors: readonly GraphQLFormattedError[]; at: number }
  | { kind: 'error'; error: unknown; at: number }
  | { kind: 'complete'; at: number };

/** One subscription and everything it received, in order. */
export class Subscriber {
  readonly received: Received[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly data: Change[] = [];
  /** Of a batch subscription: the changes of each event, in order (each change is also a data item). */
  readonly batches: Change[][] = [];
  private readonly byRecord = new Map<string, Change[]>();
  /** The `data` of every result, as it came (a batch without changes is only here and in `batches`). */
  readonly payloads: Record<string, unknown>[] = [];
  private readonly dispose: () => void;

  constructor(client: Subscribable, variables: Record<string, unknown>, query = WATCH) {
    this.dispose = client.subscribe(
      { query, variables },
      {
        next: (result) => {
          if (result.data) this.payloads.push(result.data);
          if (result.errors) this.add({ kind: 'errors', errors: result.errors, at: Date.now() });
          const batch = result.data?.checksumStateChangeBatches as { changes: Change[] } | undefined;
          if (batch) this.batches.push(batch.changes);
          const changes = batch ? batch.changes : result.data ? [result.data.checksumStateChanged as Change] : [];
          for (const change of changes) this.add({ kind: 'data', change, at: Date.now() });
          if (changes.length === 0) for (const wake of [...this.waiters]) wake();
        },
        error: (error) => this.add({ kind: 'error', error, at: Date.now() }),
        complete: () => this.add({ kind: 'complete', at: Date.now() }),
      },
    );
  }

  private add(item: Received): void {
    this.received.push(item);
    if (item.kind === 'data') {
      this.data.push(item.change);
      const id = item.change.record.recordIdentifier;
      const list = this.byRecord.get(id);
      if (list) list.push(item.change);
      else this.byRecord.set(id, [item.change]);
    }
    for (const wake of [...this.waiters]) wake();
  }

  /** Every data event, in the order they arrived. */
  get changes(): Change[] {
    return [...this.data];
  }

  /** The changes of one record, in the order they arrived. */
  of(identifier: string | number): Change[] {
    return [...(this.byRecord.get(String(identifier)) ?? [])];
  }

  /** How many events of this record arrived (cheap: no copy). */
  countOf(identifier: string | number): number {
    return this.byRecord.get(String(identifier))?.length ?? 0;
  }

  get completed(): boolean {
    return this.received.some((r) => r.kind === 'complete');
  }

  /** Errors sent as a result (`next` with errors) or as a protocol error, as formatted GraphQL errors. */
  get errors(): GraphQLFormattedError[] {
    return this.received.flatMap((r) => {
      if (r.kind === 'errors') return [...r.errors];
      if (r.kind === 'error' && Array.isArray(r.error)) return r.error as GraphQLFormattedError[];
      return [];
    });
  }

  /** Resolves once `probe` holds (checked after every message), or rejects after `timeoutMs`. */
  waitFor(probe: (s: this) => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    if (probe(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!probe(this)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received: ${JSON.stringify(this.summary())}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Waits until every identifier has had its first (current-state) event; fails at once on an error or completion. */
  async initial(identifiers: readonly (string | number)[], timeoutMs = 5_000): Promise<void> {
    const ended = (s: this) => s.received.some((r) => r.kind !== 'data');
    await this.waitFor((s) => ended(s) || (s.byRecord.size >= identifiers.length && identifiers.every((id) => s.countOf(id) > 0)), `the current state of ${identifiers.length} records`, timeoutMs);
    if (ended(this)) throw new Error(`the subscription ended before its current state arrived: ${JSON.stringify(this.summary())}`);
  }

  /** Waits until this record's latest event satisfies `probe`. */
  until(identifier: string | number, probe: (c: Change) => boolean, what: string, timeoutMs = 5_000): Promise<Change> {
    let found: Change | undefined;
    return this.waitFor(
      (s) => {
        found = s.byRecord.get(String(identifier))?.find(probe);
        return found !== undefined;
      },
      `record ${identifier}: ${what}`,
      timeoutMs,
    ).then(() => found!);
  }

  /** A short, readable account of what arrived, for failure messages. */
  summary(): unknown[] {
    return this.received.map((r) => {
      if (r.kind === 'data') return `${r.change.record.recordIdentifier}:${r.change.previousState}->${r.change.state}`;
      if (r.kind === 'errors') return { errors: r.errors.map((e) => e.extensions?.code ?? e.message) };
      if (r.kind === 'error') return { error: describeError(r.error) };
      return 'complete';
    });
  }

  unsubscribe(): void {
    this.dispose();
  }
}

function describeError(error: unknown): unknown {
  if (Array.isArray(error)) return error.map((e: GraphQLFormattedError) => e.extensions?.code ?? e.message);
  if (error && typeof error === 'object' && 'code' in error) return { code: (error as { code: unknown }).code, reason: (error as { reason?: unknown }).reason };
  return String(error);
}

export type ConnectionParams = Record<string, string>;

export interface WsConnection {
  client: WsClient;
  /** Close events of the socket, in order. */
  closes: { code: number; reason: string }[];
  subscribe(variables: Record<string, unknown>, query?: string): Subscriber;
  dispose(): Promise<void>;
}

/**
 * A bare graphql-transport-ws socket with the admin token, for tests that must control reading (pause, resume) or send
 * what a client library would not: resolves once acknowledged, and hands every later message to `onMessage` as text.
 */
export async function rawSocket(h: Harness, onMessage: (text: string) => void): Promise<WebSocket> {
  const socket = new WebSocket(h.gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    let acked = false;
    socket.on('message', (raw) => {
      const text = String(raw);
      if (!acked && text.includes('"connection_ack"')) return void ((acked = true), resolve());
      onMessage(text);
    });
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${ADMIN}` } })));
  });
  return socket;
}

/** A graphql-ws client (one socket) with these `connection_init` parameters; never retries. */
export function wsConnection(h: { gateway: { url: string } }, connectionParams: ConnectionParams | null = { Authorization: `Bearer ${ADMIN}` }): WsConnection {
  const closes: { code: number; reason: string }[] = [];
  const client = createWsClient({
    url: h.gateway.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: connectionParams ?? undefined,
    retryAttempts: 0,
    lazy: true,
    on: {
      closed: (event) => {
        const e = event as { code: number; reason: string };
        closes.push({ code: e.code, reason: String(e.reason) });
      },
    },
  });
  return {
    client,
    closes,
    subscribe: (variables, query) => new Subscriber(client as unknown as Subscribable, variables, query),
    dispose: async () => {
      await client.dispose();
    },
  };
}

export interface SseConnection {
  client: SseClient;
  subscribe(variables: Record<string, unknown>, query?: string): Subscriber;
  dispose(): Promise<void>;
}

/**
 * A graphql-sse client in distinct connections mode (one HTTP stream per subscription), against Yoga's own SSE.
 * It fetches through its own connection pool, destroyed on dispose: the global one keeps a spare connection to the
 * gateway open after an aborted stream, which holds up the gateway's close by seconds.
 */
export function sseConnection(h: Harness, token: string | null = ADMIN): SseConnection {
  const agent = new Agent();
  const client = createSseClient({
    url: h.gateway.url,
    singleConnection: false,
    headers: token === null ? {} : { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
    fetchFn: ((url: string, init: object) => undiciFetch(url, { ...init, dispatcher: agent })) as unknown as typeof fetch,
  });
  return {
    client,
    subscribe: (variables, query) => new Subscriber(client as unknown as Subscribable, variables, query),
    dispose: async () => {
      client.dispose();
      await agent.destroy();
    },
  };
}

export type Transport = 'graphql-ws' | 'sse';

/** A connection of either transport, as the parametrised tests use it. */
export function connect(h: Harness, transport: Transport, token: string = ADMIN): { subscribe: WsConnection['subscribe']; dispose(): Promise<void> } {
  if (transport === 'graphql-ws') return wsConnection(h, { Authorization: `Bearer ${token}` });
  return sseConnection(h, token);
}

export interface RestRecord {
  record_identifier: number | string;
  checksum_information: {
    checksum: string | null;
    last_checksum: string | null;
    checksum_state: string;
    checksum_retry_count: number;
    checksum_retry_at: string | null;
    checksum_failure: string | null;
  };
}

/** Calls the stand-in's REST API directly, past the gateway; `body` is the text when it is not JSON. */
export async function rest(h: Harness, method: 'GET' | 'PUT', path: string, token = ADMIN): Promise<{ status: number; body: unknown }> {
  const { status, json, text } = await standInRest(h, method, path, token);
  return { status, body: json === undefined ? text : json };
}

/** Records of a model in one state, read directly from the stand-in (first page of 100). */
export async function recordsIn(h: Harness, model: string, state: string): Promise<RestRecord[]> {
  const { status, body } = await rest(h, 'GET', `${model}?per_page=100&checksum_state=${state}`);
  if (status !== 200) throw new Error(`GET ${model} ${state}: ${status} ${JSON.stringify(body)}`);
  return body as RestRecord[];
}

export async function restRecord(h: Harness, model: string, id: string | number): Promise<RestRecord> {
  const { status, body } = await rest(h, 'GET', `${model}/${id}`);
  if (status !== 200) throw new Error(`GET ${model}/${id}: ${status} ${JSON.stringify(body)}`);
  return body as RestRecord;
}

/** The list calls (GET of a model's collection) among logged upstream requests. */
export const listCalls = <T extends { method: string; path: string }>(entries: T[], model = 'projects'): T[] => entries.filter((e) => e.method === 'GET' && e.path === `${API}${model}`);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns true, or throws after `timeoutMs`. */
export async function until(probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000, intervalMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** The states a record went through, first event included. */
export const states = (changes: Change[]) => changes.map((c) => c.state);

/** The previous state each event claims, and the one it should claim: null first, then the state of the event before. */
export function chainOf(changes: Change[]): (State | null)[] {
  return changes.map((c) => c.previousState);
}
export function expectedChain(changes: Change[]): (State | null)[] {
  return changes.map((_, i) => (i === 0 ? null : changes[i - 1].state));
}
