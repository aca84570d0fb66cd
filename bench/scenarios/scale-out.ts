// Scenario 6: scale-out. The same subscribers of checksumStateChangeBatches (3,000, all watching the same 100 records)
// on 1 gateway, then spread evenly over 3 gateways on one Redis (a redis-server of the run's own), in front of one
// stand-in whose records change state at moments the benchmark sets: a recalculation through the gateway (pending),
// the stand-in's verification job run through its control API a second later (started), and its end (succeeded).
// Per change cycle: upstream poll calls (the stand-in's log), delivery latency from the poll that saw a change (the
// event's observedAt) to each subscriber, and how many subscribers got the final state of every record.
import { figure, type Figure, type RunOptions, type ScenarioResult } from '../lib/figures.js';
import { median, round, sleep } from '../lib/load.js';
import { ADMIN_TOKEN, metricValue, startGatewayProcess, startStandalone, type GatewayProcess, type StandaloneStandIn } from '../lib/processes.js';
import { haveRedisServer, startRedisServer } from '../lib/redis-server.js';
import { SubscriberProcess } from '../lib/subscriber-process.js';
import type { ReadyMessage, ReportMessage, StartMessage } from '../lib/subscribers.js';
import type { LoggedRequest } from '../../test/support/standalone.js';

/**
 * 3 replicas over 1: at most 1.1, i.e. equal give or take a run's noise. Poll calls per change cycle: the pace is a
 * timer set when a poll ends, so a 3.5 s cycle holds 10 to 14 polls depending on how busy the poller's event loop is;
 * a second poller would double the count. Latency p99: single cycles vary up to threefold on a shared 2-core machine,
 * the median of a dozen by about a tenth from round to round; a Redis hop costing more than the split fan-out saves
 * would show above that.
 */
export const SCALE_OUT_TARGETS = { pollCallsRatio: 1.1, latencyRatio: 1.1, callsPerPollCycle: 1, pollers: 1 } as const;

const RECORDS = 100;
/** Fast and slow pace alike: polls at a steady pace whatever the records' states, so that runs compare. */
const POLL_MS = 250;
/** The change cycle: pending at 0 (the recalculation), started at PENDING_MS, succeeded VERIFY_DURATION_MS later. */
const PENDING_MS = 1_000;
/** Longer than a poll period, so that every poll pace sees the started state. */
const VERIFY_DURATION_MS = 600;
/** The shortest change cycle: the final state delivered and quiet well before it ends, so every cycle lasts as long. */
const CYCLE_MS = 3_500;
const QUIET_MS = 750;
const CYCLE_LIMIT_MS = 30_000;
/** Load processes, each with a token of its own: the subscribers of one replica in the 3-replica runs. */
const GROUPS = 3;
/** Sockets per load process, as the fan-out scenario opens per level (and WS_MAX_CONNECTIONS_PER_TOKEN allows). */
const SOCKETS_PER_GROUP = 20;
const TOKENS = Array.from({ length: GROUPS }, (_, g) => `glpat-bench-scale-out-${g + 1}`);

interface Cycle {
  /** Poll calls (all the watched identifiers, a subscriber's token) the stand-in received in the cycle. */
  pollCalls: number;
  /** The tokens those polls came with: in the 3-replica runs, each replica's subscribers have their own. */
  pollTokens: string[];
  /** Records the stand-in's verification started (expected: the 100 watched). */
  started: number;
  /** Subscribers (all load processes) that received the final state of every watched record in the cycle. */
  settled: number;
  changes: number;
  messages: number;
  /** Latency percentiles of the load process that fared worst: the union's p99 is at most this. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Each load process's p99: with 3 replicas, group g is the subscribers of replica g. */
  p99ByGroupMs: number[];
  /** From the stand-in's final state change (last_checksum) to the last subscriber's receipt of it. */
  finalLagMs: number | null;
  windowMs: number;
  drained: boolean;
}

interface Run {
  replicas: number;
  round: number;
  subscribers: number;
  subscribeMs: number;
  /** Subscribers that got the current state of every record on subscribing. */
  complete: number;
  cycles: Cycle[];
  /** Over all measured cycles: poll cycles run by the whole cluster (every replica's counter) and the poll calls. */
  pollCycles: number;
  pollCalls: number;
  callsPerPollCycle: number | null;
  /** Per replica at the end: models whose record poll it leads, Redis connected, degraded. */
  pollsLed: number[];
  redisConnected: number[];
  degraded: number[];
  errors: string[];
}

const tokenOf = (r: LoggedRequest) => r.privateToken ?? r.authorization?.replace(/^Bearer /, '') ?? '';
/** A poll of the watched records: the whole set in one call, with a subscriber's token (the benchmark's own reads use the admin's). */
const isPollCall = (r: LoggedRequest) => r.method === 'GET' && /\/projects$/.test(r.path) && r.params['identifiers[]']?.length === RECORDS && tokenOf(r) !== ADMIN_TOKEN;

async function metricsOf(gateway: GatewayProcess): Promise<string> {
  return (await fetch(`${gateway.origin}/metrics`)).text();
}

async function clusterSum(gateways: GatewayProcess[], name: string, labels: Record<string, string> = {}): Promise<number[]> {
  return Promise.all(gateways.map(async (g) => metricValue(await metricsOf(g), name, labels)));
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/**
 * Poll cycles of the whole cluster so far and the stand-in's last request, read just after a cycle ends (the next
 * poll is a pace away), or when none ends within two pace periods: a poll caught in flight would count without its
 * cycle.
 */
async function betweenPolls(gateways: GatewayProcess[], standIn: StandaloneStandIn): Promise<{ cycles: number; lastSeq: number }> {
  const scrape = async () => sum(await clusterSum(gateways, 'gateway_live_poll_cycles_total', { model: 'PROJECT' }));
  const first = await scrape();
  let cycles = first;
  for (const deadline = Date.now() + 2 * POLL_MS + 500; cycles === first && Date.now() < deadline; ) {
    await sleep(5);
    cycles = await scrape();
  }
  return { cycles, lastSeq: (await standIn.requests(Number.MAX_SAFE_INTEGER)).lastSeq };
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); ) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Verification run until nothing is pending or started: the cycles then start from settled records. */
async function settleEverything(standIn: StandaloneStandIn): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const started = await standIn.verify();
    await sleep(VERIFY_DURATION_MS + 100);
    if (started === 0) return;
  }
  throw new Error("the stand-in's records did not settle");
}

/** The moment the stand-in last finished verifying these records (their last_checksum), in ms. */
async function finalStateMoment(standIn: StandaloneStandIn, ids: string[]): Promise<number> {
  const query = ids.map((id) => `identifiers[]=${id}`).join('&');
  const res = await fetch(`${standIn.api}/projects?per_page=${RECORDS}&${query}`, { headers: { 'private-token': ADMIN_TOKEN } });
  const records = (await res.json()) as Array<{ checksum_information: { last_checksum: string | null } }>;
  return Math.max(...records.map((r) => Date.parse(r.checksum_information.last_checksum ?? '')));
}

interface Stage {
  standIn: StandaloneStandIn;
  gateways: GatewayProcess[];
  loads: SubscriberProcess[];
  perGroup: number[];
  ids: string[];
}

async function graphql(gateway: GatewayProcess, query: string): Promise<unknown> {
  const res = await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ query }) });
  const body = (await res.json()) as { data?: unknown; errors?: unknown[] };
  if (res.status !== 200 || body.errors) throw new Error(`gateway: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  return body.data;
}

const reportAll = (loads: SubscriberProcess[]) => Promise.all(loads.map((l) => l.ask<ReportMessage>({ type: 'report' }, 60_000)));

/** One change cycle: every watched record pending, started and succeeded at moments set here. */
async function changeCycle({ standIn, gateways, loads, perGroup, ids }: Stage): Promise<Cycle> {
  for (const load of loads) load.send({ type: 'measure' });
  // Answered after the `measure` before it: every load process counts from here on.
  await reportAll(loads);
  const before = (await standIn.requests(Number.MAX_SAFE_INTEGER)).lastSeq;
  const began = Date.now();
  await graphql(gateways[0], `mutation { recalculateAllChecksums(model: PROJECT, identifiers: [${ids.map((id) => `"${id}"`).join(',')}]) { status errors } }`);
  await sleep(began + PENDING_MS - Date.now());
  const started = await standIn.verify();
  await sleep(began + CYCLE_MS - Date.now());
  let reports: ReportMessage[];
  let drained: boolean;
  for (;;) {
    reports = await reportAll(loads);
    const settled = reports.every((r, g) => r.settledSubscribers === perGroup[g]);
    const lastChangeAt = Math.max(...reports.map((r) => r.lastChangeAt));
    if (settled && lastChangeAt > 0 && Date.now() - lastChangeAt >= QUIET_MS) {
      drained = true;
      break;
    }
    if (Date.now() - began >= CYCLE_LIMIT_MS) {
      drained = false;
      break;
    }
    await sleep(250);
  }
  const windowMs = Date.now() - began;
  const polls = (await standIn.requests(before)).requests.filter(isPollCall);
  const finalAt = await finalStateMoment(standIn, ids);
  const lastChangeAt = Math.max(...reports.map((r) => r.lastChangeAt));
  return {
    pollCalls: polls.length,
    pollTokens: [...new Set(polls.map(tokenOf))],
    started,
    settled: sum(reports.map((r) => r.settledSubscribers)),
    changes: sum(reports.map((r) => r.changes)),
    messages: sum(reports.map((r) => r.messages)),
    p50Ms: Math.max(...reports.map((r) => r.latency.p50Ms)),
    p99Ms: Math.max(...reports.map((r) => r.latency.p99Ms)),
    maxMs: Math.max(...reports.map((r) => r.latency.maxMs)),
    p99ByGroupMs: reports.map((r) => r.latency.p99Ms),
    finalLagMs: lastChangeAt > 0 && Number.isFinite(finalAt) ? lastChangeAt - finalAt : null,
    windowMs,
    drained,
  };
}

async function runReplicas(standIn: StandaloneStandIn, redisUrl: string, ids: string[], replicas: number, round: number, n: number, cycles: number, log: (line: string) => void): Promise<Run> {
  const perGroup = Array.from({ length: GROUPS }, (_, g) => Math.floor(n / GROUPS) + (g < n % GROUPS ? 1 : 0));
  const perSocket = Math.ceil(Math.max(...perGroup) / SOCKETS_PER_GROUP);
  const env = {
    REDIS_URL: redisUrl,
    // A prefix of the run's own: nothing a run before it left in Redis (a lease, registrations) is seen.
    REDIS_KEY_PREFIX: `bench-scale-out:${process.pid}:${replicas}x${round}:`,
    LIVE_FAST_POLL_MS: String(POLL_MS),
    LIVE_SLOW_POLL_MS: String(POLL_MS),
    LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(Math.max(100, perSocket)),
    // Token re-checks are list calls of their own, one per token and replica: none in the measured cycles.
    LIVE_AUTH_RECHECK_MS: String(3_600_000),
  };
  const gateways: GatewayProcess[] = [];
  const loads: SubscriberProcess[] = [];
  try {
    gateways.push(...(await Promise.all(Array.from({ length: replicas }, () => startGatewayProcess({ gitlabUrl: standIn.url, env })))));
    await until('the gateways did not all connect to Redis', 15_000, async () => sum(await clusterSum(gateways, 'gateway_redis_connected')) === replicas);
    // Warm up: the dialect learnt and the code compiled.
    for (const gateway of gateways) for (let i = 0; i < 10; i++) await graphql(gateway, `{ modelRecord(model: PROJECT, recordIdentifier: "${ids[i]}") { id checksumInformation { checksumState } } }`);

    const subscribeTimeoutMs = Math.max(60_000, n * 20);
    loads.push(...perGroup.map(() => new SubscriberProcess()));
    const readies = await Promise.all(
      loads.map((load, g) => {
        const start: StartMessage = {
          type: 'start',
          url: gateways[g % replicas].url.replace(/^http/, 'ws'),
          token: TOKENS[g],
          identifiers: ids,
          delivery: 'batch',
          subscribers: perGroup[g],
          sockets: Math.min(perGroup[g], SOCKETS_PER_GROUP),
          timeoutMs: subscribeTimeoutMs,
        };
        return load.ask<ReadyMessage>(start, subscribeTimeoutMs + 30_000);
      }),
    );
    const complete = sum(readies.map((r) => r.complete));
    const subscribeMs = Math.max(...readies.map((r) => r.ms));
    const errors = readies.flatMap((r) => r.errors);
    log(`  ${replicas} replica${replicas > 1 ? 's' : ''}, round ${round}: ${complete}/${n} subscribers got the state of all ${RECORDS} records in ${subscribeMs} ms${errors.length ? `; errors: ${errors.slice(0, 3).join(' | ')}` : ''}`);
    if (complete < n) throw new Error(`only ${complete} of ${n} subscribers got the state of every record: ${errors.slice(0, 3).join(' | ')}`);
    const alive = sum(await clusterSum(gateways, 'gateway_live_subscriptions'));
    if (alive !== n) throw new Error(`the gateways count ${alive} subscriptions, not ${n}`);

    const stage: Stage = { standIn, gateways, loads, perGroup, ids };
    // An unmeasured cycle first: the delivery path compiled, and the poll lease taken.
    await changeCycle(stage);
    const start = await betweenPolls(gateways, standIn);
    const measured: Cycle[] = [];
    for (let c = 0; c < cycles; c++) {
      const cycle = await changeCycle(stage);
      measured.push(cycle);
      log(
        `    cycle ${c + 1}: ${cycle.started} started; ${cycle.pollCalls} poll calls (${cycle.pollTokens.length} poller${cycle.pollTokens.length === 1 ? '' : 's'}); ${cycle.settled}/${n} got every final state; ` +
          `${cycle.changes.toLocaleString('en')} changes in ${cycle.messages.toLocaleString('en')} messages; latency p50 ${cycle.p50Ms} ms p99 ${cycle.p99Ms} ms (${cycle.p99ByGroupMs.join('/')}) max ${cycle.maxMs} ms; ` +
          `stand-in's final change to the last receipt ${cycle.finalLagMs ?? 'n/a'} ms; ${cycle.windowMs} ms${cycle.drained ? '' : ' (LIMIT REACHED)'}`,
      );
    }
    const end = await betweenPolls(gateways, standIn);
    const pollCalls = (await standIn.requests(start.lastSeq)).requests.filter((r) => r.seq <= end.lastSeq && isPollCall(r)).length;
    const pollCycles = end.cycles - start.cycles;
    const run: Run = {
      replicas,
      round,
      subscribers: n,
      subscribeMs,
      complete,
      cycles: measured,
      pollCycles,
      pollCalls,
      callsPerPollCycle: pollCycles > 0 ? pollCalls / pollCycles : null,
      pollsLed: await clusterSum(gateways, 'gateway_live_polls_led', { kind: 'records' }),
      redisConnected: await clusterSum(gateways, 'gateway_redis_connected'),
      degraded: await clusterSum(gateways, 'gateway_live_degraded'),
      errors: [...errors, ...(await reportAll(loads)).flatMap((r) => r.errors)].slice(0, 10),
    };
    log(
      `  ${replicas} replica${replicas > 1 ? 's' : ''}, round ${round}: ${pollCalls} poll calls in ${pollCycles} poll cycles of the cluster; record polls led per replica ${run.pollsLed.join('/')}, ` +
        `Redis connected ${run.redisConnected.join('/')}, degraded ${run.degraded.join('/')}${run.errors.length ? `; errors: ${run.errors.slice(0, 3).join(' | ')}` : ''}`,
    );
    return run;
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
    await Promise.all(gateways.map((g) => g.stop(5_000)));
  }
}

/** The figures of one configuration, over the cycles of all its rounds. */
function summarize(runs: Run[]) {
  const cycles = runs.flatMap((r) => r.cycles);
  const pollCycles = sum(runs.map((r) => r.pollCycles));
  const pollCalls = sum(runs.map((r) => r.pollCalls));
  return {
    cycles: cycles.length,
    pollCallsPerCycle: median(cycles.map((c) => c.pollCalls)),
    pollCallsRange: [Math.min(...cycles.map((c) => c.pollCalls)), Math.max(...cycles.map((c) => c.pollCalls))],
    callsPerPollCycle: pollCycles > 0 ? pollCalls / pollCycles : null,
    pollCycles,
    pollCalls,
    /** Within a run: which replica leads may differ from run to run. */
    pollers: Math.max(...runs.map((r) => new Set(r.cycles.flatMap((c) => c.pollTokens)).size)),
    p50Ms: median(cycles.map((c) => c.p50Ms)),
    p99Ms: median(cycles.map((c) => c.p99Ms)),
    p99Range: [Math.min(...cycles.map((c) => c.p99Ms)), Math.max(...cycles.map((c) => c.p99Ms))],
    finalLagMs: median(cycles.map((c) => c.finalLagMs ?? NaN).filter(Number.isFinite)),
    /** The worst cycle's count of subscribers that got every final state. */
    settled: Math.min(...cycles.map((c) => c.settled)),
    drained: cycles.every((c) => c.drained),
    startedOk: cycles.every((c) => c.started === RECORDS),
    pollsLed: runs.map((r) => sum(r.pollsLed)),
    connected: runs.every((r) => r.redisConnected.every((v) => v === 1) && r.degraded.every((v) => v === 0)),
  };
}

export async function runScaleOut(options: RunOptions): Promise<ScenarioResult> {
  const S = 'scale-out';
  const { quick, log } = options;
  if (!haveRedisServer()) {
    log('  skipped: redis-server is not on the PATH (apt-get install redis-server)');
    return { scenario: S, figures: [figure(S, 'run', null, '', '', null, 'skipped: redis-server is not on the PATH')], details: { skipped: 'redis-server is not on the PATH' } };
  }
  const n = quick ? 300 : 3_000;
  const cycles = quick ? 3 : 6;
  // Rounds alternate 1 and 3 replicas, so that what else loads the machine falls on both alike.
  const rounds = quick ? 1 : 2;
  const redis = await startRedisServer();
  const standIn = await startStandalone(['--records', '200', '--fail-rate', '0', '--verify-interval-ms', '0', '--verify-batch-size', '1000', '--verify-duration-ms', String(VERIFY_DURATION_MS)]);
  const runs: Run[] = [];
  try {
    for (const token of TOKENS) await standIn.addToken(token, 'admin');
    await settleEverything(standIn);
    const first = await fetch(`${standIn.api}/projects?per_page=${RECORDS}`, { headers: { 'private-token': ADMIN_TOKEN } });
    const ids = ((await first.json()) as Array<{ record_identifier: number }>).map((r) => String(r.record_identifier));
    log(`  redis-server ${redis.url}; ${n.toLocaleString('en')} subscribers of checksumStateChangeBatches on ${GROUPS} load processes (${GROUPS} tokens, ${SOCKETS_PER_GROUP} sockets each), all watching the same ${RECORDS} records`);
    for (let round = 1; round <= rounds; round++) {
      for (const replicas of [1, 3]) runs.push(await runReplicas(standIn, redis.url, ids, replicas, round, n, cycles, log));
    }
  } finally {
    await standIn.stop();
    await redis.stop();
  }

  const one = summarize(runs.filter((r) => r.replicas === 1));
  const three = summarize(runs.filter((r) => r.replicas === 3));
  const figures: Figure[] = [];
  for (const [replicas, s] of [[1, one], [3, three]] as const) {
    const tag = `${replicas} replica${replicas > 1 ? 's' : ''}, ${n.toLocaleString('en')} subs`;
    const health = [s.drained ? '' : 'a cycle hit its limit', s.startedOk ? '' : `a cycle started other than ${RECORDS} records`, s.connected ? '' : 'a replica was not connected to Redis'].filter(Boolean).join('; ');
    figures.push(
      figure(S, `${tag}: upstream poll calls per change cycle`, s.pollCallsPerCycle, 'calls', '', null, `median of ${s.cycles} cycles of ${CYCLE_MS / 1000} s (${s.pollCallsRange.join('-')}); polls every ${POLL_MS} ms`),
      figure(
        S,
        `${tag}: upstream poll calls per poll cycle`,
        s.callsPerPollCycle === null ? null : round(s.callsPerPollCycle, 2),
        'calls',
        `== ${SCALE_OUT_TARGETS.callsPerPollCycle}`,
        s.callsPerPollCycle === SCALE_OUT_TARGETS.callsPerPollCycle,
        `${s.pollCalls} calls / ${s.pollCycles} cycles, all replicas' counters; record polls led: ${s.pollsLed.join(', ')}`,
      ),
      ...(replicas > 1 ? [figure(S, `${tag}: replicas that polled GitLab`, s.pollers, 'replicas', `== ${SCALE_OUT_TARGETS.pollers}`, s.pollers === SCALE_OUT_TARGETS.pollers, "told by the polls' token: each replica's subscribers have their own")] : []),
      figure(S, `${tag}: subscribers that got every final state`, s.settled, 'subscribers', `== ${n}`, s.settled === n && s.drained, health || 'the worst cycle'),
      figure(S, `${tag}: delivery latency p50`, s.p50Ms, 'ms', '', null, 'observedAt to receipt; median over cycles'),
      figure(S, `${tag}: delivery latency p99`, s.p99Ms, 'ms', '', null, `median over cycles (${s.p99Range.join('-')})`),
      figure(S, `${tag}: stand-in's final change to the last receipt`, round(s.finalLagMs, 0), 'ms', '', null, `median over cycles; includes up to ${POLL_MS} ms waiting for the next poll`),
    );
  }
  const callsRatio = one.pollCallsPerCycle > 0 ? three.pollCallsPerCycle / one.pollCallsPerCycle : null;
  const latencyRatio = one.p99Ms > 0 ? three.p99Ms / one.p99Ms : null;
  figures.push(
    figure(S, 'poll calls per change cycle, 3 replicas / 1', callsRatio === null ? null : round(callsRatio, 3), 'x', `<= ${SCALE_OUT_TARGETS.pollCallsRatio}`, callsRatio === null ? null : callsRatio <= SCALE_OUT_TARGETS.pollCallsRatio, 'equal: one poll for the cluster'),
    figure(S, 'delivery latency p99, 3 replicas / 1', latencyRatio === null ? null : round(latencyRatio, 3), 'x', `<= ${SCALE_OUT_TARGETS.latencyRatio}`, latencyRatio === null ? null : latencyRatio <= SCALE_OUT_TARGETS.latencyRatio, 'no worse with the Redis hop'),
  );
  return { scenario: S, figures, details: { records: RECORDS, pollMs: POLL_MS, pendingMs: PENDING_MS, verifyDurationMs: VERIFY_DURATION_MS, cycleMs: CYCLE_MS, groups: GROUPS, socketsPerGroup: SOCKETS_PER_GROUP, runs } };
}
