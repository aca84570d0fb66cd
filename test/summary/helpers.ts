// Helpers of the verificationSummary tests: the query, the stand-in's own counts (the ground truth), the calls GitLab
// received for one model, and the bound on them that the README promises.
import { expect } from 'vitest';
import { MODELS_BY_ENUM, type Dialect } from '../../src/models.js';
import type { ModelCounts, RequestLogEntry } from '../../src/stand-in/index.js';
import { VerificationSummaryDocument, type ModelName, type VerificationSummaryQuery } from '../generated/operations.js';
import type { GraphQLResponse, Harness } from '../support/gateway.js';
import { ok, segment, splitPath } from '../gateway/helpers.js';

export type Summary = NonNullable<VerificationSummaryQuery['verificationSummary']>[number];

/** The enum's order, which `states` follows. */
export const STATES = ['PENDING', 'STARTED', 'SUCCEEDED', 'FAILED', 'DISABLED'] as const;
export const REST_STATES = ['pending', 'started', 'succeeded', 'failed', 'disabled'] as const;

/** Records per probed page (GitLab's largest page), as the README's formula counts pages. */
const PAGE = 100;

export function summaryRequest(h: Harness, models?: ModelName[], token?: string | null): Promise<GraphQLResponse<VerificationSummaryQuery>> {
  return h.request(VerificationSummaryDocument, models === undefined ? {} : { models }, token === undefined ? {} : { token });
}

/** The summaries of a response that must have no error. */
export async function summaries(h: Harness, models?: ModelName[]): Promise<Summary[]> {
  const data = ok(await summaryRequest(h, models));
  expect(data.verificationSummary).not.toBeNull();
  return data.verificationSummary!;
}

/** The stand-in's counts of every model, keyed by plural REST name, read at one instant. */
export async function standInCounts(h: Harness): Promise<Record<string, ModelCounts>> {
  return (await h.control('GET', 'counts')) as Record<string, ModelCounts>;
}

export function countsOf(all: Record<string, ModelCounts>, model: string): ModelCounts {
  const counts = all[MODELS_BY_ENUM.get(model)!.plural];
  expect(counts, `counts of ${model}`).toBeDefined();
  return counts;
}

/** What an exact summary of a model must say, given the stand-in's counts of it. */
export function exactSummaryOf(model: string, counts: ModelCounts): Pick<Summary, 'model' | 'total' | 'totalExact' | 'verificationEnabled' | 'states'> {
  return {
    model: model as ModelName,
    total: counts.total,
    totalExact: true,
    verificationEnabled: counts.verifiable,
    states: STATES.map((state, i) => {
      const count = counts.verifiable ? counts.states[REST_STATES[i]] : state === 'DISABLED' ? counts.total : 0;
      return { state: state as Summary['states'][number]['state'], count, exact: true };
    }),
  };
}

/** The part of a summary that is counts (what `exactSummaryOf` describes). */
export const countsPart = (s: Summary) => ({ model: s.model, total: s.total, totalExact: s.totalExact, verificationEnabled: s.verificationEnabled, states: s.states });

export const stateCount = (s: Summary, state: (typeof STATES)[number]) => s.states.find((c) => c.state === state)!;

/** The calls GitLab received for one model (its REST name in the dialect), in order. */
export function callsFor(log: RequestLogEntry[], model: string, dialect: Dialect): RequestLogEntry[] {
  return log.filter((e) => splitPath(e)[0] === segment(model, dialect));
}

/**
 * The most calls a summary of a model of `total` records may cost, as the README states it: 6 on the newer dialect up
 * to 10,000 records; otherwise 6 x ceil(log2 P) + 6, with P = ceil(total / 100) pages.
 */
export function callBound(total: number, dialect: Dialect): number {
  if (dialect === 'plural' && total <= 10_000) return 6;
  const pages = Math.max(1, Math.ceil(total / PAGE));
  return 6 * Math.ceil(Math.log2(pages)) + 6;
}

/** One run of the stand-in's verification job: records move to `started` (and stay there as long as it lasts). */
export async function startVerification(h: Harness): Promise<number> {
  const { started } = (await h.control('POST', 'verify')) as { started: number };
  return started;
}
