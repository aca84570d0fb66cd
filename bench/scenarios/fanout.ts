// Scenario 3: live fan-out. N graphql-ws subscribers (in a load process of their own) watch the same 100 records while
// a bulk recalculation runs on a stand-in with fast verification: upstream list calls per poll cycle, delivery latency
// from the poll cycle that saw a change (the event's observedAt) to each subscriber, and gateway RSS per subscriber.
// Each level runs twice: subscribers of checksumStateChanged (a message per record change) and of its batches (a
// message per observation). After each run, its floor: the same observations replayed without GraphQL (runFloor).
import { SubscriberProcess } from '../lib/subscriber-process.js';
import { figure, type Figure, type RunOptions, type ScenarioResult } from '../lib/figures.js';
import { connectInspector, heapUsedAfterGc, inspectorUrlOf, type Inspector } from '../lib/inspector.js';
import { median, round, sleep } from '../lib/load.js';
import { ADMIN_TOKEN, metricValue, procCpuSeconds, startFloor, startGatewayProcess, startStandalone, type GatewayProcess, type StandaloneStandIn } from '../lib/processes.js';
import type { ReplayedObservation } from '../lib/bare-broadcaster.js';
import type { Delivery, ParentMessage, ReadyMessage, ReportMessage } from '../lib/subscribers.js';
import type { LoggedRequest } from '../../test/support/standalone.js';

export const FANOUT_TARGETS = { listCallsPerCycle: 1, p99Ms: 100, bytesPerSubscriber: 10 * 1024, p99OverFloor: 1.3 } as const;

/** Where delivery p99 is held to the floor's: batches at 10,000 subscribers, a message per change at 1,000. */
const FLOOR_RATIO_JUDGED: Record<Delivery, number> = { batch: 10_000, each: 1_000 };

/** Delivery p99 over the floor's for the same observations: what the gateway adds to what the machine allows. */
function floorRatioFigure(tag: string, l: Level): Figure {
  const ratio = l.floor && l.floor.latency.p99Ms > 0 && !Number.isNaN(l.latency.p99Ms) ? l.latency.p99Ms / l.floor.latency.p99Ms : null;
  const judged = FLOOR_RATIO_JUDGED[l.delivery] === l.subscribers;
  return figure('fanout', `${tag}: delivery p99 / floor p99`, ratio === null ? null : round(ratio, 2), 'x', judged ? `<= ${FANOUT_TARGETS.p99OverFloor}` : '', judged && ratio !== null ? ratio <= FANOUT_TARGETS.p99OverFloor && l.drained : null);
}
const RECORDS = 100;
const FAST_POLL_MS = 250;
/** RSS per subscriber is judged only where the subscribers' share dwarfs the noise of a process's RSS. */
const RSS_JUDGED_FROM = 1000;
const WARM_UP_SUBSCRIBERS = 200;

interface Level {
  subscribers: number;
  delivery: Delivery;
  sockets: number;
  subscribeMs: number;
  complete: number;
  subscribeTimedOut: boolean;
  /** Upstream list calls while the subscribers subscribed (each new subscriber reads the current state). */
  subscribeListCalls: number;
  rssBaselineBytes: number;
  rssSubscribedBytes: number;
  /** RSS with the subscribers before the forced GC: what the burst of subscribing left behind, garbage included. */
  rssBeforeGcBytes: number;
  rssPeakBytes: number;
  bytesPerSubscriber: number;
  /** JS heap in use after a forced full GC, before and with the subscribers: what they really keep. */
  heapBaselineBytes: number;
  heapSubscribedBytes: number;
  heapBytesPerSubscriber: number;
  /** Subscriptions and sockets the gateway counts right after the heap reading, and at the end of the window. */
  liveAtMeasure: { subscriptions: number; sockets: number };
  liveAtEnd: { subscriptions: number; sockets: number };
  /** Longest event-loop stall of the gateway during the window (prom-client's monitorEventLoopDelay). */
  eventLoopLagMaxMs: number;
  cycles: number;
  /** Poll calls (all 100 watched identifiers) during the window; other list calls (token re-checks) apart. */
  listCalls: number;
  otherListCalls: number;
  listCallsPerCycle: number | null;
  changes: number;
  /** `next` messages the changes came in. */
  messages: number;
  settledSubscribers: number;
  latency: ReportMessage['latency'];
  windowMs: number;
  drained: boolean;
  loadProcessRssBytes: number;
  /** CPU of the gateway in the window per change event delivered, in microseconds (polls and the mutation included). */
  gatewayCpuUsPerEvent: number | null;
  /** CPU of the subscriber process per change event it received, in microseconds. */
  loadProcessCpuUsPerEvent: number | null;
  errors: string[];
  /** The same observations replayed to as many subscribers by a server that does no GraphQL (null: not run). */
  floor: Floor | null;
  /** What the first subscriber was sent in the window, for the floor's replay. */
  observations: ReplayedObservation[];
}

interface Floor {
  latency: ReportMessage['latency'];
  changes: number;
  drained: boolean;
  loadProcessCpuUsPerEvent: number | null;
  /** The broadcaster's CPU over its replay, per change event delivered. */
  cpuUsPerEvent: number | null;
}


const isListCall = (r: LoggedRequest) => r.method === 'GET' && /\/projects$/.test(r.path) && (r.params['identifiers[]']?.length ?? 0) > 0;
const isPollCall = (r: LoggedRequest) => isListCall(r) && r.params['identifiers[]'].length === RECORDS;

async function liveCounts(origin: string): Promise<{ subscriptions: number; sockets: number; text: string }> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  return { subscriptions: metricValue(text, 'gateway_live_subscriptions'), sockets: metricValue(text, 'gateway_websocket_connections'), text };
}

const cyclesIn = (metrics: string) => metricValue(metrics, 'gateway_live_poll_cycles_total', { model: 'PROJECT' });

/**
 * Poll cycles counted so far and the stand-in's last request, read when no poll is in flight: just after a cycle ends,
 * or when none ends within a second (the watcher is then on its slow interval). A poll caught in flight would count as
 * a call without its cycle.
 */
async function betweenPolls(origin: string, standIn: StandaloneStandIn): Promise<{ cycles: number; lastSeq: number }> {
  const scrape = async () => cyclesIn(await (await fetch(`${origin}/metrics`)).text());
  const first = await scrape();
  const deadline = Date.now() + 1_000;
  let cycles = first;
  while (cycles === first && Date.now() < deadline) {
    await sleep(5);
    cycles = await scrape();
  }
  return { cycles, lastSeq: (await standIn.requests(Number.MAX_SAFE_INTEGER)).lastSeq };
}

/** Until the stand-in holds none of the records pending or started (they were all verified again), or the deadline. */
async function untilVerified(standIn: StandaloneStandIn, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const unsettled = async (state: string) => {
    const res = await fetch(`${standIn.api}/projects?checksum_state=${state}&per_page=1`, { headers: { 'private-token': ADMIN_TOKEN } });
    await res.arrayBuffer();
    return Number(res.headers.get('x-total') ?? 0);
  };
  while (Date.now() < deadline && (await unsettled('pending')) + (await unsettled('started')) > 0) await sleep(100);
}

/** Until each process spent under 5% of a core over the last half second (its work done), or the deadline. */
async function untilIdle(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const cpu = () => Promise.all(pids.map(async (pid) => (await procCpuSeconds(pid)) ?? 0));
  let last = await cpu();
  while (Date.now() < deadline) {
    await sleep(500);
    const now = await cpu();
    if (now.every((seconds, i) => seconds - last[i] < 0.025)) return;
    last = now;
  }
}

async function rssSamples(gateway: GatewayProcess, count: number, everyMs: number): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    values.push((await gateway.rssBytes()) ?? NaN);
    if (i < count - 1) await sleep(everyMs);
  }
  return median(values);
}

async function runLevel(n: number, delivery: Delivery, quick: boolean, log: (line: string) => void): Promise<Level> {
  const sockets = Math.min(n, 20);
  const perSocket = Math.ceil(n / sockets);
  const standIn = await startStandalone(['--records', '200', '--fail-rate', '0', '--verify-interval-ms', '250', '--verify-batch-size', '25', '--verify-duration-ms', '100']);
  let gateway: GatewayProcess | null = null;
  let inspector: Inspector | null = null;
  const load = new SubscriberProcess();
  try {
    gateway = await startGatewayProcess({
      gitlabUrl: standIn.url,
      // The inspector only serves forced GCs before the heap readings; nothing is attached while measuring latency.
      nodeArgs: ['--inspect=127.0.0.1:0'],
      env: { LIVE_FAST_POLL_MS: String(FAST_POLL_MS), LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(Math.max(100, perSocket)) },
    });
    const gw = gateway;
    const first = await fetch(`${standIn.api}/projects?per_page=${RECORDS}`, { headers: { 'private-token': ADMIN_TOKEN } });
    const ids = ((await first.json()) as Array<{ record_identifier: number }>).map((r) => String(r.record_identifier));
    const graphql = async (query: string) => {
      const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ query }) });
      const body = (await res.json()) as { data?: unknown; errors?: unknown[] };
      if (res.status !== 200 || body.errors) throw new Error(`gateway: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
      return body.data;
    };
    // Warm up (dialect learnt, code compiled) and let the seeded pending records settle (verification every 250 ms).
    for (let i = 0; i < 20; i++) await graphql(`{ modelRecord(model: PROJECT, recordIdentifier: "${ids[i]}") { id checksumInformation { checksumState } } }`);
    const start = (subscribers: number, sockets: number, timeoutMs: number): ParentMessage => ({ type: 'start', url: gw.url.replace(/^http/, 'ws'), token: ADMIN_TOKEN, identifiers: ids, delivery, subscribers, sockets, timeoutMs });
    // A round of subscribers that come and go before the baselines: what the first subscriptions cost once (compiled
    // code, grown heap spaces and pools) is the gateway's, not the measured subscribers'.
    const warmUp = new SubscriberProcess();
    try {
      await warmUp.ask<ReadyMessage>(start(WARM_UP_SUBSCRIBERS, 4, 30_000), 60_000);
    } finally {
      await warmUp.stop();
    }
    const deadline = Date.now() + 10_000;
    while ((await liveCounts(gw.origin)).subscriptions > 0 && Date.now() < deadline) await sleep(100);
    await sleep(1_500);
    inspector = await connectInspector(inspectorUrlOf(gw.output().stderr));
    const heapBaseline = await heapUsedAfterGc(inspector);
    const rssBaseline = await rssSamples(gw, 5, 100);

    const beforeSubscribe = (await standIn.requests(Number.MAX_SAFE_INTEGER)).lastSeq;
    const subscribeTimeoutMs = quick ? 60_000 : Math.max(60_000, n * 20);
    const ready = await load.ask<ReadyMessage>(start(n, sockets, subscribeTimeoutMs), subscribeTimeoutMs + 30_000);
    await sleep(1_000);
    const rssBeforeGc = await rssSamples(gw, 5, 200);
    const subscribeListCalls = (await standIn.requests(beforeSubscribe)).requests.filter(isListCall).length;
    log(`  ${n} subscribers (${DELIVERY_NAMES[delivery]}) on ${sockets} sockets: ${ready.complete} got the state of all ${RECORDS} records in ${ready.ms} ms (upstream list calls meanwhile: ${subscribeListCalls})${ready.timedOut ? ' (TIMED OUT)' : ''}${ready.errors.length ? `; errors: ${ready.errors.slice(0, 3).join(' | ')}` : ''}`);
    const heapSubscribed = await heapUsedAfterGc(inspector);
    // Read like the baseline, after a forced GC: otherwise the garbage of the subscribe burst counts as subscribers' memory.
    const rssSubscribed = await rssSamples(gw, 5, 200);
    inspector.close();
    inspector = null;
    const atMeasure = await liveCounts(gw.origin);
    if (atMeasure.subscriptions < n) log(`  only ${atMeasure.subscriptions} of ${n} subscriptions (${atMeasure.sockets} sockets) were alive at the memory reading`);

    // One untimed recalculation before the window: the readings' memory-reducing GC shrank the gateway's young
    // generation and lowered its heap limits, so the first observations after it pay for collections (a major one
    // among them: a fifth of the gateway's CPU in the window, in a perf profile of it) that a gateway running for a
    // while does not, nor the floor, a process nobody measured. The load process counts nothing before `measure`.
    const recalculateAll = `mutation { recalculateAllChecksums(model: PROJECT, identifiers: [${ids.map((id) => `"${id}"`).join(',')}]) { status errors } }`;
    await graphql(recalculateAll);
    await untilVerified(standIn, 30_000);
    // The gateway's polls see the last changes and deliver them, and the load process reads them: both go quiet.
    await sleep(2 * FAST_POLL_MS);
    await untilIdle([gw.pid, load.pid], 60_000);

    // The measured window: a bulk recalculation of the 100 records through the gateway, until deliveries stop.
    // Its scrapes also reset the event-loop delay histogram, so the next one tells the window's longest stall.
    const before = await betweenPolls(gw.origin, standIn);
    load.send({ type: 'measure' });
    const gatewayCpuBefore = (await procCpuSeconds(gw.pid)) ?? NaN;
    const began = Date.now();
    await graphql(recalculateAll);
    let rssPeak = 0;
    const { report, drained } = await untilDelivered(load, n, began, quick, async () => void (rssPeak = Math.max(rssPeak, (await gw.rssBytes()) ?? 0)));
    const windowMs = Date.now() - began;
    const gatewayCpuSeconds = ((await procCpuSeconds(gw.pid)) ?? NaN) - gatewayCpuBefore;
    // This scrape comes first: the next ones reset the event-loop delay histogram again.
    const atEnd = await liveCounts(gw.origin);
    const metricsAfter = atEnd.text;
    const after = await betweenPolls(gw.origin, standIn);
    const cycles = after.cycles - before.cycles;
    const upstream = (await standIn.requests(before.lastSeq)).requests.filter((r) => r.seq <= after.lastSeq);
    const listCalls = upstream.filter(isPollCall).length;
    const otherListCalls = upstream.filter(isListCall).length - listCalls;
    const level: Level = {
      subscribers: n,
      delivery,
      sockets,
      subscribeMs: ready.ms,
      complete: ready.complete,
      subscribeTimedOut: ready.timedOut,
      subscribeListCalls,
      rssBaselineBytes: rssBaseline,
      rssSubscribedBytes: rssSubscribed,
      rssBeforeGcBytes: rssBeforeGc,
      rssPeakBytes: rssPeak,
      bytesPerSubscriber: (rssSubscribed - rssBaseline) / n,
      heapBaselineBytes: heapBaseline,
      heapSubscribedBytes: heapSubscribed,
      heapBytesPerSubscriber: (heapSubscribed - heapBaseline) / n,
      liveAtMeasure: { subscriptions: atMeasure.subscriptions, sockets: atMeasure.sockets },
      liveAtEnd: { subscriptions: atEnd.subscriptions, sockets: atEnd.sockets },
      eventLoopLagMaxMs: Math.round(metricValue(metricsAfter, 'gateway_nodejs_eventloop_lag_max_seconds') * 1000),
      cycles,
      listCalls,
      otherListCalls,
      listCallsPerCycle: cycles > 0 ? listCalls / cycles : null,
      changes: report.changes,
      messages: report.messages,
      settledSubscribers: report.settledSubscribers,
      latency: report.latency,
      windowMs,
      drained,
      loadProcessRssBytes: report.rssBytes,
      gatewayCpuUsPerEvent: report.changes > 0 ? (gatewayCpuSeconds * 1e6) / report.changes : null,
      loadProcessCpuUsPerEvent: report.changes > 0 ? (report.cpuMs * 1000) / report.changes : null,
      errors: [...ready.errors, ...report.errors].slice(0, 10),
      floor: null,
      observations: report.observations,
    };
    log(
      `  ${n}: ${cycles} poll cycles, ${listCalls} poll list calls (+${otherListCalls} other list calls); longest event-loop stall ${level.eventLoopLagMaxMs} ms; ` +
        `alive at the end: ${atEnd.subscriptions} subscriptions on ${atEnd.sockets} sockets; ${level.changes} change events in ${level.messages} messages (${(level.changes / n / RECORDS).toFixed(2)} per record and subscriber), ` +
        `${level.settledSubscribers}/${n} saw every record settle; latency p50 ${level.latency.p50Ms} ms p99 ${level.latency.p99Ms} ms max ${level.latency.maxMs} ms; ` +
        `RSS ${(rssBaseline / 2 ** 20).toFixed(1)} -> ${(rssSubscribed / 2 ** 20).toFixed(1)} MB (peak ${(rssPeak / 2 ** 20).toFixed(1)} MB), ` +
        `heap after GC ${(heapBaseline / 2 ** 20).toFixed(1)} -> ${(heapSubscribed / 2 ** 20).toFixed(1)} MB; window ${windowMs} ms${drained ? '' : ' (HARD LIMIT REACHED)'}`,
    );
    return level;
  } finally {
    inspector?.close();
    await load.stop();
    await gateway?.stop(5_000);
    await standIn.stop();
  }
}

/** Asks the subscriber process for reports until every subscriber saw every record settle and deliveries stopped. */
async function untilDelivered(load: SubscriberProcess, n: number, began: number, quick: boolean, onTick: () => Promise<void> = async () => {}): Promise<{ report: ReportMessage; drained: boolean }> {
  const minWindowMs = quick ? 3_000 : 5_000;
  const hardLimitMs = quick ? 30_000 : Math.max(60_000, n * 15);
  const quietMs = 1_500;
  for (;;) {
    await sleep(250);
    await onTick();
    const report = await load.ask<ReportMessage>({ type: 'report' }, 60_000);
    const now = Date.now();
    const settled = report.settledSubscribers === n;
    const quiet = report.lastChangeAt > 0 && now - report.lastChangeAt >= quietMs;
    if (now - began >= minWindowMs && settled && quiet) return { report, drained: true };
    if (now - began >= hardLimitMs) return { report, drained: false };
  }
}

/**
 * The floor of a level: the observations its first subscriber was sent, replayed with the same spacing by a
 * WebSocket server that does no GraphQL (bench/lib/bare-broadcaster.ts) to as many subscribers in the same load
 * process. What remains of the latency is the machine's: loopback, framing and the subscribers' own reading.
 */
async function runFloor(level: Level, quick: boolean, log: (line: string) => void): Promise<Floor> {
  const { subscribers: n, delivery, sockets, observations } = level;
  const broadcaster = await startFloor('bare-broadcaster.ts');
  const load = new SubscriberProcess();
  try {
    const identifiers = [...new Set(observations.flatMap((o) => o.changes.map((c) => c.recordIdentifier)))];
    const timeoutMs = Math.max(60_000, n * 20);
    const url = `${broadcaster.origin.replace(/^http/, 'ws')}/graphql`;
    const ready = await load.ask<ReadyMessage>({ type: 'start', url, token: ADMIN_TOKEN, identifiers, delivery, subscribers: n, sockets, timeoutMs }, timeoutMs + 30_000);
    if (ready.timedOut) throw new Error(`the floor's subscribers did not all start: ${ready.errors.slice(0, 3).join(' | ')}`);
    await sleep(1_000);
    load.send({ type: 'measure' });
    const began = Date.now();
    const cpuBefore = (await procCpuSeconds(broadcaster.pid)) ?? NaN;
    const res = await fetch(`${broadcaster.origin}/replay`, { method: 'POST', body: JSON.stringify(observations) });
    if (res.status !== 202) throw new Error(`the broadcaster answered ${res.status}`);
    const { report, drained } = await untilDelivered(load, n, began, quick);
    const cpuSeconds = ((await procCpuSeconds(broadcaster.pid)) ?? NaN) - cpuBefore;
    const floor: Floor = {
      latency: report.latency,
      changes: report.changes,
      drained,
      loadProcessCpuUsPerEvent: report.changes > 0 ? (report.cpuMs * 1000) / report.changes : null,
      cpuUsPerEvent: report.changes > 0 && Number.isFinite(cpuSeconds) ? (cpuSeconds * 1e6) / report.changes : null,
    };
    log(`  ${n} (${DELIVERY_NAMES[delivery]}) floor: ${observations.length} observations replayed without GraphQL; ${report.changes} change events; latency p50 ${floor.latency.p50Ms} ms p99 ${floor.latency.p99Ms} ms max ${floor.latency.maxMs} ms${drained ? '' : ' (HARD LIMIT REACHED)'}`);
    return floor;
  } finally {
    await load.stop();
    await broadcaster.stop(5_000);
  }
}

const DELIVERY_NAMES: Record<Delivery, string> = { each: 'per record', batch: 'batches' };
const tagOf = (n: number, delivery: Delivery) => `${n.toLocaleString('en')} subs, ${DELIVERY_NAMES[delivery]}`;

export async function runFanout(options: RunOptions): Promise<ScenarioResult> {
  const S = 'fanout';
  const counts = options.subscribers ?? (options.quick ? [1, 100, 1000] : [1, 100, 1000, 10_000]);
  const deliveries = options.deliveries ?? ['each', 'batch'];
  const levels: Level[] = [];
  const figures: Figure[] = [];
  const failed: Array<{ subscribers: number; delivery: Delivery; error: string }> = [];
  for (const n of counts) {
    for (const delivery of deliveries) {
      try {
        const level = await runLevel(n, delivery, options.quick, options.log);
        levels.push(level);
        if (level.drained && level.observations.length > 0) {
          // The floor is context for the level's figures: its failure is logged, and the level stands.
          level.floor = await runFloor(level, options.quick, options.log).catch((error: unknown) => {
            options.log(`  ${tagOf(n, delivery)} floor failed: ${error instanceof Error ? error.message : String(error)}`);
            return null;
          });
        }
      } catch (error) {
        // A level too heavy for the machine is reported, and the others still run.
        const message = String(error instanceof Error ? error.message : error);
        failed.push({ subscribers: n, delivery, error: message });
        options.log(`  ${tagOf(n, delivery)} failed: ${message}`);
        figures.push(figure(S, `${tagOf(n, delivery)}: run`, null, '', 'completes', false, message.slice(0, 80)));
      }
    }
  }
  const perCycle = levels.map((l) => l.listCallsPerCycle).filter((v): v is number => v !== null);
  const constant = perCycle.length > 1 && perCycle.every((v) => v === perCycle[0]);
  for (const l of levels) {
    const tag = tagOf(l.subscribers, l.delivery);
    const lost = l.liveAtEnd.subscriptions < l.subscribers ? `; only ${l.liveAtEnd.subscriptions} subscriptions alive at the end` : '';
    const incomplete = !l.drained || l.subscribeTimedOut ? `incomplete: ${l.complete}/${l.subscribers} subscribed, ${l.settledSubscribers}/${l.subscribers} saw all settle${lost}` : '';
    const partialMemory = l.liveAtMeasure.subscriptions < l.subscribers ? ` (only ${l.liveAtMeasure.subscriptions} alive)` : '';
    figures.push(
      figure(S, `${tag}: upstream poll calls per poll cycle`, l.listCallsPerCycle === null ? null : round(l.listCallsPerCycle, 2), 'calls', `== ${FANOUT_TARGETS.listCallsPerCycle}`, l.listCallsPerCycle === FANOUT_TARGETS.listCallsPerCycle, `${l.listCalls} calls / ${l.cycles} cycles${l.otherListCalls ? `, +${l.otherListCalls} token re-checks` : ''}`),
      figure(S, `${tag}: upstream list calls to subscribe`, l.subscribeListCalls, 'calls', '', null, `${l.subscribers} subscribers arriving together`),
      figure(S, `${tag}: delivery latency p50`, l.latency.p50Ms, 'ms', '', null, `${l.changes.toLocaleString('en')} change events in ${l.messages.toLocaleString('en')} messages`),
      figure(S, `${tag}: delivery latency p99`, l.latency.p99Ms, 'ms', `<= ${FANOUT_TARGETS.p99Ms}`, Number.isNaN(l.latency.p99Ms) ? null : l.latency.p99Ms <= FANOUT_TARGETS.p99Ms && l.drained, incomplete || `max ${l.latency.maxMs} ms`),
      figure(
        S,
        `${tag}: floor p99, same observations without GraphQL`,
        l.floor ? l.floor.latency.p99Ms : null,
        'ms',
        '',
        null,
        l.floor ? `bare WebSocket broadcaster, same load process; p50 ${l.floor.latency.p50Ms} ms${l.floor.drained ? '' : ', incomplete'}` : 'not run',
      ),
      floorRatioFigure(tag, l),
      figure(S, `${tag}: longest event-loop stall in the window`, l.eventLoopLagMaxMs, 'ms'),
      figure(S, `${tag}: gateway CPU per change event delivered`, l.gatewayCpuUsPerEvent === null ? null : round(l.gatewayCpuUsPerEvent, 1), 'us', '', null, 'the whole window: polls, the mutation, delivery'),
      figure(
        S,
        `${tag}: CPU per change event, gateway / floor`,
        l.gatewayCpuUsPerEvent !== null && l.floor?.cpuUsPerEvent ? round(l.gatewayCpuUsPerEvent / l.floor.cpuUsPerEvent, 2) : null,
        'x',
        '',
        null,
        l.floor?.cpuUsPerEvent ? `floor ${round(l.floor.cpuUsPerEvent, 2)} us; the steadier figure: it does not move with the machine's load as p99 does` : 'no floor',
      ),
      figure(S, `${tag}: subscriber process CPU per change event`, l.loadProcessCpuUsPerEvent === null ? null : round(l.loadProcessCpuUsPerEvent, 1), 'us', '', null, 'the load generator shares the 2 cores'),
      figure(
        S,
        `${tag}: gateway RSS per subscriber`,
        round(l.bytesPerSubscriber / 1024, 2),
        'KB',
        l.subscribers >= RSS_JUDGED_FROM ? `<= ${FANOUT_TARGETS.bytesPerSubscriber / 1024}` : '',
        l.subscribers >= RSS_JUDGED_FROM ? l.bytesPerSubscriber <= FANOUT_TARGETS.bytesPerSubscriber : null,
        `RSS +${((l.rssSubscribedBytes - l.rssBaselineBytes) / 2 ** 20).toFixed(1)} MB after GC (+${((l.rssBeforeGcBytes - l.rssBaselineBytes) / 2 ** 20).toFixed(1)} MB before)${l.subscribers < RSS_JUDGED_FROM ? ' (too few to judge)' : ''}`,
      ),
      figure(S, `${tag}: gateway heap per subscriber, after GC`, round(l.heapBytesPerSubscriber / 1024, 2), 'KB', '', null, `heap +${((l.heapSubscribedBytes - l.heapBaselineBytes) / 2 ** 20).toFixed(1)} MB${partialMemory}`),
    );
  }
  if (perCycle.length > 1) {
    const spread = Math.max(...perCycle) - Math.min(...perCycle);
    figures.push(figure(S, 'spread of poll calls per cycle across levels', round(spread, 2), 'calls', '== 0 (constant)', constant, perCycle.map((v) => round(v, 2)).join(' / ')));
  }
  return { scenario: S, figures, details: { records: RECORDS, fastPollMs: FAST_POLL_MS, levels, failed } };
}
