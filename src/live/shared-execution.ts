// Subscription events are executed once per (change or batch, document, operation, variables) and the result is shared:
// a change seen by a thousand subscribers of the same query costs one execution, not a thousand.
import { createSourceEventStream, execute, GraphQLError, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { maskError, type Plugin } from 'graphql-yoga';
import type { GatewayContext } from '../context.js';
import type { Logger } from '../logger.js';
import { Interner } from '../interning.js';

/** Results by the shared change or batch they came from; gone with it once no subscriber still holds it. */
const resultsBySource = new WeakMap<object, Map<string, ExecutionResult>>();
const documentIds = new WeakMap<DocumentNode, number>();
let nextDocumentId = 0;
/** Equal variables get one number, held as long as a subscription with them lives: shape keys stay a few bytes. */
const variableSets = new Interner<{ id: number }>();
let nextVariablesId = 0;
const variableSetOf = new WeakMap<object, { id: number }>();
const NO_VARIABLES = {};

/**
 * What decides a subscription's result besides the event: the document (Yoga's parse cache hands out one object per
 * query text), the operation and the variables. The payload's resolvers read the event only, never the context.
 */
function shapeOf(args: ExecutionArgs): { key: string; variables: { id: number } } {
  let documentId = documentIds.get(args.document);
  if (documentId === undefined) documentIds.set(args.document, (documentId = nextDocumentId++));
  const values = args.variableValues ?? NO_VARIABLES;
  // Variables shared by many subscriptions (graphql-ws interns them) are put in words once, not once per subscriber.
  let variables = variableSetOf.get(values);
  if (!variables) {
    const text = JSON.stringify(values);
    variables = variableSets.get(text) ?? variableSets.keep(text, { id: nextVariablesId++ });
    variableSetOf.set(values, variables);
  }
  return { key: `${documentId}:${variables.id}:${args.operationName ?? ''}`, variables };
}

/** Marks the events of a truncated state watch (see sharedSourceOf). */
const TRUNCATED = {};

/** One object per (change, list of unknown identifiers) pair, for as long as both live. */
const pairs = new WeakMap<object, WeakMap<object, object>>();

function pairOf(a: object, b: object): object {
  let withA = pairs.get(a);
  if (!withA) pairs.set(a, (withA = new WeakMap()));
  let pair = withA.get(b);
  if (!pair) withA.set(b, (pair = {}));
  return pair;
}

/**
 * What an event shares with other subscribers' events (see LiveEvent): its batch, or its change together with the
 * unknown identifiers it carries (one list object per watch set, see identifiersOf in subscription.ts).
 */
function sharedSourceOf(event: unknown): object | null {
  if (typeof event !== 'object' || event === null) return null;
  if ('change' in event) {
    const { change, unknownIdentifiers, truncated } = event as { change: object; unknownIdentifiers: readonly unknown[]; truncated: boolean };
    const source = unknownIdentifiers.length === 0 ? change : pairOf(change, unknownIdentifiers);
    // The same first event of a record may go out before and after its state watch became truncated.
    return truncated ? pairOf(source, TRUNCATED) : source;
  }
  if ('batch' in event) return event.batch as object;
  if ('summary' in event) return event.summary as object;
  return null;
}

function executeEvent(args: ExecutionArgs, shape: string, event: unknown): ExecutionResult | Promise<ExecutionResult> {
  const source = sharedSourceOf(event);
  if (!source) return execute({ ...args, rootValue: event });
  let results = resultsBySource.get(source);
  const cached = results?.get(shape);
  if (cached) return cached;
  const result = execute({ ...args, rootValue: event });
  // Only a finished result is shared; these resolvers are synchronous, so that is every one of them.
  if (!(result instanceof Promise)) {
    if (!results) resultsBySource.set(source, (results = new Map()));
    results.set(shape, result);
  }
  return result;
}

/** Shared results put in JSON and UTF-8 once, for transports that can send a payload as it is (see PayloadSender). */
const bytesOfResult = new WeakMap<ExecutionResult, Buffer>();

function bytesOf(result: ExecutionResult): Buffer {
  let bytes = bytesOfResult.get(result);
  if (bytes === undefined) bytesOfResult.set(result, (bytes = Buffer.from(JSON.stringify(result))));
  return bytes;
}

/**
 * Set on the context by a transport that can send a `next` payload already in JSON, as UTF-8 bytes (graphql-ws, see
 * websocket.ts). It answers a promise only while the client is far behind, as the transport's own sends wait then.
 */
export type PayloadSender = (payloadJson: Buffer) => Promise<void> | undefined;

/** What a subscription field's stream offers this plugin (see RecordStream.take). */
interface SourceStream {
  take(wake: () => void): unknown;
  return?(): unknown;
}

const isSourceStream = (source: object): source is SourceStream => typeof (source as Partial<SourceStream>).take === 'function';

/**
 * Maps each source event to its (shared) result, passing return() through so unsubscribing stops the source at once.
 * With a PayloadSender, error-free results go straight to the socket as shared bytes, and only the rest (errors, the
 * end) travel the per-operation chain of envelop and the transport, which would put each in JSON again.
 *
 * Events are taken as they come, not pulled through a promise each: while results go to the socket, the transport's
 * next() stays pending, and a batch handed to ten thousand subscribers allocates next to nothing per subscriber (a
 * promise chain each was most of the garbage, and its survivors most of the collector's time).
 */
class SharedResults implements AsyncIterableIterator<ExecutionResult> {
  private readonly shape: string;
  /** Keeps this shape's variables number taken while the subscription lives. */
  private readonly variables: { id: number };
  private readonly sendPayload: PayloadSender | undefined;
  /** Forgets the operation's end, listened to until the transport takes the stream (see the constructor). */
  private forgetEnd: (() => void) | null = null;
  private stopped = false;
  /** The transport's pending next(), settled with the first result it must carry itself, or the end. */
  private resolve: ((step: IteratorResult<ExecutionResult>) => void) | null = null;
  private reject: ((error: unknown) => void) | null = null;

  constructor(
    private readonly source: SourceStream,
    private readonly args: ExecutionArgs,
    private readonly mask: Mask,
  ) {
    ({ key: this.shape, variables: this.variables } = shapeOf(args));
    const context = args.contextValue as GatewayContext | undefined;
    this.sendPayload = context?.sendPayload;
    // graphql-ws returns every stream it was handed, even once its client has gone (see websocket.ts). Over HTTP, a
    // client that leaves before Yoga sends the stream gets nothing, and the stream is never read nor returned: end it
    // when the client leaves, until it is first read.
    const end = context?.caller.end;
    if (!this.sendPayload && end) this.forgetEnd = end.whenEnded(() => void this.return());
  }

  private stopListening(): void {
    this.forgetEnd?.();
    this.forgetEnd = null;
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    // Read: the transport has the stream, and returns it when its client leaves.
    if (this.forgetEnd) this.stopListening();
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.drain();
    });
  }

  /** Takes and sends events until there is none, the socket is backed up, or a result is the transport's to carry. */
  private readonly drain = (): void => {
    try {
      for (;;) {
        // Nothing more after return(): the client may already be reusing this operation id.
        const event = this.stopped ? null : this.source.take(this.drain);
        if (event === undefined) return;
        if (event === null) return void this.settle({ done: true, value: undefined });
        const executed = executeEvent(this.args, this.shape, event);
        if (executed instanceof Promise) return void executed.then(this.handThenDrain, this.fail);
        if (!this.hand(executed)) return;
      }
    } catch (error) {
      this.fail(error);
    }
  };

  private readonly handThenDrain = (result: ExecutionResult): void => {
    if (this.hand(result)) this.drain();
  };

  /** Sends an error-free result itself (true: go on); anything else goes to the transport. */
  private hand(result: ExecutionResult): boolean {
    if (result.errors) return this.settle({ done: false, value: this.mask(result) });
    if (!this.sendPayload) return this.settle({ done: false, value: result });
    const backedUp = this.sendPayload(bytesOf(result));
    if (!backedUp) return true;
    backedUp.then(this.drain, this.fail);
    return false;
  }

  private settle(step: IteratorResult<ExecutionResult>): false {
    const resolve = this.resolve;
    this.resolve = this.reject = null;
    resolve?.(step);
    return false;
  }

  private readonly fail = (error: unknown): void => {
    const reject = this.reject;
    this.resolve = this.reject = null;
    reject?.(error);
  };

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.stopped = true;
    this.stopListening();
    // A next() still pending (waiting for a backed-up client to read) ends now, not when the socket drains.
    this.settle({ done: true, value: undefined });
    await this.source.return?.();
    return { done: true, value: undefined };
  }

  async throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.stopped = true;
    this.stopListening();
    await this.source.return?.();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

type Mask = (result: ExecutionResult) => ExecutionResult;

async function sharedSubscribe(args: ExecutionArgs, mask: Mask): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in source)) return mask(source);
  // Every subscription field returns a RecordStream or a SummaryStream; anything else is a programming error, reported as such.
  if (!isSourceStream(source)) return mask({ errors: [new GraphQLError('This subscription field does not return a live stream.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } })] });
  return new SharedResults(source, args, mask);
}

/**
 * Subscriptions run through SharedResults. The plugin stops the later onSubscribe hooks, which are Yoga's error masking
 * only: it would wrap every subscription's iterator in two more (a few KB each, and a step per event). Results are
 * masked here instead, the same way: errors a resolver did not mean to show become "Unexpected error.".
 */
export function useSharedSubscriptionExecution(logger: Logger): Plugin {
  const mask: Mask = (result) => {
    if (!result.errors) return result;
    const errors = result.errors.map((error) => {
      const masked = maskError(error, 'Unexpected error.') as GraphQLError;
      if (masked !== error) logger.error({ err: error.originalError ?? error }, 'unexpected error in a subscription');
      return masked;
    });
    return { ...result, errors };
  };
  return {
    onSubscribe({ args, setResultAndStopExecution }) {
      setResultAndStopExecution(sharedSubscribe(args, mask) as never);
    },
  };
}
