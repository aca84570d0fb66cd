// Helpers shared by the gateway end-to-end tests: harness start-up per dialect, direct REST reads of the stand-in
// (the ground truth a client's answer is compared with) and checks on what the stand-in received.
import { expect } from 'vitest';
import { MODELS_BY_ENUM, pathName, type Dialect, type RecordJson } from '../../src/models.js';
import type { RequestLogEntry, StandInOverrides } from '../../src/stand-in/index.js';
import { ADMIN, API, standInRest, startHarness, type GraphQLResponse, type Harness, type RestAnswer } from '../support/gateway.js';

export const DIALECTS: readonly Dialect[] = ['plural', 'singular'];
/** Gateway env for the tests: its per-operation logs would only bury vitest's output. */
export const QUIET = { LOG_LEVEL: 'silent' };
export { API };

/** The stand-in's record JSON: GitLab's record entity. */
export type RestRecord = RecordJson;

/** The REST path segment of a GraphQL model name in a dialect. */
export function segment(model: string, dialect: Dialect): string {
  const name = pathName(MODELS_BY_ENUM.get(model)!, dialect);
  if (!name) throw new Error(`${model} has no ${dialect} name`);
  return name;
}

/**
 * Starts a stand-in in `dialect` (verification worker off, so states only change when a test changes them)
 * and a gateway in front of it, then lets the gateway learn the dialect with one query.
 */
export async function startFor(dialect: Dialect, options: StandInOverrides = {}, env: Record<string, string> = {}): Promise<Harness> {
  const h = await startHarness({ dialect, verifyIntervalMs: 0, ...options }, { ...QUIET, ...env });
  const warm = await h.request('query { modelRecords(model: PROJECT, first: 1) { nodes { id } } }');
  if (warm.errors) {
    await h.close();
    throw new Error(`warm-up failed: ${JSON.stringify(warm.errors)}`);
  }
  await h.resetUpstream();
  return h;
}

/** Calls the stand-in's REST API directly (not through the gateway), with the admin token unless told. */
export function rest(h: Harness, path: string, token: string = ADMIN): Promise<RestAnswer> {
  return standInRest(h, 'GET', path, token);
}

/** Every record of a model, read page by page from the stand-in's REST API; the ground truth. */
export async function restAll(h: Harness, model: string, dialect: Dialect, query = ''): Promise<RestRecord[]> {
  const all: RestRecord[] = [];
  for (let page = 1; ; page++) {
    const res = await rest(h, `${segment(model, dialect)}?per_page=100&page=${page}${query}`);
    expect(res.status).toBe(200);
    all.push(...(res.json as RestRecord[]));
    if (!res.headers.get('x-next-page')) return all;
  }
}

export const ids = (records: RestRecord[]) => records.map((r) => String(r.record_identifier));

/** The model-name segment and the rest of an upstream request's path. */
export function splitPath(entry: RequestLogEntry): string[] {
  expect(entry.path.startsWith(API)).toBe(true);
  return entry.path.slice(API.length).split('/');
}

export const gets = (log: RequestLogEntry[]) => log.filter((e) => e.method === 'GET');
export const puts = (log: RequestLogEntry[]) => log.filter((e) => e.method === 'PUT');

/** The error codes of a GraphQL response, in order. */
export const codes = (res: GraphQLResponse<unknown>) => (res.errors ?? []).map((e) => e.extensions?.code);

/** Every message and extension of a response's errors, as one string, for leak checks. */
export const errorText = (res: GraphQLResponse<unknown>) => JSON.stringify(res.errors ?? []);

/** Asserts the response carries exactly one error, with this code, and returns it. */
export function oneError(res: GraphQLResponse<unknown>, code: string | string[]) {
  expect(res.status).toBe(200);
  expect(res.errors, JSON.stringify(res)).toHaveLength(1);
  const error = res.errors![0];
  if (Array.isArray(code)) expect(code).toContain(error.extensions?.code);
  else expect(error.extensions?.code).toBe(code);
  return error;
}

/** Asserts a response without errors and returns its data. */
export function ok<T>(res: GraphQLResponse<T>): T {
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.status).toBe(200);
  return res.data as T;
}

/** Data whose root fields all answered: root fields are nullable so that one failing alias keeps the others. */
export type Answered<T> = { [K in keyof T]: NonNullable<T[K]> };

/** Asserts a response without errors in which every root field answered (none null), and returns its data so typed. */
export function answered<T extends object>(res: GraphQLResponse<T>): Answered<T> {
  const data = ok(res);
  for (const [field, value] of Object.entries(data)) expect(value, `root field ${field}`).not.toBeNull();
  return data as Answered<T>;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the stand-in has received at least `count` requests since the last reset. */
export async function waitForUpstream(h: Harness, count: number, timeoutMs = 5000): Promise<RequestLogEntry[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = await h.upstream();
    if (log.length >= count) return log;
    if (Date.now() > deadline) throw new Error(`stand-in saw ${log.length} requests, waited for ${count}`);
    await sleep(2);
  }
}
