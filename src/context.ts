// What every resolver sees: the caller's own GitLab credentials and this operation's loaders.
import { randomUUID } from 'node:crypto';
import type { Config } from './config.js';
import { MAX_TOKEN_LENGTH } from './errors.js';
import type { Caller, GitLabClient } from './gitlab/client.js';
import { RecordLoaders } from './gitlab/loaders.js';
import type { PayloadSender } from './live/shared-execution.js';
import type { Watcher } from './live/watcher.js';
import type { Metrics } from './metrics.js';
import type { ModelInfo } from './models.js';
import type { OperationEnd } from './operation-end.js';
import { traceContextFrom } from './trace-context.js';

export interface GatewayContext {
  caller: Caller;
  client: GitLabClient;
  loaders: RecordLoaders;
  config: Config;
  /** The process-wide watcher behind subscriptions; mutations tell it what they learn. */
  live: Watcher;
  /** graphql-ws operations only: sends a subscription result already in JSON (see shared-execution.ts). */
  sendPayload?: PayloadSender;
}

type HeaderSource = { get(name: string): string | null };

/** graphql-ws sends credentials in `connection_init`: read them like headers, whatever their case. */
export function connectionParamsHeaders(params: Readonly<Record<string, unknown>> | undefined): HeaderSource {
  const lower = new Map(Object.entries(params ?? {}).map(([k, v]) => [k.toLowerCase(), typeof v === 'string' ? v : null]));
  return { get: (name) => lower.get(name) ?? null };
}

/** What a GitLab token can be: visible ASCII, and far shorter than MAX_TOKEN_LENGTH. */
const TOKEN = /^[\x21-\x7e]+$/;

/**
 * The GitLab token of the request, taken from `Authorization: Bearer` or `PRIVATE-TOKEN`, in that order. One that
 * cannot be a GitLab token (spaces or control characters inside, non-ASCII, too long) is refused here: it would only
 * fail in GitLab's HTTP client, as an upstream error, after retries.
 */
export function callerFrom(headers: HeaderSource, end?: OperationEnd): Caller {
  const requestId = headers.get('x-request-id')?.slice(0, 128) || randomUUID();
  const stats = { upstreamCalls: 0 };
  const { token, header, malformed } = tokenFrom(headers);
  if (token === null) return malformed ? { token, header, requestId, stats, malformedToken: true, end } : { token, header, requestId, stats, end };
  // A valid W3C traceparent (and tracestate) goes on to GitLab with every call, whether tracing is on or not.
  return { token, header, requestId, stats, end, trace: traceContextFrom(headers) };
}

/** The token alone, as callerFrom reads it (the per-client limits need nothing else of the request). */
export function tokenFrom(headers: HeaderSource): { token: string | null; header: Caller['header']; malformed: boolean } {
  const authorization = headers.get('authorization');
  const bearer = authorization && /^Bearer\s/i.test(authorization) ? authorization.slice('Bearer'.length).trim() : '';
  const header = bearer ? 'authorization' : 'private-token';
  const token = bearer || (headers.get('private-token')?.trim() ?? '');
  if (!token) return { token: null, header, malformed: false };
  if (token.length > MAX_TOKEN_LENGTH || !TOKEN.test(token)) return { token: null, header, malformed: true };
  return { token, header, malformed: false };
}

/** Reports DataLoader batch sizes; made once per gateway rather than once per operation. */
export function batchObserver(metrics?: Metrics): (model: ModelInfo, size: number) => void {
  return (model, size) => metrics?.batchSize.observe(size, model.enumName);
}

export function createContext(client: GitLabClient, config: Config, live: Watcher, caller: Caller, onBatch: (model: ModelInfo, size: number) => void): GatewayContext {
  return { caller, client, config, live, loaders: new RecordLoaders(client, caller, onBatch, config.dataloaderBatching, config.upstream.maxCallsPerOperation) };
}
