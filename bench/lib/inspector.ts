// A minimal Chrome DevTools Protocol client for a node process started with --inspect=127.0.0.1:0: CPU profiles, and
// forced garbage collections before a memory reading.
import WebSocket from 'ws';

export interface Inspector {
  call<T = unknown>(method: string, params?: object): Promise<T>;
  close(): void;
}

export function inspectorUrlOf(stderr: string): string {
  const match = /Debugger listening on (ws:\/\/\S+)/.exec(stderr);
  if (!match) throw new Error(`no inspector URL in the process's output: ${stderr.slice(0, 300)}`);
  return match[1];
}

export async function connectInspector(url: string): Promise<Inspector> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  socket.on('message', (raw) => {
    const message = JSON.parse(raw.toString()) as { id?: number; result?: unknown; error?: { message: string } };
    if (message.id === undefined) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiter?.reject(new Error(message.error.message));
    else waiter?.resolve(message.result);
  });
  return {
    call: <T>(method: string, params: object = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

/** Forces a full garbage collection and answers the JS heap in use afterwards, in bytes. */
export async function heapUsedAfterGc(inspector: Inspector): Promise<number> {
  await inspector.call('HeapProfiler.collectGarbage');
  const { usedSize } = await inspector.call<{ usedSize: number; totalSize: number }>('Runtime.getHeapUsage');
  return usedSize;
}
