// Yoga with its plugins: limits, CSRF prevention, CORS, introspection switch, masking, telemetry.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ValidationContext } from 'graphql';
import { createYoga, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import type { Config } from './config.js';
import { batchObserver, callerFrom, connectionParamsHeaders, createContext, type GatewayContext } from './context.js';
import { OperationEnd } from './operation-end.js';
import type { GitLabClient } from './gitlab/client.js';
import { corsFor } from './cors.js';
import { graphiqlOptions, renderLocalGraphiQL } from './graphiql.js';
import { useHttpSubscriptionGuard } from './http-subscriptions.js';
import type { Watcher } from './live/watcher.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { useNestingLimit } from './nesting.js';
import { ParseCache } from './parse-cache.js';
import { usePersistedQueries, type PersistedQueryStore } from './persisted-queries.js';
import { useTrustedDocumentsOnly, type TrustedDocuments } from './trusted-documents.js';
import { useTypedRequestErrors } from './request-errors.js';
import type { ClientLimits } from './rate-limits.js';
import { schema } from './schema/index.js';
import { useSharedSubscriptionExecution } from './live/shared-execution.js';
import { useQueryExecutor } from './query-executor.js';
import { useOperationTelemetry } from './telemetry.js';
import type { Tracing } from './trace-context.js';

export interface ServerContext {
  req: IncomingMessage;
  res?: ServerResponse;
  /** Set for graphql-ws operations: the payload of `connection_init`. */
  connectionParams?: Readonly<Record<string, unknown>>;
  /** Set for graphql-ws operations: ended by the client's `complete`, the operation's end or the socket's close. */
  operationEnd?: OperationEnd;
}

export interface YogaDeps {
  client: GitLabClient;
  live: Watcher;
  logger: Logger;
  metrics: Metrics;
  /** Demo mode: GraphiQL opens with this token already in its headers. */
  demoToken?: string;
  /** Automatic persisted queries, shared with graphql-ws. */
  persistedQueries: PersistedQueryStore;
  /** TRUSTED_DOCUMENTS, when set (its documents are served through persistedQueries). */
  trustedDocuments?: TrustedDocuments | null;
  /** Per-client limits: each query's and mutation's calls to GitLab per token, and SSE subscriptions per token. */
  limits?: ClientLimits;
  /** OpenTelemetry tracing, when configured (OTEL_*); null or absent: off, and no plugin of it. */
  tracing?: Tracing | null;
}

/** graphql-armor calls every refusal a "Syntax Error"; say only what was exceeded. */
const withoutSyntaxError = (error: GraphQLError) => error.message.replace(/^Syntax Error: /, '');

/**
 * graphql-armor throws its refusals, without a code; report them as ordinary validation errors with one instead, so
 * clients get `extensions.code` and a refused document is logged like any other.
 */
const armorRejection = {
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) =>
      context?.reportError(new GraphQLError(withoutSyntaxError(error), { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })),
  ],
};

/** The token limit refuses while parsing, where there is no validation context: a parse failure, as Yoga reports those. */
const tokenLimitRejection = {
  onReject: [
    (_context: ValidationContext | null, error: GraphQLError) => {
      throw new GraphQLError(withoutSyntaxError(error), { extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
    },
  ],
};

/** Headers that let a request a browser could send cross-site without a preflight through CSRF prevention. */
const CSRF_HEADERS = ['x-graphql-yoga-csrf'];

const GRAPHQL_ENDPOINT = '/graphql';

/** Yoga's log calls as one line; Yoga logs at debug on every request, so a line of a level that is off is not built. */
function logAt(logger: Logger, level: 'debug' | 'info' | 'warn') {
  return (...args: unknown[]) => {
    if (logger.isLevelEnabled(level)) logger[level](args.map(String).join(' '));
  };
}

/** Parsed documents for Yoga (HTTP, SSE and graphql-ws), bounded in bytes; Yoga's own is bounded in entries only. */
function parseCacheFor(config: Config, metrics: Metrics): ParseCache {
  const lookups = { hit: metrics.parseCacheLookups.labels('hit'), miss: metrics.parseCacheLookups.labels('miss'), too_long: metrics.parseCacheLookups.labels('too_long') };
  return new ParseCache(config.parseCache, { lookup: (outcome) => lookups[outcome].inc(), held: (bytes) => metrics.parseCacheBytes.set(bytes) });
}

export function createGatewayYoga(config: Config, deps: YogaDeps) {
  const { limits } = config;
  const onBatch = batchObserver(deps.metrics);
  const parseCache = parseCacheFor(config, deps.metrics);
  const plugins: Plugin[] = [
    // The operation's context, first of these plugins as Yoga's `context` option would be (before every plugin
    // given here). That option wraps a factory in promise helpers that cost about 18k instructions an operation
    // (objects with symbol keys, made by V8's runtime), for a factory that returns a plain object.
    {
      onContextBuilding({ context, extendContext }) {
        const { request, connectionParams, operationEnd } = context;
        extendContext(
          createContext(
            deps.client,
            config,
            deps.live,
            callerFrom(connectionParams ? connectionParamsHeaders(connectionParams) : request.headers, operationEnd ?? OperationEnd.ofRequest(request)),
            onBatch,
          ),
        );
      },
    } satisfies Plugin<ServerContext & YogaInitialContext & GatewayContext> as Plugin,
    // First after it, so every operation (a refused one too) has its span, and before the subscription plugin that
    // stops the onSubscribe hooks after it.
    ...(deps.tracing ? [deps.tracing.plugin()] : []),
    useQueryExecutor({ documents: parseCache, after: config.queryCompileAfter, onCompiled: () => deps.metrics.compiledQueries.inc() }),
    EnvelopArmorPlugin({
      maxDepth: { n: limits.depth, ...armorRejection },
      maxAliases: { n: limits.aliases, ...armorRejection },
      maxTokens: { n: limits.tokens, ...tokenLimitRejection },
      costLimit: { maxCost: limits.cost, ...armorRejection },
      maxDirectives: { n: 50, ...armorRejection },
      // Suggestions would reveal the schema that disabled introspection hides.
      blockFieldSuggestion: { enabled: !config.introspection },
    }) as Plugin,
    // After armor, whose parser it guards.
    useNestingLimit(limits.nesting),
    // Browsers may not send a "simple" request (a GET, or a form POST) without this header or a JSON content type.
    // The CSRF plugin itself accepts any non-simple content type; listing `content-type` here would also accept a
    // simple one (text/plain, a form), i.e. exactly what a cross-site form or GET can send. Before telemetry, which
    // logs the codes it gives.
    useTypedRequestErrors(GRAPHQL_ENDPOINT, CSRF_HEADERS),
    // A hash sent alone becomes its document before Yoga asks for a query.
    usePersistedQueries(deps.persistedQueries),
    useOperationTelemetry(deps.logger, deps.metrics, config.metricsMaxOperationNames) as Plugin,
    useHttpSubscriptionGuard(),
    // After the guard (a subscription it refuses takes no place) and before the executor, which stops later hooks.
    ...(deps.limits ? [deps.limits.plugin()] : []),
    useSharedSubscriptionExecution(deps.logger),
  ];
  // A rule of every validation, over HTTP, SSE and graphql-ws alike (Yoga's plugin decides per HTTP request parse).
  if (!config.introspection) plugins.push({ onValidate: ({ addValidationRule }) => addValidationRule(NoSchemaIntrospectionCustomRule) });
  // A validation hook, so it holds on every path through the envelope (HTTP, SSE, graphql-ws).
  if (deps.trustedDocuments?.only) plugins.push(useTrustedDocumentsOnly(deps.trustedDocuments, config.gitlabUrl === null));
  // Valid documents may be run again without parse and validation (fast-path.ts). Not while validation depends on the
  // request (trusted documents only: GraphiQL's requests pass in demo mode) or tracing gives those phases their spans.
  const knownValid = !deps.trustedDocuments?.only && !deps.tracing;
  if (knownValid) plugins.push({ onValidate: ({ params }) => ({ valid }) => void (valid && parseCache.markValid(params.documentAST)) });
  const yoga = createYoga<ServerContext, GatewayContext>({
    schema,
    graphqlEndpoint: GRAPHQL_ENDPOINT,
    landingPage: false,
    // The server bounds request bodies itself: Yoga's own limit halves throughput on Node 20.
    maxRequestBodySize: false,
    parserAndValidationCache: { documentCache: parseCache.documentCache, errorCache: parseCache.errorCache },
    // Origins CORS_ORIGINS does not list are refused before Yoga (server.ts), saying so.
    cors: config.corsOrigins.length === 0 ? false : corsFor(config.corsOrigins),
    graphiql: config.graphiql ? graphiqlOptions(deps.demoToken) : false,
    renderGraphiQL: renderLocalGraphiQL,
    logging: {
      debug: logAt(deps.logger, 'debug'),
      info: logAt(deps.logger, 'info'),
      warn: logAt(deps.logger, 'warn'),
      error: (...args) => deps.logger.error({ err: args.find((a) => a instanceof Error) }, args.filter((a) => !(a instanceof Error)).map(String).join(' ') || 'error'),
    },
    plugins,
  });
  return { yoga, validDocuments: knownValid ? parseCache : null };
}

export type GatewayYoga = ReturnType<typeof createGatewayYoga>['yoga'];

/** Documents kept parsed that passed validation, by their text (see ParseCache.validDocument). */
export type ValidDocuments = Pick<ParseCache, 'validDocument'>;
