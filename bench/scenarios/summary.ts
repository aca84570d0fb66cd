// Scenario 5: verification at model scale. First, one verificationSummary of every model of a large GitLab (20 models
// of 1,000,000 records; then the same stand-in speaking the older dialect, 17 models): upstream calls per model against
// the bound counting.ts states, counts against the stand-in's own, and wall time against a floor, the same REST calls
// made by a bare client. Then verificationSummaryChanged on 20 models polled fast, with 1, 100 and 1,000 subscribers:
// upstream calls per poll cycle, which must not depend on how many subscribe, and the gateway's memory.
import { createClient, type Client as WsClient } from 'graphql-ws';
import { Client } from 'undici';
import WebSocket from 'ws';
import { figure, type Figure, type RunOptions, type ScenarioResult } from '../lib/figures.js';
import { connectInspector, heapUsedAfterGc, inspectorUrlOf, type Inspector } from '../lib/inspector.js';
import { median, round, sleep } from '../lib/load.js';
import { ADMIN_TOKEN, metricValue, procCpuSeconds, procRssBytes, startGatewayProcess, startStandalone, type GatewayProcess, type StandaloneStandIn } from '../lib/processes.js';
import type { LoggedRequest } from '../../test/support/standalone.js';
import { CHECKSUM_STATES, MODELS, modelsOf, type ChecksumStateName, type Dialect, type ModelInfo } from '../../src/models.js';

/**
 * Gateway time over the floor's, at most. The floor sends the gateway's very calls one after another and only reads
 * the bytes; the gateway overlaps the calls of different models and states, so where it has a core of its own it
 * finishes at or below the floor. It also parses every page (about the CPU the stand-in spends writing it): on a
 * machine whose cores the two share with other work, that parse adds to GitLab's time instead of hiding behind it.
 * Half again GitLab's own time allows for that, and still fails a gateway that counts models one after another or
 * waits between calls.
 */
export const SUMMARY_TARGETS = { wallTimeRatio: 1.5, callsPerCycleRatio: 1 } as const;

const API_PATH = '/api/v4/admin/data_management/';
const PROBE_PAGE_SIZE = 100;
/** The newer dialect sends X-Total up to this many records: 5 calls count a model that small. */
const HEADER_COUNT_LIMIT = 10_000;
/** The fast and slow poll paces of the live part: the same, so cycles follow each other at a steady pace. */
const POLL_MS = 200;
const SUBSCRIPTIONS_PER_SOCKET = 100;
/** Untimed runs of the query and its floor before the timed ones. */
const WARM_UP_RUNS = 2;
/** How often /metrics is read in the live window: well under POLL_MS, so each finished cycle is seen before the next begins. */
const SCRAPE_EVERY_MS = 20;
/** How often the stand-in's request log is read: it keeps the last 10,000 requests. */
const LOG_READ_EVERY_MS = 300;
/** Whole poll cycles each model must have in the window: on a busy machine the window grows until they are in. */
const CYCLES_PER_MODEL = 5;

const SUMMARY_FIELDS = 'model total totalExact verificationEnabled states { state count exact }';
const QUERY = `query Summaries($models: [ModelName!]) { verificationSummary(models: $models) { ${SUMMARY_FIELDS} } }`;
const SUBSCRIPTION = `subscription SummariesChanged { verificationSummaryChanged { ${SUMMARY_FIELDS} } }`;

interface Summary {
  model: string;
  total: number;
  totalExact: boolean;
  verificationEnabled: boolean;
  states: Array<{ state: string; count: number; exact: boolean }>;
}

interface StandInCounts {
  total: number;
  states: Record<ChecksumStateName, number>;
  verifiable: boolean;
}

/** The bound counting.ts states for one model: 6 x ceil(log2 P) + 6 calls for P pages of 100 records. */
function callBound(total: number, dialect: Dialect): number {
  if (dialect === 'plural' && total <= HEADER_COUNT_LIMIT) return 6;
  return 6 * Math.ceil(Math.log2(Math.max(1, Math.ceil(total / PROBE_PAGE_SIZE)))) + 6;
}

/** The model a logged call is about, by either dialect's path name; null for anything but a model's list. */
function modelOfCall(call: LoggedRequest): ModelInfo | null {
  if (call.method !== 'GET' || !call.path.startsWith(API_PATH)) return null;
  const name = call.path.slice(API_PATH.length);
  return MODELS.find((m) => m.plural === name || m.singular === name) ?? null;
}

async function standInCounts(standIn: StandaloneStandIn): Promise<Record<string, StandInCounts>> {
  return (await fetch(`${standIn.url}/-/stand-in/counts`)).json() as Promise<Record<string, StandInCounts>>;
}

/** Whether a summary says exactly what the stand-in counts. */
function matches(summary: Summary, counts: Record<string, StandInCounts>): boolean {
  const model = MODELS.find((m) => m.enumName === summary.model);
  const expected = model && counts[model.plural];
  if (!expected || !summary.totalExact || summary.total !== expected.total || summary.verificationEnabled !== expected.verifiable) return false;
  return CHECKSUM_STATES.every((state) => {
    const got = summary.states.find((s) => s.state === state.toUpperCase());
    return got !== undefined && got.exact && got.count === expected.states[state];
  });
}

async function lastSeqOf(standIn: StandaloneStandIn): Promise<number> {
  return (await standIn.requests(Number.MAX_SAFE_INTEGER)).lastSeq;
}

/** The stand-in's requests after `after`; throws if its log dropped some of them meanwhile. */
async function requestsAfter(standIn: StandaloneStandIn, after: number): Promise<{ requests: LoggedRequest[]; lastSeq: number }> {
  const answer = await standIn.requests(after);
  const first = answer.requests[0];
  if ((first && first.seq !== after + 1) || (!first && answer.lastSeq !== after)) throw new Error(`the stand-in's request log dropped requests after #${after}: read it more often`);
  return answer;
}

// ---------------------------------------------------------------------------------------------------------------------
// Part one: one verificationSummary of every model.

interface QueryRun {
  wallMs: number;
  /** CPU the stand-in and the gateway spent on it, in seconds. */
  standInCpuS: number;
  gatewayCpuS: number;
  floorMs: number;
  floorStandInCpuS: number;
  callsPerModel: Record<string, number>;
  /** Calls that were not a list of a counted model. */
  otherCalls: number;
  exactModels: number;
}

interface DialectResult {
  dialect: Dialect;
  records: number;
  models: number;
  bound: number;
  runs: QueryRun[];
}

async function summaryQuery(gateway: Client, models: string[] | null): Promise<Summary[]> {
  const res = await gateway.request({
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ query: QUERY, variables: { models } }),
  });
  const body = (await res.body.json()) as { data?: { verificationSummary: Summary[] | null }; errors?: unknown[] };
  if (res.statusCode !== 200 || body.errors || !body.data?.verificationSummary) throw new Error(`gateway answered ${res.statusCode}: ${JSON.stringify(body).slice(0, 300)}`);
  return body.data.verificationSummary;
}

/**
 * The floor: the gateway's calls again, straight to the stand-in from a bare client on one connection, model after
 * model in the order the gateway answered them and each model's calls in the order the gateway sent them, reading
 * every body whole and parsing none.
 */
async function replay(rest: Client, calls: LoggedRequest[], order: string[]): Promise<number> {
  const byModel = new Map<string, LoggedRequest[]>(order.map((name) => [name, []]));
  for (const call of calls) byModel.get(modelOfCall(call)?.enumName ?? '')?.push(call);
  const began = performance.now();
  for (const modelCalls of byModel.values()) {
    for (const call of modelCalls) {
      const headers: Record<string, string> = call.authorization ? { authorization: call.authorization } : { 'private-token': call.privateToken ?? '' };
      const res = await rest.request({ method: 'GET', path: `${call.path}?${call.query}`, headers });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) throw new Error(`floor: ${call.path}?${call.query} answered ${res.statusCode}`);
    }
  }
  return performance.now() - began;
}

async function countEveryModel(standIn: StandaloneStandIn, rest: Client, dialect: Dialect, records: number, repetitions: number, log: (line: string) => void): Promise<DialectResult> {
  await standIn.setSettings({ dialect });
  const counted = modelsOf(dialect).map((m) => m.enumName);
  // A gateway of its own per dialect: it learns the dialect from GitLab's answers as it would in production.
  const gatewayProcess = await startGatewayProcess({ gitlabUrl: standIn.url });
  const gateway = new Client(gatewayProcess.origin, { keepAliveTimeout: 60_000, headersTimeout: 300_000, bodyTimeout: 300_000 });
  try {
    const counts = await standInCounts(standIn);
    // The dialect learnt first: the floor replays answered calls only, not the one GitLab refused in the other dialect.
    await summaryQuery(gateway, ['PROJECT']);
    const runs: QueryRun[] = [];
    // Then untimed runs: the code of both sides compiled (the first runs take up to twice as long).
    for (let r = -WARM_UP_RUNS; r < repetitions; r++) {
      const before = await lastSeqOf(standIn);
      const cpuBefore = (await procCpuSeconds(standIn.pid)) ?? NaN;
      const gatewayCpuBefore = (await procCpuSeconds(gatewayProcess.pid)) ?? NaN;
      const began = performance.now();
      const summaries = await summaryQuery(gateway, null);
      const wallMs = performance.now() - began;
      const standInCpuS = ((await procCpuSeconds(standIn.pid)) ?? NaN) - cpuBefore;
      const gatewayCpuS = ((await procCpuSeconds(gatewayProcess.pid)) ?? NaN) - gatewayCpuBefore;
      const { requests } = await requestsAfter(standIn, before);
      const order = summaries.map((s) => s.model);
      if (order.join() !== counted.join()) throw new Error(`${dialect}: expected summaries of ${counted.join(', ')}, got ${order.join(', ')}`);
      const callsPerModel = Object.fromEntries(order.map((name) => [name, 0]));
      let otherCalls = 0;
      for (const call of requests) {
        const model = modelOfCall(call)?.enumName;
        if (model !== undefined && model in callsPerModel) callsPerModel[model]++;
        else otherCalls++;
      }
      const floorCpuBefore = (await procCpuSeconds(standIn.pid)) ?? NaN;
      const floorMs = await replay(rest, requests, order);
      const floorStandInCpuS = ((await procCpuSeconds(standIn.pid)) ?? NaN) - floorCpuBefore;
      const exactModels = summaries.filter((s) => matches(s, counts)).length;
      if (r < 0) continue;
      runs.push({ wallMs, standInCpuS, gatewayCpuS, floorMs, floorStandInCpuS, callsPerModel, otherCalls, exactModels });
      const calls = Object.values(callsPerModel);
      log(
        `  ${dialect}, ${order.length} models x ${records.toLocaleString('en')} records, run ${r + 1}: ${round(wallMs, 0)} ms (CPU: stand-in ${round(standInCpuS, 2)} s, gateway ${round(gatewayCpuS, 2)} s), ` +
          `${requests.length} calls (${Math.min(...calls)}-${Math.max(...calls)} per model${otherCalls ? `, ${otherCalls} other` : ''}); floor ${round(floorMs, 0)} ms (stand-in CPU ${round(floorStandInCpuS, 2)} s); ` +
          `${exactModels}/${order.length} summaries equal to the stand-in's counts`,
      );
    }
    return { dialect, records, models: counted.length, bound: Math.max(...counted.map((name) => callBound(counts[MODELS.find((m) => m.enumName === name)!.plural].total, dialect))), runs };
  } finally {
    await gateway.close();
    await gatewayProcess.stop();
  }
}

function queryFigures(S: string, d: DialectResult): Figure[] {
  const tag = `${d.dialect}, ${d.models} models x ${d.records.toLocaleString('en')}`;
  const mostCalls = Math.max(...d.runs.flatMap((r) => Object.values(r.callsPerModel)));
  const fewestCalls = Math.min(...d.runs.flatMap((r) => Object.values(r.callsPerModel)));
  const others = d.runs.reduce((sum, r) => sum + r.otherCalls, 0);
  const exact = Math.min(...d.runs.map((r) => r.exactModels));
  const wallMs = median(d.runs.map((r) => r.wallMs));
  const floorMs = median(d.runs.map((r) => r.floorMs));
  const ratio = wallMs / floorMs;
  const pages = Math.ceil(d.records / PROBE_PAGE_SIZE);
  const callsOf = (r: QueryRun) => Object.values(r.callsPerModel).reduce((sum, n) => sum + n, 0);
  const calls = median(d.runs.map(callsOf));
  const cpuPerCallMs = (key: 'gatewayCpuS' | 'standInCpuS') => round(median(d.runs.map((r) => (r[key] * 1000) / callsOf(r))), 2);
  return [
    figure(S, `${tag}: upstream calls per model, most`, mostCalls, 'calls', `<= ${d.bound}`, mostCalls <= d.bound && others === 0, `fewest ${fewestCalls}; bound 6 x ceil(log2 ${pages.toLocaleString('en')} pages) + 6${others ? `; ${others} calls of no counted model` : ''}`),
    figure(S, `${tag}: summaries equal to GitLab's counts`, exact, 'models', `== ${d.models}`, exact === d.models, 'every count exact'),
    figure(S, `${tag}: one verificationSummary of every model`, round(wallMs, 0), 'ms', '', null, `median of ${d.runs.length}; ${calls.toLocaleString('en')} upstream calls`),
    figure(S, `${tag}: floor, the same calls by a bare REST client`, round(floorMs, 0), 'ms', '', null, 'one after another, model by model'),
    figure(S, `${tag}: gateway time / floor`, round(ratio, 3), 'x', `<= ${SUMMARY_TARGETS.wallTimeRatio}`, ratio <= SUMMARY_TARGETS.wallTimeRatio, `CPU per call: gateway ${cpuPerCallMs('gatewayCpuS')} ms, stand-in ${cpuPerCallMs('standInCpuS')} ms`),
  ];
}

// ---------------------------------------------------------------------------------------------------------------------
// Part two: verificationSummaryChanged, with 1, 100 and 1,000 subscribers.

interface LiveLevel {
  subscribers: number;
  sockets: number;
  subscribeMs: number;
  /** Subscribers that received a summary of every model, each equal to the stand-in's counts. */
  complete: number;
  errors: string[];
  windowMs: number;
  /** Per model: calls over the cycles that finished in the window, and how many cycles. */
  perModel: Record<string, { calls: number; cycles: number; fewestPerCycle: number | null; mostPerCycle: number | null }>;
  /** Calls in the window of no counted model. */
  otherCalls: number;
  failedComputations: number;
  /** All models' calls per cycle: the sum of each model's calls over its cycles. */
  callsPerCycle: number | null;
  rssBaselineBytes: number;
  rssBytes: number;
  /** JS heap in use after a forced full GC, before subscribing and after the window: what the subscribers keep. */
  heapBaselineBytes: number;
  heapBytes: number;
  summarySubscriptions: number;
}

/** One read of /metrics: when it was answered, and each model's finished computations by then. */
interface Scrape {
  at: number;
  computations: Map<string, number>;
  failed: number;
}

async function scrape(gateway: GatewayProcess, models: string[]): Promise<Scrape> {
  const text = await (await fetch(`${gateway.origin}/metrics`)).text();
  // Taken once the answer is in: every computation it counts had made all of its calls by then.
  const at = Date.now();
  return {
    at,
    computations: new Map(models.map((model) => [model, metricValue(text, 'gateway_summary_computations_total', { model, outcome: 'success' })])),
    failed: metricValue(text, 'gateway_summary_computations_total', { outcome: 'error' }),
  };
}

/**
 * A model's calls per poll cycle, cycle by cycle. A cycle's calls are those the stand-in received between the first
 * scrape that saw the previous computation finished and the first that saw this one finished: the next computation
 * starts POLL_MS after one finishes, and scrapes come every SCRAPE_EVERY_MS, so no call falls on the wrong side.
 */
function cyclesOf(model: string, scrapes: Scrape[], calls: Array<{ at: number; model: string }>): { calls: number; cycles: number; perCycle: number[] } {
  const boundaries: Array<{ at: number; done: number }> = [];
  for (let i = 1; i < scrapes.length; i++) {
    const done = scrapes[i].computations.get(model)!;
    if (done > scrapes[i - 1].computations.get(model)!) boundaries.push({ at: scrapes[i].at, done });
  }
  const own = calls.filter((c) => c.model === model);
  const perCycle: number[] = [];
  let total = 0;
  for (let b = 1; b < boundaries.length; b++) {
    const n = own.filter((c) => c.at > boundaries[b - 1].at && c.at <= boundaries[b].at).length;
    total += n;
    // Two cycles between two scrapes (never expected) count in the total, not as one cycle's calls.
    if (boundaries[b].done - boundaries[b - 1].done === 1) perCycle.push(n);
  }
  const cycles = boundaries.length > 1 ? boundaries.at(-1)!.done - boundaries[0].done : 0;
  return { calls: total, cycles, perCycle };
}

async function rssMedian(gateway: GatewayProcess): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < 5; i++) {
    values.push((await gateway.rssBytes()) ?? NaN);
    await sleep(100);
  }
  return median(values);
}

/** n subscribers of every model, SUBSCRIPTIONS_PER_SOCKET to a socket; resolves once each has every model's first summary. */
async function subscribe(gateway: GatewayProcess, n: number, models: string[], counts: Record<string, StandInCounts>, timeoutMs: number) {
  const errors: string[] = [];
  let closing = false;
  // What ends a subscription once the benchmark unsubscribes is not an error.
  const note = (message: string) => void (!closing && errors.length < 10 && errors.push(message));
  const clients: WsClient[] = [];
  const unsubscribes: Array<() => void> = [];
  let complete = 0;
  let done: () => void = () => {};
  const allIn = new Promise<void>((resolve) => (done = resolve));
  for (let i = 0; i < n; i++) {
    if (i % SUBSCRIPTIONS_PER_SOCKET === 0) {
      clients.push(
        createClient({
          url: gateway.url.replace(/^http/, 'ws'),
          webSocketImpl: WebSocket,
          connectionParams: { Authorization: `Bearer ${ADMIN_TOKEN}` },
          retryAttempts: 0,
          lazy: true,
        }),
      );
    }
    const seen = new Set<string>();
    unsubscribes.push(
      clients.at(-1)!.subscribe<{ verificationSummaryChanged: Summary }>(
        { query: SUBSCRIPTION },
        {
          next: (result) => {
            const summary = result.data?.verificationSummaryChanged;
            if (result.errors || !summary) return note(`subscriber ${i}: ${JSON.stringify(result).slice(0, 200)}`);
            if (!matches(summary, counts)) return note(`subscriber ${i}: ${summary.model} differs from the stand-in's counts`);
            seen.add(summary.model);
            if (seen.size === models.length && ++complete === n) done();
          },
          error: (error) => note(`subscriber ${i}: ${error instanceof Error ? error.message : JSON.stringify(error).slice(0, 200)}`),
          complete: () => note(`subscriber ${i} completed`),
        },
      ),
    );
  }
  const began = performance.now();
  await Promise.race([allIn, sleep(timeoutMs)]);
  return {
    ms: performance.now() - began,
    complete: () => complete,
    errors,
    sockets: clients.length,
    async close() {
      closing = true;
      for (const unsubscribe of unsubscribes) unsubscribe();
      await Promise.all(clients.map((c) => c.dispose()));
    },
  };
}

/** Whole cycles seen so far by every model: the first change a scrape saw opens the first one. */
function fewestCyclesSoFar(scrapes: Scrape[], models: string[]): number {
  if (scrapes.length === 0) return 0;
  const first = scrapes[0].computations;
  const last = scrapes.at(-1)!.computations;
  return Math.min(...models.map((model) => last.get(model)! - first.get(model)! - 1));
}

async function runLiveLevel(standIn: StandaloneStandIn, n: number, window: { minMs: number; maxMs: number }, log: (line: string) => void): Promise<LiveLevel> {
  const gateway = await startGatewayProcess({
    gitlabUrl: standIn.url,
    // The inspector only serves the forced GCs of the heap readings, outside the window.
    nodeArgs: ['--inspect=127.0.0.1:0'],
    env: {
      LIVE_FAST_POLL_MS: String(POLL_MS),
      LIVE_SLOW_POLL_MS: String(POLL_MS),
      LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '10000',
      LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(SUBSCRIPTIONS_PER_SOCKET),
      // Token re-checks are calls of their own: none in the window, so that every call is a poll's.
      LIVE_AUTH_RECHECK_MS: String(3_600_000),
    },
  });
  let subscribers: Awaited<ReturnType<typeof subscribe>> | null = null;
  let inspector: Inspector | null = null;
  try {
    const counts = await standInCounts(standIn);
    const models = modelsOf('plural').map((m) => m.enumName);
    const http = new Client(gateway.origin);
    try {
      // The dialect learnt and the code compiled before the baseline.
      await summaryQuery(http, ['PROJECT']);
    } finally {
      await http.close();
    }
    await sleep(500);
    inspector = await connectInspector(inspectorUrlOf(gateway.output().stderr));
    const heapBaselineBytes = await heapUsedAfterGc(inspector);
    const rssBaselineBytes = await rssMedian(gateway);
    subscribers = await subscribe(gateway, n, models, counts, 60_000);
    const complete = subscribers.complete();
    log(`  ${n} subscribers on ${subscribers.sockets} sockets: ${complete} got a summary of all ${models.length} models equal to the stand-in's counts in ${round(subscribers.ms, 0)} ms${subscribers.errors.length ? `; errors: ${subscribers.errors.slice(0, 3).join(' | ')}` : ''}`);
    // A few cycles first: the first computations do not know which state is largest yet.
    await sleep(1_000);

    let seq = await lastSeqOf(standIn);
    const calls: Array<{ at: number; model: string }> = [];
    let otherCalls = 0;
    const scrapes: Scrape[] = [];
    const began = Date.now();
    let scraped = false;
    const scraping = (async () => {
      for (;;) {
        scrapes.push(await scrape(gateway, models));
        const elapsed = Date.now() - began;
        if (elapsed >= window.maxMs || (elapsed >= window.minMs && fewestCyclesSoFar(scrapes, models) >= CYCLES_PER_MODEL)) break;
        await sleep(SCRAPE_EVERY_MS);
      }
      scraped = true;
    })();
    const reading = (async () => {
      // A last read after the last scrape: every call of the cycles it saw finished is in the log by then.
      for (let last = false; !last; ) {
        last = scraped;
        if (!last) await sleep(LOG_READ_EVERY_MS);
        const answer = await requestsAfter(standIn, seq);
        seq = answer.lastSeq;
        for (const call of answer.requests) {
          const model = modelOfCall(call)?.enumName;
          if (model !== undefined && models.includes(model)) calls.push({ at: Date.parse(call.at), model });
          else otherCalls++;
        }
      }
    })();
    await Promise.all([scraping, reading]);
    const level = Date.now() - began;
    const rssBytes = await rssMedian(gateway);
    const heapBytes = await heapUsedAfterGc(inspector);
    const metrics = await (await fetch(`${gateway.origin}/metrics`)).text();
    const perModel: LiveLevel['perModel'] = {};
    for (const model of models) {
      const { calls: c, cycles, perCycle } = cyclesOf(model, scrapes, calls);
      perModel[model] = { calls: c, cycles, fewestPerCycle: perCycle.length ? Math.min(...perCycle) : null, mostPerCycle: perCycle.length ? Math.max(...perCycle) : null };
    }
    const measured = Object.values(perModel);
    const callsPerCycle = measured.every((m) => m.cycles > 0) ? measured.reduce((sum, m) => sum + m.calls / m.cycles, 0) : null;
    const result: LiveLevel = {
      subscribers: n,
      sockets: subscribers.sockets,
      subscribeMs: subscribers.ms,
      complete,
      errors: subscribers.errors,
      windowMs: level,
      perModel,
      otherCalls,
      failedComputations: scrapes.at(-1)!.failed - scrapes[0].failed,
      callsPerCycle,
      rssBaselineBytes,
      rssBytes,
      heapBaselineBytes,
      heapBytes,
      summarySubscriptions: metricValue(metrics, 'gateway_summary_subscriptions'),
    };
    const cycles = measured.map((m) => m.cycles);
    const varying = measured.filter((m) => m.fewestPerCycle !== m.mostPerCycle).length;
    log(
      `  ${n}: ${Math.min(...cycles)}-${Math.max(...cycles)} cycles per model in ${round(level / 1000, 1)} s; ${callsPerCycle === null ? 'n/a' : round(callsPerCycle, 2)} calls per cycle of all ${models.length} models ` +
        `(${varying ? `${varying} models varied from cycle to cycle` : 'the same every cycle'}${otherCalls ? `; ${otherCalls} other calls` : ''}${result.failedComputations ? `; ${result.failedComputations} failed computations` : ''}); ` +
        `${result.summarySubscriptions} subscriptions alive; RSS ${(rssBaselineBytes / 2 ** 20).toFixed(1)} -> ${(rssBytes / 2 ** 20).toFixed(1)} MB, heap after GC ${(heapBaselineBytes / 2 ** 20).toFixed(1)} -> ${(heapBytes / 2 ** 20).toFixed(1)} MB`,
    );
    return result;
  } finally {
    inspector?.close();
    await subscribers?.close();
    await gateway.stop();
  }
}

function liveFigures(S: string, levels: LiveLevel[], models: number): Figure[] {
  const figures: Figure[] = [];
  const one = levels.find((l) => l.subscribers === 1);
  for (const l of levels) {
    const tag = `${l.subscribers.toLocaleString('en')} subscribers`;
    const cycles = Object.values(l.perModel).map((m) => m.cycles);
    const quiet = l.otherCalls === 0 && l.failedComputations === 0;
    figures.push(
      figure(S, `${tag}: got every model's counts`, l.complete, 'subscribers', `== ${l.subscribers}`, l.complete === l.subscribers && l.errors.length === 0, l.errors[0]?.slice(0, 80)),
      figure(S, `${tag}: upstream calls per poll cycle, ${models} models`, l.callsPerCycle === null ? null : round(l.callsPerCycle, 2), 'calls', '', null, `${Math.min(...cycles)}-${Math.max(...cycles)} cycles per model in ${round(l.windowMs / 1000, 1)} s${quiet ? '' : `; ${l.otherCalls} other calls, ${l.failedComputations} failed computations`}`),
    );
    if (l !== one && one) {
      const ratio = one.callsPerCycle && l.callsPerCycle !== null ? l.callsPerCycle / one.callsPerCycle : null;
      figures.push(figure(S, `${tag}: calls per cycle / with 1 subscriber`, ratio === null ? null : round(ratio, 3), 'x', `== ${SUMMARY_TARGETS.callsPerCycleRatio.toFixed(2)}`, ratio === null ? null : ratio === SUMMARY_TARGETS.callsPerCycleRatio && quiet));
    }
    // The first subscriber also starts the polls; what each further one costs is measured against the level of one.
    const perFurther = one && l !== one ? (l.heapBytes - l.heapBaselineBytes - (one.heapBytes - one.heapBaselineBytes)) / (l.subscribers - 1) : null;
    figures.push(
      figure(S, `${tag}: gateway RSS`, round(l.rssBytes / 2 ** 20, 1), 'MB', '', null, `${(l.rssBaselineBytes / 2 ** 20).toFixed(1)} MB before subscribing`),
      figure(
        S,
        `${tag}: gateway heap after GC`,
        round(l.heapBytes / 2 ** 20, 1),
        'MB',
        '',
        null,
        `+${((l.heapBytes - l.heapBaselineBytes) / 2 ** 20).toFixed(1)} MB over no subscriber${perFurther === null ? '' : `; ${round(perFurther / 1024, 1)} KB per further subscriber of ${models} models`}`,
      ),
    );
  }
  return figures;
}

export async function runSummary(options: RunOptions): Promise<ScenarioResult> {
  const S = 'summary';
  const { quick, log } = options;
  const queryRecords = quick ? 200_000 : 1_000_000;
  const repetitions = quick ? 5 : 7;
  const liveRecords = 100_000;
  const levels = quick ? [1, 100] : [1, 100, 1000];
  const window = quick ? { minMs: 2_000, maxMs: 15_000 } : { minMs: 5_000, maxMs: 30_000 };

  const dialects: DialectResult[] = [];
  // Verification off: the counts hold still, so every count can be checked and every cycle costs the same.
  const large = await startStandalone(['--records', String(queryRecords), '--verify-interval-ms', '0'], { timeoutMs: 300_000 });
  const rest = new Client(large.url, { keepAliveTimeout: 60_000 });
  try {
    log(`  stand-in: ${MODELS.length} models x ${queryRecords.toLocaleString('en')} records, started in ${round(large.startupMs / 1000, 1)} s, RSS ${(((await procRssBytes(large.pid)) ?? NaN) / 2 ** 20).toFixed(0)} MB`);
    for (const dialect of ['plural', 'singular'] as const) dialects.push(await countEveryModel(large, rest, dialect, queryRecords, repetitions, log));
  } finally {
    await rest.close();
    await large.stop();
  }

  const live: LiveLevel[] = [];
  const small = await startStandalone(['--records', String(liveRecords), '--verify-interval-ms', '0'], { timeoutMs: 120_000 });
  try {
    for (const n of levels) live.push(await runLiveLevel(small, n, window, log));
  } finally {
    await small.stop();
  }

  const models = modelsOf('plural').length;
  return {
    scenario: S,
    figures: [...dialects.flatMap((d) => queryFigures(S, d)), ...liveFigures(S, live, models)],
    details: { queryRecords, liveRecords, pollMs: POLL_MS, dialects, live },
  };
}
