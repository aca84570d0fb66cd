// One HTTP exchange with GitLab through the pool: its status, the few headers the client reads, its body as text.
// undici's request() would also turn every response header into a string (GitLab sends a dozen, its Link repeating the
// URL), wrap the body in a stream and the call in an AsyncResource: about 8% of the gateway's instructions per
// request. This handler keeps the bytes it is given and converts only what is read.
import { errors, type Dispatcher } from 'undici';
import type { OperationEnd } from '../operation-end.js';

/** The response headers the GitLab client reads (lower case). */
export type ReadHeader = 'content-type' | 'link' | 'retry-after' | 'x-next-page' | 'x-total';
const READ_HEADERS: readonly ReadHeader[] = ['content-type', 'link', 'retry-after', 'x-next-page', 'x-total'];
/** Their names as bytes: a header's name is compared where it lies, not made a string first (a call into C++ each). */
const READ_NAMES = READ_HEADERS.map((name) => ({ name, bytes: Buffer.from(name, 'latin1') }));

/** The read header this raw name is, in any case (header names are ASCII), or null. */
function readHeaderOf(raw: Buffer): ReadHeader | null {
  for (const { name, bytes } of READ_NAMES) {
    if (bytes.length !== raw.length) continue;
    let i = 0;
    // `| 0x20` folds A-Z to a-z, and leaves the name's other characters (a-z, '-') as they are.
    while (i < bytes.length && (raw[i] | 0x20) === bytes[i]) i++;
    if (i === bytes.length) return name;
  }
  return null;
}

export interface Answer {
  status: number;
  /** The first value of each read header GitLab sent. */
  headers: Partial<Record<ReadHeader, string>>;
  text: string;
}

/**
 * undici's handler interface that is given the raw headers, for one call. Its typings mark it deprecated for the
 * interface of controllers, which is given headers already converted; undici's own request() is built on this one.
 */
class AnswerHandler implements Dispatcher.DispatchHandler {
  private status = 0;
  private readonly headers: Partial<Record<ReadHeader, string>> = {};
  private readonly chunks: Buffer[] = [];
  private forget: (() => void) | null = null;

  constructor(
    private readonly resolve: (answer: Answer) => void,
    private readonly reject: (error: Error) => void,
    private readonly answered: (status: number) => void,
    /** The operation's end: a call its client no longer waits for is cut off. */
    private readonly cutOff: OperationEnd | undefined,
  ) {}

  /** Called again if undici sends the request again (a kept-alive connection that was closed): listens once. */
  onConnect(abort: (error?: Error) => void): void {
    this.forget?.();
    this.forget = null;
    if (!this.cutOff) return;
    if (this.cutOff.ended) abort(new errors.RequestAbortedError());
    else this.forget = this.cutOff.whenEnded(() => abort(new errors.RequestAbortedError()));
  }

  onHeaders(status: number, rawHeaders: Buffer[]): boolean {
    // An informational answer (103 Early Hints) comes before the answer itself.
    if (status < 200) return true;
    this.status = status;
    this.answered(status);
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = readHeaderOf(rawHeaders[i]);
      if (name !== null && this.headers[name] === undefined) this.headers[name] = rawHeaders[i + 1].toString('utf8');
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    this.forget?.();
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.resolve({ status: this.status, headers: this.headers, text: body.toString('utf8') });
  }

  onError(error: Error): void {
    this.forget?.();
    this.reject(error);
  }
}

/** Sends one request and reads the whole answer; rejects with undici's error when there is none (or it was cut off). */
export function exchange(pool: Dispatcher, request: { method: 'GET' | 'PUT'; path: string; headers: Record<string, string> }, answered: (status: number) => void, cutOff?: OperationEnd): Promise<Answer> {
  return new Promise((resolve, reject) => {
    pool.dispatch(request, new AnswerHandler(resolve, reject, answered, cutOff));
  });
}
