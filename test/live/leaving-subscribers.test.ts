// Subscribers that leave while GitLab is slow to answer their first read: over SSE (the client closes its stream before
// the first event), over graphql-ws (the socket closes, or the client completes its subscriptions and stays). Their
// subscriptions end at once, and their first reads' calls still waiting for the live budget are not made.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import { startTestGateway, type TestGateway } from '../operability/gateway.js';
import { ADMIN, sample } from '../operability/helpers.js';
import type { Harness } from '../support/gateway.js';
import { sleep, sseConnection, until, WATCH_SMALL, wsConnection, type Subscriber } from './helpers.js';

/** One call a second for the live layer: the first reads of these subscriptions need 40, so 40 s at least. */
const BUDGET = 1;
const SUBSCRIPTIONS = 4;
const IDS_EACH = 1000;
/** GitLab's latency while they subscribe and leave. */
const SLOW_GITLAB_MS = 1500;

let t: TestGateway;
/** Connections a case keeps open after its subscribers left (the socket of those that only completed). */
const open: { dispose(): Promise<void> }[] = [];

beforeAll(async () => {
  t = await startTestGateway({
    standIn: { records: 50, verifyIntervalMs: 0 },
    env: {
      LOG_LEVEL: 'info',
      LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: String(BUDGET),
      // No poll or token re-check of their own while the test watches the calls.
      LIVE_SLOW_POLL_MS: '600000',
      LIVE_AUTH_RECHECK_MS: '600000',
    },
  });
});
afterAll(async () => {
  await Promise.all(open.map((conn) => conn.dispose()));
  await t?.close();
});

const faults = (body: object) => fetch(`${t.standIn.url}/-/stand-in/faults`, { method: 'PUT', body: JSON.stringify(body) }).then((res) => res.json());
const log = async (after: number) => (await (await fetch(`${t.standIn.url}/-/stand-in/requests?after=${after}`)).json()) as { requests: RequestLogEntry[]; lastSeq: number };
const liveSubscriptions = async () => sample(await t.metrics(), 'gateway_live_subscriptions') ?? 0;

/** Distinct made-up identifiers for each subscription of a case. */
function identifiersOf(caseIndex: number): string[][] {
  return Array.from({ length: SUBSCRIPTIONS }, (_, s) => Array.from({ length: IDS_EACH }, (_, i) => String(60_000_000 + caseIndex * 1_000_000 + s * 10_000 + i)));
}

/** List calls that name any of these identifiers. */
const callsFor = (entries: RequestLogEntry[], ids: Set<string>) => entries.filter((e) => e.method === 'GET' && (e.params['identifiers[]'] ?? []).some((id) => ids.has(id)));

type Leaving = { subscribe(ids: string[]): Subscriber; leave(subscribers: Subscriber[]): Promise<void> };

const ways: [string, () => Leaving][] = [
  [
    'SSE subscribers that close their streams',
    () => {
      const conns: ReturnType<typeof sseConnection>[] = [];
      return {
        subscribe: (ids) => {
          // One stream each, on connections of its own.
          const conn = sseConnection({ gateway: t.gateway } as Harness);
          conns.push(conn);
          return conn.subscribe({ model: 'PROJECT', identifiers: ids }, WATCH_SMALL);
        },
        leave: async () => void (await Promise.all(conns.map((conn) => conn.dispose()))),
      };
    },
  ],
  [
    'graphql-ws subscribers whose socket closes',
    () => {
      const conn = wsConnection({ gateway: t.gateway } as Harness);
      return { subscribe: (ids) => conn.subscribe({ model: 'PROJECT', identifiers: ids }, WATCH_SMALL), leave: () => conn.dispose() };
    },
  ],
  [
    'graphql-ws subscribers that complete their subscriptions and keep the socket',
    () => {
      const conn = wsConnection({ gateway: t.gateway } as Harness);
      open.push(conn);
      return {
        subscribe: (ids) => conn.subscribe({ model: 'PROJECT', identifiers: ids }, WATCH_SMALL),
        leave: async (subscribers) => subscribers.forEach((s) => s.unsubscribe()),
      };
    },
  ],
];

describe.each(ways.map(([name, make], i) => ({ name, make, i })))('$name during their first read', ({ make, i }) => {
  it('end at once, and GitLab gets no further call for their records', { timeout: 120_000 }, async () => {
    const identifiers = identifiersOf(i);
    const ids = new Set(identifiers.flat());
    const logMark = t.logs().length;
    await faults({ latencyMs: SLOW_GITLAB_MS });
    const from = (await log(Number.MAX_SAFE_INTEGER)).lastSeq;
    const way = make();
    const subscribers = identifiers.map((list) => way.subscribe(list));
    await until(async () => callsFor((await log(from)).requests, ids).length > 0, 'the first call of their first reads', 30_000, 20);
    await until(async () => (await liveSubscriptions()) === SUBSCRIPTIONS, 'their subscriptions to be watching', 30_000, 20);

    await way.leave(subscribers);
    // Their reads would take 40 s at the live budget: the subscriptions end long before.
    await until(async () => (await liveSubscriptions()) === 0, 'gateway_live_subscriptions back to 0', 15_000, 50);

    // What was already sent lands; after that, nothing more is asked for them.
    await sleep(SLOW_GITLAB_MS);
    const settled = (await log(Number.MAX_SAFE_INTEGER)).lastSeq;
    await sleep(4_000 / BUDGET);
    expect(callsFor((await log(settled)).requests, ids)).toEqual([]);
    // Each read sent its first call at most before they left: 40 were needed.
    expect(callsFor((await log(from)).requests, ids).length).toBeLessThan(SUBSCRIPTIONS * (IDS_EACH / 100));
    await faults({ latencyMs: 0 });

    // Their reads' calls left the live budget's queue with them: a newcomer is not kept waiting behind 40 s of them.
    const newcomer = wsConnection({ gateway: t.gateway } as Harness);
    open.push(newcomer);
    const [known] = ((await (await fetch(`${t.standIn.url}/api/v4/admin/data_management/projects?per_page=1`, { headers: { 'private-token': ADMIN } })).json()) as { record_identifier: number }[]).map((r) => String(r.record_identifier));
    const watching = newcomer.subscribe({ model: 'PROJECT', identifiers: [known] }, WATCH_SMALL);
    await watching.initial([known], 15_000);
    watching.unsubscribe();

    expect(subscribers.flatMap((s) => s.changes)).toEqual([]);
    expect(t.logs().slice(logMark).filter((l) => l.level >= 50)).toEqual([]);
  });
});
