// Scenario 1: what the gateway costs on top of GitLab. `modelRecord` through the gateway versus a direct REST GET of
// the same record on the same stand-in: the exact list call the gateway sends, and the plain GET /projects/:id. Beside
// them, the floor: a bare Node proxy that makes the same call with no GraphQL (bench/lib/bare-proxy.ts).
import { figure, type RunOptions, type ScenarioResult } from '../lib/figures.js';
import { interleavedLatency, median, round, throughput, verifyTarget, type Target, type ThroughputRun } from '../lib/load.js';
import { ADMIN_TOKEN, startFloor, startGatewayProcess, startStandalone, type GatewayProcess, type StandaloneStandIn } from '../lib/processes.js';

export const OVERHEAD_TARGETS = { throughputRatio: 0.5, addedP50Ms: 0.5, overFloor: 0.7 } as const;
const CONNECTIONS = 50;

export const MODEL_RECORD_QUERY = (id: string) =>
  `{ modelRecord(model: PROJECT, recordIdentifier: "${id}") { id recordIdentifier fileSize checksumInformation { checksum checksumState lastChecksum } } }`;

export interface OverheadSetup {
  standIn: StandaloneStandIn;
  gateways: GatewayProcess[];
  recordId: string;
  /** Path and query of the list call the gateway sends for the record. */
  gatewayUpstreamPath: string;
  gatewayTarget(gateway: GatewayProcess, name?: string): Target;
  restList: Target;
  restPlain: Target;
  stop(): Promise<void>;
}

/** A stand-in (no background verification, so nothing changes under the load) and gateways in front of it. */
/** The identifier of the stand-in's first project record: the one scenario 1 asks for. */
export async function firstRecordId(standIn: StandaloneStandIn): Promise<string> {
  const first = await fetch(`${standIn.api}/projects?per_page=1`, { headers: { 'private-token': ADMIN_TOKEN } });
  return String(((await first.json()) as Array<{ record_identifier: number }>)[0].record_identifier);
}

export async function setupOverhead(gatewayStarts: Array<{ env?: Record<string, string>; nodeArgs?: string[]; root?: string; entry?: string }> = [{}]): Promise<OverheadSetup> {
  const standIn = await startStandalone(['--records', '200', '--verify-interval-ms', '0']);
  const gateways: GatewayProcess[] = [];
  try {
    for (const start of gatewayStarts) gateways.push(await startGatewayProcess({ gitlabUrl: standIn.url, ...start }));
    const recordId = await firstRecordId(standIn);
    const gatewayTarget = (gateway: GatewayProcess, name = 'gateway modelRecord'): Target => ({
      name,
      origin: gateway.origin,
      path: '/graphql',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'private-token': ADMIN_TOKEN },
      body: JSON.stringify({ query: MODEL_RECORD_QUERY(recordId) }),
      check: (status, body) => (status === 200 && body.includes(`"recordIdentifier":"${recordId}"`) && !body.includes('"errors"') ? null : 'not the record'),
    });
    // What the gateway itself sends for this record, read from the stand-in's request log.
    const { lastSeq } = await standIn.requests(Number.MAX_SAFE_INTEGER);
    for (const gateway of gateways) await verifyTarget(gatewayTarget(gateway));
    const sent = (await standIn.requests(lastSeq)).requests.filter((r) => r.method === 'GET');
    if (sent.length === 0) throw new Error('the gateway sent nothing upstream');
    const gatewayUpstreamPath = `${sent[sent.length - 1].path}?${sent[sent.length - 1].query}`;
    const origin = standIn.url;
    const rest = (name: string, path: string): Target => ({
      name,
      origin,
      path,
      method: 'GET',
      headers: { 'private-token': ADMIN_TOKEN, accept: 'application/json' },
      check: (status, body) => (status === 200 && body.includes(`"record_identifier":${recordId}`) ? null : 'not the record'),
    });
    const restList = rest('REST list ?identifiers[]', gatewayUpstreamPath);
    const restPlain = rest('REST GET /projects/:id', `/api/v4/admin/data_management/projects/${recordId}`);
    await verifyTarget(restList);
    await verifyTarget(restPlain);
    return {
      standIn,
      gateways,
      recordId,
      gatewayUpstreamPath,
      gatewayTarget,
      restList,
      restPlain,
      async stop() {
        await Promise.all(gateways.map((g) => g.stop()));
        await standIn.stop();
      },
    };
  } catch (error) {
    await Promise.all(gateways.map((g) => g.stop()));
    await standIn.stop();
    throw error;
  }
}

/**
 * Seconds of full load each target gets before its first counted round. Second by second, a fresh gateway's CPU per
 * request falls for about 10 s (1,000 us in its first second, 350 in its sixth, a slower second near the eighth, then
 * steady) as V8's optimizing tiers compile its code and its heap grows; the floor is steady after about 3 s. A shorter
 * warm-up counts the gateway's start in its first rounds.
 */
export const WARM_UP_S = 15;

/** Full load on each target in turn, counted nowhere. */
export async function warmUp(targets: Target[], seconds: number): Promise<void> {
  for (const target of targets) await throughput(target, CONNECTIONS, seconds);
}

/**
 * Throughput runs of several targets, taking turns A B C A B C ..., after a warm-up of each. `alternate`: every other
 * round runs in reverse (A B C, C B A, ...), so a target's place in the round (what ran just before it) is not the same
 * for all its rounds.
 */
export async function interleavedThroughput(
  targets: Target[],
  rounds: number,
  durationS: number,
  log: (line: string) => void,
  watch: Record<string, number> = {},
  warmUpS = 1,
  alternate = false,
): Promise<ThroughputRun[][]> {
  if (warmUpS > 0) await warmUp(targets, warmUpS);
  const runs: ThroughputRun[][] = targets.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < targets.length; k++) {
      const i = alternate && r % 2 === 1 ? targets.length - 1 - k : k;
      const run = await throughput(targets[i], CONNECTIONS, durationS, watch);
      if (run.non2xx || run.errors) throw new Error(`${targets[i].name}: ${run.non2xx} non-2xx answers and ${run.errors} errors under load`);
      runs[i].push(run);
      const cpu = Object.entries(run.cpuUsPerRequest).map(([name, us]) => `${name} ${us} us`).join(', ');
      log(`  round ${r + 1}: ${targets[i].name.padEnd(26)} ${run.rps.toFixed(0).padStart(6)} req/s (p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms)${cpu ? `; CPU per request: ${cpu}` : ''}`);
    }
  }
  return runs;
}

export const totalRps = (runs: ThroughputRun[]) => runs.reduce((a, r) => a + r.requests, 0) / runs.reduce((a, r) => a + r.durationS, 0);

/** CPU microseconds per request of one watched process over several runs, weighted by their requests. */
export const cpuPerRequest = (runs: ThroughputRun[], name: string) => runs.reduce((a, r) => a + (r.cpuUsPerRequest[name] ?? NaN) * r.requests, 0) / runs.reduce((a, r) => a + r.requests, 0);

export async function runOverhead(options: RunOptions): Promise<ScenarioResult> {
  const S = 'overhead';
  // Short rounds, many of them: a round the machine disturbs (another tenant, a burst of the shared cores) is one
  // of four, and the median of the rounds' ratios does not follow it.
  const rounds = options.quick ? 2 : 4;
  const durationS = options.quick ? 3 : 5;
  const latencyMs = options.quick ? 3_000 : 10_000;
  const setup = await setupOverhead();
  // The floor: the same request and upstream call through a Node proxy that does no GraphQL (bench/lib/bare-proxy.ts).
  const bare = await startFloor('bare-proxy.ts', { UPSTREAM_ORIGIN: setup.standIn.url, UPSTREAM_PATH: setup.gatewayUpstreamPath });
  try {
    const gateway = setup.gatewayTarget(setup.gateways[0]);
    const floor: Target = { ...gateway, name: 'bare Node proxy', origin: bare.origin };
    await verifyTarget(floor);
    options.log(`overhead: record ${setup.recordId}; the gateway sends GET ${setup.gatewayUpstreamPath}`);
    options.log(`  throughput at ${CONNECTIONS} connections, ${rounds} rounds of ${durationS} s per target, interleaved`);
    const watch = { gateway: setup.gateways[0].pid, 'bare proxy': bare.pid, 'stand-in': setup.standIn.pid };
    // The floor right after the gateway, so each round's pair runs on the machine as it was within seconds.
    const [gw, floorRuns, list, plain] = await interleavedThroughput([gateway, floor, setup.restList, setup.restPlain], rounds, durationS, options.log, watch, options.quick ? 1 : WARM_UP_S);
    options.log(`  latency at 1 connection, requests interleaved, ${latencyMs / 1000} s`);
    const [lgw, llist, lplain, lfloor] = await interleavedLatency([gateway, setup.restList, setup.restPlain, floor], latencyMs);
    for (const l of [lgw, llist, lplain, lfloor]) options.log(`  ${l.target.padEnd(26)} p50 ${l.p50Ms.toFixed(3)} ms  p99 ${l.p99Ms.toFixed(3)} ms  (${l.samples} requests)`);
    const gwRps = totalRps(gw);
    const listRps = totalRps(list);
    const plainRps = totalRps(plain);
    const ratioList = gwRps / listRps;
    const ratioPlain = gwRps / plainRps;
    const floorRps = totalRps(floorRuns);
    const overFloorByRound = gw.map((run, r) => run.rps / floorRuns[r].rps);
    const overFloor = median(overFloorByRound);
    const addedP50 = lgw.p50Ms - llist.p50Ms;
    const addedP99 = lgw.p99Ms - llist.p99Ms;
    // CPU time per request does not depend on how busy the machine is, as throughput does: the steadier figure.
    const gwCpu = cpuPerRequest(gw, 'gateway');
    const pathCpu = gwCpu + cpuPerRequest(gw, 'stand-in');
    const directCpu = cpuPerRequest(list, 'stand-in');
    const figures = [
      figure(S, 'gateway req/s (50 conns)', round(gwRps, 0), 'req/s'),
      figure(S, 'REST list req/s (50 conns)', round(listRps, 0), 'req/s'),
      figure(S, 'REST GET /projects/:id req/s (50 conns)', round(plainRps, 0), 'req/s'),
      figure(S, 'throughput ratio gateway / REST list', round(ratioList, 3), 'x', `>= ${OVERHEAD_TARGETS.throughputRatio}`, ratioList >= OVERHEAD_TARGETS.throughputRatio),
      figure(S, 'throughput ratio gateway / REST GET :id', round(ratioPlain, 3), 'x', `>= ${OVERHEAD_TARGETS.throughputRatio}`, ratioPlain >= OVERHEAD_TARGETS.throughputRatio),
      figure(S, 'added p50 latency vs REST list (1 conn)', round(addedP50, 3), 'ms', `<= ${OVERHEAD_TARGETS.addedP50Ms}`, addedP50 <= OVERHEAD_TARGETS.addedP50Ms),
      figure(S, 'added p99 latency vs REST list (1 conn)', round(addedP99, 3), 'ms'),
      figure(S, 'added p50 latency vs REST GET :id (1 conn)', round(lgw.p50Ms - lplain.p50Ms, 3), 'ms', `<= ${OVERHEAD_TARGETS.addedP50Ms}`, lgw.p50Ms - lplain.p50Ms <= OVERHEAD_TARGETS.addedP50Ms),
      // A hop through any Node server costs this much here: the process's wake-ups on a shared machine, not GraphQL.
      figure(S, 'floor: added p50 latency vs REST list (1 conn)', round(lfloor.p50Ms - llist.p50Ms, 3), 'ms', '', null, 'the bare Node proxy; where it is above the target, no server meets it here'),
      figure(S, 'added p50 latency over the floor (1 conn)', round(lgw.p50Ms - lfloor.p50Ms, 3), 'ms', '', null, 'what GraphQL and the gateway add to the hop'),
      figure(S, 'gateway p50 / p99 latency (1 conn)', round(lgw.p50Ms, 3), 'ms', '', null, `p99 ${round(lgw.p99Ms, 3)} ms`),
      figure(S, 'gateway CPU per request (50 conns)', round(gwCpu, 0), 'us', '', null, `stand-in ${round(pathCpu - gwCpu, 0)} us behind it, ${round(directCpu, 0)} us direct`),
      figure(S, 'CPU per request, direct / through the gateway', round(directCpu / pathCpu, 3), 'x', '', null, 'servers only, load generator excluded'),
      figure(S, 'floor: bare Node proxy / REST list throughput', round(floorRps / listRps, 3), 'x', '', null, `no GraphQL; ${round(floorRps, 0)} req/s, ${round(cpuPerRequest(floorRuns, 'bare proxy'), 0)} us CPU per request`),
      figure(S, 'floor: bare Node proxy / REST GET :id throughput', round(floorRps / plainRps, 3), 'x', '', null, 'where a floor is below a target, no server meets it here'),
      figure(S, 'gateway / bare Node proxy throughput', round(overFloor, 3), 'x', `>= ${OVERHEAD_TARGETS.overFloor}`, overFloor >= OVERHEAD_TARGETS.overFloor,
        `median of the rounds' pairs (${overFloorByRound.map((ratio) => ratio.toFixed(3)).join(', ')}); all rounds pooled ${round(gwRps / floorRps, 3)}x`),
      figure(S, 'CPU per request, gateway / bare Node proxy', round(gwCpu / cpuPerRequest(floorRuns, 'bare proxy'), 2), 'x', '', null, 'the steadier figure on a busy machine'),
    ];
    return { scenario: S, figures, details: { recordId: setup.recordId, gatewayUpstreamPath: setup.gatewayUpstreamPath, connections: CONNECTIONS, throughput: { gateway: gw, restList: list, restPlain: plain, bareProxy: floorRuns }, latency: [lgw, llist, lplain, lfloor] } };
  } finally {
    await bare.stop();
    await setup.stop();
  }
}
