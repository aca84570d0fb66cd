// Small fetch helpers shared by the stand-in conformance tests.
import { ADMIN_TOKEN } from '../support/standalone.js';

export interface ChecksumInformation {
  checksum: string | null;
  last_checksum: string | null;
  checksum_state: 'pending' | 'started' | 'succeeded' | 'failed' | 'disabled';
  checksum_retry_count: number;
  checksum_retry_at: string | null;
  checksum_failure: string | null;
}

export interface ApiRecord {
  record_identifier: number | string;
  model_class: string;
  created_at: string | null;
  file_size: number | null;
  checksum_information?: ChecksumInformation;
}

export interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body; undefined when it is not JSON. */
  body: T;
  elapsedMs: number;
}

export interface CallOptions {
  method?: string;
  /** PRIVATE-TOKEN value; null sends no token. Default: the admin token. */
  token?: string | null;
  /** Send the token as `Authorization: Bearer` instead of PRIVATE-TOKEN. */
  bearer?: boolean;
  headers?: Record<string, string>;
  json?: unknown;
}

/** Calls `url` (absolute) and reads the whole body. */
export async function call<T = unknown>(url: string, { method = 'GET', token = ADMIN_TOKEN, bearer = false, headers = {}, json }: CallOptions = {}): Promise<Answer<T>> {
  const sent: Record<string, string> = { ...headers };
  if (token !== null) {
    if (bearer) sent.authorization = `Bearer ${token}`;
    else sent['private-token'] = token;
  }
  if (json !== undefined) sent['content-type'] = 'application/json';
  const began = performance.now();
  const response = await fetch(url, { method, headers: sent, body: json === undefined ? undefined : JSON.stringify(json) });
  const text = await response.text();
  const elapsedMs = performance.now() - began;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: body as T, elapsedMs };
}

/** Parses an RFC 8288 Link header into rel -> URL. */
export function links(header: string | null): Record<string, string> {
  const result: Record<string, string> = {};
  if (!header) return result;
  for (const part of header.split(/,\s*(?=<)/)) {
    const match = /^<([^>]*)>\s*;\s*rel="([^"]+)"$/.exec(part.trim());
    if (!match) throw new Error(`unparseable Link part: ${part}`);
    result[match[2]] = match[1];
  }
  return result;
}

/** Polls `probe` every `intervalMs` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function until<T>(probe: () => Promise<T | undefined>, { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = {}): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Every record of a model, walking offset pages of 100 (works in both dialects). */
export async function allRecords(api: string, model: string, query = ''): Promise<ApiRecord[]> {
  const records: ApiRecord[] = [];
  for (let page = 1; ; page++) {
    const answer = await call<ApiRecord[]>(`${api}/${model}?per_page=100&page=${page}${query ? `&${query}` : ''}`);
    if (answer.status !== 200) throw new Error(`GET ${model} page ${page}: ${answer.status} ${answer.text}`);
    records.push(...answer.body);
    if (!answer.headers.get('x-next-page')) return records;
  }
}

export const ids = (records: ApiRecord[]) => records.map((r) => r.record_identifier);
export const stateOf = (record: ApiRecord) => record.checksum_information!.checksum_state;
