// Tracing's settings (the standard OTEL_* variables), the W3C traceparent a client may send, and the spans a gateway
// process still holds when it is told to stop.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { parseTraceparent, parseTracestate } from '../../src/trace-context.js';
import { postGraphQL, runMain, spawnGateway } from '../operability/helpers.js';
import { startOtlpReceiver } from '../support/otlp-receiver.js';

const tracingOf = (env: Record<string, string>) => loadConfig(env).tracing;

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('OTEL_* settings', () => {
  it('off unless an OTLP endpoint is set, and off again with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none', () => {
    expect(tracingOf({})).toBeNull();
    expect(tracingOf({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })).toBeNull();
    expect(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'TRUE' })).toBeNull();
    expect(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })).toBeNull();
    expect(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'false' })).not.toBeNull();
  });

  it('defaults: http/protobuf to <endpoint>/v1/traces, parent-based always-on sampling, the batch processor of the spec', () => {
    expect(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual({
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      timeoutMs: 10_000,
      compression: 'none',
      serviceName: 'data-management-gateway',
      resourceAttributes: {},
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
      batch: { scheduledDelayMs: 5_000, exportTimeoutMs: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 },
    });
  });

  it('reads the signal-specific variables before the general ones, and the rest of the standard set', () => {
    const config = tracingOf({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/base/',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/custom/path',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=general,x-tenant=geo',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'api-key=s%C3%A9cret%3D1',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '2500',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attributes,deployment.environment=prod',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
    });
    expect(config).toMatchObject({
      url: 'https://traces.example.com/custom/path',
      protocol: 'http/json',
      headers: { 'api-key': 'sécret=1', 'x-tenant': 'geo' },
      timeoutMs: 2500,
      compression: 'gzip',
      serviceName: 'from-attributes',
      resourceAttributes: { 'service.name': 'from-attributes', 'deployment.environment': 'prod' },
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
      batch: { scheduledDelayMs: 200, maxQueueSize: 100, maxExportBatchSize: 100 },
    });
    expect(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/base/', OTEL_SERVICE_NAME: 'named', OTEL_RESOURCE_ATTRIBUTES: 'service.name=other' })).toMatchObject({
      url: 'http://collector:4318/base/v1/traces',
      serviceName: 'named',
    });
  });

  it('refuses what it cannot honour with one line naming the variable, never echoing a header value or an endpoint', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(refusal({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toBe(
      'OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported: this gateway exports traces over OTLP/HTTP; use http/protobuf or http/json (a collector\'s port 4318)',
    );
    expect(refusal({ ...endpoint, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' })).toMatch(/^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc is not supported/);
    // Checked even while tracing is off, so a mistake shows before it is turned on.
    expect(refusal({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toMatch(/^OTEL_EXPORTER_OTLP_PROTOCOL=grpc/);
    expect(refusal({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http' })).toBe('OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json, got "http"');
    expect(refusal({ ...endpoint, OTEL_TRACES_EXPORTER: 'zipkin' })).toBe('OTEL_TRACES_EXPORTER must be otlp or none, got "zipkin"');
    expect(refusal({ ...endpoint, OTEL_TRACES_SAMPLER: 'jaeger_remote' })).toMatch(/^OTEL_TRACES_SAMPLER must be one of always_on, always_off, traceidratio, /);
    expect(refusal({ ...endpoint, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' })).toBe('OTEL_TRACES_SAMPLER_ARG must be a number between 0 and 1, got "2"');
    expect(refusal({ ...endpoint, OTEL_SDK_DISABLED: 'perhaps' })).toBe('OTEL_SDK_DISABLED must be true or false, got "perhaps"');
    expect(refusal({ ...endpoint, OTEL_BSP_MAX_QUEUE_SIZE: '10', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '20' })).toBe('OTEL_BSP_MAX_EXPORT_BATCH_SIZE must be an integer between 1 and 10, got "20"');
    const badHeaders = refusal({ ...endpoint, OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer top-secret,broken' });
    expect(badHeaders).toBe('OTEL_EXPORTER_OTLP_HEADERS must be a list of key=value pairs separated by commas (values percent-encoded)');
    const badEndpoint = refusal({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector.internal:4318/?token=top-secret' });
    expect(badEndpoint).toBe('OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL such as http://localhost:4318 (OTLP over HTTP)');
    expect(`${badHeaders}${badEndpoint}`).not.toContain('top-secret');
  });

  it('a bad OTEL_* value stops the process at start: status 2, one line on stderr', async () => {
    const run = await runMain({ PORT: '0', HOST: '127.0.0.1', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect({ code: run.code, stdout: run.stdout, stderr: run.stderr }).toEqual({
      code: 2,
      stdout: '',
      stderr: "config error: OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported: this gateway exports traces over OTLP/HTTP; use http/protobuf or http/json (a collector's port 4318)\n",
    });
  });
});

describe('W3C trace context from clients', () => {
  const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
  const PARENT = '00f067aa0ba902b7';

  it('takes a version-00 traceparent as it is, and reads a later version as 00', () => {
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-01`)).toBe(`00-${TRACE}-${PARENT}-01`);
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-00`)).toBe(`00-${TRACE}-${PARENT}-00`);
    expect(parseTraceparent(`01-${TRACE}-${PARENT}-01`)).toBe(`00-${TRACE}-${PARENT}-01`);
    expect(parseTraceparent(`cc-${TRACE}-${PARENT}-01-what-comes-next`)).toBe(`00-${TRACE}-${PARENT}-01`);
  });

  it('ignores anything else', () => {
    for (const bad of [
      null,
      '',
      `ff-${TRACE}-${PARENT}-01`,
      `00-${TRACE.toUpperCase()}-${PARENT}-01`,
      `00-${'0'.repeat(32)}-${PARENT}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `00-${TRACE}-${PARENT}-01-extra`,
      `00-${TRACE}-${PARENT}-1`,
      `00-${TRACE}-${PARENT}`,
      ` 00-${TRACE}-${PARENT}-01`,
      `00-${TRACE}-${PARENT}-01, 00-${TRACE}-${PARENT}-01`,
      `00-${TRACE}-${PARENT}-01\r\nx-evil: 1`,
    ]) {
      expect([bad, parseTraceparent(bad)]).toEqual([bad, null]);
    }
  });

  it('passes a tracestate on when it is printable and short, else none', () => {
    expect(parseTracestate('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE')).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    expect(parseTracestate('  ')).toBeUndefined();
    expect(parseTracestate('a=\u0001')).toBeUndefined();
    expect(parseTracestate(`a=${'x'.repeat(600)}`)).toBeUndefined();
  });
});

describe('SIGTERM', () => {
  it('the process exports the spans it holds before it exits', async () => {
    const receiver = await startOtlpReceiver();
    try {
      // Ten minutes between exports: only the shutdown can send the span before the process is gone.
      const gateway = await spawnGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '600000', LOG_LEVEL: 'warn' });
      try {
        const traceId = randomBytes(16).toString('hex');
        const res = await postGraphQL(gateway.url, 'query BeforeSigterm { models { name } }', { headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } });
        expect(res.status).toBe(200);
        expect(receiver.spans()).toEqual([]);
        gateway.child.kill('SIGTERM');
        const exit = await gateway.exited;
        expect(exit.code).toBe(0);
        expect(receiver.spans().filter((s) => s.traceId === traceId).map((s) => s.name)).toContain('query BeforeSigterm');
      } finally {
        gateway.kill();
      }
    } finally {
      await receiver.close();
    }
  });
});
