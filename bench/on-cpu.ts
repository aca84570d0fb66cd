// On-CPU time per request of the gateway and of the floor (the bare Node proxy) under scenario 1's load, side by side:
// by where it is spent (the kernel, Node's and V8's own code, compiled JavaScript), and by JavaScript function (with
// the V8 builtins it calls). Linux perf samples each process's CPU clock; V8's profiler (profile.ts) samples wall
// time, so it charges a write that wakes another process on a shared core for the wait. Needs perf (Debian's
// linux-perf). Run: npx tsx bench/on-cpu.ts [--seconds 10] [--top 25]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { throughput, type Target } from './lib/load.js';
import { startFloor } from './lib/processes.js';
import { setupOverhead, WARM_UP_S } from './scenarios/overhead.js';

const SAMPLES_PER_SECOND = 2000;
/** Writes /tmp/perf-<pid>.map, which perf reads to name compiled JavaScript. */
const PERF_MAP = '--perf-basic-prof-only-functions';

interface OnCpu {
  name: string;
  requests: number;
  /** Samples by shared object: the kernel, node, the JIT's code, libc. */
  byObject: Map<string, number>;
  /** Samples by the innermost JavaScript frame on the stack (the builtins and runtime it calls included). */
  byFunction: Map<string, number>;
  samples: number;
}

async function record(pid: number, file: string, during: () => Promise<number>): Promise<number> {
  const perf = spawn('perf', ['record', '-e', 'cpu-clock', '-F', String(SAMPLES_PER_SECOND), '-g', '-p', String(pid), '-o', file], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  try {
    return await during();
  } finally {
    perf.kill('SIGINT');
    await new Promise((resolve) => perf.once('exit', resolve));
  }
}

/** Reads `perf script`'s samples (a stack of "address symbol (object)" lines each, blank-line separated). */
async function summarise(name: string, file: string, requests: number): Promise<OnCpu> {
  const script = spawn('perf', ['script', '-i', file, '-F', 'ip,sym,dso'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const result: OnCpu = { name, requests, byObject: new Map(), byFunction: new Map(), samples: 0 };
  let frames: string[] = [];
  const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const flush = () => {
    if (frames.length === 0) return;
    result.samples++;
    const object = /\(([^)]*)\)\s*$/.exec(frames[0])?.[1] ?? '?';
    add(result.byObject, object.includes('kernel') ? 'kernel' : object.startsWith('/tmp/perf-') ? 'compiled JavaScript' : (object.split('/').pop() ?? object));
    const js = frames.find((frame) => frame.includes(' JS:'));
    const fn = js ? js.replace(/^\s*\S+\s+JS:[*+~^]?'?/, '').replace(/\s*\([^)]*\)\s*$/, '').replace(/file:\/\/\S*\//, '').replace(/^ /, '(anonymous) ') : '(no JavaScript on the stack: the kernel, GC)';
    add(result.byFunction, fn);
    frames = [];
  };
  for await (const line of createInterface({ input: script.stdout })) {
    if (line.trim() === '') flush();
    else frames.push(line);
  }
  flush();
  return result;
}

function report(runs: OnCpu[], top: number): void {
  const usPer = (run: OnCpu, samples: number) => (samples / SAMPLES_PER_SECOND / run.requests) * 1e6;
  const line = (label: string, values: string[]) => console.log(`${label.padEnd(60)}${values.map((v) => v.padStart(12)).join('')}`);
  line('on CPU, us per request', runs.map((r) => r.name));
  line('  all', runs.map((r) => usPer(r, r.samples).toFixed(1)));
  for (const object of new Set(runs.flatMap((r) => [...r.byObject.keys()]))) line(`  ${object}`, runs.map((r) => usPer(r, r.byObject.get(object) ?? 0).toFixed(1)));
  for (const run of runs) {
    console.log(`\n${run.name}: top ${top} JavaScript functions, us per request (with the builtins they call)`);
    for (const [fn, samples] of [...run.byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${usPer(run, samples).toFixed(2).padStart(6)}  ${fn.slice(0, 110)}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, top: { type: 'string', default: '25' } } });
  if (spawnSync('perf', ['--version']).status !== 0) {
    console.error('perf is not installed (Debian: apt-get install linux-perf)');
    process.exit(2);
  }
  const dir = await mkdtemp(join(tmpdir(), 'on-cpu-'));
  const setup = await setupOverhead([{ nodeArgs: [PERF_MAP] }]);
  const floor = await startFloor('bare-proxy.ts', { UPSTREAM_ORIGIN: setup.standIn.url, UPSTREAM_PATH: setup.gatewayUpstreamPath, NODE_OPTIONS: PERF_MAP });
  const pids = [setup.gateways[0].pid, floor.pid];
  try {
    const gateway: Target = setup.gatewayTarget(setup.gateways[0], 'gateway');
    const servers = [
      { name: 'gateway', pid: setup.gateways[0].pid, target: gateway },
      { name: 'floor', pid: floor.pid, target: { ...gateway, name: 'floor', origin: floor.origin } },
    ];
    const runs: OnCpu[] = [];
    for (const { name, pid, target } of servers) {
      await throughput(target, 50, WARM_UP_S);
      const file = join(dir, `${name}.data`);
      const requests = await record(pid, file, async () => (await throughput(target, 50, Number(values.seconds))).requests);
      runs.push(await summarise(name, file, requests));
    }
    report(runs, Number(values.top));
  } finally {
    await floor.stop();
    await setup.stop();
    await rm(dir, { recursive: true, force: true });
    // The processes' symbol maps are theirs to leave; they are gone with them.
    for (const entry of await readdir(tmpdir())) if (pids.some((pid) => entry === `perf-${pid}.map`)) await rm(join(tmpdir(), entry), { force: true });
  }
}

await main();
