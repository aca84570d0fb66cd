// `npm start` as a person runs it: SIGTERM to npm (what `kill <pid of npm>` and most supervisors send) stops the
// gateway gracefully, and a second Ctrl-C during a slow shutdown exits at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { trackChild } from '../support/processes.js';
import { ADMIN, postGraphQL, REPO_ROOT, until } from './helpers.js';

interface NpmStart {
  npm: ChildProcess;
  output(): string;
  /** The gateway's /graphql and the embedded stand-in's URL, from the demo-mode lines. */
  gateway: string;
  standIn: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function npmStart(env: Record<string, string>): Promise<NpmStart> {
  const npm = spawn('npm', ['start', '--silent'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(npm);
  let output = '';
  npm.stdout!.setEncoding('utf8').on('data', (c: string) => (output += c));
  npm.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => npm.once('close', (code, signal) => resolve({ code, signal })));
  const [gateway, standIn] = await until(() => {
    const ready = /Gateway ready: (http:\/\/[^\s"]+\/graphql)/.exec(output);
    const stand = /"standInUrl":"(http:\/\/[^"]+)"/.exec(output);
    return ready && stand ? [ready[1], stand[1]] : undefined;
  }, `npm start to be ready (output so far: ${output})`, 60_000);
  return { npm, output: () => output, gateway, standIn, exited };
}

const answers = async (url: string) => {
  try {
    return (await fetch(url)).status;
  } catch {
    return 0;
  }
};

describe('npm start', () => {
  it('stops the gateway when npm itself gets SIGTERM', async () => {
    const run = await npmStart({});
    const health = new URL('/healthz', run.gateway).href;
    expect(await answers(health)).toBe(200);
    run.npm.kill('SIGTERM');
    await run.exited;
    await until(async () => ((await answers(health)) === 0 ? true : undefined), 'the gateway to stop listening', 20_000);
    expect(run.output()).toContain('"msg":"shutting down"');
    expect(run.output()).toContain('"msg":"stopped"');
  }, 90_000);

  it('a second Ctrl-C during a slow shutdown exits at once', async () => {
    const run = await npmStart({ SHUTDOWN_TIMEOUT_MS: '60000' });
    // The embedded stand-in answers slowly from now on, so an operation is in flight when the first Ctrl-C comes.
    await fetch(`${run.standIn}/-/stand-in/faults`, { method: 'PUT', body: JSON.stringify({ latencyMs: 60_000 }) });
    const slow = postGraphQL(run.gateway, '{ modelRecord(model: PROJECT, recordIdentifier: "1") { id } }', { token: ADMIN }).catch(() => null);
    await until(async () => {
      const log = (await (await fetch(`${run.standIn}/-/stand-in/requests`)).json()) as { requests: unknown[] };
      return log.requests.length > 0 ? true : undefined;
    }, 'the query to reach the stand-in');
    run.npm.kill('SIGINT');
    await until(() => (run.output().includes('"msg":"shutting down"') ? true : undefined), 'the graceful shutdown to begin');
    // Past the window in which a terminal's Ctrl-C and npm's forwarded copy count as one.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    run.npm.kill('SIGINT');
    const exit = await run.exited;
    expect(run.output()).toContain('"msg":"forced exit"');
    expect(run.output()).not.toContain('"msg":"stopped"');
    expect(exit.code === 0 && exit.signal === null).toBe(false);
    await slow;
  }, 90_000);
});
