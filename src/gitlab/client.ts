// The only place that speaks HTTP to GitLab: paths, encoding, auth header, timeouts, retries and error mapping.
import { errors as undiciErrors, Pool } from 'undici';
import type { Config } from '../config.js';
import { gatewayError, missingToken } from '../errors.js';
import { GraphQLError } from 'graphql';
import { MODELS_BY_ENUM, type ChecksumStateName, type Dialect, type ModelInfo, type RecordJson } from '../models.js';
import { requireIdentifier } from './identifiers.js';

export type { RecordJson } from '../models.js';
import { DialectState } from './dialect.js';
import { exchange, type Answer } from './upstream-call.js';
import type { OperationEnd } from '../operation-end.js';
import type { CallTrace, ServerAddress, UpstreamSpan } from '../trace-context.js';

export const API_PATH = '/api/v4/admin/data_management/';

/** Longest keyset cursor of GitLab's this gateway passes on (GitLab's hold a record's id: a few dozen characters). */
export const MAX_KEYSET_CURSOR_LENGTH = 1024;

/** Each route as GitLab documents it: what a call's span is named by, never its identifiers, query or token. */
const ROUTE_TEMPLATES: Record<string, string> = {
  list: `${API_PATH}:model_name`,
  recalculate_one: `${API_PATH}:model_name/:record_identifier/checksum`,
  recalculate_all: `${API_PATH}:model_name/checksum`,
};

/** How `HTTP/1.1\r\n` and the spaces around the request target add to the request line. */
const REQUEST_LINE_OVERHEAD = ' '.length + ' HTTP/1.1\r\n'.length;

/** Who is calling: the client's own GitLab token, forwarded in the header it came in. */
export interface Caller {
  token: string | null;
  header: 'authorization' | 'private-token';
  requestId?: string;
  /** Counts this operation's upstream calls, for its log line. */
  stats?: { upstreamCalls: number };
  /** A token came that cannot be GitLab's (see callerFrom): `token` is null, and the client is told why. */
  malformedToken?: boolean;
  /**
   * Ended once nobody waits for the operation (its client left, or completed it): no call starts after that, a GET on
   * its way is cut off, and no retry or back-off follows. A PUT on its way is let finish (see send()).
   */
  end?: OperationEnd;
  /**
   * Takes `calls` from the token's rate of calls to GitLab (per-client limits, rate-limits.ts), or throws RATE_LIMITED:
   * then nothing is sent. Set for queries and mutations only: the live layer's polls and token checks are not counted.
   */
  upstreamRate?: (calls: number) => void | Promise<void>;
  /**
   * The W3C trace context GitLab is sent beside X-Request-Id: the client's own, unchanged, or with tracing on the
   * operation's span (each call then gets a span of its own). Absent: no traceparent is sent.
   */
  trace?: CallTrace;
}

/** What an operation's calls end with once its client has gone: nobody reads it, so it is no failure of anyone's. */
export const CLIENT_CLOSED_REQUEST = 'CLIENT_CLOSED_REQUEST';

export function clientLeft(): GraphQLError {
  return new GraphQLError('The client left before this operation finished.', { extensions: { code: CLIENT_CLOSED_REQUEST } });
}

export const isClientLeft = (error: unknown): boolean => error instanceof GraphQLError && error.extensions.code === CLIENT_CLOSED_REQUEST;

/** One attempt sent to GitLab, as metrics and logs see it: never its URL, which may hold identifiers. */
export interface UpstreamAttempt {
  /** The route template: list, recalculate_one or recalculate_all. */
  route: string;
  method: string;
  /** GitLab's REST name of the model (projects, lfs_object...). */
  model: string;
  /** GitLab's status; 0 when it did not answer (refused, reset, timed out). */
  status: number;
  durationMs: number;
  /** 1 for the first attempt of a call. */
  attempt: number;
  /** The code of the error this attempt ended with; null when it succeeded. */
  errorCode: string | null;
  /** Whether another attempt of the same call follows. */
  retrying: boolean;
  /** Cut off because the operation's client left (errorCode CLIENT_CLOSED_REQUEST): no failure of GitLab's. */
  abandoned?: boolean;
  requestId?: string;
}

/** Told about every attempt sent to GitLab (metrics, logs). */
export type UpstreamObserver = (event: UpstreamAttempt) => void;

export type PageRequest = { flavour: 'offset'; page: number } | { flavour: 'keyset'; cursor: string | null };

export interface ListQuery {
  perPage: number;
  checksumState?: ChecksumStateName | null;
  identifiers?: readonly string[] | null;
  /** Omitted: keyset where the dialect has it, else offset from page 1. */
  page?: PageRequest;
}

export interface ListPage {
  records: RecordJson[];
  /** The flavour GitLab actually paginated with. */
  flavour: 'offset' | 'keyset';
  page: number | null;
  nextPage: number | null;
  nextCursor: string | null;
  /** X-Total, when GitLab sent one. */
  total: number | null;
}

export interface BulkResult {
  status: string;
  message: string;
}

export interface BulkFilters {
  checksumState?: ChecksumStateName | null;
  identifiers?: readonly string[] | null;
}

/** GitLab refused to verify one record: the failed state is saved upstream. */
export class VerificationFailedError extends Error {}

/** Which pages of a list call a split must fit: the first page by number, or any page of either flavour. */
export type PagesToFit = 'first' | 'any';

const DIGITS = /^\d+$/;
/** `identifiers%5B%5D=` */
const IDENTIFIER_PARAM_BYTES = 'identifiers%5B%5D='.length;

export interface SplitCall {
  method: 'GET' | 'PUT';
  checksumState?: ChecksumStateName | null;
  /** GET only. */
  pages?: PagesToFit;
  /** Most identifiers per call. */
  maxCount?: number;
}

/** The errors that are GitLab's 400 answer to a request (not the gateway's own refusals). */
const rejectedByGitLab = new WeakSet<Error>();

/** GitLab's answers that a model's verification is off: it has no checksum states to filter by. */
const unverifiableModel = new WeakSet<Error>();

/** Whether GitLab refused a `checksum_state` filter because the model's verification is off. */
export function isUnverifiableModel(error: unknown): boolean {
  return error instanceof Error && unverifiableModel.has(error);
}

/** GitLab's answers that it does not know a model (an older GitLab of the dialect lacks the newer models). */
const unknownModel = new WeakSet<Error>();

export function isUnknownModel(error: unknown): boolean {
  return error instanceof Error && unknownModel.has(error);
}

/** GitLab refused an offset page as too deep (405: it limits offset pagination of some types). */
export function isOffsetRefused(error: unknown): boolean {
  return error instanceof GraphQLError && error.extensions.reason === 'OFFSET_LIMIT';
}

/** Whether GitLab answered this request 400: with identifiers, one of them may be what it rejects. */
export function isRejectedByGitLab(error: unknown): boolean {
  return error instanceof Error && rejectedByGitLab.has(error);
}

interface Response {
  status: number;
  headers: Answer['headers'];
  body: unknown;
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN']);

/** Percent-encodes one path segment, dots included, so no identifier can climb out of the API's path. */
export function encodeSegment(value: string): string {
  return encodeURIComponent(value).replace(/\./g, '%2E');
}

class Attempt extends Error {
  constructor(
    readonly error: Error,
    /** Whether the request provably never reached GitLab, so even a PUT may be sent again. */
    readonly neverArrived: boolean,
    readonly transient: boolean,
    readonly waitMs: number | null = null,
  ) {
    super(error.message);
  }
}

export class GitLabClient {
  private readonly pool: Pool;
  private readonly basePath: string;
  /** requestLineBytes() by kind of call. */
  private readonly requestLines = new Map<string, number>();
  /** GitLab's host and port, for the spans of calls (tracing on). */
  private readonly server: ServerAddress;
  readonly dialect: DialectState;

  constructor(
    gitlabUrl: string,
    dialect: Config['dialect'],
    private readonly options: Config['upstream'],
    private readonly observe: UpstreamObserver = () => {},
  ) {
    const url = new URL(gitlabUrl);
    this.basePath = url.pathname.replace(/\/+$/, '') + API_PATH;
    this.server = { address: url.hostname, port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80) };
    this.dialect = new DialectState(dialect);
    this.pool = new Pool(url.origin, {
      // GitLab's Link header repeats the request's URL up to four times (prev, next, first, last).
      maxHeaderSize: 4 * options.maxUrlBytes + 32 * 1024,
      connections: options.connections,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
      maxResponseSize: options.maxResponseBytes,
      keepAliveTimeout: 30_000,
    });
  }

  /** Drops every connection at once, failing whatever is still in flight (pool.close() would wait for it). */
  async destroy(): Promise<void> {
    await this.pool.destroy();
  }

  // Not async itself: withDialect's promise is handed on as it is (an async function returning a promise costs the
  // caller two more turns of the microtask queue). Everything that may throw is inside the callback.
  list(caller: Caller, model: ModelInfo, query: ListQuery): Promise<ListPage> {
    return this.withDialect(caller, model, async (dialect) => {
      const page = query.page ?? (dialect === 'plural' ? { flavour: 'keyset', cursor: null } : { flavour: 'offset', page: 1 });
      if (page.flavour === 'keyset' && dialect !== 'plural') {
        throw gatewayError('BAD_USER_INPUT', 'This cursor is no longer valid: GitLab now paginates by page. Start again without `after`.');
      }
      const params = new URLSearchParams();
      if (page.flavour === 'keyset') {
        params.set('pagination', 'keyset');
        if (page.cursor) params.set('cursor', page.cursor);
      } else {
        params.set('page', String(page.page));
      }
      params.set('per_page', String(query.perPage));
      if (query.checksumState) params.set('checksum_state', query.checksumState);
      for (const id of query.identifiers ?? []) params.append('identifiers[]', requireIdentifier(id).canonical);
      const res = await this.send(caller, 'list', 'GET', [this.dialect.pathName(model)], params);
      if (!Array.isArray(res.body)) throw gatewayError('UPSTREAM_ERROR', 'GitLab answered with an unexpected body.');
      return {
        records: res.body as RecordJson[],
        flavour: page.flavour,
        page: page.flavour === 'offset' ? page.page : null,
        nextPage: positiveInt(res.headers['x-next-page']),
        nextCursor: page.flavour === 'keyset' ? nextCursorOf(res.headers.link) : null,
        total: positiveInt(res.headers['x-total'], true),
      };
    });
  }

  async recalculateOne(caller: Caller, model: ModelInfo, identifier: string): Promise<RecordJson> {
    // Only an identifier becomes this path segment: `.`, `..` or `a/b` could be read by a proxy as another route.
    const segment = requireIdentifier(identifier).canonical;
    return this.withDialect(caller, model, async () => {
      const res = await this.send(caller, 'recalculate_one', 'PUT', [this.dialect.pathName(model), segment, 'checksum'], null, (status, body) => {
        if (status === 400 && /^400 Bad request - Verifying .+ failed\.$/.test(messageOf(body) ?? '')) {
          return new VerificationFailedError(`GitLab could not verify ${model.enumName} ${identifier}.`);
        }
        return null;
      });
      return res.body as RecordJson;
    });
  }

  /**
   * Queues records for re-verification. A long identifier list goes in several PUTs, one after the other, each within
   * the URL limit: success only if every one succeeded; otherwise the first error's message and how far it got.
   */
  async recalculateAll(caller: Caller, model: ModelInfo, filters: BulkFilters): Promise<BulkResult> {
    const ids = [...new Set((filters.identifiers ?? []).map((id) => requireIdentifier(id).canonical))];
    if (ids.length === 0) return this.recalculateSome(caller, model, filters.checksumState ?? null, []);
    const groups = this.splitIdentifiers(model, ids, { method: 'PUT', checksumState: filters.checksumState });
    // Counted whole against the token's rate before the first is sent: none goes when they would not all be allowed.
    if (groups.length > 1 && caller.upstreamRate) {
      await caller.upstreamRate(groups.length);
      caller = { ...caller, upstreamRate: undefined };
    }
    let result: BulkResult = { status: 'success', message: '' };
    let queued = 0;
    for (const group of groups) {
      const partly = queued > 0 ? ` (the first ${queued} of ${ids.length} identifiers were queued before this)` : '';
      try {
        result = await this.recalculateSome(caller, model, filters.checksumState ?? null, group);
      } catch (error) {
        // Before anything was queued the error is the whole answer; after, the payload must say what was done.
        if (queued === 0 || !(error instanceof GraphQLError)) throw error;
        return { status: 'error', message: `${error.message}${partly}` };
      }
      if (result.status !== 'success') return { status: 'error', message: `${result.message}${partly}` };
      queued += group.length;
    }
    return result;
  }

  private async recalculateSome(caller: Caller, model: ModelInfo, checksumState: ChecksumStateName | null, identifiers: readonly string[]): Promise<BulkResult> {
    return this.withDialect(caller, model, async (dialect) => {
      const filtered = Boolean(checksumState) || identifiers.length > 0;
      if (filtered && dialect !== 'plural') {
        // The older API would ignore the filters and re-verify the whole model: refuse rather than surprise.
        throw gatewayError('BAD_USER_INPUT', 'This GitLab cannot filter a bulk recalculation (it needs GitLab 18.8 or later): drop checksumState and identifiers to recalculate the whole model.');
      }
      const params = new URLSearchParams();
      if (checksumState) params.set('checksum_state', checksumState);
      for (const id of identifiers) params.append('identifiers[]', id);
      const res = await this.send(caller, 'recalculate_all', 'PUT', [this.dialect.pathName(model), 'checksum'], params);
      const body = res.body as Partial<BulkResult> | null;
      return { status: String(body?.status ?? 'success'), message: String(body?.message ?? '') };
    });
  }

  /**
   * Splits identifiers (canonical spellings), in order, into groups whose call fits the URL limit
   * (UPSTREAM_MAX_URL_BYTES) in either dialect, at most `maxCount` each. The request line is counted whole.
   */
  splitIdentifiers(model: ModelInfo, ids: readonly string[], call: SplitCall): string[][] {
    const base = this.requestLineBytes(model, call);
    const maxCount = call.maxCount ?? Infinity;
    const groups: string[][] = [];
    let group: string[] = [];
    let bytes = base;
    for (const id of ids) {
      // `&` (or `?`) and `identifiers%5B%5D=<id, form-encoded>` (digits are as they are).
      const cost = 1 + (DIGITS.test(id) ? IDENTIFIER_PARAM_BYTES + id.length : new URLSearchParams([['identifiers[]', id]]).toString().length);
      if (group.length > 0 && (group.length >= maxCount || bytes + cost > this.options.maxUrlBytes)) {
        groups.push(group);
        group = [];
        bytes = base;
      }
      group.push(id);
      bytes += cost;
    }
    if (group.length > 0) groups.push(group);
    return groups;
  }

  /** The request line of a call of this kind without its identifiers, in bytes: the same for every call of the kind. */
  private requestLineBytes(model: ModelInfo, call: SplitCall): number {
    const kind = `${model.enumName} ${call.method} ${call.pages ?? ''} ${call.checksumState ?? ''}`;
    let bytes = this.requestLines.get(kind);
    if (bytes !== undefined) return bytes;
    const fixed = new URLSearchParams();
    if (call.method === 'GET') {
      if (call.pages === 'any') {
        // The longest page request there can be: a keyset cursor at its bound, every byte percent-encoded.
        fixed.set('pagination', 'keyset');
        fixed.set('cursor', '/'.repeat(MAX_KEYSET_CURSOR_LENGTH));
        fixed.set('page', '9'.repeat(16));
      } else {
        fixed.set('page', '1');
      }
      fixed.set('per_page', '100');
    }
    if (call.checksumState) fixed.set('checksum_state', call.checksumState);
    const names = [model.singular, model.plural].filter((n): n is string => n !== null).map(encodeSegment);
    const longestName = names.reduce((a, b) => (b.length > a.length ? b : a));
    const path = this.basePath + longestName + (call.method === 'PUT' ? '/checksum' : '');
    const query = fixed.toString();
    bytes = call.method.length + path.length + (query ? 1 + query.length : 0) + REQUEST_LINE_OVERHEAD;
    // Bounded: models x methods x kinds of pages x checksum states.
    this.requestLines.set(kind, bytes);
    return bytes;
  }

  /**
   * For /readyz: does GitLab answer, and is the dialect known? With a token the dialect is learnt too; without one,
   * any answer below 500 (GitLab checks auth first, so a 401) shows that GitLab is there.
   */
  async probe(token: string | null): Promise<{ reachable: boolean; dialectKnown: boolean; dialect: Dialect }> {
    let reachable = false;
    try {
      if (token) {
        const projects = MODELS_BY_ENUM.get('PROJECT')!;
        await this.list({ token, header: 'private-token' }, projects, { perPage: 1, page: { flavour: 'offset', page: 1 } });
        reachable = true;
      } else {
        const res = await this.pool.request({ method: 'GET', path: `${this.basePath}projects?per_page=1`, headers: { accept: 'application/json' } });
        await res.body.dump();
        reachable = res.statusCode < 500;
      }
    } catch (error) {
      const code = error instanceof GraphQLError ? error.extensions.code : null;
      reachable = code === 'UNAUTHENTICATED' || code === 'FORBIDDEN' || code === 'NOT_FOUND' || code === 'BAD_USER_INPUT';
    }
    return { reachable, dialectKnown: this.dialect.known, dialect: this.dialect.dialect };
  }

  /** Runs a call in the dialect in use; when GitLab rejects the model name, learns the other dialect and tries once more. */
  private async withDialect<T>(caller: Caller, model: ModelInfo, call: (dialect: Dialect) => Promise<T>): Promise<T> {
    if (!caller.token) throw missingToken(caller);
    const used = this.dialect.dialect;
    try {
      const result = await call(used);
      this.dialect.confirm();
      return result;
    } catch (error) {
      if (!(error instanceof RejectedModelName) || !this.dialect.switchAfterRejectedName(used, model)) throw unwrap(error);
      try {
        const result = await call(this.dialect.dialect);
        this.dialect.confirm();
        return result;
      } catch (retryError) {
        throw unwrap(retryError);
      }
    }
  }

  private async send(
    caller: Caller,
    route: string,
    method: 'GET' | 'PUT',
    segments: string[],
    params: URLSearchParams | null,
    special?: (status: number, body: unknown) => Error | null,
  ): Promise<Response> {
    // An empty segment makes `//`, which proxies and routers may merge: `<model>//checksum` would become the bulk route.
    if (segments.some((s) => s === '')) throw gatewayError('BAD_USER_INPUT', 'An identifier cannot be empty.');
    const query = params?.toString();
    const path = this.basePath + segments.map(encodeSegment).join('/') + (query ? `?${query}` : '');
    if (method.length + path.length + REQUEST_LINE_OVERHEAD > this.options.maxUrlBytes) {
      // GitLab behind nginx would answer 414: what made it long (identifiers, a cursor) came from the client.
      throw gatewayError('BAD_USER_INPUT', `This request would be longer than GitLab accepts (${this.options.maxUrlBytes} bytes): ask for fewer or shorter identifiers.`);
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (caller.header === 'private-token') headers['private-token'] = caller.token ?? '';
    else headers.authorization = `Bearer ${caller.token ?? ''}`;
    if (caller.requestId) headers['x-request-id'] = caller.requestId;

    const { end } = caller;
    // A GET the client no longer waits for is cut off; a PUT on its way is let finish: GitLab may have acted on it
    // already, and cutting it off would only hide how it went.
    const cutOffBy = method === 'GET' ? end : undefined;
    // The token's rate of calls to GitLab: past it, this call is not sent. Its retries are not counted again.
    if (caller.upstreamRate && !end?.ended) await caller.upstreamRate(1);
    let span: UpstreamSpan | null = null;
    if (caller.trace) {
      // Tracing on: this call's own span (its attempts, its outcome), whose context GitLab gets; off: the client's.
      const context = caller.trace.upstream ? (span = caller.trace.upstream(ROUTE_TEMPLATES[route] ?? route, method, segments[0], this.server)) : caller.trace;
      headers.traceparent = context.traceparent;
      if (context.tracestate) headers.tracestate = context.tracestate;
    }
    for (let attempt = 0; ; attempt++) {
      // Nobody waits for the answer: nothing is sent, neither a first attempt nor a retry.
      if (end?.ended) {
        span?.end();
        throw clientLeft();
      }
      const started = performance.now();
      let status = 0;
      const observe = (errorCode: string | null, retrying: boolean, abandoned = false) => {
        const event = { route, method, model: segments[0], status, durationMs: performance.now() - started, attempt: attempt + 1, errorCode, retrying, abandoned, requestId: caller.requestId };
        this.observe(event);
        // Every exit of this loop but the one above tells of its last attempt first: the span ends with it.
        if (span) {
          span.attempt(event);
          if (!retrying) span.end();
        }
      };
      if (caller.stats) caller.stats.upstreamCalls++;
      try {
        const res = await this.attempt(method, path, headers, special, (s) => (status = s), cutOffBy);
        observe(null, false);
        return res;
      } catch (error) {
        if (isClientLeft(error)) {
          observe(CLIENT_CLOSED_REQUEST, false, true);
          throw error;
        }
        const retry =
          !end?.ended &&
          error instanceof Attempt &&
          attempt < this.options.retries &&
          error.transient &&
          (method === 'GET' || error.neverArrived) &&
          !(error.waitMs !== null && error.waitMs > this.options.maxRetryAfterMs);
        observe(codeOf(error instanceof Attempt ? error.error : error), retry);
        if (!(error instanceof Attempt)) throw error;
        if (!retry) throw error.error;
        await sleep(error.waitMs ?? backoffMs(attempt), end);
      }
    }
  }

  private async attempt(
    method: 'GET' | 'PUT',
    path: string,
    headers: Record<string, string>,
    special: ((status: number, body: unknown) => Error | null) | undefined,
    answered: (status: number) => void,
    cutOff: OperationEnd | undefined,
  ): Promise<Response> {
    let status: number;
    let resHeaders: Response['headers'];
    let text: string;
    try {
      ({ status, headers: resHeaders, text } = await exchange(this.pool, { method, path, headers }, answered, cutOff));
    } catch (error) {
      // Cut off on purpose (see send()), not a failure of GitLab's.
      if (cutOff?.ended) throw clientLeft();
      throw networkFailure(error);
    }
    let body: unknown = null;
    const json = String(resHeaders['content-type'] ?? '').includes('json');
    if (json && text) {
      try {
        body = JSON.parse(text);
      } catch {
        throw new Attempt(gatewayError('UPSTREAM_ERROR', 'GitLab answered with a malformed body.'), false, true);
      }
    }
    if (status >= 200 && status < 300) {
      if (!json) throw new Attempt(gatewayError('UPSTREAM_ERROR', 'GitLab answered with an unexpected body.'), false, true);
      return { status, headers: resHeaders, body };
    }
    const specialError = special?.(status, body);
    if (specialError) throw specialError;
    throw statusFailure(status, body, resHeaders);
  }
}

/** GitLab's answer for a model name it does not know: the other dialect may know it. */
class RejectedModelName extends Error {}

function unwrap(error: unknown): unknown {
  if (!(error instanceof RejectedModelName)) return error;
  const unknown = gatewayError('BAD_USER_INPUT', 'GitLab does not know this model: it may need a newer GitLab.');
  unknownModel.add(unknown);
  return unknown;
}

/** The code an attempt's error gives the client (an error without one, such as a failed verification, by its kind). */
function codeOf(error: unknown): string {
  if (error instanceof GraphQLError) return String(error.extensions.code ?? 'UPSTREAM_ERROR');
  if (error instanceof VerificationFailedError) return 'VERIFICATION_FAILED';
  if (error instanceof RejectedModelName) return 'REJECTED_MODEL_NAME';
  return 'INTERNAL_SERVER_ERROR';
}

function messageOf(body: unknown): string | null {
  if (body && typeof body === 'object') {
    const { message, error } = body as { message?: unknown; error?: unknown };
    if (typeof message === 'string') return message;
    if (typeof error === 'string') return error;
  }
  return null;
}

/** GitLab's messages are about parameters; still, never echo anything that looks like a URL or a token. */
function safeMessage(body: unknown): string {
  return (messageOf(body) ?? '').replace(/https?:\/\/\S+/g, '<url>').replace(/\b(glpat|gloas|glptt|glrt)-[\w-]+/g, '<token>').slice(0, 300);
}

function statusFailure(status: number, body: unknown, headers: Response['headers']): Error {
  const message = safeMessage(body);
  switch (status) {
    case 400: {
      if (message === 'model_name does not have a valid value') return new RejectedModelName();
      const error = gatewayError('BAD_USER_INPUT', `GitLab rejected the request: ${message || 'bad request'}`);
      rejectedByGitLab.add(error);
      if (/ is not a verifiable model\.$/.test(message)) unverifiableModel.add(error);
      return error;
    }
    case 401:
      return gatewayError('UNAUTHENTICATED', 'GitLab did not accept the token (401 Unauthorized).');
    case 403:
      return gatewayError('FORBIDDEN', 'The token is not allowed to do this: the Data management API needs an administrator, and recalculation a token with the `api` scope.');
    case 404:
      if (message === '404 Not Found') {
        return gatewayError('NOT_FOUND', 'GitLab answered 404 Not Found: the Data management API may be disabled (feature flag geo_primary_verification_view).');
      }
      return gatewayError('NOT_FOUND', `GitLab answered: ${message || '404 Not Found'}`);
    case 405:
      // GitLab.com refuses offset pages beyond a maximum offset for some types; nothing deeper can be read by offset.
      if (/maximum allowed offset/.test(message)) return gatewayError('UPSTREAM_ERROR', 'GitLab refuses offset pages this deep.', { reason: 'OFFSET_LIMIT' });
      return gatewayError('UPSTREAM_ERROR', 'GitLab answered with status 405.');
    case 429: {
      const waitMs = retryAfterMs(headers['retry-after']);
      return new Attempt(gatewayError('UPSTREAM_RATE_LIMITED', 'GitLab is rate limiting the gateway; try again later.', waitMs === null ? {} : { retryAfterSeconds: Math.ceil(waitMs / 1000) }), true, true, waitMs);
    }
    case 502:
    case 503:
    case 504:
      return new Attempt(gatewayError('UPSTREAM_UNAVAILABLE', `GitLab is unavailable (${status}).`), false, true);
    default:
      return gatewayError('UPSTREAM_ERROR', `GitLab answered with status ${status}.`);
  }
}

function networkFailure(error: unknown): Attempt {
  const code = (error as { code?: string } | null)?.code ?? '';
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return new Attempt(gatewayError('UPSTREAM_TIMEOUT', 'GitLab did not answer in time.'), false, false);
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return new Attempt(gatewayError('UPSTREAM_TIMEOUT', 'Could not connect to GitLab in time.'), true, true);
  // GitLab answered, with more header than even its Link of a longest URL needs: asking again would get the same.
  if (code === 'UND_ERR_HEADERS_OVERFLOW') return new Attempt(gatewayError('UPSTREAM_ERROR', 'GitLab answered with larger headers than expected.'), false, false);
  // The same for a body past UPSTREAM_MAX_RESPONSE_BYTES (undici closed the connection at that byte).
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return new Attempt(gatewayError('UPSTREAM_ERROR', 'GitLab answered with a larger body than this gateway reads.'), false, false);
  const neverArrived = CONNECT_ERRORS.has(code);
  return new Attempt(gatewayError('UPSTREAM_UNAVAILABLE', neverArrived ? 'Could not connect to GitLab.' : 'The connection to GitLab failed.'), neverArrived, true);
}

function positiveInt(value: string | undefined, allowZero = false): number | null {
  if (!value || !/^\d+$/.test(value)) return null;
  const n = Number(value);
  return n > 0 || allowZero ? n : null;
}

/** The `cursor` of GitLab's `Link: <...>; rel="next"`, or null on the last page. */
function nextCursorOf(link: string | undefined): string | null {
  const match = /<([^>]*)>\s*;\s*rel="?next"?/.exec(link ?? '');
  if (!match) return null;
  let cursor: string | null = null;
  try {
    cursor = new URL(match[1], 'http://gitlab.invalid').searchParams.get('cursor');
  } catch {
    // fall through: a next link without a readable cursor
  }
  if (!cursor) throw gatewayError('UPSTREAM_ERROR', 'GitLab sent a next-page link without a cursor.');
  if (cursor.length > MAX_KEYSET_CURSOR_LENGTH) throw gatewayError('UPSTREAM_ERROR', 'GitLab sent a longer page cursor than this gateway passes on.');
  return cursor;
}

function retryAfterMs(value: string | string[] | undefined): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return null;
  if (/^\d+$/.test(raw)) return Number(raw) * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

function backoffMs(attempt: number): number {
  return 100 * 2 ** attempt + Math.random() * 100;
}

/** Waits `ms`, or less: no longer than until the operation ends. */
function sleep(ms: number, end: OperationEnd | undefined): Promise<void> {
  return new Promise((resolve) => {
    let forget = () => {};
    const timer = setTimeout(() => {
      forget();
      resolve();
    }, ms);
    forget =
      end?.whenEnded(() => {
        clearTimeout(timer);
        resolve();
      }) ?? forget;
  });
}
