// Starts a stand-in and a gateway in front of it, and talks to both over HTTP as a client would.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { loadConfig } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/server.js';
import { startStandIn, type ModelCounts, type RequestLogEntry, type StandIn, type StandInOverrides } from '../../src/stand-in/index.js';

export const ADMIN = 'glpat-standin-admin';
export const USER = 'glpat-standin-user';
export const READ_ONLY = 'glpat-standin-read-api';

/** Where GitLab's Data management API lives, on the stand-in as on GitLab. */
export const API = '/api/v4/admin/data_management/';

export interface RestAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed, or undefined when it is not JSON. */
  json: unknown;
}

/** Calls the stand-in's REST API directly, past the gateway, with the admin token unless told. */
export async function standInRest(h: Pick<Harness, 'standIn'>, method: 'GET' | 'PUT', path: string, token: string = ADMIN): Promise<RestAnswer> {
  const res = await fetch(`${h.standIn.url}${API}${path}`, { method, headers: { 'private-token': token } });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; [key: string]: unknown } }[];
}

export interface Harness {
  standIn: StandIn;
  gateway: Gateway;
  /** Sends a GraphQL operation over HTTP; `token: null` sends none, `header` picks how it is sent. */
  request<T, V>(document: TypedDocumentNode<T, V> | string, variables?: V, options?: { token?: string | null; header?: 'bearer' | 'private-token' }): Promise<GraphQLResponse<T>>;
  /** What the stand-in received since the last `resetUpstream()`, read over its control API. */
  upstream(): Promise<RequestLogEntry[]>;
  resetUpstream(): Promise<void>;
  control(method: string, route: string, body?: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** Calls the stand-in's control API (faults, settings, tokens, verification). */
export async function standInControl(standIn: Pick<StandIn, 'url'>, method: string, route: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${standIn.url}/-/stand-in/${route}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`control ${method} ${route}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Every model's records per checksum state on the stand-in, keyed by plural path name, taken at one instant. */
standInControl.counts = async (standIn: Pick<StandIn, 'url'>): Promise<Record<string, ModelCounts>> =>
  (await standInControl(standIn, 'GET', 'counts')) as Record<string, ModelCounts>;

export async function startHarness(standInOptions: StandInOverrides = {}, env: Record<string, string> = {}): Promise<Harness> {
  const standIn = await startStandIn({ records: 250, ...standInOptions });
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', ...env });
  const gateway = await startGateway(config, { gitlabUrl: standIn.url });
  const control = (method: string, route: string, body?: unknown) => standInControl(standIn, method, route, body);
  let since = 0;
  return {
    standIn,
    gateway,
    control,
    async request(document, variables, options = {}) {
      const token = options.token === undefined ? ADMIN : options.token;
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
      if (token !== null) {
        if (options.header === 'private-token') headers['private-token'] = token;
        else headers.authorization = `Bearer ${token}`;
      }
      const query = typeof document === 'string' ? document : print(document);
      const res = await fetch(gateway.url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
      return { status: res.status, ...((await res.json()) as object) };
    },
    async upstream() {
      const { requests } = (await control('GET', `requests?after=${since}`)) as { requests: RequestLogEntry[] };
      return requests;
    },
    async resetUpstream() {
      const { lastSeq } = (await control('GET', `requests?after=${Number.MAX_SAFE_INTEGER}`)) as { lastSeq: number };
      since = lastSeq;
    },
    async close() {
      await gateway.close();
      await standIn.stop();
    },
  };
}
