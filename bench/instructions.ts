// Instructions per request of scenario 1's request (modelRecord), counted by valgrind's callgrind in the gateway built
// from another checkout and from this one, taking turns on one stand-in. Unlike CPU time, the count does not move with
// what else the shared machine runs: two runs of one build agree within about 1% (V8 compiles in the background, on
// its own schedule), where bench/compare.ts's CPU per request moves 10 to 20% from round to round in a busy hour. So
// it tells a change of a few percent, which compare.ts cannot; it counts work, not time (a cache miss or a system
// call's wait costs nothing here), so a candidate is kept on both. Needs valgrind. Run:
//   npx tsx bench/instructions.ts --base DIR [--requests 3000] [--runs 2]
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { median } from './lib/load.js';
import { ADMIN_TOKEN, startGatewayProcess, startStandalone } from './lib/processes.js';
import { firstRecordId, MODEL_RECORD_QUERY } from './scenarios/overhead.js';

const { values } = parseArgs({
  options: { base: { type: 'string' }, requests: { type: 'string', default: '3000' }, runs: { type: 'string', default: '2' } },
  strict: true,
});
if (!values.base) {
  process.stderr.write('Usage: npx tsx bench/instructions.ts --base DIR [--requests 3000] [--runs 2]\n');
  process.exit(2);
}
const requests = Number(values.requests);
const run = promisify(execFile);
// The gateway's environment sets HOST, and valgrind names its control pipes after $HOST: callgrind_control must see
// the same value to find them.
const GATEWAY_HOST = '127.0.0.1';
const control = (pid: number, ...args: string[]) => run('callgrind_control', [...args, String(pid)], { env: { ...process.env, HOST: GATEWAY_HOST } });

try {
  await run('valgrind', ['--version']);
} catch {
  process.stderr.write('valgrind is not installed (Debian: apt-get install valgrind)\n');
  process.exit(2);
}

const standIn = await startStandalone(['--records', '200', '--verify-interval-ms', '0']);
const recordId = await firstRecordId(standIn);
const dir = await mkdtemp(join(tmpdir(), 'instructions-'));

/** Instructions per request of one gateway: started under callgrind with counting off, warmed, then counted. */
async function count(root: string | undefined, label: string): Promise<number> {
  const out = join(dir, `${label}-${Date.now()}`);
  const gateway = await startGatewayProcess({
    gitlabUrl: standIn.url,
    root,
    // Counting off until the warm-up is over (the JIT's tiers settle); --smc-check: V8 writes code it then runs.
    wrapper: ['valgrind', '--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${out}.%p`],
    timeoutMs: 180_000,
  });
  try {
    const load = async (amount: number) => {
      const result = await autocannon({
        url: gateway.url,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'private-token': ADMIN_TOKEN },
        body: JSON.stringify({ query: MODEL_RECORD_QUERY(recordId) }),
        connections: 10,
        amount,
        timeout: 60,
      });
      if (result.non2xx || result.errors) throw new Error(`${label}: ${result.non2xx} non-2xx answers and ${result.errors} errors`);
      return result.requests.total;
    };
    await load(requests);
    await control(gateway.pid, '-i', 'on');
    const counted = await load(requests);
    await control(gateway.pid, '-i', 'off');
    await control(gateway.pid, '-d');
    let total = 0;
    for (const file of await readdir(dir)) {
      if (!file.startsWith(`${label}-`) || !file.includes(`.${gateway.pid}.`)) continue;
      const totals = /^totals: (\d+)/m.exec(await readFile(join(dir, file), 'utf8'));
      if (totals) total += Number(totals[1]);
    }
    if (total === 0) throw new Error(`${label}: callgrind counted nothing`);
    return total / counted;
  } finally {
    await gateway.stop(1_000);
  }
}

try {
  const base: number[] = [];
  const head: number[] = [];
  for (let r = 0; r < Number(values.runs); r++) {
    base.push(await count(values.base, 'base'));
    head.push(await count(undefined, 'this'));
    console.log(`run ${r + 1}: base ${(base[r] / 1000).toFixed(1)}k, this checkout ${(head[r] / 1000).toFixed(1)}k instructions per request`);
  }
  const [b, h] = [median(base), median(head)];
  console.log(`instructions per request, medians: base ${(b / 1000).toFixed(1)}k, this checkout ${(h / 1000).toFixed(1)}k; this / base ${(h / b).toFixed(3)}x`);
} finally {
  await standIn.stop();
  await rm(dir, { recursive: true, force: true });
}
