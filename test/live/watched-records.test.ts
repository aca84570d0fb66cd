// The records watched by every subscription of the process together are bounded (LIVE_MAX_WATCHED_IDENTIFIERS): a
// subscription that would take the count past it is refused at subscribe with BAD_USER_INPUT, and nothing of it is
// kept (no watch, no call to GitLab). Records someone already watches cost nothing; ended subscriptions free theirs.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { Harness } from '../support/gateway.js';
import { metricValue } from './gitlab-proxy.js';
import { rawSocket, startLive, until, WATCH_BATCHES, wsConnection, type Subscriber, type WsConnection } from './helpers.js';

const MAX_WATCHED = 150;

let h: Harness;
const connections: WsConnection[] = [];

const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
const message = (added: number) =>
  `The gateway already watches nearly as many records as it may (LIVE_MAX_WATCHED_IDENTIFIERS, ${MAX_WATCHED}): this subscription would add ${added}. Watch fewer records, or try again later.`;

function subscribe(identifiers: string[]): Subscriber {
  const conn = wsConnection(h);
  connections.push(conn);
  return conn.subscribe({ model: 'PROJECT', identifiers }, WATCH_BATCHES);
}

/** Waits for the first batch: the current state of every watched record (GitLab may not know some of them). */
async function started(sub: Subscriber): Promise<void> {
  await sub.waitFor((s) => s.batches.length > 0 || s.received.some((r) => r.kind !== 'data'), 'the first batch');
  expect(sub.errors).toEqual([]);
  expect(sub.batches).toHaveLength(1);
}

async function liveSubscriptions(): Promise<number> {
  return metricValue(await (await fetch(`${new URL(h.gateway.url).origin}/metrics`)).text(), 'gateway_live_subscriptions');
}

async function expectRefused(sub: Subscriber, added: number): Promise<void> {
  await sub.waitFor((s) => s.completed, 'the refused subscription to complete');
  expect(sub.received.map((r) => r.kind)).toEqual(['errors', 'complete']);
  expect(sub.errors).toEqual([expect.objectContaining({ message: message(added), path: ['checksumStateChangeBatches'], extensions: { code: 'BAD_USER_INPUT' } })]);
}

/** The identifiers GitLab was asked about since the last reset. */
async function askedAbout(): Promise<Set<string>> {
  return new Set((await h.upstream()).flatMap((e) => e.params['identifiers[]'] ?? []));
}

beforeAll(async () => {
  h = await startLive(
    { verifyIntervalMs: 0 },
    { LIVE_MAX_IDENTIFIERS: '100', LIVE_MAX_WATCHED_IDENTIFIERS: String(MAX_WATCHED), LIVE_FAST_POLL_MS: '100', LIVE_SLOW_POLL_MS: '60000', TOKEN_CACHE_MS: '3600000' },
  );
  // The token's connection check first, so that every later call is a subscription's.
  (await rawSocket(h, () => {})).terminate();
});
afterEach(async () => {
  for (const conn of connections.splice(0)) await conn.dispose();
  await until(async () => (await liveSubscriptions()) === 0, 'every subscription to end');
});
afterAll(async () => {
  await h?.close();
});

it(`a subscription that would take the process past ${MAX_WATCHED} watched records is refused, and nothing of it is kept`, async () => {
  const a = subscribe(ids(1, 100));
  await started(a);
  await h.resetUpstream();

  // 100 new records on top of 100: refused before any call, and not counted.
  await expectRefused(subscribe(ids(101, 200)), 100);
  expect(await liveSubscriptions()).toBe(1);
  expect([...(await askedAbout())].filter((id) => Number(id) > 100)).toEqual([]);

  // Half of them already watched: 50 new ones fit exactly.
  const c = subscribe(ids(51, 150));
  await started(c);
  expect(await liveSubscriptions()).toBe(2);
  // Records already watched by others cost nothing; one new record more does not fit.
  const d = subscribe(ids(1, 150).filter((_, i) => i % 3 === 0));
  await started(d);
  await expectRefused(subscribe(['151']), 1);
  expect(a.errors.concat(c.errors, d.errors)).toEqual([]);
});

it('the records of ended subscriptions are free again', async () => {
  const a = subscribe(ids(1, 100));
  await started(a);
  await expectRefused(subscribe(ids(101, 200)), 100);
  a.unsubscribe();
  await until(async () => (await liveSubscriptions()) === 0, 'the first subscription to end');
  const b = subscribe(ids(101, 200));
  await started(b);
  const c = subscribe(ids(1, 50));
  await started(c);
  await expectRefused(subscribe(['51']), 1);
});

it('a process bound below the bound of one subscription is a setting error', () => {
  expect(() => loadConfig({ LIVE_MAX_IDENTIFIERS: '1000', LIVE_MAX_WATCHED_IDENTIFIERS: '999' })).toThrow(
    new ConfigError('LIVE_MAX_WATCHED_IDENTIFIERS (999) must not be below LIVE_MAX_IDENTIFIERS (1000)'),
  );
  expect(loadConfig({}).live).toMatchObject({ maxIdentifiers: 1000, maxWatchedIdentifiers: 100_000 });
});
