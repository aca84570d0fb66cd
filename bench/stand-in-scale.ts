// Scale benchmark of the GitLab stand-in: a million LFS objects, start-up time and list-page latency.
// Run: npx tsx bench/stand-in-scale.ts   (prints a table, writes bench/results/stand-in-scale.json)
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ADMIN_TOKEN, startStandalone } from './lib/processes.js';

const RECORDS = 1_000_000;
const REQUESTS_PER_KIND = 200;
const WARMUP_PER_KIND = 10;
export const TARGETS = { startupMs: 10_000, listPageMs: 20 } as const;

export interface KindFigures {
  kind: string;
  /** One of the URLs sent (path and query), as an example. */
  example: string;
  requests: number;
  /** Records in the last answer. */
  records: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Whether the median and the 99th percentile are under the list-page target. */
  meetsTarget: { p50: boolean; p99: boolean };
}

export interface StandInScaleFigures {
  at: string;
  node: string;
  records: number;
  /** Spawn to the "listening" line, node's start included. */
  startupMs: number;
  /** Seeding and listen, as the stand-in itself reports ("listening on ... after N ms"). */
  seedMs: number | null;
  /** The machine's 1-minute load average before and after the run, and its cores: figures are noisy when it is busy. */
  load: { before: number; after: number; cores: number };
  /** Resident memory of the stand-in after the run (Linux only). */
  rssMb: number | null;
  targets: typeof TARGETS;
  kinds: KindFigures[];
  meetsTargets: { startup: boolean; listPagesP50: boolean; listPagesP99: boolean };
}

/** Deterministic PRNG so every run asks for the same pages. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const round = (ms: number) => Math.round(ms * 100) / 100;

async function timedGet(url: string): Promise<{ ms: number; records: number }> {
  const began = performance.now();
  const response = await fetch(url, { headers: { 'private-token': ADMIN_TOKEN } });
  const text = await response.text();
  const ms = performance.now() - began;
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${text.slice(0, 200)}`);
  return { ms, records: (JSON.parse(text) as unknown[]).length };
}

async function rssMb(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    return kb ? Math.round(Number(kb[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** Spawns the standalone stand-in with a million LFS objects and measures start-up and list pages. */
export async function runStandInScale({ requestsPerKind = REQUESTS_PER_KIND }: { requestsPerKind?: number } = {}): Promise<StandInScaleFigures> {
  const loadBefore = loadavg()[0];
  const si = await startStandalone(['--records', '0', '--model-records', `lfs_objects=${RECORDS}`, '--verify-interval-ms', '0'], { timeoutMs: 60_000 });
  try {
    const base = `${si.api}/lfs_objects`;
    const last = await fetch(`${base}?pagination=keyset&sort=desc&per_page=1`, { headers: { 'private-token': ADMIN_TOKEN } });
    const maxId = ((await last.json()) as Array<{ record_identifier: number }>)[0].record_identifier;
    const cursor = (id: number) => Buffer.from(JSON.stringify({ id: String(id) })).toString('base64url');
    const rand = random(42);
    const between = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo));

    const kinds: Array<{ kind: string; url: () => string }> = [
      { kind: 'first page (per_page=100)', url: () => `${base}?per_page=100` },
      { kind: 'deep offset page (page=40000)', url: () => `${base}?page=40000` },
      { kind: 'deep offset pages (page 30000-49999)', url: () => `${base}?page=${between(30_000, 50_000)}` },
      { kind: 'keyset from a deep cursor, asc', url: () => `${base}?pagination=keyset&per_page=100&cursor=${cursor(between(maxId / 2, maxId - 200))}` },
      { kind: 'keyset from a deep cursor, desc', url: () => `${base}?pagination=keyset&sort=desc&per_page=100&cursor=${cursor(between(maxId / 2, maxId))}` },
      {
        kind: 'identifiers[] of 100 ids',
        url: () => `${base}?per_page=100&${Array.from({ length: 100 }, () => `identifiers[]=${between(1, maxId + 1)}`).join('&')}`,
      },
      { kind: 'checksum_state=failed, first page', url: () => `${base}?checksum_state=failed&per_page=100` },
      { kind: 'checksum_state=pending, page 50', url: () => `${base}?checksum_state=pending&per_page=100&page=50` },
    ];

    const figures: KindFigures[] = [];
    for (const { kind, url } of kinds) {
      for (let i = 0; i < WARMUP_PER_KIND; i++) await timedGet(url());
      const times: number[] = [];
      let records = 0;
      let example = '';
      for (let i = 0; i < requestsPerKind; i++) {
        const target = url();
        if (i === 0) example = target.slice(si.url.length);
        const result = await timedGet(target);
        times.push(result.ms);
        records = result.records;
      }
      times.sort((a, b) => a - b);
      const p50 = percentile(times, 50);
      const p99 = percentile(times, 99);
      figures.push({
        kind,
        example: example.length > 160 ? `${example.slice(0, 157)}...` : example,
        requests: times.length,
        records,
        p50Ms: round(p50),
        p99Ms: round(p99),
        maxMs: round(times[times.length - 1]),
        meanMs: round(times.reduce((a, b) => a + b, 0) / times.length),
        meetsTarget: { p50: p50 < TARGETS.listPageMs, p99: p99 < TARGETS.listPageMs },
      });
    }
    const seeded = /listening on \S+ after (\d+) ms/.exec(si.output().stdout);
    return {
      at: new Date().toISOString(),
      node: process.version,
      records: RECORDS,
      startupMs: Math.round(si.startupMs),
      seedMs: seeded ? Number(seeded[1]) : null,
      load: { before: round(loadBefore), after: round(loadavg()[0]), cores: cpus().length },
      rssMb: await rssMb(si.pid),
      targets: TARGETS,
      kinds: figures,
      meetsTargets: {
        startup: si.startupMs < TARGETS.startupMs,
        listPagesP50: figures.every((f) => f.meetsTarget.p50),
        listPagesP99: figures.every((f) => f.meetsTarget.p99),
      },
    };
  } finally {
    await si.stop();
  }
}

function printTable(result: StandInScaleFigures): void {
  const line = (cells: string[], widths: number[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const widths = [38, 8, 9, 9, 9, 9, 9];
  console.log(`GitLab stand-in, ${result.records.toLocaleString('en')} lfs_objects, ${result.kinds[0].requests} requests per kind (Node ${result.node})`);
  console.log(`start-up (spawn to "listening"): ${result.startupMs} ms   target < ${result.targets.startupMs} ms   ${result.meetsTargets.startup ? 'OK' : 'MISSED'}`);
  if (result.seedMs !== null) console.log(`  of which seeding and listen (as the stand-in reports): ${result.seedMs} ms`);
  if (result.rssMb !== null) console.log(`resident memory after the run: ${result.rssMb} MB`);
  console.log(`load average ${result.load.before} before, ${result.load.after} after, on ${result.load.cores} cores`);
  console.log('');
  const yes = (ok: boolean) => (ok ? 'yes' : 'NO');
  console.log(line(['list page', 'records', 'p50 ms', 'p99 ms', 'max ms', 'p50 ok', 'p99 ok'], widths));
  for (const k of result.kinds) {
    const cells = [k.kind, String(k.records), k.p50Ms.toFixed(2), k.p99Ms.toFixed(2), k.maxMs.toFixed(2), yes(k.meetsTarget.p50), yes(k.meetsTarget.p99)];
    console.log(line(cells, widths));
  }
  const { listPagesP50, listPagesP99 } = result.meetsTargets;
  console.log(`\ntarget: list page < ${result.targets.listPageMs} ms   p50 ${listPagesP50 ? 'OK' : 'MISSED'}, p99 ${listPagesP99 ? 'OK' : 'MISSED'}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runStandInScale();
  printTable(result);
  const out = fileURLToPath(new URL('./results/stand-in-scale.json', import.meta.url));
  await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwritten to ${out}`);
}
