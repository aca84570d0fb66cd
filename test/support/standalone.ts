// Spawns the standalone GitLab stand-in (`src/stand-in/cli.ts`) as a child process and drives its control API.
import { spawn } from 'node:child_process';
import { REPO_ROOT, runToEnd, trackChild, type ProcessExit } from './processes.js';
import type { Faults as FaultSettings } from '../../src/stand-in/options.js';
import type { RequestLogEntry as LoggedRequest } from '../../src/stand-in/server.js';

const CLI = 'src/stand-in/cli.ts';
const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+)/;

export const ADMIN_TOKEN = 'glpat-standin-admin';
export const USER_TOKEN = 'glpat-standin-user';
export const READ_API_TOKEN = 'glpat-standin-read-api';

export type { FaultSettings, LoggedRequest };

export interface StandInSettings {
  dialect: 'singular' | 'plural';
  featureFlag: boolean;
  primary: boolean;
  /** Deepest offset page answered (GitLab.com's limit on some types); null: none. */
  maxOffset: number | null;
}

export interface ControlResponse<T> {
  status: number;
  body: T;
}

export interface StandaloneStandIn {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  /** `${url}/api/v4/admin/data_management` */
  api: string;
  pid: number;
  /** Milliseconds from spawn to the "listening on" line. */
  startupMs: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
  /** Stops the process (SIGTERM, then SIGKILL after a grace period) and resolves with how it exited. */
  stop(): Promise<ExitStatus>;
  requests(after?: number): Promise<{ requests: LoggedRequest[]; lastSeq: number }>;
  clearRequests(): Promise<{ lastSeq: number }>;
  faults(): Promise<FaultSettings>;
  /** Sends a partial fault setting; answers the status and body (400 on invalid values). */
  setFaults(partial: unknown): Promise<ControlResponse<FaultSettings & { error?: string }>>;
  settings(): Promise<StandInSettings>;
  setSettings(partial: Partial<StandInSettings>): Promise<StandInSettings>;
  addToken(token: string, role: 'admin' | 'user' | 'readOnly'): Promise<void>;
  revokeToken(token: string): Promise<boolean>;
  /** Runs one cycle of the verification job now; answers how many records it started. */
  verify(): Promise<number>;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  /** How long to wait for the "listening" line (default 30 s). */
  timeoutMs?: number;
  /** A compiled cli.js to run with plain node instead of the source through tsx (the benchmarks run what ships). */
  compiledCli?: string;
}

/** Spawns `node --import tsx src/stand-in/cli.ts --port 0 ...flags` and waits until it listens. */
export async function startStandalone(flags: string[] = [], { timeoutMs = 30_000, compiledCli }: StartOptions = {}): Promise<StandaloneStandIn> {
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...(compiledCli ? [compiledCli] : ['--import', 'tsx', CLI]), '--port', '0', ...flags], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  trackChild(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`stand-in did not listen within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`)), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    child.stdout!.on('data', (chunk: string) => {
      stdout += chunk;
      const match = LISTENING.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`stand-in exited (code ${code}, signal ${signal}) before listening\nstderr: ${stderr}`)));
  });
  const startupMs = performance.now() - spawnedAt;

  const control = async <T>(method: string, route: string, body?: unknown): Promise<ControlResponse<T>> => {
    const response = await fetch(`${url}/-/stand-in/${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const ok = async <T>(method: string, route: string, body?: unknown): Promise<T> => {
    const { status, body: answer } = await control<T>(method, route, body);
    if (status < 200 || status > 299) throw new Error(`control ${method} ${route} answered ${status}: ${JSON.stringify(answer)}`);
    return answer;
  };

  return {
    url,
    api: `${url}/api/v4/admin/data_management`,
    pid: child.pid!,
    startupMs,
    output: () => ({ stdout, stderr }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const grace = setTimeout(() => child.kill('SIGKILL'), 3_000);
      const status = await exited;
      clearTimeout(grace);
      return status;
    },
    requests: (after = 0) => ok('GET', `requests?after=${after}`),
    clearRequests: () => ok('DELETE', 'requests'),
    faults: () => ok('GET', 'faults'),
    setFaults: (partial) => control('PUT', 'faults', partial),
    settings: () => ok('GET', 'settings'),
    setSettings: (partial) => ok('PUT', 'settings', partial),
    async addToken(token, role) {
      await ok('POST', 'tokens', { token, role });
    },
    async revokeToken(token) {
      const { body } = await control<{ revoked: boolean }>('DELETE', `tokens/${encodeURIComponent(token)}`);
      return body.revoked;
    },
    async verify() {
      return (await ok<{ started: number }>('POST', 'verify')).started;
    },
  };
}

export type CliRun = ProcessExit;

/** Runs the CLI to completion (for --help and bad flags); kills it if it is still running after `timeoutMs`. */
export function runCli(flags: string[], timeoutMs = 20_000): Promise<CliRun> {
  return runToEnd(CLI, flags, { ...process.env, NODE_OPTIONS: '' }, timeoutMs);
}
