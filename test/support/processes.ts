// Child processes of the tests: none outlives the test process, and a short-lived one is run to its end.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Node's flags in the image's CMD (`CMD ["node", ...flags, "dist/main.js"]`) of the checkout at `root`, or of this
 * one for a directory without a Dockerfile (the footprint scenario's production install).
 */
export async function imageNodeFlags(root = REPO_ROOT): Promise<string[]> {
  const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8').catch(() => readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  const cmd = [...dockerfile.matchAll(/^CMD\s+(\[.*\])\s*$/gm)].at(-1)?.[1];
  const args = cmd ? (JSON.parse(cmd) as string[]) : [];
  return args.slice(1).filter((arg) => arg.startsWith('--'));
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort: whatever is still running when the test process exits is killed, so nothing is orphaned. */
export function trackChild(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of running) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Runs `node --import tsx <script> ...args` from the repository root to its end; SIGKILLs it after `timeoutMs`. */
export function runToEnd(script: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ProcessExit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
