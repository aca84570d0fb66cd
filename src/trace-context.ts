// W3C trace context: a client's `traceparent` and `tracestate`, checked, and what GitLab is sent beside X-Request-Id.
// No OpenTelemetry code here: with tracing off, this is all of tracing the gateway loads.
import type { Plugin } from 'graphql-yoga';
import type { UpstreamAttempt } from './gitlab/client.js';
import type { Logger } from './logger.js';
import type { TracingConfig } from './tracing-config.js';

/**
 * The trace context of an operation's (or a poll's) calls to GitLab. Tracing off, it is the client's own, sent on
 * unchanged; tracing on, it is a span's, and the methods make the spans under it.
 */
export interface CallTrace {
  readonly traceparent: string;
  readonly tracestate?: string;
  /** Tracing on: a span for one call to GitLab (all its attempts), child of this one; `template` names its route. */
  upstream?(template: string, method: string, model: string, server: ServerAddress): UpstreamSpan;
  /** Tracing on: a span for one DataLoader batch of `size` look-ups, child of this one. */
  batch?(model: string, size: number): ChildSpan;
}

/** GitLab's host and port, as spans of calls to it name them. */
export interface ServerAddress {
  address: string;
  port: number;
}

/** One call to GitLab, as a span: GitLab is sent its own traceparent. */
export interface UpstreamSpan {
  readonly traceparent: string;
  readonly tracestate?: string;
  /** Told of every attempt: a failed one followed by another becomes an event. */
  attempt(event: UpstreamAttempt): void;
  /** Ends the span (once; later calls do nothing). */
  end(): void;
}

/** A span whose work makes calls to GitLab: a DataLoader batch, a poll cycle. */
export interface ChildSpan {
  /** What the calls of this work are sent, and their spans' parent. */
  readonly trace: CallTrace;
  /** Ends the span (once), with what came of the work. */
  end(outcome?: string, attributes?: Record<string, string | number | boolean>): void;
}

/** What the gateway asks of tracing once it is on (src/tracing.ts). */
export interface Tracing {
  /** The envelop plugin that makes a span per operation (HTTP, SSE and graphql-ws alike). */
  plugin(): Plugin;
  /** A root span for one cycle of a live poll (`kind`: records, summary, state), in a trace of its own. */
  poll(kind: string, model: string, attributes?: Record<string, string | number>): ChildSpan;
  /** Exports the spans still waiting, then stops exporting. */
  shutdown(): Promise<void>;
}

/** Loads the OpenTelemetry SDK only when tracing is configured: off, nothing of it is imported. */
export async function startTracing(config: TracingConfig | null, logger: Logger): Promise<Tracing | null> {
  if (!config) return null;
  const { createTracing } = await import('./tracing.js');
  return createTracing(config, logger);
}

type HeaderSource = { get(name: string): string | null };

/** version-traceid-parentid-flags, lowercase hex; a version other than 00 may carry more after a dash. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);
/** W3C's limit on what a vendor must propagate of tracestate (32 members of at most 256 characters, with commas). */
const MAX_TRACESTATE_LENGTH = 512;
/** Visible ASCII and spaces: a list of key=value members; anything else is not a tracestate. */
const TRACESTATE = /^[\x20-\x7e]*$/;

/**
 * The client's trace context, if its traceparent is valid W3C (else it is ignored, and tracestate with it). Version
 * 00 is passed on as it came; a later version is read as 00 and sent as such, as W3C asks.
 */
export function parseTraceparent(value: string | null | undefined): string | null {
  if (!value || value.length > 256) return null;
  const match = TRACEPARENT.exec(value);
  if (!match) return null;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === 'ff' || traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return null;
  if (version === '00') return rest === undefined ? value : null;
  return `00-${traceId}-${spanId}-${flags}`;
}

/** A tracestate worth passing on: short, printable; else none is sent. */
export function parseTracestate(value: string | null | undefined): string | undefined {
  if (!value || value.length > MAX_TRACESTATE_LENGTH || !TRACESTATE.test(value)) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** The trace context a client sent with its request (headers, or graphql-ws connection params), if valid. */
export function traceContextFrom(headers: HeaderSource): CallTrace | undefined {
  const traceparent = parseTraceparent(headers.get('traceparent'));
  if (!traceparent) return undefined;
  const tracestate = parseTracestate(headers.get('tracestate'));
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}
