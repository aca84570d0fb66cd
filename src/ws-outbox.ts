// What the gateway sends on one WebSocket: every message of an event-loop turn goes to the kernel as one buffer of
// frames. A poll can owe a thousand subscriptions a message each; a write, or even a buffered chunk, per small frame
// costs more than the frame itself.
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';

/** Bytes queued on one socket above which a subscription waits for the client to read before sending more. */
export const HIGH_WATER_BYTES = 1 << 20;

/** Writes RFC 6455 frame headers for unmasked text frames (what a server sends), returning the next offset. */
function writeTextFrameHeader(buffer: Buffer, offset: number, length: number): number {
  buffer[offset] = 0x81; // FIN, text
  if (length < 126) {
    buffer[offset + 1] = length;
    return offset + 2;
  }
  if (length < 0x10000) {
    buffer[offset + 1] = 126;
    buffer.writeUInt16BE(length, offset + 2);
    return offset + 4;
  }
  buffer[offset + 1] = 127;
  buffer.writeBigUInt64BE(BigInt(length), offset + 2);
  return offset + 10;
}

const headerSize = (length: number) => (length < 126 ? 2 : length < 0x10000 ? 4 : 10);

export class Outbox {
  private pending: string[] = [];
  /** Characters waiting in `pending`: close enough to bytes to judge backpressure by. */
  private pendingChars = 0;
  private readonly drainWaiters: Array<() => void> = [];

  /**
   * `raw` is the socket under `socket`. Data frames are written to it directly, so they must never be compressed:
   * with a negotiated extension (the server offers none) messages go through ws instead.
   */
  constructor(
    private readonly socket: WebSocket,
    private readonly raw: Duplex,
    private readonly onSlowReader: () => void,
  ) {
    raw.on('drain', () => this.releaseWaiters());
    socket.once('close', () => this.releaseWaiters());
  }

  /** Sends a message; the promise waits while the client is HIGH_WATER_BYTES behind. */
  send(data: string): Promise<void> {
    if (this.socket.readyState !== WebSocket.OPEN) return Promise.resolve();
    this.queue(data);
    if (this.backlog() < HIGH_WATER_BYTES) return Promise.resolve();
    this.onSlowReader();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Sends a message unless the client is HIGH_WATER_BYTES behind; false then, and nothing is sent. */
  trySend(data: string): boolean {
    if (this.backlog() >= HIGH_WATER_BYTES) return false;
    this.queue(data);
    return true;
  }

  private backlog(): number {
    return this.raw.writableLength + this.pendingChars;
  }

  private queue(data: string): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    if (this.socket.extensions) {
      this.socket.send(data);
      return;
    }
    if (this.pending.length === 0) setImmediate(() => this.flush());
    this.pending.push(data);
    this.pendingChars += data.length;
  }

  /** Writes what is queued now (the next turn would anyway); before a close frame, so nothing queued is lost. */
  flush(): void {
    if (this.pending.length === 0) return;
    const messages = this.pending;
    this.pending = [];
    this.pendingChars = 0;
    // A close frame may have gone out meanwhile: nothing may follow it.
    if (this.socket.readyState !== WebSocket.OPEN) return;
    const lengths = messages.map((message) => Buffer.byteLength(message));
    let total = 0;
    for (const length of lengths) total += headerSize(length) + length;
    const buffer = Buffer.allocUnsafe(total);
    let offset = 0;
    for (let i = 0; i < messages.length; i++) {
      offset = writeTextFrameHeader(buffer, offset, lengths[i]);
      offset += buffer.write(messages[i], offset, 'utf8');
    }
    this.raw.write(buffer);
    this.releaseWaitersIfBelowHighWater();
  }

  private releaseWaitersIfBelowHighWater(): void {
    if (this.drainWaiters.length > 0 && this.backlog() < HIGH_WATER_BYTES) this.releaseWaiters();
  }

  private releaseWaiters(): void {
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }
}
