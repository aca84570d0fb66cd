// Every setting of the gateway, read from the environment and validated in one place.
import { readTracingConfig, type TracingConfig } from './tracing-config.js';

export type DialectSetting = 'auto' | 'singular' | 'plural';

export interface Config {
  host: string;
  port: number;
  /** GitLab's base URL (without /api/v4); null runs the embedded stand-in (demo mode). */
  gitlabUrl: string | null;
  dialect: DialectSetting;
  upstream: {
    connections: number;
    connectTimeoutMs: number;
    headersTimeoutMs: number;
    bodyTimeoutMs: number;
    /** Extra attempts for idempotent requests after a transient failure. */
    retries: number;
    /** A Retry-After longer than this is not waited for: the client gets UPSTREAM_RATE_LIMITED at once. */
    maxRetryAfterMs: number;
    /** Longest request line (`GET /api/v4/...?... HTTP/1.1`) sent to GitLab: longer identifier lists are split. */
    maxUrlBytes: number;
    /** Largest answer body read from GitLab: a larger one is cut off (its connection closed) and the call fails. */
    maxResponseBytes: number;
    /** Calls to GitLab one query or mutation may make (identical list calls count once); subscriptions' are the live layer's. */
    maxCallsPerOperation: number;
  };
  /** Largest `first` a connection accepts (one GitLab page holds at most 100). */
  maxPageSize: number;
  /** Largest `identifiers` list a query or mutation accepts. */
  maxIdentifiers: number;
  /** Batch an operation's record look-ups into list calls (DataLoader); off only to measure what batching saves. */
  dataloaderBatching: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Introspection and GraphiQL: on in demo mode, off in front of a real GitLab unless asked for. */
  introspection: boolean;
  graphiql: boolean;
  /** The verification monitor page at / and /monitor: on in demo mode, off in front of a real GitLab unless asked for. */
  monitor: boolean;
  /** Origins allowed to call cross-origin; empty allows none. `*` allows any, `scheme://host:*` any port of a host. */
  corsOrigins: string[];
  limits: {
    requestBodyBytes: number;
    depth: number;
    aliases: number;
    tokens: number;
    cost: number;
    /** Deepest nesting of `{`, `[` and `(` in a document, and of arrays and objects in its variables. */
    nesting: number;
  };
  /** Operation names that may label metrics; any other name is counted as `other`. */
  metricsMaxOperationNames: number;
  shutdownTimeoutMs: number;
  /** Bytes a WebSocket may have queued (sent or waiting to be) before it is cut off. */
  wsMaxBufferedBytes: number;
  /** graphql-ws sockets one token may hold open at once (counted by a hash of the token). */
  wsMaxConnectionsPerToken: number;
  /** GitLab's verdict on a token, kept per token for the WebSocket connection check (hashed, bounded). */
  tokenCache: { ttlMs: number; maxEntries: number };
  /** Optional token used only by /readyz to learn the dialect before any client calls. */
  readinessToken: string | null;
  /** Automatic persisted queries: documents kept under their SHA-256 (0 entries: off), and their bytes together. */
  persistedQueries: { maxEntries: number; maxBytes: number };
  /** Trusted documents: the JSON file (hash to document) read at start, and whether only its documents run. */
  trustedDocuments: { file: string | null; only: boolean };
  /** Parsed documents and parse failures kept by query text: their estimated heap together, the longest text kept. */
  parseCache: { maxBytes: number; maxQueryLength: number };
  /** Runs of a kept, valid query's document on graphql-js before its query is compiled (0: never compiled). */
  queryCompileAfter: number;
  /** Time a client has to send a whole request, headers and body (the response is not counted). */
  requestTimeoutMs: number;
  /** Connections open at once (HTTP and WebSocket); a further one is closed as soon as it is accepted. */
  maxConnections: number;
  live: {
    fastPollMs: number;
    slowPollMs: number;
    authRecheckMs: number;
    maxBackoffMs: number;
    maxIdentifiers: number;
    maxSubscriptionsPerConnection: number;
    /** Distinct records watched by all subscriptions of the process together. */
    maxWatchedIdentifiers: number;
    /** Calls to GitLab the live layer starts per second at most (polls, first reads, token re-checks). */
    maxUpstreamCallsPerSecond: number;
    /** How long a replica's lease on a poll lasts without renewal (with Redis): a dead poller is replaced within two. */
    leaseMs: number;
  };
  /** Replicas share their polls and changes through Redis; null: one process, everything in memory. */
  redis: { url: string; keyPrefix: string } | null;
  /**
   * Per-client limits (rate-limits.ts), 0 turning one off: operations a minute per token and per address, calls to
   * GitLab a minute per token, active subscriptions per token; and how many proxies in front set X-Forwarded-For.
   */
  rateLimits: {
    tokenOperationsPerMinute: number;
    ipOperationsPerMinute: number;
    tokenUpstreamCallsPerMinute: number;
    tokenSubscriptions: number;
    trustedProxies: number;
  };
  /** OpenTelemetry tracing from the standard OTEL_* variables (see tracing-config.ts); null: off, nothing of it loaded. */
  tracing: TracingConfig | null;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  return n;
}

function url(env: Env, name: string): string | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL such as https://gitlab.example.com`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`${name} must be an http(s) URL such as https://gitlab.example.com`);
  if (parsed.username || parsed.password || parsed.search || parsed.hash) throw new ConfigError(`${name} must not carry credentials, a query or a fragment`);
  // Accept a base URL with or without a trailing /api/v4: the client adds it.
  return parsed.origin + parsed.pathname.replace(/\/+$/, '').replace(/\/api\/v4$/, '');
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

/** A redis:// or rediss:// URL (a password may be in it: it is never logged or echoed). */
function redisUrl(env: Env, name: string): string | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  let protocol: string;
  try {
    protocol = new URL(raw).protocol;
  } catch {
    throw new ConfigError(`${name} must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379`);
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') throw new ConfigError(`${name} must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379`);
  return raw;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['false', '0', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

/** Browser origins: `*`, or scheme://host[:port] each (an entry without a scheme would never match a browser's Origin). */
function origins(env: Env, name: string): string[] {
  const entries = (env[name] ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  for (const entry of entries) {
    if (entry === '*') continue;
    // `scheme://host:*`: any port of that host.
    const origin = entry.endsWith(':*') ? entry.slice(0, -2) : entry.replace(/\/$/, '');
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.origin !== origin || (entry.endsWith(':*') && parsed.port !== '')) {
      throw new ConfigError(`${name} entries must be origins such as https://dashboard.example.com (scheme, host, optional port or :* for any) or *, got "${entry}"`);
    }
  }
  return entries.map((entry) => entry.replace(/\/$/, ''));
}

/** Demo mode lets a front-end dev server on this machine (any port) call the gateway out of the box. */
const DEMO_CORS_ORIGINS = ['http://localhost:*', 'http://127.0.0.1:*'];

/** The two poll paces: the fast one is for records in flight, so a fast pace slower than the settled one is a mistake. */
function pollPaces(env: Env): { fastPollMs: number; slowPollMs: number } {
  const fastPollMs = integer(env, 'LIVE_FAST_POLL_MS', 1_000, 50);
  const slowPollMs = integer(env, 'LIVE_SLOW_POLL_MS', 30_000, 50);
  if (fastPollMs > slowPollMs) throw new ConfigError(`LIVE_FAST_POLL_MS (${fastPollMs}) must not exceed LIVE_SLOW_POLL_MS (${slowPollMs})`);
  return { fastPollMs, slowPollMs };
}

/** What one subscription may watch, and all of them together: a bound below one subscription's would refuse it always. */
function watchedBounds(env: Env): { maxIdentifiers: number; maxWatchedIdentifiers: number } {
  const maxIdentifiers = integer(env, 'LIVE_MAX_IDENTIFIERS', 1_000, 1, 100_000);
  // ~150 MB of watch state at worst (255-character ids); a full poll of them is 1,000 calls of 100.
  const maxWatchedIdentifiers = integer(env, 'LIVE_MAX_WATCHED_IDENTIFIERS', 100_000, 1, 10_000_000);
  if (maxWatchedIdentifiers < maxIdentifiers) throw new ConfigError(`LIVE_MAX_WATCHED_IDENTIFIERS (${maxWatchedIdentifiers}) must not be below LIVE_MAX_IDENTIFIERS (${maxIdentifiers})`);
  return { maxIdentifiers, maxWatchedIdentifiers };
}

export function loadConfig(env: Env = process.env): Config {
  const gitlabUrl = url(env, 'GITLAB_URL');
  const demo = gitlabUrl === null;
  const depth = integer(env, 'MAX_DEPTH', 12, 1);
  // Far above what a document within MAX_DEPTH nests (a fragment and an argument value per level), far below the
  // ~1,500 levels at which GraphQL's recursive parser runs out of stack.
  const nesting = integer(env, 'MAX_NESTING', 64, 2, 500);
  if (nesting <= depth) throw new ConfigError(`MAX_NESTING (${nesting}) must be greater than MAX_DEPTH (${depth}): every selection level nests one more brace`);
  // 100 list calls read 10,000 records: far more than one dashboard document asks for, far fewer than 1,400.
  const maxCallsPerOperation = integer(env, 'UPSTREAM_MAX_CALLS_PER_OPERATION', 100, 1, 100_000);
  return {
    host: env.HOST || '0.0.0.0',
    port: integer(env, 'PORT', 4000, 0, 65_535),
    gitlabUrl,
    dialect: oneOf(env, 'GITLAB_API_DIALECT', ['auto', 'singular', 'plural'], 'auto'),
    upstream: {
      connections: integer(env, 'UPSTREAM_CONNECTIONS', 32, 1, 1024),
      connectTimeoutMs: integer(env, 'UPSTREAM_CONNECT_TIMEOUT_MS', 5_000, 1),
      headersTimeoutMs: integer(env, 'UPSTREAM_HEADERS_TIMEOUT_MS', 15_000, 1),
      bodyTimeoutMs: integer(env, 'UPSTREAM_BODY_TIMEOUT_MS', 15_000, 1),
      retries: integer(env, 'UPSTREAM_RETRIES', 2, 0, 10),
      maxRetryAfterMs: integer(env, 'UPSTREAM_MAX_RETRY_AFTER_MS', 5_000, 0),
      // nginx's default large_client_header_buffers (8k): a longer request line is answered 414.
      maxUrlBytes: integer(env, 'UPSTREAM_MAX_URL_BYTES', 8_192, 1_024, 1_048_576),
      // A page of 100 records is a few hundred KiB: 16 MiB only stops an answer that would not end.
      maxResponseBytes: integer(env, 'UPSTREAM_MAX_RESPONSE_BYTES', 16 * 1_048_576, 65_536, 1_073_741_824),
      maxCallsPerOperation,
    },
    maxPageSize: integer(env, 'MAX_PAGE_SIZE', 100, 1, 100),
    maxIdentifiers: integer(env, 'MAX_IDENTIFIERS', 1000, 1, 100_000),
    dataloaderBatching: bool(env, 'DATALOADER_BATCHING', true),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    introspection: bool(env, 'GRAPHQL_INTROSPECTION', demo),
    graphiql: bool(env, 'GRAPHIQL', demo),
    monitor: bool(env, 'MONITOR', demo),
    corsOrigins: demo && !env.CORS_ORIGINS ? DEMO_CORS_ORIGINS : origins(env, 'CORS_ORIGINS'),
    limits: {
      requestBodyBytes: integer(env, 'MAX_REQUEST_BODY_BYTES', 1_000_000, 1_000),
      depth,
      aliases: integer(env, 'MAX_ALIASES', 300, 1),
      tokens: integer(env, 'MAX_TOKENS', 10_000, 10),
      cost: integer(env, 'MAX_COST', 50_000, 10),
      nesting,
    },
    metricsMaxOperationNames: integer(env, 'METRICS_MAX_OPERATION_NAMES', 100, 0, 10_000),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0),
    // 1 MB of backpressure + 40 subscriptions each owed a first batch of 1,000 records (~0.7 MB): a client further
    // behind is better off reconnecting (graphql-ws clients do) to current states than held here.
    wsMaxBufferedBytes: integer(env, 'WS_MAX_BUFFERED_BYTES', 32 << 20, 64 << 10),
    // A browser tab needs one socket (graphql-ws multiplexes its subscriptions): twenty tabs of one token.
    wsMaxConnectionsPerToken: integer(env, 'WS_MAX_CONNECTIONS_PER_TOKEN', 20, 1, 1_000_000),
    tokenCache: { ttlMs: integer(env, 'TOKEN_CACHE_MS', 30_000, 0), maxEntries: integer(env, 'TOKEN_CACHE_MAX_ENTRIES', 10_000, 1) },
    readinessToken: env.GITLAB_READINESS_TOKEN || null,
    persistedQueries: { maxEntries: integer(env, 'APQ_MAX_ENTRIES', 1_000, 0, 1_000_000), maxBytes: integer(env, 'APQ_MAX_BYTES', 10_000_000, 1_000) },
    trustedDocuments: trustedDocumentsOf(env),
    // A dashboard's document is a few KB and costs ~100 KB parsed: 32 MB keeps hundreds; 16 KB texts cost 4 MB at most.
    parseCache: { maxBytes: integer(env, 'PARSE_CACHE_MAX_BYTES', 32 << 20, 0), maxQueryLength: integer(env, 'PARSE_CACHE_MAX_QUERY_LENGTH', 16_384, 0, 1_000_000) },
    // A compilation costs 1 to 25 ms of CPU (24 to 600 tokens): paid by a document that has already run ten times.
    queryCompileAfter: integer(env, 'QUERY_COMPILE_AFTER', 10, 0, 1_000_000),
    // A 1 MB body (MAX_REQUEST_BODY_BYTES) at 35 KB/s; a dashboard's request of a few KB takes milliseconds.
    requestTimeoutMs: integer(env, 'REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
    maxConnections: integer(env, 'MAX_CONNECTIONS', 10_000, 1, 1_000_000),
    live: {
      ...pollPaces(env),
      ...watchedBounds(env),
      authRecheckMs: integer(env, 'LIVE_AUTH_RECHECK_MS', 60_000, 100),
      maxBackoffMs: integer(env, 'LIVE_MAX_BACKOFF_MS', 60_000, 100),
      maxSubscriptionsPerConnection: integer(env, 'LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION', 100, 1, 100_000),
      // 20: a fast poll of 2,000 watched records (20 calls of 100) every second, a small share of what one GitLab serves.
      maxUpstreamCallsPerSecond: integer(env, 'LIVE_MAX_UPSTREAM_CALLS_PER_SECOND', 20, 1, 10_000),
      leaseMs: integer(env, 'LIVE_LEASE_MS', 5_000, 200, 600_000),
    },
    redis: redisOf(env),
    rateLimits: rateLimitsOf(env, maxCallsPerOperation),
    tracing: readTracingConfig(env, ConfigError),
  };
}

/** The file is read and checked by src/trusted-documents.ts when the gateway starts; here only whether it is named. */
function trustedDocumentsOf(env: Env): Config['trustedDocuments'] {
  const file = env.TRUSTED_DOCUMENTS || null;
  const only = bool(env, 'TRUSTED_DOCUMENTS_ONLY', false);
  if (only && !file) throw new ConfigError('TRUSTED_DOCUMENTS_ONLY=true needs TRUSTED_DOCUMENTS, the JSON file of trusted documents (SHA-256 hash to document)');
  return { file, only };
}

function redisOf(env: Env): Config['redis'] {
  const url = redisUrl(env, 'REDIS_URL');
  if (!url) return null;
  const keyPrefix = env.REDIS_KEY_PREFIX ?? 'dmg:';
  if (!/^[\x21-\x7e]{1,64}$/.test(keyPrefix)) throw new ConfigError(`REDIS_KEY_PREFIX must be 1 to 64 visible ASCII characters, got "${keyPrefix.slice(0, 80)}"`);
  return { url, keyPrefix };
}

/**
 * Per-client limits. A monitor tab makes a few operations a minute (one per page of records or recalculation), calls
 * GitLab once or twice for each, and holds two or three subscriptions: the defaults are a hundred times that and more,
 * and stop a client stuck in a loop, or a host making up tokens, long before it takes the gateway or GitLab.
 */
function rateLimitsOf(env: Env, maxCallsPerOperation: number): Config['rateLimits'] {
  // 100 a second per token; an address gets five tokens' worth, as an office behind one NAT shares it.
  const tokenOperationsPerMinute = integer(env, 'RATE_LIMIT_TOKEN_OPERATIONS_PER_MINUTE', 6_000, 0, 10_000_000);
  const ipOperationsPerMinute = integer(env, 'RATE_LIMIT_IP_OPERATIONS_PER_MINUTE', 30_000, 0, 10_000_000);
  // 100 calls a second: sixty operations a minute at UPSTREAM_MAX_CALLS_PER_OPERATION.
  const tokenUpstreamCallsPerMinute = integer(env, 'RATE_LIMIT_TOKEN_UPSTREAM_CALLS_PER_MINUTE', 6_000, 0, 10_000_000);
  if (tokenUpstreamCallsPerMinute > 0 && tokenUpstreamCallsPerMinute < maxCallsPerOperation) {
    throw new ConfigError(`RATE_LIMIT_TOKEN_UPSTREAM_CALLS_PER_MINUTE (${tokenUpstreamCallsPerMinute}) must be 0 or at least UPSTREAM_MAX_CALLS_PER_OPERATION (${maxCallsPerOperation}): one operation may make that many calls`);
  }
  return {
    tokenOperationsPerMinute,
    ipOperationsPerMinute,
    tokenUpstreamCallsPerMinute,
    // Hundreds of monitor tabs of one token; graphql-ws alone allows 2,000 (20 sockets of 100), SSE has no bound of its own.
    tokenSubscriptions: integer(env, 'RATE_LIMIT_TOKEN_SUBSCRIPTIONS', 1_000, 0, 10_000_000),
    trustedProxies: integer(env, 'TRUSTED_PROXIES', 0, 0, 100),
  };
}
