// Trusted documents (TRUSTED_DOCUMENTS): a JSON map of SHA-256 hash to document, as GraphQL Codegen's client preset
// (`persistedDocuments`) and Relay's compiler (`persistConfig`) write it, read and checked once at start. Clients name
// its documents by `documentId` or by an APQ hash (src/persisted-queries.ts serves them); with TRUSTED_DOCUMENTS_ONLY
// no other document runs, over HTTP, SSE and graphql-ws alike (the check is a validation hook, so every transport that
// goes through Yoga's envelope gets it).
import { existsSync, readFileSync } from 'node:fs';
import {
  GraphQLError,
  Kind,
  parse,
  print,
  validate,
  type ArgumentNode,
  type DefinitionNode,
  type DirectiveNode,
  type DocumentNode,
  type GraphQLSchema,
  type SelectionNode,
  type SelectionSetNode,
  type ValidationRule,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ConfigError, type Config } from './config.js';
import { graphiqlOptions } from './graphiql.js';
import { DOCUMENT_HASH, sha256, type TrustedHashes } from './persisted-queries.js';


/** What a refused document is told: a typed error, 400 whatever the Accept, as the persisted-query errors are. */
function persistedQueryOnly(): GraphQLError {
  return new GraphQLError('Only trusted documents run here: send the documentId (or persisted query hash) of a document the gateway trusts.', {
    extensions: { code: 'PERSISTED_QUERY_ONLY', http: { spec: false, status: 400 } },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The shape of a document: its text, printed in one order whatever the order it was written in. The client preset
// stores each document sorted and with its whitespace reduced, while clients send it as written (the monitor page, a
// client printing the generated AST): both have the same shape. Selections are sorted everywhere but at a mutation's
// root, whose fields run one after another in the order written (the preset keeps that order too). The shape is valid
// GraphQL, so two documents with one shape differ only in order, whitespace, commas and comments.

const sorted = (parts: string[], keepOrder = false) => (keepOrder ? parts : parts.sort());

function argumentsShape(args: readonly ArgumentNode[] | undefined): string {
  return args?.length ? `(${sorted(args.map((a) => `${a.name.value}:${print(a.value)}`)).join(',')})` : '';
}

function directivesShape(directives: readonly DirectiveNode[] | undefined): string {
  return directives?.length ? sorted(directives.map((d) => `@${d.name.value}${argumentsShape(d.arguments)}`)).join('') : '';
}

function selectionSetShape(set: SelectionSetNode | undefined, mutationRoot = false): string {
  return set ? `{${sorted(set.selections.map((s) => selectionShape(s, mutationRoot)), mutationRoot).join(' ')}}` : '';
}

function selectionShape(node: SelectionNode, mutationRoot: boolean): string {
  if (node.kind === Kind.FIELD) {
    const alias = node.alias ? `${node.alias.value}:` : '';
    return `${alias}${node.name.value}${argumentsShape(node.arguments)}${directivesShape(node.directives)}${selectionSetShape(node.selectionSet)}`;
  }
  if (node.kind === Kind.FRAGMENT_SPREAD) return `...${node.name.value}${directivesShape(node.directives)}`;
  // An inline fragment at a mutation's root holds root fields: their order stays.
  const on = node.typeCondition ? ` on ${node.typeCondition.name.value}` : '';
  return `...${on}${directivesShape(node.directives)}${selectionSetShape(node.selectionSet, mutationRoot)}`;
}

function definitionShape(node: DefinitionNode): string {
  if (node.kind === Kind.FRAGMENT_DEFINITION) {
    return `fragment ${node.name.value} on ${node.typeCondition.name.value}${directivesShape(node.directives)}${selectionSetShape(node.selectionSet)}`;
  }
  if (node.kind !== Kind.OPERATION_DEFINITION) return print(node);
  const variables = (node.variableDefinitions ?? []).map(
    (v) => `$${v.variable.name.value}:${print(v.type)}${v.defaultValue ? `=${print(v.defaultValue)}` : ''}${directivesShape(v.directives)}`,
  );
  const name = node.name ? ` ${node.name.value}` : '';
  const variableList = variables.length ? `(${sorted(variables).join(',')})` : '';
  return `${node.operation}${name}${variableList}${directivesShape(node.directives)}${selectionSetShape(node.selectionSet, node.operation === 'mutation')}`;
}

/** The document printed in one order (see above): documents equal but for order and layout have the same shape. */
function shapeOf(document: DocumentNode): string {
  return sorted(document.definitions.map(definitionShape)).join(' ');
}

// ---------------------------------------------------------------------------------------------------------------

/** The documents of the file (and of the monitor page), by hash and by shape. */
export class TrustedDocuments implements TrustedHashes {
  private readonly texts = new Map<string, string>();
  private readonly shapes = new Set<string>();
  /** Each parsed document's verdict, once: Yoga's parse cache hands back the same node for the same text. */
  private readonly verdicts = new WeakMap<DocumentNode, boolean>();

  constructor(readonly only: boolean) {}

  get size(): number {
    return this.texts.size;
  }

  add(hash: string, text: string, document: DocumentNode): void {
    this.texts.set(hash, text);
    this.shapes.add(shapeOf(document));
  }

  document(hash: string): string | undefined {
    const hex = DOCUMENT_HASH.exec(hash)?.[1];
    return hex === undefined ? undefined : this.texts.get(hex.toLowerCase());
  }

  /** Whether a parsed document is trusted: its text is one of the file's, or it is one of them in another order or layout. */
  trusts(document: DocumentNode): boolean {
    let verdict = this.verdicts.get(document);
    if (verdict === undefined) {
      const text = document.loc?.source.body;
      verdict = (text !== undefined && this.texts.has(sha256(text))) || this.shapes.has(shapeOf(document));
      this.verdicts.set(document, verdict);
    }
    return verdict;
  }
}

/** One line about one entry: where it is and what is wrong (file contents may be long: quoted short). */
function entryError(variable: string, where: string, key: string, problem: string): ConfigError {
  const shown = key.length > 80 ? `${key.slice(0, 80)}…` : key;
  return new ConfigError(`${variable}: ${where}: "${shown}" ${problem.replace(/\s+/g, ' ')}`);
}

/** Reads a map of hash to document and checks every entry against the schema; throws a ConfigError naming `variable`. */
function readDocuments(into: TrustedDocuments, schema: GraphQLSchema, path: string, variable: string, advice = ''): void {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a file' : code === 'EACCES' ? 'not readable' : String(code ?? error);
    throw new ConfigError(`${variable}: cannot read ${path}: ${why}${advice}`);
  }
  let map: unknown;
  try {
    map = JSON.parse(raw);
  } catch (error) {
    throw new ConfigError(`${variable}: ${path} is not JSON (${String((error as Error).message).replace(/\s+/g, ' ').slice(0, 200)})${advice}`);
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new ConfigError(`${variable}: ${path} must be a JSON object of SHA-256 hash to document, as GraphQL Codegen's client preset and Relay write it${advice}`);
  }
  const entries = Object.entries(map);
  if (entries.length === 0) throw new ConfigError(`${variable}: ${path} holds no documents${advice}`);
  for (const [key, text] of entries) {
    const hex = DOCUMENT_HASH.exec(key)?.[1]?.toLowerCase();
    if (hex === undefined) throw entryError(variable, path, key, `is not a SHA-256 hash (64 hex digits, or "sha256:" and them)${advice}`);
    if (typeof text !== 'string') throw entryError(variable, path, key, `names no document: its value must be the document's text${advice}`);
    if (sha256(text) !== hex) throw entryError(variable, path, key, `is not the SHA-256 of its document${advice}`);
    let document: DocumentNode;
    try {
      document = parse(text);
    } catch (error) {
      throw entryError(variable, path, key, `names a document that does not parse: ${(error as Error).message}${advice}`);
    }
    const errors = validate(schema, document);
    if (errors.length > 0) throw entryError(variable, path, key, `names a document that is not valid against the schema: ${errors[0].message}${advice}`);
    into.add(hex, text, document);
  }
}

export interface TrustedDocumentsSources {
  /** The schema every document must validate against. */
  schema: GraphQLSchema;
  /** The monitor page's own documents (its build writes them beside it): trusted too while MONITOR is on. */
  monitorDocuments: string | null;
  /** Told when MONITOR is on but the page's documents are not there (the page is not built). */
  warn(message: string): void;
}

/**
 * The trusted documents of TRUSTED_DOCUMENTS, checked (every key the SHA-256 of its document, every document valid
 * against the schema), or null when the variable is not set. With TRUSTED_DOCUMENTS_ONLY and MONITOR, the monitor
 * page's documents are trusted too: it is the gateway's own client. Throws a ConfigError, one line, on any fault.
 */
export function loadTrustedDocuments(config: Config, sources: TrustedDocumentsSources): TrustedDocuments | null {
  const { file, only } = config.trustedDocuments;
  if (file === null) return null;
  const trusted = new TrustedDocuments(only);
  readDocuments(trusted, sources.schema, file, 'TRUSTED_DOCUMENTS');
  if (only && config.monitor) {
    const page = sources.monitorDocuments;
    if (page !== null && existsSync(page)) {
      readDocuments(trusted, sources.schema, page, 'TRUSTED_DOCUMENTS_ONLY with MONITOR', ': the monitor page\'s documents; build it again (npm run build:monitor)');
    } else {
      sources.warn('TRUSTED_DOCUMENTS_ONLY is on with MONITOR, but the monitor page is not built: its documents are trusted once it is built (npm run build:monitor) and the gateway restarted');
    }
  }
  return trusted;
}

/** What GraphiQL's page adds to each of its requests (see graphiql.ts): how demo mode tells them from other clients'. */
const GRAPHIQL_HEADERS = Object.entries(graphiqlOptions().additionalHeaders ?? {});

/**
 * Whether an operation comes from the gateway's GraphiQL page: HTTP or SSE (GraphiQL does not use graphql-ws here)
 * with the headers it adds. Any client could send them, which is why this counts in demo mode only.
 */
function fromGraphiQL(context: unknown): boolean {
  const { connectionParams, request, req } = (context ?? {}) as {
    connectionParams?: unknown;
    request?: { headers?: { get?(name: string): string | null } };
    req?: { headers?: Record<string, string | string[] | undefined> };
  };
  if (connectionParams !== undefined || GRAPHIQL_HEADERS.length === 0) return false;
  return GRAPHIQL_HEADERS.every(([name, value]) => (request?.headers?.get?.(name) ?? req?.headers?.[name.toLowerCase()]) === value);
}

/**
 * Validation's results are cached per document and per list of rule names (Yoga's validation cache). Checked
 * operations carry this rule, which reports nothing, so their results are kept apart from those of GraphiQL's
 * unchecked ones in demo mode: a document GraphiQL ran is not thereby valid for other clients.
 */
const TrustedDocumentsOnly: ValidationRule = () => ({});

/**
 * TRUSTED_DOCUMENTS_ONLY: a document that is not trusted is refused at validation, before any context, execution or
 * call to GitLab, with PERSISTED_QUERY_ONLY (logged and counted by telemetry as a rejected operation). In demo mode
 * GraphiQL's requests are let through, so GraphiQL keeps working on any document.
 */
export function useTrustedDocumentsOnly(trusted: TrustedDocuments, demo: boolean): Plugin {
  return {
    onValidate({ params, context, addValidationRule, setValidationFn }) {
      if (demo && fromGraphiQL(context)) return;
      addValidationRule(TrustedDocumentsOnly);
      if (!trusted.trusts(params.documentAST)) setValidationFn(() => [persistedQueryOnly()]);
    },
  };
}
