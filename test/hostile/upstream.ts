// What the stand-in received, read from its request log as it comes (the log keeps the last 10,000 requests: reading
// it often loses none), each request checked for what no client input may cause upstream.
import { API } from '../support/gateway.js';
import type { RequestLogEntry } from '../../src/stand-in/index.js';

/** nginx's default request line limit (large_client_header_buffers 8k), the gateway's UPSTREAM_MAX_URL_BYTES default. */
export const MAX_REQUEST_LINE_BYTES = 8192;

export interface Seen {
  seq: number;
  method: string;
  path: string;
  requestId: string | null;
  /** The first `identifiers[]` value of a list call (enough to tell whose it is; all of them would be a lot to keep). */
  firstIdentifier: string | null;
}

export type Control = (method: string, route: string) => Promise<unknown>;

/** What is wrong with a request the gateway sent, or null. */
function wrongWith(entry: RequestLogEntry): string | null {
  const line = `${entry.method} ${entry.path}${entry.query ? `?${entry.query}` : ''} HTTP/1.1`;
  const shown = `${entry.method} ${line.slice(entry.method.length + 1, 200)}`;
  if (!entry.path.startsWith(API)) return `outside the API prefix: ${shown}`;
  const segments = entry.path.slice(API.length).split('/');
  for (const segment of segments) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return `a segment that is not percent-encoding: ${shown}`;
    }
    // A dot segment, even encoded, is resolved away by a normalising proxy: `projects/%2E/checksum` is the bulk route.
    if (decoded === '.' || decoded === '..' || segment === '') return `a dot or empty path segment: ${shown}`;
  }
  if (Buffer.byteLength(line) > MAX_REQUEST_LINE_BYTES) return `a request line of ${Buffer.byteLength(line)} bytes: ${shown}`;
  return null;
}

export class UpstreamLog {
  private last = 0;
  private readonly seen: Seen[] = [];
  private readonly problems: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;

  constructor(private readonly control: Control) {}

  /** Reads the log every 200 ms from now on. */
  async start(): Promise<void> {
    const { lastSeq } = (await this.control('GET', `requests?after=${Number.MAX_SAFE_INTEGER}`)) as { lastSeq: number };
    this.last = lastSeq;
    this.timer = setInterval(() => void this.read().catch(() => {}), 200);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads what came since the last read (one read at a time). */
  read(): Promise<void> {
    this.reading ??= this.readOnce().finally(() => (this.reading = null));
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    const { requests } = (await this.control('GET', `requests?after=${this.last}`)) as { requests: RequestLogEntry[] };
    for (const entry of requests) {
      if (entry.seq !== this.last + 1) this.problems.push(`${entry.seq - this.last - 1} requests went by unread (the log was read too late)`);
      this.last = entry.seq;
      const wrong = wrongWith(entry);
      if (wrong) this.problems.push(wrong);
      this.seen.push({ seq: entry.seq, method: entry.method, path: entry.path, requestId: entry.requestId, firstIdentifier: entry.params['identifiers[]']?.[0] ?? null });
    }
  }

  /** The sequence number of the last request read. */
  get lastSeq(): number {
    return this.last;
  }

  /** Requests read so far whose sequence number is above `seq`. */
  since(seq: number): Seen[] {
    return this.seen.filter((s) => s.seq > seq);
  }

  /** What was wrong with the requests read since the last call. */
  takeProblems(): string[] {
    return this.problems.splice(0);
  }
}
