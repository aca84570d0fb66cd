// How summary subscriptions end, and what that leaves polling: a subscriber leaving in any way (graphql-ws `complete`,
// the socket closed, the SSE stream closed), a token GitLab stops accepting, a subscriber with no token at all.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, type Harness } from '../support/gateway.js';
import { recordsIn, rest, sleep, startLive, until } from '../live/helpers.js';
import { modelCalls, summaryConnection, summaryGauge, type SummaryConnection, type SummarySubscriber } from './helpers.js';

const PACE_MS = 100;
const RECHECK_MS = 300;

let h: Harness;
const open: SummaryConnection[] = [];

beforeAll(async () => {
  // No verification job: the counts move only when a test moves them. One pace, so a poll is always due soon.
  h = await startLive(
    { records: 50, verifyIntervalMs: 0 },
    { LIVE_FAST_POLL_MS: String(PACE_MS), LIVE_SLOW_POLL_MS: String(PACE_MS), LIVE_AUTH_RECHECK_MS: String(RECHECK_MS), LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' },
  );
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((conn) => conn.dispose()));
  await until(async () => (await summaryGauge(h)) === 0, 'every summary subscription to end', 10_000, 20);
});
afterAll(async () => {
  await h?.close();
});

function connection(transport: 'graphql-ws' | 'sse', token: string | null = ADMIN): SummaryConnection {
  const conn = summaryConnection(h, transport, token);
  open.push(conn);
  return conn;
}

const lastSeq = async () => ((await h.control('GET', `requests?after=${Number.MAX_SAFE_INTEGER}`)) as { lastSeq: number }).lastSeq;
const callsSince = async (seq: number, path: string) => modelCalls(((await h.control('GET', `requests?after=${seq}`)) as { requests: { method: string; path: string }[] }).requests, path);

/** Resolves once the poll of this model has sent a call it had not sent at the time of asking. */
async function pollGoesOn(path: string): Promise<void> {
  const from = await lastSeq();
  await until(async () => (await callsSince(from, path)).length > 0, `a poll of ${path}`, 10_000, 20);
}

/** No call to this model reaches GitLab over several paces, once whatever was under way has landed. */
async function expectPollStopped(path: string): Promise<void> {
  await sleep(3 * PACE_MS);
  const from = await lastSeq();
  await sleep(6 * PACE_MS);
  expect(await callsSince(from, path)).toEqual([]);
}

interface Way {
  name: string;
  /** Two subscribers of LFS_OBJECT, each able to leave on its own; `others` counts what stays subscribed meanwhile. */
  make(): { subscribers: SummarySubscriber[]; leave(s: SummarySubscriber): Promise<void>; others: number; stayed?: SummarySubscriber };
}

const ways: Way[] = [
  {
    name: 'graphql-ws `complete`, the socket kept open by a subscription to another model',
    make() {
      const conn = connection('graphql-ws');
      const stayed = conn.subscribe(['PROJECT']);
      return { subscribers: [conn.subscribe(['LFS_OBJECT']), conn.subscribe(['LFS_OBJECT'])], leave: async (s) => s.unsubscribe(), others: 1, stayed };
    },
  },
  {
    name: 'the graphql-ws socket closed',
    make() {
      const conns = [connection('graphql-ws'), connection('graphql-ws')];
      const subscribers = conns.map((conn) => conn.subscribe(['LFS_OBJECT']));
      return { subscribers, leave: (s) => conns[subscribers.indexOf(s)].dispose(), others: 0 };
    },
  },
  {
    name: 'the SSE stream closed',
    make() {
      const conn = connection('sse');
      return { subscribers: [conn.subscribe(['LFS_OBJECT']), conn.subscribe(['LFS_OBJECT'])], leave: async (s) => s.unsubscribe(), others: 0 };
    },
  },
];

describe.each(ways)('leaving by $name', ({ make }) => {
  it('the poll goes on while one subscriber stays, and stops when the last one leaves', async () => {
    const { subscribers, leave, others, stayed } = make();
    const [a, b] = subscribers;
    await Promise.all([a.first(['LFS_OBJECT']), b.first(['LFS_OBJECT']), stayed?.first(['PROJECT'])]);
    expect(await summaryGauge(h)).toBe(2 + others);
    await pollGoesOn('lfs_objects');

    await leave(a);
    await until(async () => (await summaryGauge(h)) === 1 + others, 'the first subscriber to be gone', 5_000, 20);
    await pollGoesOn('lfs_objects');
    expect(b.ended).toBe(false);

    await leave(b);
    await until(async () => (await summaryGauge(h)) === others, 'the last subscriber of LFS_OBJECT to be gone', 5_000, 20);
    await expectPollStopped('lfs_objects');
    if (stayed) {
      // Only that model's poll stopped: the socket and its other subscription carry on.
      await pollGoesOn('projects');
      expect(stayed.ended).toBe(false);
    }
  });
});

describe('a token GitLab stops accepting', () => {
  it('ends its subscriptions with UNAUTHENTICATED within a few recheck periods; another token’s subscriber goes on', { timeout: 60_000 }, async () => {
    const doomed = `glpat-summary-doomed-${Date.now()}`;
    const kept = `glpat-summary-kept-${Date.now()}`;
    await h.control('POST', 'tokens', { token: doomed, role: 'admin' });
    await h.control('POST', 'tokens', { token: kept, role: 'admin' });
    // The revoked token's subscribers come first: the shared poll serves them with it until it is revoked.
    const doomedWs = connection('graphql-ws', doomed).subscribe(['LFS_OBJECT']);
    const doomedSse = connection('sse', doomed).subscribe(['LFS_OBJECT']);
    await Promise.all([doomedWs.first(['LFS_OBJECT']), doomedSse.first(['LFS_OBJECT'])]);
    const survivor = connection('graphql-ws', kept).subscribe(['LFS_OBJECT']);
    await survivor.first(['LFS_OBJECT']);
    expect(await summaryGauge(h)).toBe(3);

    expect(await h.control('DELETE', `tokens/${doomed}`)).toEqual({ revoked: true });
    for (const sub of [doomedWs, doomedSse]) {
      await sub.waitFor((s) => s.completed, 'the revoked subscription to complete', 4 * RECHECK_MS + 5_000);
      expect(sub.errors).toEqual([expect.objectContaining({ path: ['verificationSummaryChanged'], extensions: { code: 'UNAUTHENTICATED' } })]);
      expect(sub.summaries).toHaveLength(1);
    }
    await until(async () => (await summaryGauge(h)) === 1, 'only the other token’s subscription to remain', 5_000, 20);

    // The poll goes on with the other token: a record verified straight in GitLab changes the counts it sees.
    const before = survivor.summaries.length;
    const [pending] = await recordsIn(h, 'lfs_objects', 'pending');
    expect((await rest(h, 'PUT', `lfs_objects/${pending.record_identifier}/checksum`)).status).toBe(200);
    await survivor.waitFor((s) => s.summaries.length > before, 'a summary after the revocation');
    expect(survivor.ended).toBe(false);
    // Nothing more is sent to GitLab with the revoked token.
    const from = await lastSeq();
    await sleep(2 * RECHECK_MS);
    const { requests } = (await h.control('GET', `requests?after=${from}`)) as { requests: { authorization: string | null; privateToken: string | null }[] };
    expect(requests.filter((e) => e.authorization === `Bearer ${doomed}` || e.privateToken === doomed)).toEqual([]);
  });
});

describe('without a token', () => {
  it('over SSE, the subscription is refused with UNAUTHENTICATED and GitLab hears nothing', async () => {
    const from = await lastSeq();
    const sub = connection('sse', null).subscribe(['LFS_OBJECT']);
    await sub.waitFor((s) => s.completed || s.failures.length > 0, 'the refusal');
    expect(sub.codes).toEqual(['UNAUTHENTICATED']);
    expect(sub.summaries).toEqual([]);
    await sleep(3 * PACE_MS);
    expect((await h.control('GET', `requests?after=${from}`)) as object).toMatchObject({ requests: [] });
    expect(await summaryGauge(h)).toBe(0);
  });

  it('over graphql-ws, the socket is closed with 4403 before any subscription, and GitLab hears nothing', async () => {
    const from = await lastSeq();
    const conn = connection('graphql-ws', null);
    const sub = conn.subscribe(['LFS_OBJECT']);
    await sub.waitFor((s) => s.ended, 'the close');
    expect(conn.closes).toEqual([{ code: 4403, reason: 'Forbidden' }]);
    expect(sub.summaries).toEqual([]);
    await sleep(3 * PACE_MS);
    expect((await h.control('GET', `requests?after=${from}`)) as object).toMatchObject({ requests: [] });
    expect(await summaryGauge(h)).toBe(0);
  });
});
