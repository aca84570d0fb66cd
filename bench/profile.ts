// CPU profile of the gateway under scenario 1's load (modelRecord at 50 connections), summarised by function and by
// package. Run: npx tsx bench/profile.ts [--seconds 15] [--top 40] [--log-level info]
// The raw profile goes to bench/results/profiles/ (open it in Chrome DevTools or speedscope).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connectInspector, inspectorUrlOf } from './lib/inspector.js';
import { throughput } from './lib/load.js';
import { builtSource } from './lib/processes.js';
import { setupOverhead } from './scenarios/overhead.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a script comes from: a package of node_modules, node's own code, or the gateway's source. */
export function packageOf(url: string): string {
  if (!url) return '(native / gc / idle)';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  // The gateway runs as built (bench/results/dist/); its files are named as in src/.
  const built = url.indexOf('/bench/results/dist/');
  if (built >= 0) return `gateway src/${url.slice(built + '/bench/results/dist/'.length)}`;
  const src = url.indexOf('/src/');
  if (src >= 0) return `gateway ${url.slice(src + 1)}`;
  return url.replace(/^file:\/\//, '');
}

export function summariseProfile(profile: Profile, top = 40): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, v]) => a + v, 0);
  const busy = total - idle;
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    const where = packageOf(url);
    const key = `${functionName || '(anonymous)'}  ${where}${url ? `:${lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    pkg.set(where.startsWith('gateway ') ? 'gateway src' : where, (pkg.get(where.startsWith('gateway ') ? 'gateway src' : where) ?? 0) + us);
  }
  // Inclusive time of every package: a sample counts once for each package on its stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const url = byId.get(cur)!.callFrame.url;
      if (!url) continue;
      const p = packageOf(url);
      const key = p.startsWith('gateway ') ? p : p;
      if (!seen.has(key)) {
        seen.add(key);
        inclusive.set(key, (inclusive.get(key) ?? 0) + us);
      }
    }
  }
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const lines: string[] = [];
  lines.push(`busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s profiled (idle ${((100 * idle) / total).toFixed(0)}%)`);
  lines.push('\nself time by package (% of busy):');
  for (const [k, v] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, 20)) lines.push(`  ${pct(v)}  ${k}`);
  lines.push('\ninclusive time by package or gateway file (% of busy):');
  for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 30)) lines.push(`  ${pct(v)}  ${k}`);
  lines.push(`\ntop ${top} functions by self time (% of busy):`);
  for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(v)}  ${k}`);
  return lines.join('\n');
}

/** Profiles a running node process over its inspector (started with --inspect=127.0.0.1:0) while `during` runs. */
export async function profileWhile<T>(inspectorUrl: string, during: () => Promise<T>, samplingIntervalUs = 200): Promise<{ result: T; profile: Profile }> {
  const inspector = await connectInspector(inspectorUrl);
  try {
    await inspector.call('Profiler.enable');
    await inspector.call('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
    await inspector.call('Profiler.start');
    const result = await during();
    const { profile } = await inspector.call<{ profile: Profile }>('Profiler.stop');
    return { result, profile };
  } finally {
    inspector.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '15' }, top: { type: 'string', default: '40' }, 'log-level': { type: 'string', default: 'silent' } } });
  const dir = fileURLToPath(new URL('./results/profiles/', import.meta.url));
  await mkdir(dir, { recursive: true });
  // Compiled module by module, not bundled as the image runs it: a function is told to its package by its file's path
  // (the bundle puts every one in main.js). Both cost the same per request (README, Performance).
  const entry = join(await builtSource(), 'main.js');
  const setup = await setupOverhead([{ nodeArgs: ['--inspect=127.0.0.1:0'], env: { LOG_LEVEL: values['log-level'] }, entry }]);
  try {
    const gateway = setup.gateways[0];
    const target = setup.gatewayTarget(gateway);
    await throughput(target, 50, 3);
    const { result: run, profile } = await profileWhile(inspectorUrlOf(gateway.output().stderr), () => throughput(target, 50, Number(values.seconds)));
    console.log(`gateway under load: ${run.rps.toFixed(0)} req/s at 50 connections (p50 ${run.p50Ms} ms), ${run.non2xx} non-2xx, ${run.errors} errors`);
    const file = `${dir}overhead-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`;
    await writeFile(file, JSON.stringify(profile));
    console.log(`profile: ${file}\n`);
    console.log(summariseProfile(profile, Number(values.top)));
  } finally {
    await setup.stop();
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) await main();
