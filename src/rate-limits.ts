// Per-client limits: operations per token and per address, calls to GitLab per token (each a rate per minute), and
// active subscriptions per token. Tokens are counted under a keyed hash, never themselves. A client past a rate gets
// RATE_LIMITED with the seconds to wait (HTTP: 429 and Retry-After); with REDIS_URL the limits hold for all replicas
// together (rate-limit-store.ts).
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError, getOperationAST, type DocumentNode, type ExecutionResult } from 'graphql';
import { isAsyncIterable, processRegularResult, type Plugin } from 'graphql-yoga';
import { clientAddress } from './client-address.js';
import type { Config } from './config.js';
import { connectionParamsHeaders, tokenFrom, type GatewayContext } from './context.js';
import { originAllowed } from './cors.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { OperationEnd } from './operation-end.js';
import { MemoryLimitStore, RedisLimitStore, type LimitStore, type RateCheck, type RateRefusal } from './rate-limit-store.js';

export const RATE_LIMITED = 'RATE_LIMITED';

/** The `limit` label of gateway_rate_limited_total: which limit refused. */
export type LimitName = 'token_operations' | 'ip_operations' | 'token_upstream_calls' | 'token_subscriptions';

type RateName = Exclude<LimitName, 'token_subscriptions'>;

const SETTINGS: Record<LimitName, string> = {
  token_operations: 'RATE_LIMIT_TOKEN_OPERATIONS_PER_MINUTE',
  ip_operations: 'RATE_LIMIT_IP_OPERATIONS_PER_MINUTE',
  token_upstream_calls: 'RATE_LIMIT_TOKEN_UPSTREAM_CALLS_PER_MINUTE',
  token_subscriptions: 'RATE_LIMIT_TOKEN_SUBSCRIPTIONS',
};

const WHAT: Record<RateName, string> = {
  token_operations: 'Too many operations with this token',
  ip_operations: 'Too many operations from this address',
  token_upstream_calls: 'Too many calls to GitLab with this token',
};

/** Whole seconds to wait, rounded up: at least 1, as Retry-After cannot say less. */
const secondsOf = (waitMs: number) => Math.max(1, Math.ceil(waitMs / 1000));

/** What a refusal says, and where (the status and header only matter over HTTP). */
export interface Refusal {
  error: GraphQLError;
  /** Seconds to wait; absent for a subscription refused for its token's places (waiting alone does not help). */
  retryAfter?: number;
}

/** Marks a subscription refused over SSE for its token's places (a symbol: never in what the client is sent). */
const SSE_REFUSAL = Symbol('refused for its token\'s places');

/** What graphql-ws and HTTP operations find in their context besides the gateway's own. */
type TransportContext = GatewayContext & { connectionParams?: unknown; res?: ServerResponse };

export class ClientLimits {
  private readonly store: LimitStore;
  /** Tokens' hashes by the graphql-ws connection parameters they came in (one hash per connection, not per message). */
  private readonly paramsTokens = new WeakMap<object, string | null>();
  /** Addresses by upgrade request: every message of a socket comes from the same one. */
  private readonly requestAddresses = new WeakMap<IncomingMessage, string>();
  private readonly hashKey: string;

  constructor(
    private readonly config: Config,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.hashKey = `per-client limits ${config.redis?.keyPrefix ?? ''}`;
    // Every series from the start, at 0: a dashboard sees the limits before the first refusal.
    for (const limit of Object.keys(SETTINGS)) metrics.rateLimited.inc({ limit }, 0);
    metrics.rateLimitsDegraded.set(0);
    this.store = config.redis
      ? new RedisLimitStore(config.redis.url, config.redis.keyPrefix, config.live.leaseMs, logger, (on) => metrics.rateLimitsDegraded.set(on ? 1 : 0))
      : new MemoryLimitStore();
  }

  /**
   * What a token is counted under: an HMAC-SHA-256 of it made for these limits alone (keyed by REDIS_KEY_PREFIX, cut
   * to 22 characters), so the keys replicas share in Redis match neither the token nor the SHA-256 the process keys its
   * caches by.
   */
  private subjectOf(token: string): string {
    return createHmac('sha256', this.hashKey).update(token).digest('base64url').slice(0, 22);
  }

  private get limits(): Config['rateLimits'] {
    return this.config.rateLimits;
  }

  /**
   * Counts a GraphQL operation over HTTP (POST or GET, SSE included) against its token and address; one past either
   * rate is answered here with 429, Retry-After and RATE_LIMITED. True when it was answered (a promise only while the
   * count is Redis's: in memory, the request goes on without waiting a turn of the event loop).
   */
  answeredHttp(req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean> {
    const { tokenOperationsPerMinute, ipOperationsPerMinute } = this.limits;
    if ((req.method !== 'POST' && req.method !== 'GET') || (tokenOperationsPerMinute === 0 && ipOperationsPerMinute === 0)) return false;
    const token = tokenOperationsPerMinute === 0 ? null : tokenFrom({ get: (name) => headerOf(req, name) }).token;
    const refusal = this.operation(token === null ? null : this.subjectOf(token), () => clientAddress(req, this.limits.trustedProxies));
    return refusal instanceof Promise ? refusal.then((r) => this.refuseHttp(req, res, r)) : this.refuseHttp(req, res, refusal);
  }

  /** Answers a refused HTTP operation with 429 (true), or lets it go on (false). */
  private refuseHttp(req: IncomingMessage, res: ServerResponse, refusal: Refusal | null): boolean {
    if (!refusal) return false;
    const body = JSON.stringify({ errors: [refusal.error.toJSON()] });
    const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'retry-after': refusal.retryAfter ?? 1 };
    // A page of a listed origin may read the refusal (Yoga adds these headers to its own answers).
    const origin = req.headers.origin;
    if (origin !== undefined && originAllowed(origin, this.config.corsOrigins)) {
      headers['access-control-allow-origin'] = origin;
      headers['access-control-expose-headers'] = 'retry-after, x-request-id';
    }
    res.writeHead(429, headers).end(body);
    return true;
  }

  /** Counts a graphql-ws `subscribe` message against its connection's token and address: the refusal, or null. */
  async wsOperation(request: IncomingMessage, connectionParams: Readonly<Record<string, unknown>> | undefined): Promise<GraphQLError | null> {
    return (await this.operation(this.wsToken(connectionParams), () => this.wsAddress(request)))?.error ?? null;
  }

  /**
   * Takes a place among its token's subscriptions for a graphql-ws subscription (queries and mutations pass), given
   * back when the operation ends, however it ends: the refusal, or null.
   */
  async wsSubscription(connectionParams: Readonly<Record<string, unknown>> | undefined, document: DocumentNode, operationName: string | null | undefined, end: OperationEnd): Promise<GraphQLError | null> {
    const max = this.limits.tokenSubscriptions;
    if (max === 0 || getOperationAST(document, operationName)?.operation !== 'subscription') return null;
    const subject = this.wsToken(connectionParams);
    if (subject === null) return null;
    if (!(await this.store.takePlace(subject, max))) return this.subscriptionsRefused().error;
    end.whenEnded(() => this.store.releasePlace(subject));
    return null;
  }

  /**
   * The envelop plugin (HTTP, SSE, graphql-ws and any other path through Yoga's envelope): gives each query and
   * mutation its token's rate of calls to GitLab, and counts SSE subscriptions among their token's places (over
   * graphql-ws they are counted in wsSubscription, to be refused with an `error` message).
   */
  plugin(): Plugin {
    return {
      onExecute: ({ args }) => {
        const { caller } = args.contextValue as unknown as GatewayContext;
        const perMinute = this.limits.tokenUpstreamCallsPerMinute;
        if (perMinute === 0 || !caller?.token) return;
        const token = caller.token;
        let subject: string | null = null;
        caller.upstreamRate = (calls) => {
          subject ??= this.subjectOf(token);
          const taken = this.takeOf(['token_upstream_calls'], [{ key: `token_upstream_calls:${subject}`, perMinute, cost: calls }]);
          if (taken === null) return;
          if (!(taken instanceof Promise)) throw taken.error;
          return taken.then((refusal) => {
            if (refusal) throw refusal.error;
          });
        };
      },
      onSubscribe: ({ args, setResultAndStopExecution }) => {
        const ctx = args.contextValue as unknown as TransportContext;
        const max = this.limits.tokenSubscriptions;
        if (max === 0 || ctx.connectionParams !== undefined || !ctx.caller?.token) return;
        const subject = this.subjectOf(ctx.caller.token);
        const placed = (taken: boolean) => {
          if (!taken) {
            const { error } = this.subscriptionsRefused();
            return setResultAndStopExecution({ errors: [new GraphQLError(error.message, { extensions: { ...error.extensions, [SSE_REFUSAL]: true } })] });
          }
          // The response's end is the subscription's, whoever ends it (the client leaving, or the stream completing).
          const release = () => this.store.releasePlace(subject);
          const { res } = ctx;
          if (!res) return ctx.caller.end ? void ctx.caller.end.whenEnded(release) : release();
          // Gone already (its client left while the place was taken): no close event is to come.
          if (res.destroyed || res.writableFinished || res.socket?.destroyed !== false) return release();
          res.once('close', release);
        };
        const taken = this.store.takePlace(subject, max);
        if (taken instanceof Promise) return taken.then(placed) as Promise<void>;
        placed(taken);
      },
      // A refused SSE subscription is answered in JSON with its 429, not as an event on an accepted stream (errors are
      // copied on their way here: the mark in their extensions goes with them).
      onResultProcess: ({ result, setResult, setResultProcessor }) => {
        if (Array.isArray(result) || isAsyncIterable(result)) return;
        const errors = (result as ExecutionResult).errors;
        if (!errors?.some((error) => (error.extensions as Record<symbol, unknown> | undefined)?.[SSE_REFUSAL])) return;
        setResult({ errors: errors.map((e) => new GraphQLError(e.message, { extensions: { code: e.extensions.code, http: { status: 429 } } })) });
        setResultProcessor(processRegularResult, 'application/json');
      },
    };
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /** An operation of this token (a hash; null: none, or one that cannot be a token) from this address. */
  private operation(subject: string | null, address: () => string): Refusal | null | Promise<Refusal | null> {
    const { tokenOperationsPerMinute, ipOperationsPerMinute } = this.limits;
    const names: RateName[] = [];
    const checks: RateCheck[] = [];
    if (subject !== null && tokenOperationsPerMinute > 0) {
      names.push('token_operations');
      checks.push({ key: `token_operations:${subject}`, perMinute: tokenOperationsPerMinute, cost: 1 });
    }
    if (ipOperationsPerMinute > 0) {
      names.push('ip_operations');
      checks.push({ key: `ip_operations:${address()}`, perMinute: ipOperationsPerMinute, cost: 1 });
    }
    if (checks.length === 0) return null;
    return this.takeOf(names, checks);
  }

  private takeOf(names: RateName[], checks: RateCheck[]): Refusal | null | Promise<Refusal | null> {
    const taken = this.store.takeRate(checks);
    const refusalOf = (refusal: RateRefusal | null) => (refusal ? this.rateRefused(names[refusal.index], checks[refusal.index].perMinute, refusal.waitMs) : null);
    return taken instanceof Promise ? taken.then(refusalOf) : refusalOf(taken);
  }

  private rateRefused(name: RateName, perMinute: number, waitMs: number): Refusal {
    this.metrics.rateLimited.inc({ limit: name });
    const retryAfter = secondsOf(waitMs);
    this.logger.debug({ limit: name, retryAfter }, 'rate limited');
    const message = `${WHAT[name]}: at most ${perMinute} a minute (${SETTINGS[name]}). Try again in ${retryAfter} s.`;
    return { error: new GraphQLError(message, { extensions: { code: RATE_LIMITED, retryAfterSeconds: retryAfter } }), retryAfter };
  }

  private subscriptionsRefused(): Refusal {
    this.metrics.rateLimited.inc({ limit: 'token_subscriptions' });
    const max = this.limits.tokenSubscriptions;
    const message = `This token has ${max} subscriptions open already (${SETTINGS.token_subscriptions}): end one before starting another.`;
    return { error: new GraphQLError(message, { extensions: { code: RATE_LIMITED } }) };
  }

  private wsToken(params: Readonly<Record<string, unknown>> | undefined): string | null {
    if (!params) return null;
    let subject = this.paramsTokens.get(params);
    if (subject === undefined) {
      const { token } = tokenFrom(connectionParamsHeaders(params));
      subject = token === null ? null : this.subjectOf(token);
      this.paramsTokens.set(params, subject);
    }
    return subject;
  }

  private wsAddress(request: IncomingMessage): string {
    let address = this.requestAddresses.get(request);
    if (address === undefined) this.requestAddresses.set(request, (address = clientAddress(request, this.limits.trustedProxies)));
    return address;
  }
}

function headerOf(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return typeof value === 'string' ? value : null;
}
