// One HTTP exchange with GitLab through the pool: its status, the few headers the client reads, its body as text.
// undici's request() would also turn every response header into a string (GitLab sends a dozen, its Link repeating the
// URL), wrap the body in a stream and the call in an AsyncResource: about a tenth of the gateway's instructions per
// request. This handler keeps the bytes it is given and converts only what is read.
import { errors, type Dispatcher } from 'undici';

/** The response headers the GitLab client reads (lower case). */
export type ReadHeader = 'content-type' | 'link' | 'retry-after' | 'x-next-page' | 'x-total';
const READ_HEADERS = new Set<string>(['content-type', 'link', 'retry-after', 'x-next-page', 'x-total']);
/** Their lengths: a name of another length is not converted to be compared. */
const READ_LENGTHS = new Set([...READ_HEADERS].map((name) => name.length));

export interface Answer {
  status: number;
  /** The first value of each read header GitLab sent. */
  headers: Partial<Record<ReadHeader, string>>;
  text: string;
}

/** What may cut a call off: the operation's end (see OperationEnd). */
export interface CutOff {
  readonly ended: boolean;
  whenEnded(then: () => void): () => void;
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
    private readonly cutOff: CutOff | undefined,
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
      if (!READ_LENGTHS.has(rawHeaders[i].length)) continue;
      const name = rawHeaders[i].toString('latin1').toLowerCase();
      if (READ_HEADERS.has(name) && !(name in this.headers)) this.headers[name as ReadHeader] = rawHeaders[i + 1].toString('utf8');
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
export function exchange(pool: Dispatcher, request: { method: 'GET' | 'PUT'; path: string; headers: Record<string, string> }, answered: (status: number) => void, cutOff?: CutOff): Promise<Answer> {
  return new Promise((resolve, reject) => {
    pool.dispatch(request, new AnswerHandler(resolve, reject, answered, cutOff));
  });
}
