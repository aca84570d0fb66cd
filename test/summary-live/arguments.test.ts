// Which models a summary subscription watches: every model of the GitLab it is in front of when none is named (each
// one's first summary, the same as GitLab's own counts), each named model once, and never none.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { modelsOf, type Dialect } from '../../src/models.js';
import type { Harness } from '../support/gateway.js';
import { sleep, startLive, until, type Transport } from '../live/helpers.js';
import { countsOf, standInCounts, summaryConnection, summaryCounts, summaryGauge, type SummaryConnection } from './helpers.js';

const PACE_MS = 100;

describe.each(['plural', 'singular'] as Dialect[])('the %s dialect', (dialect) => {
  let h: Harness;
  const open: SummaryConnection[] = [];

  beforeAll(async () => {
    // Nothing moves: a subscriber gets each model's first summary, and then nothing.
    h = await startLive({ dialect, records: 20, verifyIntervalMs: 0 }, { LIVE_FAST_POLL_MS: String(PACE_MS), LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((conn) => conn.dispose()));
    await until(async () => (await summaryGauge(h)) === 0, 'every summary subscription to end', 10_000, 20);
  });
  afterAll(async () => {
    await h?.close();
  });

  const models = modelsOf(dialect);

  // SSE first: nothing has taught the gateway the dialect yet (a graphql-ws socket's token check would).
  it.each(['sse', 'graphql-ws'] as Transport[])('over %s, no models argument gives the first summary of every model of the dialect, once each', async (transport) => {
    const conn = summaryConnection(h, transport);
    open.push(conn);
    const sub = conn.subscribe();
    await sub.first(models.map((m) => m.enumName), 20_000);
    // A few paces more: no model comes twice while its counts stay the same.
    await sleep(5 * PACE_MS);
    expect(sub.summaries.map((s) => s.model).sort()).toEqual(models.map((m) => m.enumName).sort());
    expect(sub.ended).toBe(false);
    for (const model of models) {
      const [summary] = sub.of(model.enumName);
      expect(countsOf(summary), model.enumName).toEqual(summaryCounts(await standInCounts(h, model.plural)));
    }
  });
});

describe('named models', () => {
  let h: Harness;
  const open: SummaryConnection[] = [];

  beforeAll(async () => {
    h = await startLive({ records: 20, verifyIntervalMs: 0 }, { LIVE_FAST_POLL_MS: String(PACE_MS), LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((conn) => conn.dispose()));
    await until(async () => (await summaryGauge(h)) === 0, 'every summary subscription to end', 10_000, 20);
  });
  afterAll(async () => {
    await h?.close();
  });

  function connect(transport: Transport): SummaryConnection {
    const conn = summaryConnection(h, transport);
    open.push(conn);
    return conn;
  }

  it.each(['graphql-ws', 'sse'] as Transport[])('over %s, a model named twice comes once, in the models named only', async (transport) => {
    const sub = connect(transport).subscribe(['LFS_OBJECT', 'UPLOAD', 'LFS_OBJECT']);
    await sub.first(['LFS_OBJECT', 'UPLOAD']);
    await sleep(5 * PACE_MS);
    expect(sub.summaries.map((s) => s.model).sort()).toEqual(['LFS_OBJECT', 'UPLOAD']);
  });

  it.each(['graphql-ws', 'sse'] as Transport[])('over %s, a subscription to several models counts once in gateway_summary_subscriptions', async (transport) => {
    const conn = connect(transport);
    const several = conn.subscribe(['LFS_OBJECT', 'UPLOAD', 'PROJECT']);
    const all = conn.subscribe();
    await Promise.all([several.first(['LFS_OBJECT', 'UPLOAD', 'PROJECT']), all.first(modelsOf('plural').map((m) => m.enumName), 20_000)]);
    expect(await summaryGauge(h)).toBe(2);
    several.unsubscribe();
    await until(async () => (await summaryGauge(h)) === 1, 'only the subscription to every model to remain', 5_000, 20);
  });

  it.each(['graphql-ws', 'sse'] as Transport[])('over %s, `models: []` is refused with BAD_USER_INPUT and nothing is counted', async (transport) => {
    const { lastSeq: from } = (await h.control('GET', `requests?after=${Number.MAX_SAFE_INTEGER}`)) as { lastSeq: number };
    const sub = connect(transport).subscribe([]);
    await sub.waitFor((s) => s.ended, 'the refusal');
    expect(sub.errors).toEqual([expect.objectContaining({ message: 'models must name at least one model (or be omitted for all of them).', extensions: { code: 'BAD_USER_INPUT' } })]);
    expect(sub.summaries).toEqual([]);
    await sleep(3 * PACE_MS);
    // The socket's token check is the only call GitLab may get: no count of any model.
    const { requests } = (await h.control('GET', `requests?after=${from}`)) as { requests: { params: Record<string, string[]> }[] };
    expect(requests.filter((e) => 'checksum_state' in e.params)).toEqual([]);
    expect(await summaryGauge(h)).toBe(0);
  });
});
