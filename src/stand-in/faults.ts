// Misbehaviour on demand, so gateway tests and benchmarks can meet the failures a real GitLab shows.
import type { ServerResponse } from 'node:http';
import type { Faults } from './options.js';

export class FaultError extends Error {}

const RATE_KEYS = ['errorRate', 'rateLimitRate', 'resetRate', 'malformedRate'] as const;
const NUMBER_KEYS = ['latencyMs', 'latencyJitterMs', 'retryAfterSeconds', ...RATE_KEYS] as const;

/** Checks a partial fault setting from the control API or the command line. */
export function validateFaults(input: unknown): Partial<Faults> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new FaultError('faults must be a JSON object');
  const result: Partial<Faults> = {};
  for (const [key, value] of Object.entries(input)) {
    if (key === 'rejectedIdentifiers') {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new FaultError('rejectedIdentifiers must be an array of strings');
      result.rejectedIdentifiers = value as string[];
      continue;
    }
    if (!(NUMBER_KEYS as readonly string[]).includes(key)) throw new FaultError(`unknown fault "${key}"`);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new FaultError(`${key} must be a number >= 0`);
    if ((RATE_KEYS as readonly string[]).includes(key) && value > 1) throw new FaultError(`${key} must be between 0 and 1`);
    result[key as (typeof NUMBER_KEYS)[number]] = value;
  }
  return result;
}

export function delayFor(faults: Faults): number {
  return faults.latencyMs + (faults.latencyJitterMs > 0 ? Math.random() * faults.latencyJitterMs : 0);
}

/** Answers with a fault when one is drawn; returns whether it did. */
export function injectFault(faults: Faults, res: ServerResponse): boolean {
  if (faults.resetRate > 0 && Math.random() < faults.resetRate) {
    // Promise a long body, send part of it, then drop the connection.
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
    res.write('[{"record_identifier":1,"model_class":"');
    setImmediate(() => res.socket?.destroy());
    return true;
  }
  if (faults.rateLimitRate > 0 && Math.random() < faults.rateLimitRate) {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(faults.retryAfterSeconds) });
    res.end(JSON.stringify({ message: 'Retry later' }));
    return true;
  }
  if (faults.errorRate > 0 && Math.random() < faults.errorRate) {
    const status = [500, 502, 503][Math.floor(Math.random() * 3)];
    if (status === 502) {
      // What the bundled NGINX answers when Puma is down.
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>');
    } else {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: status === 500 ? '500 Internal Server Error' : '503 Service Unavailable' }));
    }
    return true;
  }
  if (faults.malformedRate > 0 && Math.random() < faults.malformedRate) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('[{"record_identifier":1,"model_class":"Project","created_at":');
    return true;
  }
  return false;
}
