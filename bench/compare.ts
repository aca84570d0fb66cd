// A before/after of one change: scenario 1's request (modelRecord at 50 connections, then at 1 connection) against the
// gateway built from another checkout and from this one, on one stand-in, taking turns. Run:
//   npx tsx bench/compare.ts --base /path/to/other/checkout [--seconds 10] [--rounds 3] [--env NAME=VALUE ...] [--control]
// `--env` applies to this checkout's gateway only (e.g. to compare a setting's two values, give --base this checkout).
// `--control` runs a second gateway of the base beside them: how far two identical gateways differ is the noise.
import { parseArgs } from 'node:util';
import { cpuPerRequest, interleavedThroughput, setupOverhead, totalRps, WARM_UP_S } from './scenarios/overhead.js';
import { interleavedLatency, median } from './lib/load.js';

const { values } = parseArgs({
  options: { base: { type: 'string' }, seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' }, env: { type: 'string', multiple: true, default: [] }, control: { type: 'boolean', default: false } },
  strict: true,
});
if (!values.base) {
  process.stderr.write('Usage: npx tsx bench/compare.ts --base DIR [--seconds 10] [--rounds 3] [--env NAME=VALUE ...] [--control]\n');
  process.exit(2);
}
const env = Object.fromEntries(values.env.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
const setup = await setupOverhead([{ root: values.base }, { env }, ...(values.control ? [{ root: values.base }] : [])]);
try {
  const [base, head, control] = setup.gateways;
  const targets = [setup.gatewayTarget(base, 'base'), setup.gatewayTarget(head, 'this checkout'), ...(control ? [setup.gatewayTarget(control, 'control')] : [])];
  const watch: Record<string, number> = { base: base.pid, 'this checkout': head.pid, ...(control ? { control: control.pid } : {}) };
  const log = (line: string) => process.stdout.write(`${line}\n`);
  // Both compiled and warm before the first counted round: the first seconds of a process cost it more.
  const [baseRuns, headRuns, controlRuns] = await interleavedThroughput(targets, Number(values.rounds), Number(values.seconds), log, watch, WARM_UP_S);
  // The control's latency is not read: base and this checkout take the whole time.
  const [lb, lh] = await interleavedLatency(targets.slice(0, 2), Number(values.seconds) * 1000);
  const row = (name: string, rps: number, cpu: number, p50: number, p99: number) =>
    log(`${name.padEnd(14)} ${rps.toFixed(0).padStart(6)} req/s   ${cpu.toFixed(0).padStart(4)} us CPU/request   1 conn p50 ${p50.toFixed(3)} ms  p99 ${p99.toFixed(3)} ms`);
  row('base', totalRps(baseRuns), cpuPerRequest(baseRuns, 'base'), lb.p50Ms, lb.p99Ms);
  row('this checkout', totalRps(headRuns), cpuPerRequest(headRuns, 'this checkout'), lh.p50Ms, lh.p99Ms);
  log(`this / base: throughput ${(totalRps(headRuns) / totalRps(baseRuns)).toFixed(3)}x, CPU per request ${(cpuPerRequest(headRuns, 'this checkout') / cpuPerRequest(baseRuns, 'base')).toFixed(3)}x`);
  // Round by round (each pair ran back to back), the median: one slow moment of the machine does not move it.
  const paired = headRuns.map((run, i) => cpuPerRequest([run], 'this checkout') / cpuPerRequest([baseRuns[i]], 'base'));
  log(`CPU per request, this / base, median of the rounds' pairs: ${median(paired).toFixed(3)}x (${paired.map((r) => r.toFixed(3)).join(', ')})`);
  if (controlRuns) {
    const cpu = cpuPerRequest(controlRuns, 'control');
    log(`control (the base again): ${totalRps(controlRuns).toFixed(0)} req/s, ${cpu.toFixed(0)} us CPU/request; control / base ${(cpu / cpuPerRequest(baseRuns, 'base')).toFixed(3)}x: the noise`);
  }
} finally {
  await setup.stop();
}
