// Scenario 2: what batching saves. With 20 ms of stand-in latency, one GraphQL operation asking for 100 records
// (aliases) versus a single-record operation, the same 100-record operation with batching off (DATALOADER_BATCHING),
// and 100 separate REST GETs, one after the other and all at once. Upstream calls are read from the stand-in's log.
import { Client, Pool } from 'undici';
import { figure, type RunOptions, type ScenarioResult } from '../lib/figures.js';
import { median, round } from '../lib/load.js';
import { ADMIN_TOKEN, startGatewayProcess, startStandalone, type GatewayProcess } from '../lib/processes.js';

export const BATCHING_TARGETS = { upstreamCalls: 1, wallVsSingle: 1.3 } as const;
const LATENCY_MS = 20;
const RECORDS = 100;

const FIELDS = 'id recordIdentifier fileSize checksumInformation { checksum checksumState }';

interface Measured {
  name: string;
  wallMs: number[];
  upstreamCalls: number[];
}

export async function runBatching(options: RunOptions): Promise<ScenarioResult> {
  const S = 'batching';
  const reps = options.quick ? 3 : 10;
  const standIn = await startStandalone(['--records', '200', '--verify-interval-ms', '0', '--latency-ms', String(LATENCY_MS)]);
  const gateways: GatewayProcess[] = [];
  const clients: Array<Client | Pool> = [];
  try {
    gateways.push(await startGatewayProcess({ gitlabUrl: standIn.url }));
    gateways.push(await startGatewayProcess({ gitlabUrl: standIn.url, env: { DATALOADER_BATCHING: 'false' } }));
    const [batched, unbatched] = gateways;
    const first = await fetch(`${standIn.api}/projects?per_page=${RECORDS}`, { headers: { 'private-token': ADMIN_TOKEN } });
    const ids = ((await first.json()) as Array<{ record_identifier: number }>).map((r) => String(r.record_identifier));
    if (ids.length !== RECORDS) throw new Error(`expected ${RECORDS} projects, got ${ids.length}`);

    const single = `{ r: modelRecord(model: PROJECT, recordIdentifier: "${ids[0]}") { ${FIELDS} } }`;
    const hundred = `{ ${ids.map((id, i) => `r${i}: modelRecord(model: PROJECT, recordIdentifier: "${id}") { ${FIELDS} } `).join('')}}`;
    const gwClient = (g: GatewayProcess) => {
      const c = new Client(g.origin, { keepAliveTimeout: 60_000 });
      clients.push(c);
      return c;
    };
    const batchedClient = gwClient(batched);
    const unbatchedClient = gwClient(unbatched);
    const restClient = new Client(standIn.url, { keepAliveTimeout: 60_000 });
    const restPool = new Pool(standIn.url, { connections: RECORDS, keepAliveTimeout: 60_000 });
    clients.push(restClient, restPool);

    const graphql = async (client: Client, query: string, expected: number) => {
      const res = await client.request({ method: 'POST', path: '/graphql', headers: { 'content-type': 'application/json', 'private-token': ADMIN_TOKEN }, body: JSON.stringify({ query }) });
      const body = (await res.body.json()) as { data?: Record<string, { recordIdentifier: string } | null>; errors?: unknown[] };
      const got = Object.values(body.data ?? {}).filter((r) => r !== null).length;
      if (res.statusCode !== 200 || body.errors || got !== expected) throw new Error(`gateway answered ${res.statusCode} with ${got} records: ${JSON.stringify(body.errors ?? '').slice(0, 300)}`);
    };
    const restGet = async (client: Client | Pool, id: string) => {
      const res = await client.request({ method: 'GET', path: `/api/v4/admin/data_management/projects/${id}`, headers: { 'private-token': ADMIN_TOKEN } });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`REST GET ${id}: ${res.statusCode} ${text.slice(0, 200)}`);
    };
    const kinds: Array<{ name: string; run: () => Promise<void> }> = [
      { name: 'gateway, 1 record', run: () => graphql(batchedClient, single, 1) },
      { name: 'gateway, 100 aliases', run: () => graphql(batchedClient, hundred, RECORDS) },
      { name: 'gateway, 100 aliases, batching off', run: () => graphql(unbatchedClient, hundred, RECORDS) },
      {
        name: 'REST, 100 GETs in sequence',
        run: async () => {
          for (const id of ids) await restGet(restClient, id);
        },
      },
      { name: 'REST, 100 GETs in parallel', run: async () => void (await Promise.all(ids.map((id) => restGet(restPool, id)))) },
    ];
    const measured: Measured[] = kinds.map((k) => ({ name: k.name, wallMs: [], upstreamCalls: [] }));
    // One warm-up round (dialect learnt, connections open, code compiled), then `reps` rounds in rotating order.
    for (let rep = -1; rep < reps; rep++) {
      for (let k = 0; k < kinds.length; k++) {
        const i = (k + Math.max(0, rep)) % kinds.length;
        const { lastSeq } = await standIn.requests(Number.MAX_SAFE_INTEGER);
        const began = performance.now();
        await kinds[i].run();
        const wall = performance.now() - began;
        const calls = (await standIn.requests(lastSeq)).requests.length;
        if (rep >= 0) {
          measured[i].wallMs.push(wall);
          measured[i].upstreamCalls.push(calls);
        }
      }
    }
    const m = (name: string) => {
      const x = measured.find((e) => e.name === name)!;
      return { wall: median(x.wallMs), calls: Math.max(...x.upstreamCalls), minCalls: Math.min(...x.upstreamCalls) };
    };
    for (const x of measured) {
      options.log(`  ${x.name.padEnd(36)} median ${median(x.wallMs).toFixed(1).padStart(7)} ms  [${x.wallMs.map((w) => w.toFixed(0)).join(' ')}]  upstream calls ${[...new Set(x.upstreamCalls)].join('/')}`);
    }
    const one = m('gateway, 1 record');
    const many = m('gateway, 100 aliases');
    const off = m('gateway, 100 aliases, batching off');
    const seq = m('REST, 100 GETs in sequence');
    const par = m('REST, 100 GETs in parallel');
    const vsSingle = many.wall / one.wall;
    const figures = [
      figure(S, 'upstream calls, 100 aliases (max of runs)', many.calls, 'calls', `== ${BATCHING_TARGETS.upstreamCalls}`, many.calls === BATCHING_TARGETS.upstreamCalls && many.minCalls === BATCHING_TARGETS.upstreamCalls),
      figure(S, 'wall time 100 aliases / 1 record', round(vsSingle, 3), 'x', `<= ${BATCHING_TARGETS.wallVsSingle}`, vsSingle <= BATCHING_TARGETS.wallVsSingle, `${round(many.wall, 1)} vs ${round(one.wall, 1)} ms`),
      figure(S, 'wall time batching off / on (100 aliases)', round(off.wall / many.wall, 2), 'x', '', null, `${round(off.wall, 1)} ms, ${off.calls} upstream calls`),
      figure(S, 'wall time 100 REST GETs in sequence / 100 aliases', round(seq.wall / many.wall, 2), 'x', '', null, `${round(seq.wall, 1)} ms, ${seq.calls} upstream calls`),
      figure(S, 'wall time 100 REST GETs in parallel / 100 aliases', round(par.wall / many.wall, 2), 'x', '', null, `${round(par.wall, 1)} ms, ${par.calls} upstream calls`),
      figure(S, 'upstream calls, 1 record', one.calls, 'calls'),
    ];
    return { scenario: S, figures, details: { standInLatencyMs: LATENCY_MS, records: RECORDS, repetitions: reps, measured } };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(gateways.map((g) => g.stop()));
    await standIn.stop();
  }
}
