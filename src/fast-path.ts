// The way through for what nearly every request is: a POST of JSON to /graphql whose answer is JSON. It runs Yoga's
// own GraphQL pipeline (its params hooks, the envelop plugins, its result processors) but without adapting the request
// to the Fetch API: no Request, Headers, AbortSignal, stream or Response objects per request, which cost the gateway
// as much as the GraphQL work itself. A document seen before that validated goes straight to envelop's context and
// execution (see executeKnown). Anything else (GET, SSE, other content types, CORS, a body that is not a JSON object)
// goes through Yoga whole, and so does a body this path has read and cannot take.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql';
import type { GatewayYoga, ServerContext, ValidDocuments } from './yoga.js';
import { OperationEnd } from './operation-end.js';
import { createDirectEnvelope, isPromise } from './direct-envelope.js';

/** What Yoga's hooks read of a request: its method, URL and headers (see their uses in graphql-yoga/esm/plugins). */
class RequestView {
  readonly method = 'POST';
  readonly headers: { get(name: string): string | null; has(name: string): boolean };

  constructor(
    readonly url: string,
    node: IncomingMessage,
  ) {
    const get = (name: string) => {
      const value = node.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    };
    this.headers = { get, has: (name) => get(name) !== null };
  }
}

/** What a result processor builds: the status, headers and body to write. */
class ResponseParts {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(
    readonly body: string | null,
    init: { status?: number; headers?: Record<string, string> } = {},
  ) {
    this.status = init.status ?? 200;
    this.headers = init.headers ?? {};
  }
}

type ResultProcessor = (result: unknown, fetchAPI: { Response: typeof ResponseParts }, mediaType: string) => ResponseParts | Promise<ResponseParts>;
type ResultProcessHook = (payload: {
  request: RequestView;
  acceptableMediaTypes: string[];
  result: unknown;
  setResult(result: unknown): void;
  resultProcessor?: ResultProcessor;
  setResultProcessor(processor: ResultProcessor, mediaType: string): void;
  serverContext: unknown;
}) => unknown;

type ExecutionResultHook = (payload: { result: unknown; setResult(result: unknown): void; request: RequestView; context: object }) => unknown;

/** What envelop gives one operation: its context, and execute with every plugin's execution hooks around it. */
interface Enveloped {
  schema: GraphQLSchema;
  contextFactory(): object | Promise<object>;
  execute(args: ExecutionArgs): ExecutionResult | Promise<ExecutionResult>;
}

/** The parts of Yoga this path drives: public at run time, some private in its typings. */
interface YogaInternals {
  getResultForParams(input: { params: unknown; request: RequestView }, context: object): unknown;
  getEnveloped(context: object): Enveloped;
  onExecutionResultHooks: ExecutionResultHook[];
  onResultProcessHooks: ResultProcessHook[];
  maskedErrorsOpts: { errorMessage: string; maskError(error: unknown, message: string): Error } | null;
  /** Yoga's plugins with envelop's, in order: those added by onPluginInit too. */
  plugins: Parameters<typeof createDirectEnvelope>[0];
}

const JSON_TYPES = new Set(['application/json', 'application/json;charset=utf-8']);

/** Media ranges whose answer to a query or mutation is plain JSON (an event stream or multipart is Yoga's to write). */
const JSON_RANGES = new Set(['application/json', 'application/graphql-response+json', '*/*', 'application/*']);

/** Whether every range of an Accept header asks for JSON; clients send a handful of these, so verdicts are kept. */
class AcceptVerdicts {
  private readonly verdicts = new Map<string, boolean>();

  accepts(header: string | undefined): boolean {
    if (header === undefined || header === '') return true;
    let verdict = this.verdicts.get(header);
    if (verdict === undefined) {
      verdict = header.length <= 256 && header.split(',').every((range) => JSON_RANGES.has(range.split(';')[0].trim().toLowerCase()));
      // Bounded: past 100 distinct headers, new ones are judged each time.
      if (this.verdicts.size < 100) this.verdicts.set(header, verdict);
    }
    return verdict;
  }
}

/** Parameters of the shape Yoga expects; any other is Yoga's to refuse, saying what is wrong. */
function plainParams(params: unknown): boolean {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return false;
  for (const key in params) {
    const value = (params as Record<string, unknown>)[key];
    if (key === 'query' || key === 'operationName' || key === 'documentId') {
      if (typeof value !== 'string' && value != null) return false;
    } else if (key === 'variables' || key === 'extensions') {
      if (value != null && (typeof value !== 'object' || Array.isArray(value))) return false;
    } else return false;
  }
  return true;
}

type Params = { query?: string | null; operationName?: string | null; variables?: Record<string, unknown> | null; extensions?: object | null; documentId?: unknown };

/** Whether Yoga would answer a subscription as a stream: the client accepts any type (see acceptsEventStream). */
const mayStream = (req: IncomingMessage) => {
  const accept = req.headers.accept;
  return accept === undefined || accept === '' || accept.includes('*/*');
};

/** A document that may be a subscription: its text says so, or it is named by a hash (a false positive only costs time). */
const mayBeSubscription = (params: Params) => (typeof params.query === 'string' && params.query !== '' ? params.query.includes('subscription') : params.extensions != null || params.documentId != null);

/** The request's body, whole (its length was bounded before: see server.ts), or null if its client left first. */
function bodyOf(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    // After 'end' this changes nothing; before it, the client is gone (an 'error' comes with it, or not).
    req.once('close', () => resolve(null));
    req.once('error', () => resolve(null));
  });
}

export interface FastPath {
  /** Whether this request is one the fast path takes, from its method, URL and headers alone. */
  takes(req: IncomingMessage, corsOn: boolean): boolean;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export function createFastPath(yoga: GatewayYoga, endpoint: string, validDocuments: ValidDocuments | null): FastPath {
  const internals = yoga as unknown as YogaInternals;
  // Read once: the server is a Proxy that binds a method anew on every read.
  const getResultForParams = internals.getResultForParams;
  const getEnveloped = internals.getEnveloped;
  const onExecutionResultHooks = internals.onExecutionResultHooks;
  const onResultProcessHooks = internals.onResultProcessHooks;
  // The same hooks as getEnveloped's, without its per-request wrappers; null: getEnveloped as Yoga does.
  const direct = createDirectEnvelope(internals.plugins, () => getEnveloped({}).schema);

  /**
   * A query or mutation whose text came before and validated: its parse and validation hooks (a cache hit each) and
   * Yoga's params hooks are skipped; its context and execution run through envelop as they would through Yoga, with
   * every plugin's execution hooks (limits, telemetry, typed errors, masking), then Yoga's execution-result hooks.
   * Anything else (a hash, extensions, a new text, a subscription, an operation name that names nothing) goes through
   * getResultForParams, which says what is wrong.
   */
  function knownOperation(params: Params): DocumentNode | null {
    if (validDocuments === null || typeof params.query !== 'string' || params.extensions != null || params.documentId != null) return null;
    const document = validDocuments.validDocument(params.query);
    if (document === undefined) return null;
    const operation = getOperationAST(document, params.operationName ?? undefined);
    return operation != null && operation.operation !== 'subscription' ? document : null;
  }

  async function executeKnown(document: DocumentNode, params: Params, request: RequestView, context: ServerContext & { params?: Params }): Promise<ExecutionResult> {
    context.params = params;
    let result: ExecutionResult;
    try {
      const enveloped = direct ?? getEnveloped(context);
      const built = 'contextOf' in enveloped ? enveloped.contextOf(context) : enveloped.contextFactory();
      const contextValue = isPromise(built) ? await built : built;
      const executed = enveloped.execute({ schema: enveloped.schema, document, contextValue, variableValues: params.variables, operationName: params.operationName });
      result = (isPromise(executed) ? await executed : executed) as ExecutionResult;
    } catch (error) {
      // As Yoga answers a throw of its pipeline: a GraphQL error as it is, anything else masked.
      const masked = internals.maskedErrorsOpts;
      result = { errors: [error instanceof GraphQLError || !masked ? (error as GraphQLError) : (masked.maskError(error, masked.errorMessage) as GraphQLError)] };
    }
    for (const hook of onExecutionResultHooks) {
      const step = hook({ result, setResult: (next) => (result = next as ExecutionResult), request, context });
      if (isPromise(step)) await step;
    }
    return result;
  }
  const url = `http://localhost${endpoint}`;
  const accept = new AcceptVerdicts();
  const fetchAPI = { Response: ResponseParts };

  /** A body this path read but will not take: Yoga is given it as a Fetch request, and its answer written back. */
  async function throughYoga(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    // The request's signal tells Yoga (and the operation, see OperationEnd.ofRequest) that the client left.
    const left = new AbortController();
    res.once('close', () => left.abort());
    const response = await yoga.fetch(new Request(url, { method: 'POST', headers, body: new Uint8Array(body), signal: left.signal }), { req, res } satisfies ServerContext);
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => (out[name] = value));
    const type = response.headers.get('content-type') ?? '';
    if (response.body === null || !(type.startsWith('text/event-stream') || type.startsWith('multipart/mixed'))) {
      const answer = Buffer.from(await response.arrayBuffer());
      return void res.writeHead(response.status, { ...out, 'content-length': String(answer.length) }).end(answer);
    }
    // A stream (a subscription over SSE) is written as it comes, and stops when its client leaves.
    res.writeHead(response.status, out);
    const reader = response.body.getReader();
    res.once('close', () => void reader.cancel().catch(() => {}));
    try {
      for (let step = await reader.read(); !step.done; step = await reader.read()) {
        // A client that reads slowly holds the stream back, rather than its events piling up here.
        if (!res.write(step.value) && !res.destroyed) await new Promise((resolve) => (res.once('drain', resolve), res.once('close', resolve)));
      }
      res.end();
    } catch {
      res.destroy();
    }
  }

  return {
    takes(req, corsOn) {
      if (req.method !== 'POST' || req.url !== endpoint) return false;
      const type = req.headers['content-type'];
      if (type === undefined || !JSON_TYPES.has(type.replace(/\s/g, '').toLowerCase())) return false;
      // CORS headers are Yoga's to add.
      if (corsOn && req.headers.origin !== undefined) return false;
      return accept.accepts(req.headers.accept);
    },

    async handle(req, res) {
      const body = await bodyOf(req);
      if (body === null) return;
      let params: unknown;
      try {
        params = JSON.parse(body.toString('utf8'));
      } catch {
        params = undefined;
      }
      // Yoga says what is wrong with a body that is not one operation's parameters, and streams subscriptions.
      if (!plainParams(params) || (mayStream(req) && mayBeSubscription(params as Params))) return throughYoga(req, res, body);

      const end = new OperationEnd();
      // The client left before its answer: what the operation still does for it stops.
      const onClose = () => {
        if (!res.writableFinished) end.end();
      };
      res.once('close', onClose);
      const request = new RequestView(url, req);
      const context: ServerContext & { request: RequestView } = { req, res, request, operationEnd: end };
      let result: ExecutionResult;
      const known = knownOperation(params as Params);
      try {
        result = known ? await executeKnown(known, params as Params, request, context) : ((await getResultForParams({ params, request }, context)) as ExecutionResult);
      } catch (error) {
        // A refusal of the parameters (a persisted query not found, ...), answered as Yoga answers it.
        if (!(error instanceof GraphQLError)) throw error;
        result = { errors: [error] };
      }
      let processor: ResultProcessor | undefined;
      let mediaType = '*/*';
      const acceptableMediaTypes: string[] = [];
      for (const hook of onResultProcessHooks) {
        const step = hook({
          request,
          acceptableMediaTypes,
          result,
          setResult: (next) => (result = next as ExecutionResult),
          resultProcessor: processor,
          setResultProcessor: (next, type) => {
            processor = next;
            mediaType = type;
          },
          serverContext: context,
        });
        if (isPromise(step)) await step;
      }
      if (res.destroyed) return;
      if (!processor) {
        res.writeHead(406, { accept: acceptableMediaTypes.join('; charset=utf-8, '), 'content-length': 0 }).end();
        return;
      }
      const processed = processor(result, fetchAPI, mediaType);
      const response = isPromise(processed) ? await processed : processed;
      const headers = { ...response.headers, 'content-length': String(response.body === null ? 0 : Buffer.byteLength(response.body)) };
      res.writeHead(response.status, headers).end(response.body ?? undefined);
    },
  };
}
