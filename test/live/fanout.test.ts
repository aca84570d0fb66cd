// What subscribers cost GitLab: one shared poll per model, so 500 subscribers of the same 100 records make as many
// list calls per cycle as one does; and no calls at all once everybody has gone.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import type { Harness } from '../support/gateway.js';
import { listCalls, rest, sleep, startLive, until, WATCH_SMALL, wsConnection, type RestRecord, type Subscriber, type WsConnection } from './helpers.js';

const PACE_MS = 250;
const WINDOW_MS = 2_000;
const SOCKETS = 5;
const PER_SOCKET = 100;

let h: Harness;
const connections: WsConnection[] = [];

beforeAll(async () => {
  // One pace whatever the states, and token rechecks out of the way: every list call in a window is a poll.
  h = await startLive({ verifyIntervalMs: 0 }, { LIVE_FAST_POLL_MS: String(PACE_MS), LIVE_SLOW_POLL_MS: String(PACE_MS), LIVE_AUTH_RECHECK_MS: '600000' });
});
afterAll(async () => {
  await Promise.all(connections.map((c) => c.dispose()));
  await h?.close();
});

/** Waits for a poll to finish, so a window starts and ends between two polls. */
async function betweenPolls(): Promise<void> {
  const cycles = h.gateway.live.stats.cycles;
  await until(() => h.gateway.live.stats.cycles > cycles, 'a poll', 5 * PACE_MS, 2);
  await sleep(PACE_MS / 3);
}

/** The poll cycles and the list calls GitLab received over a window. */
async function measure(): Promise<{ cycles: number; calls: RequestLogEntry[] }> {
  await betweenPolls();
  await h.resetUpstream();
  const before = h.gateway.live.stats.cycles;
  await sleep(WINDOW_MS);
  await betweenPolls();
  const calls = listCalls(await h.upstream());
  return { cycles: h.gateway.live.stats.cycles - before, calls };
}

it('500 subscribers of 100 records cost GitLab what one does; none cost nothing', { timeout: 90_000 }, async () => {
  const { body } = await rest(h, 'GET', 'projects?per_page=100');
  const ids = (body as RestRecord[]).map((r) => String(r.record_identifier));
  expect(ids).toHaveLength(100);
  const variables = { model: 'PROJECT', identifiers: ids };
  for (let i = 0; i < SOCKETS; i++) connections.push(wsConnection(h));
  const subscribers: Subscriber[] = [];
  const subscribe = (conn: WsConnection) => {
    const sub = conn.subscribe(variables, WATCH_SMALL);
    subscribers.push(sub);
    return sub;
  };

  // One subscriber.
  await subscribe(connections[0]).initial(ids);
  const one = await measure();
  expect(one.cycles).toBeGreaterThanOrEqual(WINDOW_MS / PACE_MS - 2);
  expect(one.cycles).toBeLessThanOrEqual(WINDOW_MS / PACE_MS + 3);
  // One list call per poll (a window edge may cut one poll from its call on a loaded machine).
  expect(Math.abs(one.calls.length - one.cycles)).toBeLessThanOrEqual(1);

  // 499 more, filling five sockets to their limit of 100: one on each new socket first (so every socket is
  // initialised before the flood), then the rest at once.
  for (const conn of connections.slice(1)) await subscribe(conn).initial(ids);
  for (let i = SOCKETS; i < SOCKETS * PER_SOCKET; i++) subscribe(connections[i % SOCKETS]);
  await Promise.all(subscribers.map((s) => s.initial(ids, 40_000)));
  expect(h.gateway.live.activeSubscriptions).toBe(SOCKETS * PER_SOCKET);
  expect(subscribers.every((s) => s.changes.length === ids.length && s.errors.length === 0)).toBe(true);

  const many = await measure();
  // One list call per poll, for the very same 100 records, at the very same pace: not 500 times as many.
  expect(Math.abs(many.calls.length - many.cycles)).toBeLessThanOrEqual(1);
  expect(many.cycles).toBeGreaterThanOrEqual(WINDOW_MS / PACE_MS - 2);
  expect(many.cycles).toBeLessThanOrEqual(WINDOW_MS / PACE_MS + 3);
  expect(many.calls.length).toBeLessThanOrEqual(one.calls.length + 2);
  for (const call of [...one.calls, ...many.calls]) {
    expect([...call.params['identifiers[]']].sort()).toEqual([...ids].sort());
    expect(call.params.per_page).toEqual(['100']);
  }

  // A change is still fanned out to everybody, once.
  const changed = ids[7];
  const put = await rest(h, 'PUT', `projects/${changed}/checksum`);
  const after = put.body as RestRecord;
  await Promise.all(subscribers.map((s) => s.until(changed, (c) => c.previousState !== null, 'the change', 20_000)));
  await sleep(PACE_MS);
  const expected = `${changed}:${after.checksum_information.checksum_state.toUpperCase()}`;
  for (const s of subscribers) {
    const later = s.of(changed).slice(1);
    expect(later.map((c) => `${c.record.recordIdentifier}:${c.state}`)).toEqual([expected]);
    expect(s.changes).toHaveLength(ids.length + 1);
  }

  // Everybody leaves: the poll stops.
  await Promise.all(connections.map((c) => c.dispose()));
  await until(() => h.gateway.live.activeSubscriptions === 0, 'every subscription to end');
  await sleep(PACE_MS);
  await h.resetUpstream();
  const cycles = h.gateway.live.stats.cycles;
  await sleep(5 * PACE_MS);
  expect(await h.upstream()).toEqual([]);
  expect(h.gateway.live.stats.cycles).toBe(cycles);
});
