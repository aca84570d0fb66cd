// Helpers of the operability suite: an HTTP client, the gateway as a child process (`node --import tsx src/main.ts`),
// a Prometheus text parser and a polling helper. Nothing of src/ is loaded here (see gateway.ts for the in-process
// gateway), so the process-level suites start quickly.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { REPO_ROOT, runToEnd, trackChild, type ProcessExit } from '../support/processes.js';

export const ADMIN = 'glpat-standin-admin';
export { REPO_ROOT };

export interface LogLine {
  level: number;
  msg: string;
  requestId?: string;
  operation?: string;
  type?: string;
  durationMs?: number;
  upstreamCalls?: number;
  errorCodes?: string[];
  [key: string]: unknown;
}

export interface PostOptions {
  /** `null` sends no token; default: the admin token as Bearer. */
  token?: string | null;
  header?: 'bearer' | 'private-token';
  requestId?: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  headers?: Record<string, string>;
}

export interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; [key: string]: unknown } }[];
}

export interface Posted {
  status: number;
  headers: Headers;
  body: GraphQLBody;
}

export async function postGraphQL(url: string, query: string, o: PostOptions = {}): Promise<Posted> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  const token = o.token === undefined ? ADMIN : o.token;
  if (token !== null) {
    if (o.header === 'private-token') headers['private-token'] = token;
    else headers.authorization = `Bearer ${token}`;
  }
  if (o.requestId !== undefined) headers['x-request-id'] = o.requestId;
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, ...o.headers },
    body: JSON.stringify({ query, variables: o.variables, operationName: o.operationName }),
  });
  const text = await res.text();
  let body: GraphQLBody;
  try {
    body = JSON.parse(text) as GraphQLBody;
  } catch {
    throw new Error(`not JSON (${res.status}): ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, body };
}

/** The first `n` PROJECT record identifiers of a stand-in, read over its REST API (ids have gaps). */
export async function projectIds(standInUrl: string, n: number): Promise<string[]> {
  const res = await fetch(`${standInUrl}/api/v4/admin/data_management/projects?per_page=${n}`, { headers: { 'private-token': ADMIN } });
  const records = (await res.json()) as { record_identifier: number }[];
  if (records.length !== n) throw new Error(`the stand-in has fewer than ${n} projects`);
  return records.map((r) => String(r.record_identifier));
}

/** Polls `probe` until it returns a value other than undefined (or stops throwing), or fails after `timeoutMs`. */
export async function until<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 20_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus' text format into samples (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const m of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the sample with exactly these labels; undefined when there is none. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).sort();
  const found = parseMetrics(text).filter(
    (s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(wanted),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** A TCP port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------------------------------------------------------
// The gateway as a process of its own.

/** The environment of a child: only what Node needs, so the test runner's own settings cannot leak in. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, NODE_OPTIONS: '', ...env };
}

export type Exit = ProcessExit;

/** Runs `src/main.ts` to its end (for config errors); SIGKILLs it after `timeoutMs`. */
export function runMain(env: Record<string, string>, timeoutMs = 120_000): Promise<Exit> {
  return runToEnd('src/main.ts', [], childEnv(env), timeoutMs);
}

export interface GatewayProcess {
  child: ChildProcess;
  /** http://127.0.0.1:<port>/graphql, from the "Gateway ready" line. */
  url: string;
  base: string;
  port: number;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited and its output is complete. */
  exited: Promise<Exit>;
  /** Kills it (SIGKILL) if it is still running: cleanup only. */
  kill(): void;
}

/** In the `msg` of the ready line (JSON, like every line), which is written whatever LOG_LEVEL says. */
const READY = /Gateway ready: (http:\/\/127\.0\.0\.1:(\d+)\/graphql)/;

/** Spawns `node --import tsx src/main.ts` with HOST=127.0.0.1, PORT=0 and `env`, and waits for its ready line. */
/** Where the gateway runs from: the repository's source under tsx, unless a built one is given (cwd and node's arguments). */
export interface GatewayMain {
  cwd: string;
  args: string[];
}

export async function spawnGateway(env: Record<string, string>, timeoutMs = 120_000, main: GatewayMain = { cwd: REPO_ROOT, args: ['--import', 'tsx', 'src/main.ts'] }): Promise<GatewayProcess> {
  const child = spawn(process.execPath, main.args, {
    cwd: main.cwd,
    env: childEnv({ HOST: '127.0.0.1', PORT: '0', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<Exit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway not ready within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    const check = () => {
      const m = READY.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited (${e.code}, ${e.signal}) before it was ready\nstdout: ${e.stdout}\nstderr: ${e.stderr}`));
    });
  });
  return {
    child,
    url: match[1],
    base: new URL(match[1]).origin,
    port: Number(match[2]),
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
