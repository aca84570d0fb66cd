// Queries and mutations run on graphql-js's own executor: per request it costs about a quarter less CPU than Yoga's
// default (@graphql-tools/executor), whose extras (@defer, @stream, abort signals) the schema does not use.
// A query whose document the parse cache keeps and has run QUERY_COMPILE_AFTER times then runs as code
// graphql-jit compiled for it once (about 0.85x the CPU per request). Its answer is graphql-js's: its variables are
// checked by graphql-js first (a refusal is graphql-js's own), its errors point at the same places, in the same shape.
// Subscriptions keep their own executor (live/shared-execution.ts).
import { execute, getOperationAST, getVariableValues, GraphQLError, visit, BREAK, type DocumentNode, type ExecutionArgs, type ExecutionResult, type OperationDefinitionNode, type Source } from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import { tokenCount } from './parse-cache.js';

/** Documents that may be compiled: those the parse cache keeps (so held, and bounded, by it). */
export interface CompilableDocuments {
  keeps(document: DocumentNode): boolean;
  /** Told when a document's query is compiled: its code is held as long as the document. */
  noteCompiled(document: DocumentNode): void;
}

/**
 * Longest document compiled, in tokens. Compiling takes the event loop for about 40 us a token (25 ms at 600): a
 * longer document stays on graphql-js. Dashboards' queries are a few dozen to a few hundred tokens.
 */
const MAX_COMPILED_TOKENS = 500;

interface Compiled {
  operation: OperationDefinitionNode;
  run(root: unknown, context: unknown, variables: unknown): ExecutionResult | Promise<ExecutionResult>;
}

/** Compiled queries by document and operation name (null: not compiled); they go with the document. */
const compiledOf = new WeakMap<DocumentNode, Map<string, Compiled | null>>();
/** Runs of a document on graphql-js so far, until it is compiled. */
const runsOf = new WeakMap<DocumentNode, number>();

function shortEnough(document: DocumentNode): boolean {
  const tokens = tokenCount(document, MAX_COMPILED_TOKENS + 1);
  return tokens > 0 && tokens <= MAX_COMPILED_TOKENS;
}

/** Introspection stays with graphql-js: GraphiQL's schema queries come once per page, and their answer must be exact. */
function introspects(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
}

interface CompileOptions {
  documents: CompilableDocuments;
  /** Runs on graphql-js before a document's query is compiled. */
  after: number;
  onCompiled(): void;
}

function compiledFor(args: ExecutionArgs, options: CompileOptions): Compiled | null {
  const { document } = args;
  const name = args.operationName ?? '';
  const known = compiledOf.get(document)?.get(name);
  if (known !== undefined) return known;
  // Executed, so valid: validation comes first on every path (HTTP, SSE, graphql-ws, fast-path.ts).
  if (!options.documents.keeps(document)) return null;
  const runs = runsOf.get(document) ?? 0;
  if (runs < options.after) {
    runsOf.set(document, runs + 1);
    return null;
  }
  // Only names of the document's operations are kept: the entries of a document stay as few as its operations.
  const operation = getOperationAST(document, args.operationName);
  if (!operation) return null;
  let compiled: Compiled | null = null;
  if (operation.operation === 'query' && shortEnough(document) && !introspects(document)) {
    const made = compileQuery(args.schema, document, args.operationName ?? undefined);
    if (isCompiledQuery(made)) {
      compiled = { operation, run: (root, context, variables) => made.query(root, context, variables as Record<string, unknown>) as ExecutionResult | Promise<ExecutionResult> };
      options.documents.noteCompiled(document);
      options.onCompiled();
    }
  }
  let byName = compiledOf.get(document);
  if (!byName) compiledOf.set(document, (byName = new Map()));
  byName.set(name, compiled);
  return compiled;
}

/** Where each line of a document's text starts, to turn a line and column back into a position. */
const lineStarts = new WeakMap<Source, number[]>();

function positionsOf(source: Source, locations: ReadonlyArray<{ line: number; column: number }>): number[] {
  let starts = lineStarts.get(source);
  if (!starts) {
    starts = [0];
    for (const match of source.body.matchAll(/\r\n|[\n\r]/g)) starts.push(match.index + match[0].length);
    lineStarts.set(source, starts);
  }
  return locations.map(({ line, column }) => (starts[line - 1] ?? 0) + column - 1);
}

/**
 * A compiled query's error as graphql-js makes it: its source and positions (which give its locations, and survive the
 * copies that masking and the message bound make of it), its path, its original error and that error's extensions.
 */
function asGraphqlJsError(error: GraphQLError, source: Source | undefined): GraphQLError {
  const original = error.originalError;
  // graphql-js passes on an error that already knows where it happened.
  if (original instanceof GraphQLError && Array.isArray(original.path)) return original;
  const locations = error.locations ?? [];
  return new GraphQLError(error.message, {
    source: source && locations.length > 0 ? source : undefined,
    positions: source && locations.length > 0 ? positionsOf(source, locations) : undefined,
    path: error.path,
    originalError: original ?? undefined,
  });
}

function asGraphqlJsResult(result: ExecutionResult, source: Source | undefined): ExecutionResult {
  if (!result.errors) return result;
  return { errors: result.errors.map((error) => asGraphqlJsError(error, source)), data: result.data };
}

function runCompiled(compiled: Compiled, args: ExecutionArgs): ExecutionResult | Promise<ExecutionResult> | null {
  const definitions = compiled.operation.variableDefinitions;
  // Variables that do not fit are graphql-js's to refuse, in its words.
  if (definitions && definitions.length > 0 && 'errors' in getVariableValues(args.schema, definitions, args.variableValues ?? {}, { maxErrors: 50 })) return null;
  const source = args.document.loc?.source;
  const result = compiled.run(args.rootValue, args.contextValue, args.variableValues ?? {});
  return result instanceof Promise ? result.then((settled) => asGraphqlJsResult(settled, source)) : asGraphqlJsResult(result, source);
}

/** An operation that could not start (its variables or operation name do not fit) is a 400, as Yoga's executor says. */
function withBadRequestStatus(result: ExecutionResult): ExecutionResult {
  for (const error of result.errors ?? []) {
    if (!(error instanceof GraphQLError)) continue;
    Object.defineProperty(error, 'extensions', { value: { ...error.extensions, http: { ...(error.extensions?.http as object | undefined), status: 400 } } });
  }
  return result;
}

function executeWithGraphqlJs(args: ExecutionArgs) {
  const result = execute(args);
  return result instanceof Promise || 'data' in result ? result : withBadRequestStatus(result);
}

/** `compile`: which queries are compiled, and when. */
export function useQueryExecutor(compile: CompileOptions): Plugin {
  const options = compile.after > 0 ? compile : null;
  const executeOperation = (args: ExecutionArgs) => {
    const compiled = options && compiledFor(args, options);
    return (compiled && runCompiled(compiled, args)) ?? executeWithGraphqlJs(args);
  };
  return { onExecute: ({ setExecuteFn }) => setExecuteFn(executeOperation) };
}
