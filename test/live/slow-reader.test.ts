// A client that stops reading: its socket is held back once 1 MB is queued for it (counted in /metrics), other clients
// are served meanwhile, and when it reads again it gets everything, in order, exactly once. One that falls further
// behind than its records have states gets their latest states instead, still chained, and the gateway keeps no more.
// One that unsubscribes while held back gets its places on the connection back at once.
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Harness } from '../support/gateway.js';
import { rawSocket, rest, startLive, until, WATCH, WATCH_BATCHES, WATCH_SMALL, wsConnection, type Change, type RestRecord, type WsConnection } from './helpers.js';

const SUBSCRIPTIONS = 600;
const RECALCULATE = /* GraphQL */ `mutation ($id: ID!) { recalculateChecksum(model: PROJECT, recordIdentifier: $id) { errors } }`;

let h: Harness;
let slow: WebSocket | undefined;
let other: WsConnection | undefined;

beforeAll(async () => {
  // No worker and no poll: the only change in the test is the one the mutation makes.
  h = await startLive({ verifyIntervalMs: 0 }, { LIVE_FAST_POLL_MS: '60000', LIVE_SLOW_POLL_MS: '60000', LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(SUBSCRIPTIONS) });
});
afterAll(async () => {
  slow?.terminate();
  await other?.dispose();
  await h?.close();
});

async function metric(name: string): Promise<number> {
  const text = await (await fetch(new URL('/metrics', h.gateway.url))).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}
const slowReaderWaits = () => metric('gateway_websocket_slow_reader_waits_total');

let ids: string[] = [];
const received: Change[][] = Array.from({ length: SUBSCRIPTIONS }, () => []);

it('holds back a client that does not read, serves the others meanwhile, and loses nothing', async () => {
  const { body } = await rest(h, 'GET', 'projects?per_page=100');
  ids = (body as RestRecord[]).map((r) => String(r.record_identifier));
  const protocolErrors: string[] = [];

  slow = await rawSocket(h, (text) => {
    const message = JSON.parse(text) as { id?: string; type: string; payload?: { data?: { checksumStateChanged: Change }; errors?: unknown } };
    if (message.type === 'next' && message.payload?.data) received[Number(message.id)].push(message.payload.data.checksumStateChanged);
    else protocolErrors.push(JSON.stringify(message).slice(0, 200));
  });
  const socket = slow;
  // From here the client reads nothing: 600 subscriptions of 100 records owe it about 27 MB of first states.
  socket.pause();
  for (let i = 0; i < SUBSCRIPTIONS; i++) socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: WATCH, variables: { model: 'PROJECT', identifiers: ids } } }));
  await until(async () => (await slowReaderWaits()) > 0, 'the gateway to hold back the client that does not read', 30_000, 100);

  // Another client is served while the first one still reads nothing.
  other = wsConnection(h);
  const watcher = other.subscribe({ model: 'PROJECT', identifiers: [ids[0]] }, WATCH_SMALL);
  await watcher.initial([ids[0]], 10_000);
  expect((await h.request(RECALCULATE, { id: ids[0] })).errors).toBeUndefined();
  await watcher.until(ids[0], (c) => c.previousState !== null, 'the recalculated state', 10_000);
  expect(received.every((events) => events.length < 101)).toBe(true);

  // Reading again, the slow client gets, for every subscription: the 100 first states, then the one change.
  socket.resume();
  await until(() => received.every((events) => events.length >= 101), 'every subscription of the slow client to catch up', 60_000, 50);
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(protocolErrors).toEqual([]);
  for (const events of received) {
    expect(events).toHaveLength(101);
    const first = events.slice(0, 100);
    expect(first.every((e) => e.previousState === null)).toBe(true);
    expect(new Set(first.map((e) => e.record.recordIdentifier))).toEqual(new Set(ids));
    expect(events[100]).toMatchObject({ record: { recordIdentifier: ids[0] } });
    expect(events[100].previousState).not.toBeNull();
  }
});

it('merges what a client that falls far behind is owed into the latest state of each record, still chained', async () => {
  const CHANGES = 300;
  const from = received.map((events) => events.length);
  const coalescedBefore = await metric('gateway_live_coalesced_events_total');
  slow!.pause();
  // Each recalculation is a new state of the record (a new last checksum), published to all 600 subscriptions at once.
  for (let i = 0; i < CHANGES; i++) expect((await h.request(RECALCULATE, { id: ids[1] })).errors).toBeUndefined();
  const coalesced = (await metric('gateway_live_coalesced_events_total')) - coalescedBefore;
  expect(coalesced).toBeGreaterThan(0);
  const last = (await rest(h, 'GET', `projects/${ids[1]}`)).body as RestRecord;

  slow!.resume();
  const isLast = (e: Change) => e.record.checksumInformation?.lastChecksum === last.checksum_information.last_checksum;
  await until(() => received.every((events) => events.slice(-1)[0] && isLast(events.slice(-1)[0])), 'every subscription to get the latest state', 60_000, 50);
  await new Promise((resolve) => setTimeout(resolve, 200));
  let delivered = 0;
  for (const [i, events] of received.entries()) {
    const after = events.slice(from[i]);
    delivered += after.length;
    // Only the recalculated record; each event chained to the one before it; the last one is the latest state.
    expect(after.every((e) => e.record.recordIdentifier === ids[1])).toBe(true);
    const chain = [events.slice(0, from[i]).filter((e) => e.record.recordIdentifier === ids[1]).slice(-1)[0], ...after];
    for (let k = 1; k < chain.length; k++) expect(chain[k].previousState).toBe(chain[k - 1].state);
    expect(isLast(after[after.length - 1])).toBe(true);
  }
  // What was merged was not sent.
  expect(delivered).toBe(SUBSCRIPTIONS * CHANGES - coalesced);
});

it('merges the batches a slow client is owed into one, with the latest state of each record', async () => {
  const BATCH_SUBSCRIPTIONS = 200;
  const CHANGES = 200;
  const batches: Change[][][] = Array.from({ length: BATCH_SUBSCRIPTIONS }, () => []);
  const socket = await rawSocket(h, (text) => {
    const message = JSON.parse(text) as { id?: string; type: string; payload?: { data?: { checksumStateChangeBatches: { changes: Change[] } } } };
    if (message.type === 'next' && message.payload?.data) batches[Number(message.id)].push(message.payload.data.checksumStateChangeBatches.changes);
  });
  try {
    for (let i = 0; i < BATCH_SUBSCRIPTIONS; i++) socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: WATCH_BATCHES, variables: { model: 'PROJECT', identifiers: ids } } }));
    await until(() => batches.every((b) => b.length === 1), 'the first batch of every subscription', 30_000, 50);
    const coalescedBefore = await metric('gateway_live_coalesced_events_total');
    const waitsBefore = await slowReaderWaits();
    socket.pause();
    for (let i = 0; i < CHANGES; i++) expect((await h.request(RECALCULATE, { id: ids[2] })).errors).toBeUndefined();
    expect(await slowReaderWaits()).toBeGreaterThan(waitsBefore);
    const coalesced = (await metric('gateway_live_coalesced_events_total')) - coalescedBefore;
    expect(coalesced).toBeGreaterThan(0);
    const last = (await rest(h, 'GET', `projects/${ids[2]}`)).body as RestRecord;

    socket.resume();
    const isLast = (b: Change[] | undefined) => b?.length === 1 && b[0].record.checksumInformation?.lastChecksum === last.checksum_information.last_checksum;
    await until(() => batches.every((b) => isLast(b[b.length - 1])), 'every subscription to get the latest state', 60_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const later = batches.map((b) => b.slice(1));
    // Each later batch holds the recalculated record only; what was merged away was never sent.
    expect(later.every((list) => list.every((b) => b.length === 1 && b[0].record.recordIdentifier === ids[2]))).toBe(true);
    expect(later.reduce((n, list) => n + list.length, 0)).toBe(BATCH_SUBSCRIPTIONS * CHANGES - coalesced);
  } finally {
    socket.terminate();
  }
});

it('gives a held-back client its subscription places back as soon as it unsubscribes, before it reads again', async () => {
  const answers: Array<{ type: string; payload?: unknown }> = [];
  const socket = await rawSocket(h, (text) => {
    if (text.includes('"id":"again"')) answers.push(JSON.parse(text) as { type: string; payload?: unknown });
  });
  try {
    const liveBefore = await metric('gateway_live_subscriptions');
    const waitsBefore = await slowReaderWaits();
    socket.pause();
    // Every place of the connection taken, and so much owed that the subscriptions wait for the client to read.
    for (let i = 0; i < SUBSCRIPTIONS; i++) socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: WATCH, variables: { model: 'PROJECT', identifiers: ids } } }));
    await until(async () => (await slowReaderWaits()) > waitsBefore, 'the gateway to hold back the client', 30_000, 100);
    await until(async () => (await metric('gateway_live_subscriptions')) === liveBefore + SUBSCRIPTIONS, 'every subscription to start', 30_000, 100);

    for (let i = 0; i < SUBSCRIPTIONS; i++) socket.send(JSON.stringify({ id: String(i), type: 'complete' }));
    await until(async () => (await metric('gateway_live_subscriptions')) === liveBefore, 'the subscriptions to end', 30_000, 100);
    // Still reading nothing, the client subscribes anew: the places its subscriptions held are free again.
    socket.send(JSON.stringify({ id: 'again', type: 'subscribe', payload: { query: WATCH_SMALL, variables: { model: 'PROJECT', identifiers: [ids[0]] } } }));
    socket.resume();
    await until(() => answers.length > 0, 'an answer to the new subscription', 60_000, 50);
    expect(answers[0]).toMatchObject({ type: 'next', payload: { data: { checksumStateChanged: { record: { recordIdentifier: ids[0] }, previousState: null } } } });
  } finally {
    socket.terminate();
  }
});
