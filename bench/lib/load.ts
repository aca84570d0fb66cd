// Load generators, bounded in time: autocannon for throughput, a sequential keep-alive loop for latency.
import autocannon from 'autocannon';
import { Client } from 'undici';
import { procCpuSeconds } from './processes.js';

/** One HTTP request a benchmark sends again and again. */
export interface Target {
  name: string;
  /** Origin, e.g. http://127.0.0.1:4000 */
  origin: string;
  /** Path and query. */
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** Checks an answer's body once before the load, so a benchmark never measures errors. */
  check?: (status: number, body: string) => string | null;
}

export interface ThroughputRun {
  target: string;
  connections: number;
  durationS: number;
  requests: number;
  rps: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** autocannon's latency percentiles (whole milliseconds). */
  p50Ms: number;
  p99Ms: number;
  /** CPU time of each watched process during the run, in microseconds per request (by name). */
  cpuUsPerRequest: Record<string, number>;
}

export async function verifyTarget(target: Target): Promise<void> {
  const res = await fetch(target.origin + target.path, { method: target.method, headers: target.headers, body: target.body });
  const text = await res.text();
  const problem = target.check?.(res.status, text) ?? (res.status === 200 ? null : `status ${res.status}`);
  if (problem) throw new Error(`${target.name}: ${problem}: ${text.slice(0, 300)}`);
}

/** Runs autocannon for `durationS`; `watch` names processes (by pid) whose CPU time per request is measured too. */
export async function throughput(target: Target, connections: number, durationS: number, watch: Record<string, number> = {}): Promise<ThroughputRun> {
  const cpu = async () => Object.fromEntries(await Promise.all(Object.entries(watch).map(async ([name, pid]) => [name, (await procCpuSeconds(pid)) ?? NaN] as const)));
  const cpuBefore = await cpu();
  const result = await autocannon({
    url: target.origin + target.path,
    method: target.method,
    headers: target.headers,
    body: target.body,
    connections,
    duration: durationS,
    pipelining: 1,
    timeout: 10,
  });
  const cpuAfter = await cpu();
  const cpuUsPerRequest = Object.fromEntries(Object.keys(watch).map((name) => [name, Math.round(((cpuAfter[name] - cpuBefore[name]) * 1e6) / Math.max(1, result.requests.total))]));
  return {
    target: target.name,
    connections,
    durationS,
    requests: result.requests.total,
    rps: result.requests.total / durationS,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    cpuUsPerRequest,
  };
}

export interface LatencySamples {
  target: string;
  samples: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
}

/**
 * One keep-alive connection per target, one request at a time, the targets taking turns request by request
 * (A B C A B C ...), so that noise of the machine falls on all of them alike. Runs for `durationMs`.
 */
export async function interleavedLatency(targets: Target[], durationMs: number, warmupMs = 500): Promise<LatencySamples[]> {
  const clients = targets.map((t) => new Client(t.origin, { pipelining: 1, keepAliveTimeout: 60_000 }));
  const times: number[][] = targets.map(() => []);
  try {
    const once = async (i: number): Promise<number> => {
      const t = targets[i];
      const began = performance.now();
      const res = await clients[i].request({ method: t.method, path: t.path, headers: t.headers, body: t.body });
      await res.body.text();
      const ms = performance.now() - began;
      if (res.statusCode !== 200) throw new Error(`${t.name}: status ${res.statusCode}`);
      return ms;
    };
    for (const deadline = performance.now() + warmupMs; performance.now() < deadline; ) for (let i = 0; i < targets.length; i++) await once(i);
    let round = 0;
    for (const deadline = performance.now() + durationMs; performance.now() < deadline; round++) {
      // Rotate who goes first, so no target always follows the same one.
      for (let k = 0; k < targets.length; k++) {
        const i = (k + round) % targets.length;
        times[i].push(await once(i));
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  return targets.map((t, i) => summarize(t.name, times[i]));
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The middle value; of an even count, the mean of the two middle ones (percentile(…, 50) would take the lower). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function summarize(name: string, values: number[]): LatencySamples {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    target: name,
    samples: sorted.length,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    meanMs: sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
