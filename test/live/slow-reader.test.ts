// A client that stops reading: its socket is held back once 1 MB is queued for it (counted in /metrics), other clients
// are served meanwhile, and when it reads again it gets everything, in order, exactly once. One that falls further
// behind than its records have states gets their latest states instead, still chained, and the gateway keeps no more.
// One that unsubscribes while held back gets its places on the connection back at once.
//
// Nothing here depends on the machine's speed or the kernel's buffers: a client is known to be held back when the
// gateway counts a wait for it, and what it is owed is counted in states GitLab went through (two recalculations in
// the same millisecond are one state, as in GitLab, whose times carry milliseconds) and in the gateway's own counters.
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ADMIN, type Harness } from '../support/gateway.js';
import { API, rawSocket, startLive, until, WATCH, WATCH_BATCHES, WATCH_SMALL, wsConnection, type Change, type RestRecord, type WsConnection } from './helpers.js';

const SUBSCRIPTIONS = 600;
const RECALCULATE = /* GraphQL */ `mutation ($id: ID!) { recalculateChecksum(model: PROJECT, recordIdentifier: $id) { errors record { checksumInformation { lastChecksum } } } }`;
/** Changes made to fill a paused client's socket before the gateway holds it back: far more than any kernel buffers. */
const MOST_CHANGES_TO_FILL = 2_000;
/** Each test moves tens of megabytes through a paused client: room for a machine that is busy with other work. */
const TEST_TIMEOUT_MS = 240_000;

let h: Harness;
/**
 * This file's HTTP calls open a connection each: the gateway and the stand-in run in this process, which is busy for
 * seconds while a client catches up, and a kept-alive connection could be reused just as the server times it out.
 */
const oneShot = new Agent({ pipelining: 0 });
let slow: WebSocket | undefined;
let other: WsConnection | undefined;

beforeAll(async () => {
  // No worker and no poll: the only changes in the test are the ones the mutations make.
  h = await startLive({ verifyIntervalMs: 0 }, { LIVE_FAST_POLL_MS: '60000', LIVE_SLOW_POLL_MS: '60000', LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(SUBSCRIPTIONS) });
});
afterAll(async () => {
  slow?.terminate();
  await other?.dispose();
  await h?.close();
  await oneShot.close();
});

/** The sum of a metric's series whose labels include `labels`. */
async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(new URL('/metrics', h.gateway.url), { dispatcher: oneShot })).text();
  let sum = 0;
  let found = false;
  for (const [, set = '', value] of text.matchAll(new RegExp(`^${name}(?:\\{(.*)\\})? (\\S+)$`, 'gm'))) {
    if (!Object.entries(labels).every(([key, wanted]) => set.includes(`${key}="${wanted}"`))) continue;
    sum += Number(value);
    found = true;
  }
  return found ? sum : NaN;
}
const slowReaderWaits = () => metric('gateway_websocket_slow_reader_waits_total');
const coalescedEvents = () => metric('gateway_live_coalesced_events_total');
const liveSubscriptions = () => metric('gateway_live_subscriptions');
/** Subscriptions that have their first states: counted once the first read is done, whatever the operation's name. */
const startedSubscriptions = () => metric('gateway_graphql_operations_total', { type: 'subscription', outcome: 'success' });
/** Record changes the gateway published, to every subscriber of the record at once. */
const published = () => h.gateway.live.stats.published;

/** A GraphQL operation over HTTP with the admin token. */
async function graphql<T>(query: string, variables: Record<string, unknown>): Promise<{ data?: T; errors?: unknown[] }> {
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', authorization: `Bearer ${ADMIN}` };
  const res = await fetch(h.gateway.url, { method: 'POST', headers, body: JSON.stringify({ query, variables }), dispatcher: oneShot });
  return (await res.json()) as { data?: T; errors?: unknown[] };
}

/** A GET of the stand-in's REST API, past the gateway. */
async function restGet<T>(path: string): Promise<T> {
  const res = await fetch(`${h.standIn.url}${API}${path}`, { headers: { 'private-token': ADMIN }, dispatcher: oneShot });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

/** The distinct states a record went through, in order, as its recalculations answered them. */
class History {
  readonly states: Array<string | null>;

  constructor(
    readonly identifier: string,
    first: string | null,
  ) {
    this.states = [first];
  }

  get latest(): string | null {
    return this.states[this.states.length - 1];
  }

  /** Recalculates the record once; a new state only if its last checksum is not the one before. */
  async recalculate(): Promise<void> {
    const { data, errors } = await graphql<{ recalculateChecksum: { record: { checksumInformation: { lastChecksum: string | null } } } }>(RECALCULATE, { id: this.identifier });
    expect(errors).toBeUndefined();
    const last = data!.recalculateChecksum.record.checksumInformation.lastChecksum;
    if (last !== this.latest) this.states.push(last);
  }

  /** The place of an event's state in the history (-1: a state the record never went through). */
  placeOf(change: Change): number {
    return this.states.indexOf(change.record.checksumInformation?.lastChecksum ?? null);
  }

  /** Changes the record until the gateway has waited for the paused client more times than `waitsBefore`. */
  async fillUntilHeldBack(waitsBefore: number): Promise<void> {
    for (let n = 0; (await slowReaderWaits()) === waitsBefore; n++) {
      if (n === MOST_CHANGES_TO_FILL) throw new Error(`the gateway never held back the paused client after ${n} changes`);
      await this.recalculate();
    }
  }

  /** Recalculates until the record went through `count` more states. */
  async changeTimes(count: number): Promise<void> {
    const until = this.states.length + count;
    while (this.states.length < until) await this.recalculate();
  }
}

async function historyOf(identifier: string): Promise<History> {
  const record = await restGet<RestRecord>(`projects/${identifier}`);
  return new History(identifier, record.checksum_information.last_checksum);
}

/** Closes what earlier tests left open and waits until the gateway has let all of its subscriptions go. */
async function noOtherSubscriptions(): Promise<void> {
  slow?.terminate();
  slow = undefined;
  await other?.dispose();
  other = undefined;
  await until(async () => (await liveSubscriptions()) === 0, 'the subscriptions of earlier tests to end', 30_000, 50);
}

let ids: string[] = [];
const received: Change[][] = Array.from({ length: SUBSCRIPTIONS }, () => []);

it('holds back a client that does not read, serves the others meanwhile, and loses nothing', async () => {
  ids = (await restGet<RestRecord[]>('projects?per_page=100')).map((r) => String(r.record_identifier));
  const protocolErrors: string[] = [];

  slow = await rawSocket(h, (text) => {
    const message = JSON.parse(text) as { id?: string; type: string; payload?: { data?: { checksumStateChanged: Change }; errors?: unknown } };
    if (message.type === 'next' && message.payload?.data) received[Number(message.id)].push(message.payload.data.checksumStateChanged);
    else protocolErrors.push(JSON.stringify(message).slice(0, 200));
  });
  const socket = slow;
  const startedBefore = (await startedSubscriptions()) || 0;
  // From here the client reads nothing: 600 subscriptions of 100 records owe it about 27 MB of first states.
  socket.pause();
  for (let i = 0; i < SUBSCRIPTIONS; i++) socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: WATCH, variables: { model: 'PROJECT', identifiers: ids } } }));
  await until(async () => (await slowReaderWaits()) > 0, 'the gateway to hold back the client that does not read', 30_000, 100);
  // Every subscription has its first states before anything changes, so the change comes after them in every one.
  await until(async () => (await startedSubscriptions()) === startedBefore + SUBSCRIPTIONS, 'every subscription to have its first states', 60_000, 100);

  // Another client is served while the first one still reads nothing.
  other = wsConnection(h);
  const watcher = other.subscribe({ model: 'PROJECT', identifiers: [ids[0]] }, WATCH_SMALL);
  await watcher.initial([ids[0]], 30_000);
  const history = await historyOf(ids[0]);
  await history.changeTimes(1);
  await watcher.until(ids[0], (c) => c.previousState !== null, 'the recalculated state', 30_000);
  expect(received.every((events) => events.length < 101)).toBe(true);

  // Reading again, the slow client gets, for every subscription: the 100 first states, then the one change.
  socket.resume();
  await until(() => received.every((events) => events.length >= 101), 'every subscription of the slow client to catch up', 120_000, 50);
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(protocolErrors).toEqual([]);
  for (const events of received) {
    expect(events).toHaveLength(101);
    const first = events.slice(0, 100);
    expect(first.every((e) => e.previousState === null)).toBe(true);
    expect(new Set(first.map((e) => e.record.recordIdentifier))).toEqual(new Set(ids));
    expect(first.find((e) => e.record.recordIdentifier === ids[0])!.record.checksumInformation?.lastChecksum).toBe(history.states[0]);
    expect(events[100]).toMatchObject({ record: { recordIdentifier: ids[0], checksumInformation: { lastChecksum: history.latest } } });
    expect(events[100].previousState).not.toBeNull();
  }
}, TEST_TIMEOUT_MS);

it('merges what a client that falls far behind is owed into the latest state of each record, still chained', async () => {
  // More states than a subscription may owe before they are merged (two events per watched record, and 16).
  const CHANGES = 300;
  const from = received.map((events) => events.length);
  const history = await historyOf(ids[1]);
  const [coalescedBefore, waitsBefore, publishedBefore] = [await coalescedEvents(), await slowReaderWaits(), published()];
  slow!.pause();
  // However much the kernel takes in for the paused client, the gateway ends up holding it back; from then on each
  // subscription owes every new state of the record, published to all 600 of them at once.
  await history.fillUntilHeldBack(waitsBefore);
  await history.changeTimes(CHANGES);
  const changes = history.states.length - 1;
  expect(published() - publishedBefore).toBe(changes);
  const coalesced = (await coalescedEvents()) - coalescedBefore;
  expect(coalesced).toBeGreaterThan(0);

  slow!.resume();
  const isLast = (e: Change | undefined) => e?.record.checksumInformation?.lastChecksum === history.latest;
  await until(() => received.every((events) => isLast(events[events.length - 1])), 'every subscription to get the latest state', 120_000, 50);
  await new Promise((resolve) => setTimeout(resolve, 200));
  let delivered = 0;
  for (const [i, events] of received.entries()) {
    const after = events.slice(from[i]);
    delivered += after.length;
    // Only the recalculated record; fewer events than states, each a later state than the one before it and chained
    // to it; the last one is the latest state.
    expect(after.every((e) => e.record.recordIdentifier === ids[1])).toBe(true);
    expect(after.length).toBeLessThan(changes);
    const chain = [events.slice(0, from[i]).filter((e) => e.record.recordIdentifier === ids[1]).slice(-1)[0], ...after];
    const places = chain.map((e) => history.placeOf(e));
    expect(places[0]).toBe(0);
    for (let k = 1; k < chain.length; k++) {
      expect(places[k]).toBeGreaterThan(places[k - 1]);
      expect(chain[k].previousState).toBe(chain[k - 1].state);
    }
    expect(isLast(after[after.length - 1])).toBe(true);
  }
  // What was merged was not sent; everything else was, once.
  expect(delivered).toBe(SUBSCRIPTIONS * changes - coalesced);
}, TEST_TIMEOUT_MS);

it('merges the batches a slow client is owed into one, with the latest state of each record', async () => {
  const BATCH_SUBSCRIPTIONS = 200;
  // More states than a batch subscription may owe before they are merged (16 batches).
  const CHANGES = 100;
  await noOtherSubscriptions();
  const batches: Change[][][] = Array.from({ length: BATCH_SUBSCRIPTIONS }, () => []);
  const socket = await rawSocket(h, (text) => {
    const message = JSON.parse(text) as { id?: string; type: string; payload?: { data?: { checksumStateChangeBatches: { changes: Change[] } } } };
    if (message.type === 'next' && message.payload?.data) batches[Number(message.id)].push(message.payload.data.checksumStateChangeBatches.changes);
  });
  try {
    for (let i = 0; i < BATCH_SUBSCRIPTIONS; i++) socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: WATCH_BATCHES, variables: { model: 'PROJECT', identifiers: ids } } }));
    await until(() => batches.every((b) => b.length === 1), 'the first batch of every subscription', 60_000, 50);
    const history = await historyOf(ids[2]);
    const [coalescedBefore, waitsBefore, publishedBefore] = [await coalescedEvents(), await slowReaderWaits(), published()];
    socket.pause();
    await history.fillUntilHeldBack(waitsBefore);
    await history.changeTimes(CHANGES);
    const changes = history.states.length - 1;
    expect(published() - publishedBefore).toBe(changes);
    const coalesced = (await coalescedEvents()) - coalescedBefore;
    expect(coalesced).toBeGreaterThan(0);

    socket.resume();
    const isLast = (b: Change[] | undefined) => b?.length === 1 && b[0].record.checksumInformation?.lastChecksum === history.latest;
    await until(() => batches.every((b) => isLast(b[b.length - 1])), 'every subscription to get the latest state', 120_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const list of batches) {
      expect(list[0].find((c) => c.record.recordIdentifier === ids[2])!.record.checksumInformation?.lastChecksum).toBe(history.states[0]);
      // Each later batch holds the recalculated record only, at a later state than the batch before; fewer batches
      // than states.
      const later = list.slice(1);
      expect(later.every((b) => b.length === 1 && b[0].record.recordIdentifier === ids[2])).toBe(true);
      expect(later.length).toBeLessThan(changes);
      const places = later.map((b) => history.placeOf(b[0]));
      for (let k = 0; k < places.length; k++) expect(places[k]).toBeGreaterThan(k === 0 ? 0 : places[k - 1]);
    }
    // What was merged away was never sent; everything else was, once.
    expect(batches.reduce((n, list) => n + list.length - 1, 0)).toBe(BATCH_SUBSCRIPTIONS * changes - coalesced);
  } finally {
    socket.terminate();
  }
}, TEST_TIMEOUT_MS);

it('gives a held-back client its subscription places back as soon as it unsubscribes, before it reads again', async () => {
  await noOtherSubscriptions();
  const answers: Array<{ type: string; payload?: unknown }> = [];
  const socket = await rawSocket(h, (text) => {
    if (text.includes('"id":"again"')) answers.push(JSON.parse(text) as { type: string; payload?: unknown });
  });
  try {
    const waitsBefore = await slowReaderWaits();
    socket.pause();
    // Every place of the connection taken, and so much owed that the subscriptions wait for the client to read.
    for (let i = 0; i < SUBSCRIPTIONS; i++) socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: WATCH, variables: { model: 'PROJECT', identifiers: ids } } }));
    await until(async () => (await slowReaderWaits()) > waitsBefore, 'the gateway to hold back the client', 30_000, 100);
    await until(async () => (await liveSubscriptions()) === SUBSCRIPTIONS, 'every subscription to start', 60_000, 100);

    for (let i = 0; i < SUBSCRIPTIONS; i++) socket.send(JSON.stringify({ id: String(i), type: 'complete' }));
    await until(async () => (await liveSubscriptions()) === 0, 'the subscriptions to end', 60_000, 100);
    // Still reading nothing, the client subscribes anew: the places its subscriptions held are free again.
    socket.send(JSON.stringify({ id: 'again', type: 'subscribe', payload: { query: WATCH_SMALL, variables: { model: 'PROJECT', identifiers: [ids[0]] } } }));
    socket.resume();
    await until(() => answers.length > 0, 'an answer to the new subscription', 60_000, 50);
    expect(answers[0]).toMatchObject({ type: 'next', payload: { data: { checksumStateChanged: { record: { recordIdentifier: ids[0] }, previousState: null } } } });
  } finally {
    socket.terminate();
  }
}, TEST_TIMEOUT_MS);
