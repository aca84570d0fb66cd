// OpenTelemetry's standard OTEL_* variables, as far as this gateway's tracing reads them, validated at start.
// Tracing is on when an OTLP endpoint is set (and OTEL_SDK_DISABLED is not true); otherwise nothing of it loads.

export type Sampler = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';

export interface TracingConfig {
  /** Where spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT + v1/traces. */
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  /** Sent with every export (an API key, say): never logged. */
  headers: Record<string, string>;
  timeoutMs: number;
  compression: 'gzip' | 'none';
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES, decoded. */
  resourceAttributes: Record<string, string>;
  sampler: Sampler;
  /** The ratio of the traceidratio samplers, 0 to 1. */
  samplerRatio: number;
  batch: { scheduledDelayMs: number; exportTimeoutMs: number; maxQueueSize: number; maxExportBatchSize: number };
}

type Env = Record<string, string | undefined>;
/** The error a bad value is refused with (config.ts's ConfigError). */
type Refusal = new (message: string) => Error;

const SAMPLERS: readonly Sampler[] = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

export const DEFAULT_SERVICE_NAME = 'data-management-gateway';

/** The first of these variables that is set (a signal-specific one before the general one). */
function first(env: Env, names: string[]): { name: string; value: string } | null {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') return { name, value: value.trim() };
  }
  return null;
}

/** An http(s) URL; the value is not echoed, as it may hold credentials. */
function endpoint(found: { name: string; value: string }, Refusal: Refusal): URL {
  let parsed: URL | null = null;
  try {
    parsed = new URL(found.value);
  } catch {
    // reported below
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new Refusal(`${found.name} must be an http(s) URL such as http://localhost:4318 (OTLP over HTTP)`);
  }
  return parsed;
}

/** OTEL's `key=value,key=value` lists (headers, resource attributes), values percent-encoded; values are never echoed. */
function keyValues(env: Env, name: string, Refusal: Refusal): Record<string, string> {
  const raw = env[name];
  const pairs: Record<string, string> = {};
  if (raw === undefined || raw.trim() === '') return pairs;
  for (const entry of raw.split(',')) {
    if (entry.trim() === '') continue;
    const at = entry.indexOf('=');
    const key = at > 0 ? entry.slice(0, at).trim() : '';
    let value: string | null = null;
    try {
      value = at > 0 ? decodeURIComponent(entry.slice(at + 1).trim()) : null;
    } catch {
      // reported below
    }
    if (!key || value === null || !/^[\x21-\x7e]+$/.test(key)) throw new Refusal(`${name} must be a list of key=value pairs separated by commas (values percent-encoded)`);
    pairs[key] = value;
  }
  return pairs;
}

function integer(env: Env, names: string[], fallback: number, min: number, max: number, Refusal: Refusal): number {
  const found = first(env, names);
  if (!found) return fallback;
  const n = Number(found.value);
  if (!/^\d+$/.test(found.value) || n < min || n > max) throw new Refusal(`${found.name} must be an integer between ${min} and ${max}, got "${found.value.slice(0, 40)}"`);
  return n;
}

function disabled(env: Env, Refusal: Refusal): boolean {
  const raw = env.OTEL_SDK_DISABLED?.trim().toLowerCase();
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new Refusal(`OTEL_SDK_DISABLED must be true or false, got "${env.OTEL_SDK_DISABLED!.slice(0, 40)}"`);
}

/**
 * Tracing's settings, or null when it is off: no OTLP endpoint, OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
 * A value this gateway cannot honour (gRPC, another exporter, a sampler it does not have) is refused with `Refusal`.
 */
export function readTracingConfig(env: Env, Refusal: Refusal): TracingConfig | null {
  const exporter = first(env, ['OTEL_TRACES_EXPORTER'])?.value;
  if (exporter !== undefined && exporter !== 'otlp' && exporter !== 'none') throw new Refusal(`OTEL_TRACES_EXPORTER must be otlp or none, got "${exporter.slice(0, 40)}"`);
  const protocolSetting = first(env, ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']);
  const protocol = protocolSetting?.value ?? 'http/protobuf';
  if (protocol === 'grpc') throw new Refusal(`${protocolSetting!.name}=grpc is not supported: this gateway exports traces over OTLP/HTTP; use http/protobuf or http/json (a collector's port 4318)`);
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') throw new Refusal(`${protocolSetting!.name} must be http/protobuf or http/json, got "${protocol.slice(0, 40)}"`);
  const sampler = (first(env, ['OTEL_TRACES_SAMPLER'])?.value ?? 'parentbased_always_on') as Sampler;
  if (!SAMPLERS.includes(sampler)) throw new Refusal(`OTEL_TRACES_SAMPLER must be one of ${SAMPLERS.join(', ')}, got "${String(sampler).slice(0, 40)}"`);
  const ratioSetting = first(env, ['OTEL_TRACES_SAMPLER_ARG']);
  const samplerRatio = ratioSetting && sampler.endsWith('traceidratio') ? Number(ratioSetting.value) : 1;
  if (!(samplerRatio >= 0 && samplerRatio <= 1)) throw new Refusal(`OTEL_TRACES_SAMPLER_ARG must be a number between 0 and 1, got "${ratioSetting!.value.slice(0, 40)}"`);
  const compression = first(env, ['OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', 'OTEL_EXPORTER_OTLP_COMPRESSION']);
  if (compression && compression.value !== 'gzip' && compression.value !== 'none') throw new Refusal(`${compression.name} must be gzip or none, got "${compression.value.slice(0, 40)}"`);
  const headers = { ...keyValues(env, 'OTEL_EXPORTER_OTLP_HEADERS', Refusal), ...keyValues(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', Refusal) };
  const resourceAttributes = keyValues(env, 'OTEL_RESOURCE_ATTRIBUTES', Refusal);
  const maxQueueSize = integer(env, ['OTEL_BSP_MAX_QUEUE_SIZE'], 2048, 1, 1_000_000, Refusal);
  const batch = {
    scheduledDelayMs: integer(env, ['OTEL_BSP_SCHEDULE_DELAY'], 5_000, 1, 3_600_000, Refusal),
    exportTimeoutMs: integer(env, ['OTEL_BSP_EXPORT_TIMEOUT'], 30_000, 1, 3_600_000, Refusal),
    maxQueueSize,
    maxExportBatchSize: integer(env, ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE'], Math.min(512, maxQueueSize), 1, maxQueueSize, Refusal),
  };
  const timeoutMs = integer(env, ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT'], 10_000, 1, 3_600_000, Refusal);
  const off = disabled(env, Refusal) || exporter === 'none';
  // Every value is checked even when tracing is off, so a typo shows at once rather than when it is turned on.
  const signal = first(env, ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
  const general = first(env, ['OTEL_EXPORTER_OTLP_ENDPOINT']);
  const url = signal ? endpoint(signal, Refusal).href : general ? new URL('v1/traces', endpoint(general, Refusal).href.replace(/\/?$/, '/')).href : null;
  if (url === null || off) return null;
  const serviceName = first(env, ['OTEL_SERVICE_NAME'])?.value ?? resourceAttributes['service.name'] ?? DEFAULT_SERVICE_NAME;
  return { url, protocol, headers, timeoutMs, compression: compression?.value === 'gzip' ? 'gzip' : 'none', serviceName, resourceAttributes, sampler, samplerRatio, batch };
}
