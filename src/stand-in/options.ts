// Every knob of the stand-in, with GitLab's own values as defaults where GitLab has one.
import type { Dialect } from '../models.js';

export interface Faults {
  /** Fixed delay before every API answer. */
  latencyMs: number;
  /** Extra random delay, uniform in [0, latencyJitterMs). */
  latencyJitterMs: number;
  /** Share of API requests answered 500, 502 or 503. */
  errorRate: number;
  /** Share of API requests answered 429 with Retry-After. */
  rateLimitRate: number;
  retryAfterSeconds: number;
  /** Share of API requests whose connection is reset after part of the body was sent. */
  resetRate: number;
  /** Share of API requests answered 200 with a body that is not valid JSON. */
  malformedRate: number;
  /** Identifier values answered 400 wherever a request names them: a GitLab stricter than the gateway. */
  rejectedIdentifiers: string[];
}

export interface Tokens {
  admin: string;
  /** A user that is not an administrator: 403 everywhere. */
  user: string;
  /** An administrator token with `read_api` scope only: GET yes, PUT 403. */
  readOnly: string;
}

export interface StandInOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  dialect: Dialect;
  /** Records seeded per model. */
  records: number;
  /** Per-model overrides of `records`, keyed by either dialect's path name. */
  modelRecords: Record<string, number>;
  seed: number;
  /** Period of the background verification job (GitLab: 60 s). */
  verifyIntervalMs: number;
  /** Records taken per model and per period (GitLab: 10). */
  verifyBatchSize: number;
  /** How long a record stays `started` before its outcome is saved; defaults to half the period. */
  verifyDurationMs: number | null;
  /** Share of records whose file is missing: their verification always fails. */
  failRate: number;
  /** Models (either dialect's name) whose verification is off: no `checksum_information`. */
  unverifiableModels: string[];
  /** Models (either dialect's name) identified by URL-safe base64 composite keys instead of integers. */
  compositeKeyModels: string[];
  /** `geo_primary_verification_view`; only the singular dialect checks it. */
  featureFlag: boolean;
  /** A secondary site refuses both PUTs. */
  primary: boolean;
  /**
   * Deepest offset page end (page x per_page) answered; beyond it a 405 asks for keyset pagination. GitLab.com limits
   * offset pagination of some types this way (at 50,000); self-managed GitLab by default does not. null: no limit.
   */
  maxOffset: number | null;
  tokens: Tokens;
  faults: Faults;
  /** Entries kept in the log of received requests. */
  requestLogSize: number;
  /** A longer request line is answered 414, as GitLab's nginx does (its default large_client_header_buffers: 8k). */
  maxRequestLineBytes: number;
}

export const NO_FAULTS: Faults = {
  latencyMs: 0,
  latencyJitterMs: 0,
  errorRate: 0,
  rateLimitRate: 0,
  retryAfterSeconds: 1,
  resetRate: 0,
  malformedRate: 0,
  rejectedIdentifiers: [],
};

export const DEFAULT_TOKENS: Tokens = {
  admin: 'glpat-standin-admin',
  user: 'glpat-standin-user',
  readOnly: 'glpat-standin-read-api',
};

export const DEFAULT_OPTIONS: StandInOptions = {
  host: '127.0.0.1',
  port: 0,
  dialect: 'plural',
  records: 50,
  modelRecords: {},
  seed: 1,
  verifyIntervalMs: 60_000,
  verifyBatchSize: 10,
  verifyDurationMs: null,
  failRate: 0.05,
  unverifiableModels: [],
  compositeKeyModels: [],
  featureFlag: true,
  primary: true,
  maxOffset: null,
  tokens: DEFAULT_TOKENS,
  faults: NO_FAULTS,
  requestLogSize: 10_000,
  maxRequestLineBytes: 8192,
};

export type StandInOverrides = Partial<Omit<StandInOptions, 'faults' | 'tokens'>> & {
  faults?: Partial<Faults>;
  tokens?: Partial<Tokens>;
};

export function resolveOptions(overrides: StandInOverrides = {}): StandInOptions {
  return {
    ...DEFAULT_OPTIONS,
    ...overrides,
    faults: { ...NO_FAULTS, ...overrides.faults },
    tokens: { ...DEFAULT_TOKENS, ...overrides.tokens },
  };
}
