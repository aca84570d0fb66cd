// A redis-server of the benchmark's own: on a free loopback port, without persistence, stopped when the run ends.
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { trackChild } from '../../test/support/processes.js';

export interface RedisProcess {
  /** redis://127.0.0.1:<port> */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export function haveRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startRedisServer(timeoutMs = 15_000): Promise<RedisProcess> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`redis-server on port ${port} was not ready within ${timeoutMs} ms: ${output.slice(-500)}`)), timeoutMs);
    child.stdout!.on('data', () => {
      if (!output.includes('Ready to accept connections')) return;
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code, signal) => fail(new Error(`redis-server exited (code ${code}, signal ${signal}) before it was ready: ${output.slice(-500)}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const grace = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(grace);
    },
  };
}
