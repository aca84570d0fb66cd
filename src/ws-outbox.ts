// What the gateway sends on one WebSocket: every message of an event-loop turn goes to the kernel in one write of
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

/** A message made of a subscription's own prefix, a payload in UTF-8 shared by every subscriber of it, and "}". */
export interface PayloadMessage {
  prefix: string;
  prefixBytes: number;
  payload: Buffer;
}

const CLOSING_BRACE = 0x7d;
/** Payloads from this size are written by reference; below it, a copy costs less than a chunk of its own. */
const BY_REFERENCE_BYTES = 2048;

const byteLengthOf = (message: string | PayloadMessage) => (typeof message === 'string' ? Buffer.byteLength(message) : message.prefixBytes + message.payload.length + 1);

/** A message handed over while the client was behind: it waits, with its sender, for the client to read. */
interface Waiting {
  data: string | PayloadMessage;
  bytes: number;
  resolve: () => void;
}

export interface OutboxLimit {
  /**
   * Bytes a socket may hold, queued and waiting alike, whatever the messages; one more cuts the socket off. (A message
   * to a socket that holds nothing always goes: its size is bounded where it is made.)
   */
  maxBufferedBytes: number;
  /** Told after the socket was cut off. */
  onOverflow: () => void;
}

const UNLIMITED: OutboxLimit = { maxBufferedBytes: Infinity, onOverflow: () => {} };

export class Outbox {
  private pending: Array<string | PayloadMessage> = [];
  private pendingLengths: number[] = [];
  /** Bytes waiting in `pending`. */
  private pendingBytes = 0;
  /** Messages that came while the client was HIGH_WATER_BYTES behind, in order; read from `waitingHead` on. */
  private waiting: Array<Waiting | undefined> = [];
  private waitingHead = 0;
  private waitingBytes = 0;
  private readonly drainWaiters: Array<() => void> = [];
  private peak = 0;

  /**
   * `raw` is the socket under `socket`. Data frames are written to it directly, so they must never be compressed:
   * with a negotiated extension (the server offers none) messages go through ws instead.
   */
  constructor(
    private readonly socket: WebSocket,
    private readonly raw: Duplex,
    private readonly onSlowReader: () => void,
    private readonly limit: OutboxLimit = UNLIMITED,
  ) {
    raw.on('drain', () => this.release());
    socket.once('close', () => this.releaseAll());
  }

  /**
   * Sends a message. Only while the client is HIGH_WATER_BYTES behind is there a promise, which waits for it to read:
   * a subscriber that may go on gets nothing to wait for, and allocates nothing. A message that comes while the client
   * is that far behind is not queued yet: it waits too, in order, and counts towards the socket's limit.
   */
  send(data: string | PayloadMessage): Promise<void> | undefined {
    if (this.socket.readyState !== WebSocket.OPEN) return undefined;
    const bytes = byteLengthOf(data);
    const held = this.held();
    if (held > 0 && held + bytes > this.limit.maxBufferedBytes) {
      this.overflow();
      return undefined;
    }
    if (held + bytes > this.peak) this.peak = held + bytes;
    if (this.waitingHead === this.waiting.length && this.backlog() < HIGH_WATER_BYTES) {
      this.queue(data, bytes);
      if (this.backlog() < HIGH_WATER_BYTES) return undefined;
      this.onSlowReader();
      return new Promise((resolve) => this.drainWaiters.push(resolve));
    }
    this.onSlowReader();
    this.waitingBytes += bytes;
    return new Promise((resolve) => this.waiting.push({ data, bytes, resolve }));
  }

  /** The most this socket held at once: in the socket's buffer, in `pending` and waiting. */
  get peakBytes(): number {
    return this.peak;
  }

  /** What the client has yet to read that is still in this process: in the socket's buffer, and in `pending`. */
  private backlog(): number {
    return this.raw.writableLength + this.pendingBytes;
  }

  private held(): number {
    return this.backlog() + this.waitingBytes;
  }

  /**
   * A client this far behind is cut off rather than closed: one that does not read would not read a close frame
   * either, and the close handshake would keep what is queued for it until its timeout.
   */
  private overflow(): void {
    this.pending = [];
    this.pendingLengths = [];
    this.pendingBytes = 0;
    this.socket.terminate();
    this.releaseAll();
    this.limit.onOverflow();
  }

  private queue(data: string | PayloadMessage, bytes: number): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    if (this.socket.extensions) {
      this.socket.send(typeof data === 'string' ? data : Buffer.concat([Buffer.from(data.prefix), data.payload, Buffer.of(CLOSING_BRACE)]), { binary: false });
      return;
    }
    if (this.pending.length === 0) setImmediate(() => this.flush());
    this.pending.push(data);
    this.pendingLengths.push(bytes);
    this.pendingBytes += bytes;
  }

  /** Writes what is queued now (the next turn would anyway); before a close frame, so nothing queued is lost. */
  flush(): void {
    if (this.pending.length === 0) return;
    const messages = this.pending;
    const lengths = this.pendingLengths;
    this.pending = [];
    this.pendingLengths = [];
    this.pendingBytes = 0;
    // A close frame may have gone out meanwhile: nothing may follow it.
    if (this.socket.readyState !== WebSocket.OPEN) return;
    // Large shared payloads are handed to the kernel as they are (one writev), not copied: a poll can owe ten
    // thousand subscribers the same 10 KB. Everything else is copied into one buffer, cut around them.
    let inlineBytes = 0;
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i];
      inlineBytes += headerSize(lengths[i]) + (typeof message !== 'string' && message.payload.length >= BY_REFERENCE_BYTES ? lengths[i] - message.payload.length : lengths[i]);
    }
    const buffer = Buffer.allocUnsafe(inlineBytes);
    const chunks: Buffer[] = [];
    let start = 0;
    let offset = 0;
    for (let i = 0; i < messages.length; i++) {
      offset = writeTextFrameHeader(buffer, offset, lengths[i]);
      const message = messages[i];
      if (typeof message === 'string') {
        offset += buffer.write(message, offset, 'utf8');
        continue;
      }
      // The shared payload is never joined to the prefix as a string, which would be made flat and encoded again
      // for every subscriber.
      offset += buffer.write(message.prefix, offset, 'utf8');
      if (message.payload.length >= BY_REFERENCE_BYTES) {
        chunks.push(buffer.subarray(start, offset), message.payload);
        start = offset;
      } else {
        offset += message.payload.copy(buffer, offset);
      }
      buffer[offset++] = CLOSING_BRACE;
    }
    if (offset > start) chunks.push(buffer.subarray(start, offset));
    if (chunks.length === 1) {
      this.raw.write(chunks[0]);
    } else {
      this.raw.cork();
      for (const chunk of chunks) this.raw.write(chunk);
      this.raw.uncork();
    }
    this.release();
  }

  /** Once the client is less than HIGH_WATER_BYTES behind: the messages that waited are queued, then senders go on. */
  private release(): void {
    while (this.waitingHead < this.waiting.length && this.backlog() < HIGH_WATER_BYTES) {
      const next = this.waiting[this.waitingHead]!;
      this.waiting[this.waitingHead++] = undefined;
      this.waitingBytes -= next.bytes;
      this.queue(next.data, next.bytes);
      if (this.backlog() < HIGH_WATER_BYTES) next.resolve();
      else this.drainWaiters.push(next.resolve);
    }
    if (this.waitingHead < this.waiting.length) return;
    if (this.waitingHead > 0) {
      this.waiting = [];
      this.waitingHead = 0;
    }
    if (this.drainWaiters.length > 0 && this.backlog() < HIGH_WATER_BYTES) for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  /** The socket is gone: what waited is dropped, and every sender goes on (to find the socket closed). */
  private releaseAll(): void {
    const waiting = this.waiting;
    const head = this.waitingHead;
    this.waiting = [];
    this.waitingHead = 0;
    this.waitingBytes = 0;
    for (let i = head; i < waiting.length; i++) waiting[i]!.resolve();
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }
}
