// OpenTelemetry tracing, loaded only when configured (see trace-context.ts): a span per operation, per call to GitLab,
// per DataLoader batch and per live poll cycle, exported over OTLP/HTTP in batches.
import {
  createTraceState,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import type { DocumentNode, ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { connectionParamsHeaders, type GatewayContext } from './context.js';
import type { UpstreamAttempt } from './gitlab/client.js';
import type { Logger } from './logger.js';
import { codesOf, describe, shortName } from './telemetry.js';
import { traceContextFrom, type CallTrace, type ChildSpan, type ServerAddress, type Tracing, type UpstreamSpan } from './trace-context.js';
import type { TracingConfig } from './tracing-config.js';

/** The W3C traceparent of a span's context. */
function traceparentOf(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The context of a client's (or GitLab-bound) trace as a parent for spans; none makes a root span. */
function remoteParent(client: CallTrace | undefined): Context {
  if (!client) return ROOT_CONTEXT;
  const [, traceId, spanId, flags] = client.traceparent.split('-');
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: parseInt(flags, 16),
    isRemote: true,
    traceState: client.tracestate === undefined ? undefined : createTraceState(client.tracestate),
  });
}

/**
 * A span as the parent of others, and the trace context its calls to GitLab carry. It holds the span's ids only, not
 * the span: a subscription keeps its caller (and this) for as long as it lives.
 */
class SpanTrace implements CallTrace {
  readonly traceparent: string;
  readonly tracestate?: string;
  private readonly context: Context;

  constructor(
    private readonly tracing: OpenTelemetryTracing,
    span: Span,
  ) {
    const spanContext = span.spanContext();
    this.traceparent = traceparentOf(spanContext);
    this.tracestate = spanContext.traceState?.serialize() || undefined;
    this.context = trace.setSpanContext(ROOT_CONTEXT, spanContext);
  }

  upstream(template: string, method: string, model: string, server: ServerAddress): UpstreamSpan {
    return new UpstreamCall(this.tracing.startUpstream(template, method, model, server, this.context));
  }

  batch(model: string, size: number): ChildSpan {
    const span = this.tracing.tracer.startSpan('DataLoader batch', { kind: SpanKind.INTERNAL, attributes: { 'gateway.model': model, 'gateway.batch.size': size } }, this.context);
    return new WorkSpan(this.tracing, span);
  }
}

/** A batch or a poll cycle: its calls are its children; it ends with what came of them. */
class WorkSpan implements ChildSpan {
  readonly trace: CallTrace;
  private ended = false;

  constructor(
    tracing: OpenTelemetryTracing,
    private readonly span: Span,
    private readonly failures: ReadonlySet<string> = new Set(),
  ) {
    this.trace = new SpanTrace(tracing, span);
  }

  end(outcome?: string, attributes?: Attributes): void {
    if (this.ended) return;
    this.ended = true;
    if (attributes) this.span.setAttributes(attributes);
    if (outcome !== undefined) {
      this.span.setAttribute('gateway.outcome', outcome);
      if (this.failures.has(outcome)) this.span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    }
    this.span.end();
  }
}

/** One call to GitLab and all its attempts: a failed attempt followed by another is an event. */
class UpstreamCall implements UpstreamSpan {
  readonly traceparent: string;
  readonly tracestate?: string;
  private last: UpstreamAttempt | null = null;
  private ended = false;

  constructor(private readonly span: Span) {
    const context = span.spanContext();
    this.traceparent = traceparentOf(context);
    this.tracestate = context.traceState?.serialize() || undefined;
  }

  attempt(event: UpstreamAttempt): void {
    this.last = event;
    if (!event.retrying) return;
    const attributes: Attributes = { 'gateway.upstream.attempt': event.attempt, 'gateway.upstream.duration_ms': Math.round(event.durationMs * 10) / 10 };
    if (event.status) attributes['http.response.status_code'] = event.status;
    if (event.errorCode) attributes['error.type'] = event.errorCode;
    this.span.addEvent('gateway.upstream.retry', attributes);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    const last = this.last;
    // No attempt: the operation ended before the call was sent.
    if (!last) this.span.setAttribute('gateway.upstream.abandoned', true);
    if (last) {
      if (last.status) this.span.setAttribute('http.response.status_code', last.status);
      if (last.attempt > 1) this.span.setAttribute('http.request.resend_count', last.attempt - 1);
      if (last.abandoned) this.span.setAttribute('gateway.upstream.abandoned', true);
      if (last.errorCode) {
        this.span.setAttribute('error.type', last.errorCode);
        // A call cut off because its client left is nobody's failure.
        if (!last.abandoned) this.span.setStatus({ code: SpanStatusCode.ERROR, message: last.errorCode });
      }
    }
    this.span.end();
  }
}

/** Where an operation came from, as its initial envelop context says (Yoga's HTTP, graphql-ws, or a bare request). */
interface InitialContext {
  connectionParams?: Readonly<Record<string, unknown>>;
  request?: { headers?: { get(name: string): string | null } };
  req?: { headers: Record<string, string | string[] | undefined> };
  params?: { operationName?: string | null };
}

function clientTraceOf(context: InitialContext): CallTrace | undefined {
  if (context.connectionParams) return traceContextFrom(connectionParamsHeaders(context.connectionParams));
  const headers = context.request?.headers;
  if (headers?.get) return traceContextFrom(headers);
  const raw = context.req?.headers;
  if (!raw) return undefined;
  return traceContextFrom({ get: (name) => (typeof raw[name] === 'string' ? (raw[name] as string) : null) });
}

function transportOf(context: InitialContext): string {
  if (context.connectionParams) return 'graphql-ws';
  const accept = context.request?.headers?.get?.('accept') ?? context.req?.headers.accept;
  return typeof accept === 'string' && accept.includes('text/event-stream') ? 'sse' : 'http';
}

/** performance.now(): the SDK reads such a start time on the clock it times every other span with. */
const now = () => performance.now();

/** One operation's span: made when its outcome or its execution is known, back-dated to when it arrived. */
class OperationSpan {
  span: Span | null = null;
  private done = false;

  constructor(
    private readonly tracer: Tracer,
    private readonly initial: InitialContext,
    private readonly startTime = now(),
  ) {}

  /** Starts the span (once), named after its operation. */
  open(document: DocumentNode | undefined, operationName: string | null | undefined): Span {
    if (this.span) return this.span;
    const { name: fullName, type } = describe(document, operationName);
    // Names are the client's, and one can be 1 MB: a span carries it cut, as a log line does.
    const name = fullName === null ? null : shortName(fullName);
    const attributes: Attributes = { 'graphql.operation.type': type, 'gateway.transport': transportOf(this.initial) };
    if (name !== null) attributes['graphql.operation.name'] = name;
    const spanName = type === 'unknown' ? 'GraphQL operation' : name === null ? type : `${type} ${name}`;
    this.span = this.tracer.startSpan(spanName, { kind: SpanKind.SERVER, startTime: this.startTime, attributes }, remoteParent(clientTraceOf(this.initial)));
    return this.span;
  }

  /** Ends the span (once) with its outcome: success, error (the operation ran and erred) or rejected (never ran). */
  finish(outcome: 'success' | 'error' | 'rejected', errorCodes: string[], context?: GatewayContext): void {
    if (this.done) return;
    this.done = true;
    const span = this.span ?? this.open(undefined, undefined);
    span.setAttribute('gateway.operation.outcome', outcome);
    if (errorCodes.length > 0) span.setAttribute('gateway.operation.error_codes', errorCodes);
    if (context?.caller) {
      span.setAttribute('gateway.upstream_calls', context.caller.stats?.upstreamCalls ?? 0);
      if (context.caller.requestId) span.setAttribute('gateway.request_id', context.caller.requestId);
    }
    if (outcome !== 'success') span.setStatus({ code: SpanStatusCode.ERROR, message: errorCodes.join(', ') || outcome });
    span.end();
  }
}

/** Why an export failed, without any URL (the endpoint's may hold credentials). */
const reasonOf = (error: unknown) => String((error as Error | undefined)?.message ?? 'unknown').replace(/https?:\/\/\S+/g, '<url>').slice(0, 200);

/** Logs a failing export once, and its recovery once: an unreachable collector writes two lines, not one a second. */
class LoggedExporter implements SpanExporter {
  private failing = false;

  constructor(
    private readonly inner: SpanExporter,
    private readonly logger: Logger,
  ) {}

  export(spans: ReadableSpan[], done: Parameters<SpanExporter['export']>[1]): void {
    this.inner.export(spans, (result) => {
      const failed = result.code !== ExportResultCode.SUCCESS;
      if (failed && !this.failing) this.logger.warn({ spans: spans.length, reason: reasonOf(result.error) }, 'trace export failed; spans are dropped until the collector answers');
      if (!failed && this.failing) this.logger.info('trace export works again');
      this.failing = failed;
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

function samplerOf(config: TracingConfig): Sampler {
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(config.samplerRatio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.samplerRatio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

async function exporterOf(config: TracingConfig): Promise<SpanExporter> {
  const { OTLPTraceExporter } = config.protocol === 'http/json' ? await import('@opentelemetry/exporter-trace-otlp-http') : await import('@opentelemetry/exporter-trace-otlp-proto');
  const options = { url: config.url, headers: config.headers, timeoutMillis: config.timeoutMs, compression: config.compression } as ConstructorParameters<typeof OTLPTraceExporter>[0];
  return new OTLPTraceExporter(options);
}

/** Outcomes of a poll cycle that are failures (see the watchers). */
const POLL_FAILURES = new Set(['upstream_error', 'error']);

export class OpenTelemetryTracing implements Tracing {
  readonly tracer: Tracer;

  constructor(
    private readonly provider: TracerProvider,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {
    this.tracer = provider.getTracer('data-management-gateway');
  }

  startUpstream(template: string, method: string, model: string, server: ServerAddress, parent: Context): Span {
    const attributes: Attributes = { 'http.request.method': method, 'url.template': template, 'server.address': server.address, 'server.port': server.port, 'gitlab.model': model };
    return this.tracer.startSpan(`${method} ${template}`, { kind: SpanKind.CLIENT, attributes }, parent);
  }

  poll(kind: string, model: string, attributes: Record<string, string | number> = {}): ChildSpan {
    const span = this.tracer.startSpan(`live poll ${kind}`, { kind: SpanKind.INTERNAL, attributes: { 'gateway.live.poll': kind, 'gateway.model': model, ...attributes } }, ROOT_CONTEXT);
    return new WorkSpan(this, span, POLL_FAILURES);
  }

  plugin(): Plugin {
    const tracer = this.tracer;
    /** Each operation's span until it ends, by its envelop context (one object from getEnveloped to execution). */
    const operations = new WeakMap<object, OperationSpan>();
    /** Ends the operation's span (once) and forgets it: a subscription's context lives on, its span need not. */
    const end = (context: object, outcome: 'success' | 'error' | 'rejected', errorCodes: string[], gatewayContext?: GatewayContext) => {
      const operation = operations.get(context);
      operations.delete(context);
      operation?.finish(outcome, errorCodes, gatewayContext);
    };
    /** An execution that throws (rather than answering errors) ends its span too. */
    const endOnThrow = (context: object, wrapped: () => unknown) => {
      const fail = (error: unknown) => {
        end(context, 'error', codesOf([error], 'INTERNAL_SERVER_ERROR'));
        throw error;
      };
      try {
        const result = wrapped();
        return result instanceof Promise ? (result.catch(fail) as Promise<void>) : undefined;
      } catch (error) {
        return fail(error);
      }
    };
    const opened = (args: { contextValue: unknown; document: DocumentNode; operationName?: string | null }) => {
      const context = args.contextValue as GatewayContext;
      let operation = operations.get(context);
      if (!operation) operations.set(context, (operation = new OperationSpan(tracer, context as InitialContext)));
      const span = operation.open(args.document, args.operationName);
      // The operation's calls to GitLab (and its batches) are this span's children, and GitLab is sent their context.
      if (context.caller) context.caller.trace = new SpanTrace(this, span);
      return context;
    };
    const settled = (context: GatewayContext, result: unknown) => {
      if (result && typeof result === 'object' && Symbol.asyncIterator in result) return end(context, 'success', [], context);
      const errors = (result as ExecutionResult | undefined)?.errors;
      end(context, errors?.length ? 'error' : 'success', codesOf(errors, 'INTERNAL_SERVER_ERROR'), context);
    };
    return {
      instrumentation: {
        init: ({ context }, wrapped) => {
          operations.set(context, new OperationSpan(tracer, context as InitialContext));
          wrapped();
        },
        // Whatever refuses a document while parsing (a limit, the parse cache's memory of a failure) throws from here.
        parse: ({ context }, wrapped) => {
          try {
            wrapped();
          } catch (error) {
            end(context, 'rejected', codesOf([error], 'GRAPHQL_PARSE_FAILED'));
            throw error;
          }
        },
        execute: ({ context }, wrapped) => endOnThrow(context, wrapped) as never,
        subscribe: ({ context }, wrapped) => endOnThrow(context, wrapped) as never,
      },
      onValidate({ context, params }) {
        return ({ valid, result }) => {
          if (valid) return;
          operations.get(context)?.open(params.documentAST, (context as InitialContext).params?.operationName);
          end(context, 'rejected', codesOf(result, 'GRAPHQL_VALIDATION_FAILED'));
        };
      },
      onExecute({ args }) {
        const context = opened(args);
        return { onExecuteDone: ({ result }) => settled(context, result) };
      },
      // The span covers subscribing (the token checked, the first read asked for), not the subscription's life.
      onSubscribe({ args }) {
        const context = opened(args);
        return { onSubscribeResult: ({ result }) => settled(context, result) };
      },
    } as Plugin;
  }

  async shutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.timeoutMs + 1_000)));
    try {
      if ((await Promise.race([this.provider.shutdown().then(() => 'done' as const), timedOut])) === 'timeout') this.logger.warn('trace export did not finish in time at shutdown; the spans left are dropped');
    } catch (error) {
      this.logger.warn({ reason: reasonOf(error) }, 'trace export failed at shutdown');
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The tracer provider from the settings: resource, sampler, OTLP exporter behind a batch processor. */
export async function createTracing(config: TracingConfig, logger: Logger): Promise<Tracing> {
  const resource = defaultResource().merge(resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName }));
  const exporter = new LoggedExporter(await exporterOf(config), logger);
  const processor = new BatchSpanProcessor({
    exporter,
    scheduledDelayMillis: config.batch.scheduledDelayMs,
    exportTimeoutMillis: config.batch.exportTimeoutMs,
    maxQueueSize: config.batch.maxQueueSize,
    maxExportBatchSize: config.batch.maxExportBatchSize,
  });
  const provider = new TracerProvider({ resource, sampler: samplerOf(config), spanProcessors: [processor] });
  const endpoint = new URL(config.url);
  logger.info(
    { otlpEndpoint: `${endpoint.protocol}//${endpoint.host}${endpoint.pathname}`, protocol: config.protocol, sampler: config.sampler, serviceName: config.serviceName },
    `Tracing on: spans go to ${endpoint.protocol}//${endpoint.host}${endpoint.pathname} (${config.protocol})`,
  );
  return new OpenTelemetryTracing(provider, config.timeoutMs, logger);
}
