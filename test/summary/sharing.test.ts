// One computation per model at a time for the whole gateway: queries that ask while it runs join it, whoever they are,
// at the cost of one cheap check of a token GitLab has not seen; a token GitLab refuses gets no numbers; a computation
// nobody waits for any more stops asking GitLab.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Agent, fetch as undiciFetch } from 'undici';
import { print } from 'graphql';
import type { Dialect } from '../../src/models.js';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import { VerificationSummaryDocument } from '../generated/operations.js';
import { ADMIN, type Harness } from '../support/gateway.js';
import { codes, DIALECTS, segment, sleep, splitPath, startFor } from '../gateway/helpers.js';
import { sample, until } from '../operability/helpers.js';
import { callsFor, countsOf, countsPart, exactSummaryOf, standInCounts, summaries, summaryRequest, type Summary } from './helpers.js';

const MODEL = 'LFS_OBJECT';
/** GitLab's latency while queries join: a computation of 1,000,000 records then takes dozens of these, one after another. */
const SLOW_MS = 15;
/** Slower for a client that leaves: little of its computation comes back between a look at the log and its leaving. */
const SLOWER_MS = 50;
const JOINING = 20;

/** A call, as what it asks: the multiset of these is what a computation costs. */
const asked = (calls: RequestLogEntry[]) => calls.map((e) => `${splitPath(e)[0]}?${e.query}`).sort();

describe.each(DIALECTS)('verificationSummary shared, %s dialect', (dialect: Dialect) => {
  let h: Harness;
  /** The calls of one computation of the model, alone. */
  let alone: string[];
  let expected: ReturnType<typeof exactSummaryOf>;
  const agent = new Agent();

  const latency = (latencyMs: number) => h.control('PUT', 'faults', { latencyMs });
  const modelCalls = async () => callsFor(await h.upstream(), MODEL, dialect);
  /** Waits until GitLab has received `n` calls of the model: its computation is under way. */
  const untilCalls = (n: number) => until(async () => ((await modelCalls()).length >= n ? true : undefined), `${n} calls to GitLab`, 20_000, 5);
  const expectExact = (summary: Summary | undefined) => expect(summary && countsPart(summary)).toEqual(expected);
  /** How many computations of the model ended so, as the gateway's metrics count them. */
  const computations = async (outcome: 'success' | 'error') => {
    const text = await (await fetch(new URL('/metrics', h.gateway.url))).text();
    return sample(text, 'gateway_summary_computations_total', { model: MODEL, outcome }) ?? 0;
  };
  /** Waits until a computation that nobody waits for any more has ended (with the error of a client that left). */
  const untilAbandoned = async (before: number) => {
    await until(async () => ((await computations('error')) > before ? true : undefined), 'the computation to end for nobody', 5_000, 10);
    // Anything still sent after that would show up by now.
    await sleep(3 * SLOWER_MS);
  };

  beforeAll(async () => {
    h = await startFor(dialect, { records: 20, modelRecords: { lfs_objects: 1_000_000 } });
    expected = exactSummaryOf(MODEL, countsOf(await standInCounts(h), MODEL));
    await summaries(h, [MODEL]);
    await h.resetUpstream();
    expectExact((await summaries(h, [MODEL]))[0]);
    alone = asked(await h.upstream());
    // Dozens of calls, most of them one after another.
    expect(alone.length).toBeGreaterThan(20);
  });
  afterAll(async () => {
    await agent.close();
    await h?.close();
  });
  beforeEach(async () => {
    await latency(SLOW_MS);
    await h.resetUpstream();
  });

  it(`${JOINING} concurrent queries with one token cost GitLab what one costs`, async () => {
    const computed = await computations('success');
    const first = summaryRequest(h, [MODEL]);
    await untilCalls(1);
    const others = Array.from({ length: JOINING - 1 }, () => summaryRequest(h, [MODEL]));
    for (const res of await Promise.all([first, ...others])) {
      expect(codes(res)).toEqual([]);
      expectExact(res.data?.verificationSummary?.[0]);
    }
    expect(asked(await h.upstream())).toEqual(alone);
    expect(await computations('success')).toBe(computed + 1);
  });

  it('two tokens at once: one computation, plus one cheap check of the token that joined it', async () => {
    const second = `glpat-summary-second-${dialect}`;
    await h.control('POST', 'tokens', { token: second, role: 'admin' });
    const first = summaryRequest(h, [MODEL]);
    await untilCalls(1);
    const joined = summaryRequest(h, [MODEL], second);
    for (const res of await Promise.all([first, joined])) {
      expect(codes(res)).toEqual([]);
      expectExact(res.data?.verificationSummary?.[0]);
    }
    const log = await h.upstream();
    expect(asked(callsFor(log, MODEL, dialect))).toEqual(alone);
    const checks = log.filter((e) => splitPath(e)[0] !== segment(MODEL, dialect));
    expect(checks.length).toBeLessThanOrEqual(1);
    for (const check of checks) expect({ token: check.authorization, perPage: check.params.per_page }).toEqual({ token: `Bearer ${second}`, perPage: ['1'] });
  });

  it('a revoked or unknown token joining a computation gets UNAUTHENTICATED, not the numbers; the others still get theirs', async () => {
    const revoked = `glpat-summary-revoked-${dialect}`;
    await h.control('POST', 'tokens', { token: revoked, role: 'admin' });
    await h.control('DELETE', `tokens/${revoked}`);
    const first = summaryRequest(h, [MODEL]);
    await untilCalls(1);
    const [answered, ...refused] = await Promise.all([first, summaryRequest(h, [MODEL], revoked), summaryRequest(h, [MODEL], 'glpat-summary-never-issued')]);
    expectExact(answered.data?.verificationSummary?.[0]);
    for (const res of refused) {
      expect(codes(res)).toEqual(['UNAUTHENTICATED']);
      expect(res.data).toEqual({ verificationSummary: null });
    }
    expect(asked(await modelCalls())).toEqual(alone);
  });

  it('a token GitLab revoked since the gateway last saw it accepted gets UNAUTHENTICATED when it joins, as it does alone', async () => {
    const token = `glpat-summary-revoked-after-use-${dialect}`;
    await h.control('POST', 'tokens', { token, role: 'admin' });
    expect(codes(await summaryRequest(h, ['PROJECT'], token))).toEqual([]);
    await h.control('DELETE', `tokens/${token}`);
    await h.resetUpstream();
    const first = summaryRequest(h, [MODEL]);
    await untilCalls(1);
    const joined = await summaryRequest(h, [MODEL], token);
    expectExact((await first).data?.verificationSummary?.[0]);
    expect({ codes: codes(joined), data: joined.data }).toEqual({ codes: ['UNAUTHENTICATED'], data: { verificationSummary: null } });
    // Alone, GitLab's own answer to it.
    expect(codes(await summaryRequest(h, [MODEL], token))).toEqual(['UNAUTHENTICATED']);
  });

  it('a client that leaves a computation others wait for does not stop it', async () => {
    const leaving = postAndLeaveLater();
    await untilCalls(1);
    const staying = summaryRequest(h, [MODEL]);
    await untilCalls(8);
    leaving.leave();
    expect(await leaving.outcome).toBe('left');
    const res = await staying;
    expect(codes(res)).toEqual([]);
    expectExact(res.data?.verificationSummary?.[0]);
    expect(asked(await modelCalls())).toEqual(alone);
  });

  it('the last client leaving stops the calls; the next query gets a full, correct count', async () => {
    await latency(SLOWER_MS);
    const abandoned = await computations('error');
    const leaving = postAndLeaveLater();
    // Past the first look, into the searches (one call at a time).
    await untilCalls(8);
    const seen = (await modelCalls()).length;
    leaving.leave();
    expect(await leaving.outcome).toBe('left');
    await untilAbandoned(abandoned);
    const sent = (await modelCalls()).length;
    // At most the calls on their way when it left: one round of searches.
    expect(sent).toBeLessThanOrEqual(seen + 5);
    expect(sent).toBeLessThan(alone.length);

    await latency(0);
    await h.resetUpstream();
    expectExact((await summaries(h, [MODEL]))[0]);
    expect(asked(await modelCalls())).toEqual(alone);
  });

  it('a refused token that joined does not keep a computation going after its last real client left', async () => {
    await latency(SLOWER_MS);
    const abandoned = await computations('error');
    const leaving = postAndLeaveLater();
    await untilCalls(1);
    expect(codes(await summaryRequest(h, [MODEL], 'glpat-summary-refused-joiner'))).toEqual(['UNAUTHENTICATED']);
    await untilCalls(8);
    leaving.leave();
    expect(await leaving.outcome).toBe('left');
    await untilAbandoned(abandoned);
    expect((await modelCalls()).length).toBeLessThan(alone.length);
  });

  if (dialect === 'singular') {
    it('a query that failed (another model of it unknown here) leaves no computation going for nobody', async () => {
      const abandoned = await computations('error');
      const res = await summaryRequest(h, [MODEL, 'PACKAGES_NUGET_SYMBOL']);
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      await untilAbandoned(abandoned);
      expect((await modelCalls()).length).toBeLessThan(alone.length);
    });
  }

  /** Posts the summary query of the model with the admin token; `leave()` closes the request before it is answered. */
  function postAndLeaveLater(): { leave(): void; outcome: Promise<'answered' | 'left'> } {
    const abort = new AbortController();
    const outcome = undiciFetch(h.gateway.url, {
      method: 'POST',
      dispatcher: agent,
      signal: abort.signal,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ query: print(VerificationSummaryDocument), variables: { models: [MODEL] } }),
    }).then(
      async (res) => {
        await res.text();
        return 'answered' as const;
      },
      () => 'left' as const,
    );
    return { leave: () => abort.abort(), outcome };
  }
});
