// `npm run bench [-- --only overhead,batching] [--quick] [--subscribers 1,100] [--node PATH]`: the benchmark suite.
// Every server runs in a process of its own on loopback; every figure is a ratio or a count measured side by side in
// this run.
// Prints a table of figures, targets and pass/miss, and writes bench/results/latest.json.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Figure, RunOptions, ScenarioResult } from './lib/figures.js';
import type { Delivery } from '../src/live/subscription.js';
import { runBatching } from './scenarios/batching.js';
import { runFanout } from './scenarios/fanout.js';
import { runFootprint } from './scenarios/footprint.js';
import { runOverhead } from './scenarios/overhead.js';
import { runScale } from './scenarios/scale.js';
import { runScaleOut } from './scenarios/scale-out.js';
import { runSummary } from './scenarios/summary.js';
import { runTracing } from './scenarios/tracing.js';

const SCENARIOS: Record<string, (options: RunOptions) => Promise<ScenarioResult>> = {
  overhead: runOverhead,
  batching: runBatching,
  fanout: runFanout,
  scale: runScale,
  summary: runSummary,
  'scale-out': runScaleOut,
  footprint: runFootprint,
  tracing: runTracing,
};

const USAGE = `Usage: npm run bench -- [--only ${Object.keys(SCENARIOS).join(',')}] [--quick] [--subscribers 1,100,1000,10000] [--delivery each,batch] [--node PATH] [--out FILE]

  --only          comma-separated scenarios to run (default: all, in this order)
  --quick         shorter durations, fewer repetitions, fan-out up to 1,000 subscribers, summary at 200,000 records
                  per model and up to 100 subscribers (for development)
  --subscribers   fan-out: subscriber counts to run (default 1,100,1000,10000; quick 1,100,1000)
  --delivery      fan-out: which subscription, each (checksumStateChanged, a message per record change), batch
                  (checksumStateChangeBatches, a message per observation), or both (default each,batch)
  --node          the node binary the gateway processes run under (default: the one running the bench; env BENCH_NODE),
                  to compare Node versions with everything else the same: stand-ins, floors and load stay on this one
  --out           where the JSON goes (default bench/results/latest.json)
  scale-out runs 1 and then 3 gateways on a redis-server of its own (3,000 subscribers; quick 300); skipped without redis-server
  footprint builds for production in a temporary directory (npm run build: the bundle, GraphiQL's assets, the monitor
  page) and reports the runtime stage's size on disk (package.json and dist/) and the resident memory of the gateway
  run from there
`;

function parse() {
  let values;
  try {
    ({ values } = parseArgs({
      options: { only: { type: 'string' }, quick: { type: 'boolean', default: false }, subscribers: { type: 'string' }, delivery: { type: 'string' }, node: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', default: false } },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const only = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : Object.keys(SCENARIOS);
  const unknown = only.find((s) => !(s in SCENARIOS));
  if (unknown) {
    process.stderr.write(`unknown scenario "${unknown}"\n${USAGE}`);
    process.exit(2);
  }
  let subscribers: number[] | undefined;
  if (values.subscribers) {
    subscribers = values.subscribers.split(',').map((s) => Number(s.trim()));
    if (subscribers.some((n) => !Number.isInteger(n) || n < 1 || n > 100_000)) {
      process.stderr.write(`--subscribers must be integers between 1 and 100000\n`);
      process.exit(2);
    }
  }
  const deliveries = (values.delivery ?? 'each,batch').split(',').map((s) => s.trim());
  if (deliveries.length === 0 || deliveries.some((d) => d !== 'each' && d !== 'batch')) {
    process.stderr.write(`--delivery must be each, batch or each,batch\n`);
    process.exit(2);
  }
  const node = values.node ?? process.env.BENCH_NODE;
  let nodeVersion = process.version;
  if (node) {
    try {
      nodeVersion = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    } catch (error) {
      process.stderr.write(`--node ${node}: cannot run it (${(error as Error).message.split('\n')[0]})\n`);
      process.exit(2);
    }
    // Read by bench/lib/processes.ts when it starts a gateway.
    process.env.BENCH_NODE = node;
  }
  return { only, quick: values.quick, subscribers, deliveries: deliveries as Delivery[], gatewayNode: { path: node ?? process.execPath, version: nodeVersion }, out: values.out ?? fileURLToPath(new URL('./results/latest.json', import.meta.url)) };
}

function formatValue(f: Figure): string {
  if (f.value === null) return 'n/a';
  const digits = Math.abs(f.value) >= 100 || Number.isInteger(f.value) ? 0 : Math.abs(f.value) >= 10 ? 1 : f.unit === 'x' ? 3 : 2;
  const number = f.value.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return f.unit === 'x' ? `${number}x` : `${number} ${f.unit}`;
}

export function printTable(figures: Figure[]): void {
  const rows = figures.map((f) => [f.scenario, f.name, formatValue(f), f.target, f.pass === null ? '' : f.pass ? 'pass' : 'MISS', f.note ?? '']);
  const header = ['scenario', 'figure', 'value', 'target', 'result', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  let previous = '';
  for (const [i, row] of rows.entries()) {
    if (previous && figures[i].scenario !== previous) console.log('');
    previous = figures[i].scenario;
    console.log(line(row));
  }
}

async function main(): Promise<void> {
  const { only, quick, subscribers, deliveries, gatewayNode, out } = parse();
  const started = new Date();
  const loadBefore = loadavg()[0];
  const log = (line: string) => console.log(line);
  const gateways = gatewayNode.path === process.execPath ? '' : `, gateways on Node ${gatewayNode.version} (${gatewayNode.path})`;
  log(`bench: ${only.join(', ')}${quick ? ' (quick)' : ''} on Node ${process.version}${gateways}, ${cpus().length} cores, load ${loadBefore.toFixed(2)}`);
  const results: ScenarioResult[] = [];
  const failures: Array<{ scenario: string; error: string }> = [];
  for (const name of only) {
    log(`\n== ${name} ==`);
    const began = performance.now();
    try {
      results.push(await SCENARIOS[name]({ quick, subscribers, deliveries, log }));
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      failures.push({ scenario: name, error: message });
      log(`${name} failed: ${message}`);
    }
    log(`(${name}: ${((performance.now() - began) / 1000).toFixed(0)} s)`);
  }
  const figures = results.flatMap((r) => r.figures);
  console.log('');
  printTable(figures);
  const judged = figures.filter((f) => f.pass !== null);
  console.log(`\n${judged.filter((f) => f.pass).length} of ${judged.length} targets met${failures.length ? `; ${failures.length} scenario(s) failed: ${failures.map((f) => f.scenario).join(', ')}` : ''}`);
  await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  const report = {
    at: started.toISOString(),
    durationS: Math.round((Date.now() - started.getTime()) / 1000),
    node: process.version,
    gatewayNode,
    quick,
    scenarios: only,
    machine: { cores: cpus().length, model: cpus()[0]?.model ?? null, loadBefore: Math.round(loadBefore * 100) / 100, loadAfter: Math.round(loadavg()[0] * 100) / 100 },
    figures,
    failures,
    details: Object.fromEntries(results.map((r) => [r.scenario, r.details])),
  };
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`written to ${out}`);
  process.exit(failures.length > 0 ? 1 : 0);
}

await main();
