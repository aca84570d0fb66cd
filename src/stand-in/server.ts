// The stand-in's HTTP surface: GitLab's Data management routes, plus a control API under /-/stand-in/ for tests.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CHECKSUM_STATES, MODELS, pathName, type ChecksumStateName, type Dialect, type ModelInfo } from '../models.js';
import { delayFor, FaultError, injectFault, validateFaults } from './faults.js';
import { IdentifierError, parseIdentifier, parseIdentifierList, type ParsedIdentifier } from './identifiers.js';
import type { Faults, StandInOptions } from './options.js';
import { PENDING, type ModelStore } from './store.js';
import type { VerificationWorker } from './worker.js';

export const API_PREFIX = '/api/v4/admin/data_management/';
const CONTROL_PREFIX = '/-/stand-in/';
const MAX_BODY_BYTES = 1_000_000;
/** GitLab stops counting (no X-Total, no X-Total-Pages) above this many rows. */
const COUNT_LIMIT = 10_000;

export type Role = 'admin' | 'user' | 'readOnly';

export interface RequestLogEntry {
  seq: number;
  at: string;
  method: string;
  /** The path exactly as received, still percent-encoded. */
  path: string;
  /** The raw query string, without `?`. */
  query: string;
  params: Record<string, string[]>;
  privateToken: string | null;
  authorization: string | null;
  requestId: string | null;
  /** W3C trace context as received (the gateway sends it beside X-Request-Id), or null. */
  traceparent: string | null;
  tracestate: string | null;
}

export interface StandInState {
  options: StandInOptions;
  dialect: Dialect;
  featureFlag: boolean;
  primary: boolean;
  /** Deepest offset page end (page x per_page) answered before 405; null: no limit. */
  maxOffset: number | null;
  faults: Faults;
  tokens: Map<string, Role>;
  stores: Map<ModelInfo, ModelStore>;
  worker: VerificationWorker;
  log: RequestLogEntry[];
  seq: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

const badRequest = (message: string) => new HttpError(400, { message: `400 Bad request - ${message}` });
const invalidValue = (param: string) => new HttpError(400, { error: `${param} does not have a valid value` });
const invalidType = (param: string) => new HttpError(400, { error: `${param} is invalid` });
const routeNotFound = () => new HttpError(404, { error: '404 Not Found' });

/** Room for headers beyond the request line, so that a long line reaches the handler and is answered 414. */
const HEADER_ROOM_BYTES = 64 * 1024;

/** nginx's default keepalive_timeout, in front of GitLab: clients close idle connections first, as they would there. */
const KEEP_ALIVE_TIMEOUT_MS = 75_000;

export function createStandInServer(state: StandInState): Server {
  return createServer({ maxHeaderSize: state.options.maxRequestLineBytes + HEADER_ROOM_BYTES, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (req, res) => {
    handle(state, req, res).catch((error: unknown) => {
      if (error instanceof HttpError) return send(res, error.status, error.body, error.headers);
      send(res, 500, { message: '500 Internal Server Error' });
    });
  });
}

async function handle(state: StandInState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q + 1);
  const params = new URLSearchParams(query);
  if (path.startsWith(CONTROL_PREFIX)) return handleControl(state, req, res, path.slice(CONTROL_PREFIX.length), params);

  logRequest(state, req, path, query, params);
  // nginx in front of GitLab refuses a request line longer than its header buffer before GitLab sees it.
  if (requestLineBytes(req) > state.options.maxRequestLineBytes) return uriTooLong(res);
  const delay = delayFor(state.faults);
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  if (injectFault(state.faults, res)) return;

  if (!path.startsWith(API_PREFIX)) throw routeNotFound();
  const role = authenticate(state, req);
  if (!role) throw new HttpError(401, { message: '401 Unauthorized' });
  if (role === 'user') throw new HttpError(403, { message: '403 Forbidden' });
  if (state.dialect === 'singular' && !state.featureFlag) throw new HttpError(404, { message: '404 Not Found' });
  if (req.method === 'PUT' && role === 'readOnly') throw new HttpError(403, { message: '403 Forbidden' });

  const segments = path.slice(API_PREFIX.length).split('/').map(decodeSegment);
  const modelName = segments[0];
  const store = findStore(state, modelName);
  const body = req.method === 'PUT' ? await readBody(req, params) : params;

  if (req.method === 'GET' && segments.length === 1) return listRecords(state, store, req, path, params, res);
  if (req.method === 'GET' && segments.length === 2) return send(res, 200, store.toJson(findRecord(state, store, segments[1])));
  if (req.method === 'PUT' && segments.length === 2 && segments[1] === 'checksum') return bulkRecalculate(state, store, body, res);
  if (req.method === 'PUT' && segments.length === 3 && segments[2] === 'checksum') return recalculateOne(state, store, modelName, segments[1], res);
  throw routeNotFound();
}

/** `GET /path?query HTTP/1.1\r\n`, as nginx measures it. */
function requestLineBytes(req: IncomingMessage): number {
  return Buffer.byteLength(`${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`, 'latin1');
}

function uriTooLong(res: ServerResponse): void {
  const body = '<html>\r\n<head><title>414 Request-URI Too Large</title></head>\r\n<body>\r\n<center><h1>414 Request-URI Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
  res.writeHead(414, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw routeNotFound();
  }
}

function authenticate(state: StandInState, req: IncomingMessage): Role | null {
  const privateToken = req.headers['private-token'];
  if (typeof privateToken === 'string') return state.tokens.get(privateToken) ?? null;
  const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  return match ? (state.tokens.get(match[1].trim()) ?? null) : null;
}

function findStore(state: StandInState, name: string): ModelStore {
  // Model names are case-sensitive, and each dialect knows only its own spelling.
  const model = MODELS.find((m) => pathName(m, state.dialect) === name);
  const store = model && state.stores.get(model);
  if (!store) throw invalidValue('model_name');
  return store;
}

function findRecord(state: StandInState, store: ModelStore, value: string): number {
  rejectIfTold(state, [value]);
  const parsed = parseOrReject(() => parseIdentifier(value));
  const index = indexOf(store, parsed);
  if (index < 0) throw new HttpError(404, { message: `404 ${value} Not Found` });
  return index;
}

/** The `rejectedIdentifiers` fault: GitLab refusing an identifier the gateway takes for a good one. */
function rejectIfTold(state: StandInState, values: string[]): void {
  if (values.some((v) => state.faults.rejectedIdentifiers.includes(v))) throw badRequest('Invalid composite key format');
}

function parseOrReject<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof IdentifierError) throw badRequest(error.message);
    throw error;
  }
}

function indexOf(store: ModelStore, id: ParsedIdentifier): number {
  if (id.kind === 'composite') return store.indexOfCompositeKey(id.key);
  return store.partitions ? -1 : store.indexOfId(id.id);
}

function requireVerifiable(store: ModelStore): void {
  if (!store.verifiable) throw badRequest(`${store.info.modelClass} is not a verifiable model.`);
}

function requirePrimary(state: StandInState): void {
  if (!state.primary) throw badRequest('Endpoint only available on primary site.');
}

function identifiersParam(params: URLSearchParams): string[] {
  return [...params.getAll('identifiers[]'), ...params.getAll('identifiers')];
}

function stateParam(store: ModelStore, params: URLSearchParams, allowed: readonly string[]): number | null {
  const value = params.get('checksum_state');
  if (value === null || value === '') return null;
  if (!allowed.includes(value)) throw invalidValue('checksum_state');
  requireVerifiable(store);
  return CHECKSUM_STATES.indexOf(value as ChecksumStateName);
}

function integerParam(params: URLSearchParams, name: string, fallback: number): number {
  const value = params.get(name);
  if (value === null || value === '') return fallback;
  if (!/^-?\d+$/.test(value)) throw invalidType(name);
  const n = Number(value);
  if (n < 1) throw invalidValue(name);
  return n;
}

function enumParam<T extends string>(params: URLSearchParams, name: string, allowed: readonly T[]): T {
  const value = params.get(name);
  if (value === null || value === '') return allowed[0];
  if (!(allowed as readonly string[]).includes(value)) throw invalidValue(name);
  return value as T;
}

/** The records a filter selects, ascending by primary key: named ones (or the whole table) in a state (or any). */
interface Selection {
  indices: number[] | null;
  state: number | null;
}

function select(state: StandInState, store: ModelStore, params: URLSearchParams, allowedStates: readonly string[]): Selection {
  const wantedState = stateParam(store, params, allowedStates);
  rejectIfTold(state, identifiersParam(params));
  const ids = parseOrReject(() => parseIdentifierList(identifiersParam(params)));
  if (ids.length === 0) return { indices: null, state: wantedState };
  const indices = [...new Set(ids.map((id) => indexOf(store, id)).filter((i) => i >= 0))].sort((a, b) => a - b);
  return { indices, state: wantedState };
}

/** The named records that are in the wanted state (a list no longer than a request line allows). */
function namedMatches(store: ModelStore, { indices, state }: Selection & { indices: number[] }): number[] {
  return state === null ? indices : indices.filter((i) => store.state[i] === state);
}

/** Walks a selection in order (or in reverse), from position `from`, calling `visit` until it returns false. */
function walk(store: ModelStore, selection: Selection, descending: boolean, from: number, visit: (i: number) => boolean): void {
  if (selection.indices) {
    const list = namedMatches(store, { ...selection, indices: selection.indices });
    for (let p = from; p < list.length; p++) if (!visit(list[descending ? list.length - 1 - p : p])) return;
    return;
  }
  // The whole table, position `from` counted from either end: the store skips blocks with no record in the state.
  const wanted = selection.state;
  if (descending) {
    for (let i = store.previousIndex(wanted, store.size - 1 - from); i >= 0; i = store.previousIndex(wanted, i - 1)) if (!visit(i)) return;
  } else {
    for (let i = store.nextIndex(wanted, from); i >= 0; i = store.nextIndex(wanted, i + 1)) if (!visit(i)) return;
  }
}

/** One offset page of a selection, and how many records the selection holds: found from the store's counts, not by scanning. */
function offsetPage(store: ModelStore, selection: Selection, skip: number, perPage: number): { rows: number[]; count: number } {
  if (selection.indices) {
    const list = namedMatches(store, { ...selection, indices: selection.indices });
    return { rows: list.slice(skip, skip + perPage), count: list.length };
  }
  const rows: number[] = [];
  for (let i = store.nthIndex(selection.state, skip); i >= 0 && rows.length < perPage; i = store.nextIndex(selection.state, i + 1)) rows.push(i);
  return { rows, count: store.count(selection.state) };
}

/**
 * GitLab.com caps how deep offset pagination of some types may go (its plan limit `offset_pagination_limit`, 50,000) and
 * answers 405 beyond; self-managed GitLab has no such limit by default. GitLab compares page x per_page as requested.
 */
function rejectBeyondMaxOffset(state: StandInState, store: ModelStore, page: number, requestedPerPage: number): void {
  const limit = state.maxOffset;
  if (limit === null || page * requestedPerPage <= limit) return;
  throw new HttpError(405, {
    error: `Offset pagination has a maximum allowed offset of ${limit} for requests that return objects of type ${store.info.modelClass}. Remaining records can be retrieved using keyset pagination.`,
  });
}

function listRecords(state: StandInState, store: ModelStore, req: IncomingMessage, path: string, params: URLSearchParams, res: ServerResponse): void {
  const plural = state.dialect === 'plural';
  const requestedPerPage = integerParam(params, 'per_page', 20);
  const perPage = Math.min(requestedPerPage, 100);
  const selection = select(state, store, params, CHECKSUM_STATES);
  const base = `http://${req.headers.host ?? `${state.options.host}:${state.options.port}`}${path}`;
  // Grape validates every declared parameter: a bad `sort` is a 400 even when offset pagination ignores it.
  if (plural) enumParam(params, 'sort', ['asc', 'desc']);
  if (plural && enumParam(params, 'pagination', ['offset', 'keyset']) === 'keyset') {
    return keysetPage(store, selection, params, perPage, base, res);
  }
  const page = integerParam(params, 'page', 1);
  rejectBeyondMaxOffset(state, store, page, requestedPerPage);
  const skip = (page - 1) * perPage;
  const { rows, count } = offsetPage(store, selection, skip, perPage);
  // A page past the end is empty and has no next page, as Kaminari answers.
  const hasNext = count > skip + perPage;
  const headers: Record<string, string> = {
    'x-page': String(page),
    'x-per-page': String(perPage),
    'x-next-page': hasNext ? String(page + 1) : '',
    'x-prev-page': page > 1 ? String(page - 1) : '',
  };
  // Plural GitLab counts up to its limit and gives up above it; the singular dialect never counts.
  const total = plural && count <= COUNT_LIMIT ? count : null;
  const totalPages = total === null ? null : Math.max(1, Math.ceil(total / perPage));
  if (total !== null && totalPages !== null) {
    headers['x-total'] = String(total);
    headers['x-total-pages'] = String(totalPages);
  }
  const link = (p: number) => {
    const next = new URLSearchParams(params);
    next.set('page', String(p));
    next.set('per_page', String(perPage));
    return `<${base}?${next}>`;
  };
  const links: string[] = [];
  if (page > 1) links.push(`${link(page - 1)}; rel="prev"`);
  if (hasNext) links.push(`${link(page + 1)}; rel="next"`);
  links.push(`${link(1)}; rel="first"`);
  if (totalPages !== null) links.push(`${link(totalPages)}; rel="last"`);
  headers.link = links.join(', ');
  send(res, 200, rows.map((i) => store.toJson(i)), headers);
}

function keysetPage(store: ModelStore, selection: Selection, params: URLSearchParams, perPage: number, base: string, res: ServerResponse): void {
  const descending = enumParam(params, 'sort', ['asc', 'desc']) === 'desc';
  const cursor = params.get('cursor');
  let afterId: number | null = null;
  if (cursor) {
    try {
      const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { id?: unknown };
      afterId = Number(decoded.id);
      if (!Number.isInteger(afterId)) throw new Error('bad cursor');
    } catch {
      throw invalidType('cursor');
    }
  }
  let from = 0;
  if (afterId !== null && !selection.indices) {
    // Jump straight to the cursor in the whole table instead of scanning up to it.
    const firstAfter = store.indexAfterId(afterId);
    from = descending ? store.size - store.indexAfterId(afterId - 1) : firstAfter;
  }
  const rows: number[] = [];
  let hasNext = false;
  walk(store, selection, descending, from, (i) => {
    if (afterId !== null && (descending ? store.ids[i] >= afterId : store.ids[i] <= afterId)) return true;
    if (rows.length === perPage) {
      hasNext = true;
      return false;
    }
    rows.push(i);
    return true;
  });
  const headers: Record<string, string> = { 'x-per-page': String(perPage) };
  if (hasNext) {
    const next = new URLSearchParams(params);
    next.set('cursor', Buffer.from(JSON.stringify({ id: String(store.ids[rows[rows.length - 1]]) })).toString('base64url'));
    next.set('pagination', 'keyset');
    next.set('per_page', String(perPage));
    next.set('sort', descending ? 'desc' : 'asc');
    headers.link = `<${base}?${next}>; rel="next"`;
  }
  send(res, 200, rows.map((i) => store.toJson(i)), headers);
}

function recalculateOne(state: StandInState, store: ModelStore, modelName: string, value: string, res: ServerResponse): void {
  requirePrimary(state);
  if (!/^\d+$/.test(value)) throw invalidType('record_identifier');
  requireVerifiable(store);
  const index = findRecord(state, store, value);
  const now = Date.now();
  store.start(index, now);
  if (!store.finish(index, now)) throw badRequest(`Verifying ${modelName}/${value} failed.`);
  send(res, 200, store.toJson(index));
}

function bulkRecalculate(state: StandInState, store: ModelStore, params: URLSearchParams, res: ServerResponse): void {
  requirePrimary(state);
  requireVerifiable(store);
  // Only the plural dialect filters the bulk job; the singular one re-verifies the whole model.
  const selection: Selection = state.dialect === 'plural' ? select(state, store, params, CHECKSUM_STATES.filter((s) => s !== 'pending')) : { indices: null, state: null };
  // The job runs after the answer, as GitLab's Sidekiq job does.
  setImmediate(() => walk(store, selection, false, 0, (i) => {
    if (store.state[i] !== PENDING) store.markPending(i);
    return true;
  }));
  send(res, 200, { status: 'success', message: 'Batch update job has been successfully enqueued.' });
}

async function readText(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, { message: '413 Request Entity Too Large' });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** PUT parameters may come in the query, a form body or a JSON body, as Grape accepts. */
async function readBody(req: IncomingMessage, query: URLSearchParams): Promise<URLSearchParams> {
  const text = await readText(req);
  const merged = new URLSearchParams(query);
  if (!text) return merged;
  if ((req.headers['content-type'] ?? '').includes('json')) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new HttpError(400, { error: 'The provided content-type \'application/json\' is not valid JSON' });
    }
    if (body && typeof body === 'object') {
      for (const [key, value] of Object.entries(body)) {
        if (Array.isArray(value)) for (const v of value) merged.append(`${key}[]`, String(v));
        else if (value !== null && value !== undefined) merged.set(key, String(value));
      }
    }
  } else {
    for (const [key, value] of new URLSearchParams(text)) merged.append(key, value);
  }
  return merged;
}

function logRequest(state: StandInState, req: IncomingMessage, path: string, query: string, params: URLSearchParams): void {
  const grouped: Record<string, string[]> = {};
  for (const [key, value] of params) (grouped[key] ??= []).push(value);
  const header = (name: string) => {
    const value = req.headers[name];
    return typeof value === 'string' ? value : null;
  };
  state.log.push({
    seq: ++state.seq,
    at: new Date().toISOString(),
    method: req.method ?? 'GET',
    path,
    query,
    params: grouped,
    privateToken: header('private-token'),
    authorization: header('authorization'),
    requestId: header('x-request-id'),
    traceparent: header('traceparent'),
    tracestate: header('tracestate'),
  });
  if (state.log.length > state.options.requestLogSize) state.log.splice(0, state.log.length - state.options.requestLogSize);
}

async function handleControl(state: StandInState, req: IncomingMessage, res: ServerResponse, route: string, params: URLSearchParams): Promise<void> {
  const method = req.method ?? 'GET';
  const json = async () => {
    try {
      return JSON.parse((await readText(req)) || '{}') as unknown;
    } catch {
      throw new HttpError(400, { error: 'body is not valid JSON' });
    }
  };
  if (route === 'requests' && method === 'GET') {
    const after = Number(params.get('after') ?? 0);
    return send(res, 200, { requests: state.log.filter((e) => e.seq > after), lastSeq: state.seq });
  }
  if (route === 'requests' && method === 'DELETE') {
    state.log.length = 0;
    return send(res, 200, { lastSeq: state.seq });
  }
  if (route === 'faults' && method === 'GET') return send(res, 200, state.faults);
  if (route === 'faults' && method === 'PUT') {
    try {
      state.faults = { ...state.faults, ...validateFaults(await json()) };
    } catch (error) {
      if (error instanceof FaultError) throw new HttpError(400, { error: error.message });
      throw error;
    }
    return send(res, 200, state.faults);
  }
  if (route === 'settings' && method === 'GET') return send(res, 200, settingsOf(state));
  if (route === 'settings' && method === 'PUT') {
    applySettings(state, await json());
    return send(res, 200, settingsOf(state));
  }
  if (route === 'tokens' && method === 'POST') {
    const body = (await json()) as { token?: unknown; role?: unknown };
    if (typeof body.token !== 'string' || !body.token || !['admin', 'user', 'readOnly'].includes(String(body.role))) {
      throw new HttpError(400, { error: 'expected {"token": string, "role": "admin" | "user" | "readOnly"}' });
    }
    state.tokens.set(body.token, body.role as Role);
    return send(res, 201, { token: body.token, role: body.role });
  }
  if (route.startsWith('tokens/') && method === 'DELETE') {
    const revoked = state.tokens.delete(decodeSegment(route.slice('tokens/'.length)));
    return send(res, revoked ? 200 : 404, { revoked });
  }
  if (route === 'verify' && method === 'POST') return send(res, 200, { started: state.worker.runCycle() });
  if (route === 'counts' && method === 'GET') return send(res, 200, countsOf(state));
  if (route === 'health' && method === 'GET') return send(res, 200, { status: 'ok' });
  throw routeNotFound();
}

function settingsOf(state: StandInState) {
  return { dialect: state.dialect, featureFlag: state.featureFlag, primary: state.primary, maxOffset: state.maxOffset };
}

export interface ModelCounts {
  total: number;
  /** Records per checksum state; all 0 for a model whose verification is off. */
  states: Record<ChecksumStateName, number>;
  verifiable: boolean;
}

/** Every model's records per state, keyed by plural path name, read from the store's running totals at one instant. */
function countsOf(state: StandInState): Record<string, ModelCounts> {
  const counts: Record<string, ModelCounts> = {};
  for (const [model, store] of state.stores) {
    const states = Object.fromEntries(CHECKSUM_STATES.map((name, s) => [name, store.verifiable ? store.count(s) : 0])) as Record<ChecksumStateName, number>;
    counts[model.plural] = { total: store.size, states, verifiable: store.verifiable };
  }
  return counts;
}

export function applySettings(state: StandInState, input: unknown): void {
  if (typeof input !== 'object' || input === null) throw new HttpError(400, { error: 'settings must be a JSON object' });
  const { dialect, featureFlag, primary, maxOffset, ...rest } = input as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw new HttpError(400, { error: `unknown setting "${Object.keys(rest)[0]}"` });
  if (dialect !== undefined && dialect !== 'singular' && dialect !== 'plural') throw new HttpError(400, { error: 'dialect must be "singular" or "plural"' });
  if (featureFlag !== undefined && typeof featureFlag !== 'boolean') throw new HttpError(400, { error: 'featureFlag must be a boolean' });
  if (primary !== undefined && typeof primary !== 'boolean') throw new HttpError(400, { error: 'primary must be a boolean' });
  if (maxOffset !== undefined && maxOffset !== null && !(Number.isSafeInteger(maxOffset) && (maxOffset as number) >= 1)) {
    throw new HttpError(400, { error: 'maxOffset must be a positive integer or null' });
  }
  if (dialect) state.dialect = dialect;
  if (featureFlag !== undefined) state.featureFlag = featureFlag;
  if (primary !== undefined) state.primary = primary;
  if (maxOffset !== undefined) state.maxOffset = maxOffset as number | null;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
