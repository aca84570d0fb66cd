// Scenario 4: the stand-in itself at 1,000,000 records (bench/stand-in-scale.ts): start time and list-page latency.
import { figure, type RunOptions, type ScenarioResult } from '../lib/figures.js';
import { runStandInScale, TARGETS } from '../stand-in-scale.js';

export async function runScale(options: RunOptions): Promise<ScenarioResult> {
  const S = 'scale';
  const result = await runStandInScale({ requestsPerKind: options.quick ? 50 : undefined });
  options.log(`  ${result.records.toLocaleString('en')} records: start-up ${result.startupMs} ms (seeding ${result.seedMs} ms), RSS ${result.rssMb} MB, load ${result.load.before} -> ${result.load.after}`);
  const p50s = result.kinds.map((k) => k.p50Ms);
  const p99s = result.kinds.map((k) => k.p99Ms);
  const worst = (key: 'p50Ms' | 'p99Ms') => result.kinds.reduce((a, b) => (b[key] > a[key] ? b : a));
  const figures = [
    figure(S, `start-up at ${result.records.toLocaleString('en')} records`, result.startupMs, 'ms', `< ${TARGETS.startupMs}`, result.meetsTargets.startup, result.seedMs === null ? undefined : `seeding ${result.seedMs} ms`),
    figure(S, 'list page p50, worst of 8 kinds', Math.max(...p50s), 'ms', `< ${TARGETS.listPageMs}`, result.meetsTargets.listPagesP50, worst('p50Ms').kind),
    figure(S, 'list page p99, worst of 8 kinds', Math.max(...p99s), 'ms', `< ${TARGETS.listPageMs}`, result.meetsTargets.listPagesP99, worst('p99Ms').kind),
  ];
  for (const k of result.kinds) options.log(`  ${k.kind.padEnd(38)} p50 ${k.p50Ms.toFixed(2).padStart(6)} ms  p99 ${k.p99Ms.toFixed(2).padStart(6)} ms  (${k.requests} requests)`);
  return { scenario: S, figures, details: result };
}
