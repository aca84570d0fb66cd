// Subscription events are executed once per (change or batch, document, operation, variables) and the result is shared:
// a change seen by a thousand subscribers of the same query costs one execution, not a thousand.
import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLError } from 'graphql';
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

/** What an event shares with other subscribers' events (see LiveEvent): its change or its batch. */
function sharedSourceOf(event: unknown): object | null {
  if (typeof event !== 'object' || event === null) return null;
  if ('change' in event) return event.change as object;
  if ('batch' in event) return event.batch as object;
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
 * websocket.ts). The promise waits while the client is far behind, as the transport's own sends do.
 */
export type PayloadSender = (payloadJson: Buffer) => Promise<void>;

/**
 * Maps each source event to its (shared) result, passing return() through so unsubscribing stops the source at once.
 * With a PayloadSender, error-free results go straight to the socket as shared bytes, and only the rest (errors, the
 * end) travel the per-operation chain of envelop and the transport, which would put each in JSON again.
 */
class SharedResults implements AsyncIterableIterator<ExecutionResult> {
  private readonly shape: string;
  /** Keeps this shape's variables number taken while the subscription lives. */
  private readonly variables: { id: number };
  private readonly sendPayload: PayloadSender | undefined;
  private stopped = false;

  constructor(
    private readonly source: AsyncIterableIterator<unknown>,
    private readonly args: ExecutionArgs,
    private readonly mask: Mask,
  ) {
    ({ key: this.shape, variables: this.variables } = shapeOf(args));
    this.sendPayload = (args.contextValue as GatewayContext | undefined)?.sendPayload;
  }

  /**
   * Promise callbacks, not an async loop: a suspended async function keeps the event and result of its last turn in
   * its registers, so each waiting subscriber would hold on to the last batch it was sent, and its results.
   */
  next(): Promise<IteratorResult<ExecutionResult>> {
    return new Promise((resolve, reject) => this.pull(resolve, reject));
  }

  private pull(resolve: (step: IteratorResult<ExecutionResult>) => void, reject: (error: unknown) => void): void {
    this.source.next().then((step) => {
      // Nothing more after return(): the client may already be reusing this operation id.
      if (step.done || this.stopped) return resolve({ done: true, value: undefined });
      const executed = executeEvent(this.args, this.shape, step.value);
      if (executed instanceof Promise) executed.then((result) => this.hand(result, resolve, reject), reject);
      else this.hand(executed, resolve, reject);
    }, reject);
  }

  /** Sends an error-free result itself and pulls the next event; anything else goes to the transport. */
  private hand(result: ExecutionResult, resolve: (step: IteratorResult<ExecutionResult>) => void, reject: (error: unknown) => void): void {
    if (result.errors) return resolve({ done: false, value: this.mask(result) });
    if (!this.sendPayload) return resolve({ done: false, value: result });
    this.sendPayload(bytesOf(result)).then(() => this.pull(resolve, reject), reject);
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.stopped = true;
    await this.source.return?.();
    return { done: true, value: undefined };
  }

  async throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.stopped = true;
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
  return new SharedResults(source as AsyncIterableIterator<unknown>, args, mask);
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
