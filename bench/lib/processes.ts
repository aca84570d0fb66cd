// The servers of the benchmarks, each in a process of its own and run as the image runs them, under plain node: the
// gateway as `npm run build` bundles it (scripts/build.ts; a checkout from before the bundle, compiled by tsc as its
// image did), the stand-in (stand-in/cli.js) compiled with tsconfig.build.json; and the floors, which are bench code of
// their own (startFloor). Loopback only. The gateway's node can be another than the bench's
// (`npm run bench -- --node <path>`, or BENCH_NODE), so two Node versions compare with all else the same.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { imageNodeFlags, REPO_ROOT } from '../../test/support/processes.js';
import { startStandalone as startStandaloneProcess, type StandaloneStandIn } from '../../test/support/standalone.js';

export { imageNodeFlags, REPO_ROOT } from '../../test/support/processes.js';
export { ADMIN_TOKEN, type StandaloneStandIn } from '../../test/support/standalone.js';

const builds = new Map<string, Promise<string>>();
const bundles = new Map<string, Promise<string>>();

/** The node binary gateway processes run under: BENCH_NODE (set by `--node`), else the one running the bench. */
export function gatewayNode(): string {
  return process.env.BENCH_NODE || process.execPath;
}

/** Compiles the source of `root` once per run into its bench/results/dist/ (tsx would add its own costs). */
export function builtSource(root = REPO_ROOT): Promise<string> {
  let build = builds.get(root);
  if (!build) {
    const outDir = join(root, 'bench/results/dist');
    build = rm(outDir, { recursive: true, force: true })
      .then(() => promisify(execFile)(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir]))
      .then(() => outDir);
    builds.set(root, build);
  }
  return build;
}

/**
 * The gateway's main.js as the image of the checkout at `root` runs it: bundled by its scripts/build.ts (into
 * bench/results/bundle/), or, for a checkout without one, compiled by tsc (see builtSource).
 */
export function builtGateway(root = REPO_ROOT): Promise<string> {
  const script = join(root, 'scripts/build.ts');
  if (!existsSync(script)) return builtSource(root).then((dir) => join(dir, 'main.js'));
  let bundle = bundles.get(root);
  if (!bundle) {
    const outDir = join(root, 'bench/results/bundle');
    bundle = promisify(execFile)(process.execPath, ['--import', 'tsx', script, '--out', outDir], { cwd: root }).then(() => join(outDir, 'main.js'));
    bundles.set(root, bundle);
  }
  return bundle;
}

/** The stand-in as built (see builtSource), in a process of its own. */
export async function startStandalone(flags: string[] = [], options: { timeoutMs?: number } = {}): Promise<StandaloneStandIn> {
  return startStandaloneProcess(flags, { ...options, compiledCli: join(await builtSource(), 'stand-in/cli.js') });
}

// The ready line is JSON: the URL ends at a space or at the closing quote of its `msg`.
const READY = /Gateway ready: (http:\/\/[^\s"]+\/graphql)/;

export interface GatewayProcess {
  /** e.g. http://127.0.0.1:40123/graphql */
  url: string;
  /** e.g. http://127.0.0.1:40123 */
  origin: string;
  pid: number;
  output(): { stdout: string; stderr: string };
  /** Resident memory in bytes, from /proc (Linux). */
  rssBytes(): Promise<number | null>;
  /** SIGTERM (graceful: a --cpu-prof profile is written), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface GatewayStart {
  gitlabUrl: string;
  /** Extra environment variables of the gateway (config.ts). */
  env?: Record<string, string>;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** Directory holding the source (default: this repository); lets a benchmark run another copy of it. */
  root?: string;
  /** A built main.js to run, from `root`, instead of building root's source (e.g. a production install's dist/main.js). */
  entry?: string;
  /** A command the gateway's node runs under, e.g. valgrind and its flags (bench/instructions.ts). */
  wrapper?: string[];
  timeoutMs?: number;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

export async function procRssBytes(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    return kb ? Number(kb[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export async function startGatewayProcess({ gitlabUrl, env = {}, nodeArgs = [], root = REPO_ROOT, entry, wrapper = [], timeoutMs = 30_000 }: GatewayStart): Promise<GatewayProcess> {
  // As the image runs it: NODE_ENV=production (graphql-js checks every instanceof twice otherwise) and the default
  // LOG_LEVEL (a line per operation). One token and one address send every request here: the per-client limits,
  // which are there for other clients, are off.
  const processEnv = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    GITLAB_URL: gitlabUrl,
    RATE_LIMIT_TOKEN_OPERATIONS_PER_MINUTE: '0',
    RATE_LIMIT_IP_OPERATIONS_PER_MINUTE: '0',
    RATE_LIMIT_TOKEN_UPSTREAM_CALLS_PER_MINUTE: '0',
    RATE_LIMIT_TOKEN_SUBSCRIPTIONS: '0',
    ...env,
  };
  const main = entry ?? (await builtGateway(root));
  // Node's flags too, as the image's CMD gives them.
  const command = [...wrapper, gatewayNode(), ...(await imageNodeFlags(root)), ...nodeArgs, main];
  const server = await startServerProcess('gateway', command[0], command.slice(1), processEnv, READY, root, timeoutMs);
  return { ...server, url: server.ready, origin: new URL(server.ready).origin };
}

/**
 * A floor: a server of bench/lib/ that does a scenario's work with no GraphQL (bare-proxy.ts, bare-broadcaster.ts), in
 * a process of its own. It prints "listening on <origin>".
 */
export async function startFloor(script: 'bare-proxy.ts' | 'bare-broadcaster.ts' | 'otlp-sink.ts', env: Record<string, string> = {}): Promise<ServerProcess & { origin: string }> {
  const server = await startServerProcess(script, process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/lib', script)], env, /listening on (http:\/\/\S+)/, REPO_ROOT, 30_000);
  return { ...server, origin: server.ready };
}

export interface ServerProcess {
  /** The first capture of the ready pattern in the process's stdout. */
  ready: string;
  pid: number;
  output(): { stdout: string; stderr: string };
  rssBytes(): Promise<number | null>;
  stop(graceMs?: number): Promise<void>;
}

/** Characters of a process's stdout and stderr kept for output(). */
const KEPT_OUTPUT_CHARS = 65_536;

async function startServerProcess(name: string, node: string, args: string[], env: Record<string, string>, ready: RegExp, cwd: string, timeoutMs: number): Promise<ServerProcess> {
  const child = spawn(node, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '', ...env } });
  children.add(child);
  let stdout = '';
  let stderr = '';
  // What a scenario reads is at the start (ready lines, the inspector's URL); past it output is drained, not kept: a
  // gateway logging a line per request would otherwise make this process, beside the load generator, the bottleneck.
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    if (stdout.length < KEPT_OUTPUT_CHARS) stdout += chunk;
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < KEPT_OUTPUT_CHARS) stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => (children.delete(child), resolve())));
  const readyText = await new Promise<string>((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`${name} did not start within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`)), timeoutMs);
    const check = () => {
      const match = ready.exec(stdout);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code, signal) => fail(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready\nstderr: ${stderr}`)));
  });
  return {
    ready: readyText,
    pid: child.pid!,
    output: () => ({ stdout, stderr }),
    rssBytes: () => procRssBytes(child.pid!),
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const grace = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(grace);
    },
  };
}

/** CPU time (user + system, every thread) a process has used so far, in seconds (Linux; 10 ms ticks). */
export async function procCpuSeconds(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** One value of a Prometheus text exposition, e.g. metric(text, 'gateway_live_poll_cycles_total', { model: 'PROJECT' }). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const set = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(match[3]);
  }
  return sum;
}
