// A process of graphql-ws subscribers (bench/lib/subscribers.ts), forked and driven over IPC: one question at a time,
// each answered by the next message the process sends.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from './processes.js';
import type { ParentMessage, ReadyMessage, ReportMessage } from './subscribers.js';

const SUBSCRIBER_SCRIPT = fileURLToPath(new URL('./subscribers.ts', import.meta.url));

export class SubscriberProcess {
  private readonly child: ChildProcess;
  private waiting: ((message: ReadyMessage | ReportMessage) => void) | null = null;

  constructor() {
    this.child = fork(SUBSCRIBER_SCRIPT, [], { cwd: REPO_ROOT, execArgv: ['--import', 'tsx', '--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message: ReadyMessage | ReportMessage) => {
      const resolve = this.waiting;
      this.waiting = null;
      resolve?.(message);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  send(message: ParentMessage): void {
    this.child.send(message);
  }

  /** Sends `start` (answered by `ready`) or `report` (answered by `report`), and waits for the answer. */
  ask<T extends ReadyMessage | ReportMessage>(message: ParentMessage, timeoutMs: number): Promise<T> {
    if (this.waiting) return Promise.reject(new Error(`the subscriber process was asked "${message.type}" before it answered the previous question`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`the subscriber process did not answer "${message.type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = (answer) => {
        clearTimeout(timer);
        resolve(answer as T);
      };
      this.send(message);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      this.send({ type: 'stop' });
    } catch {
      this.child.kill('SIGKILL');
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
