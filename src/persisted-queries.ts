// Automatic persisted queries (Apollo's protocol): once the gateway has a document under its SHA-256, a client may send
// the hash alone. One store serves HTTP (GET and POST) and graphql-ws, bounded in documents and in bytes. Documents of
// the trusted-documents file (src/trusted-documents.ts) are found first, by an APQ hash or by `documentId`.
import { createHash } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface PersistedQueryLimits {
  /** Documents kept at most; 0 turns persisted queries off. */
  maxEntries: number;
  /** UTF-8 bytes of all kept documents together at most; a longer document is run but not kept. */
  maxBytes: number;
}

/** The extension a client sends: `extensions.persistedQuery`. */
interface PersistedQueryExtension {
  version: 1;
  sha256Hash: string;
}

// Apollo's link and urql's exchange know these two by their message or their code: both are spelt as they expect.
const notFound = () => new GraphQLError('PersistedQueryNotFound', { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 404 } } });
const notSupported = () => new GraphQLError('PersistedQueryNotSupported', { extensions: { code: 'PERSISTED_QUERY_NOT_SUPPORTED', http: { status: 400 } } });
const mismatch = () =>
  new GraphQLError('The persisted query hash is not the SHA-256 of the query sent with it.', { extensions: { code: 'PERSISTED_QUERY_HASH_MISMATCH', http: { status: 400 } } });
const malformed = () =>
  new GraphQLError('extensions.persistedQuery must be { "version": 1, "sha256Hash": "<SHA-256 of the query, in lowercase hex>" }.', {
    extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
  });

const bothSent = () =>
  new GraphQLError('Send either a documentId or a query, not both.', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
const badDocumentId = () =>
  new GraphQLError('documentId must be "sha256:<SHA-256 of the document, in hex>" (or the hex alone).', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
const unknownDocument = () =>
  new GraphQLError('No trusted document has this documentId.', { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 404 } } });

/** The trusted documents, as this store sees them: served by hash, never evicted or replaced. */
export interface TrustedHashes {
  /** The trusted document named by `hash` (hex, or `sha256:` and hex); undefined when none is. */
  document(hash: string): string | undefined;
  /** TRUSTED_DOCUMENTS_ONLY: no other document is kept, nor named by hash. */
  readonly only: boolean;
}

/** What an operation sent that may name its document: over HTTP its parameters, over graphql-ws its payload. */
export interface OperationParams {
  query?: unknown;
  documentId?: unknown;
  extensions?: unknown;
}

const isExtension = (value: unknown): value is PersistedQueryExtension =>
  typeof value === 'object' && value !== null && (value as { version?: unknown }).version === 1 && typeof (value as { sha256Hash?: unknown }).sha256Hash === 'string';

/** Documents by the hash of their text; past either bound the least recently used go first. */
export class PersistedQueryStore {
  private readonly documents = new Map<string, { text: string; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly limits: PersistedQueryLimits,
    private readonly trusted: TrustedHashes | null = null,
  ) {}

  /**
   * The document an operation runs, from all it sent: a trusted document's `documentId`, an APQ hash (see resolve), or
   * its query as it is. The fast HTTP path and graphql-ws call this as the Yoga plugin below does.
   */
  documentOf(params: OperationParams): unknown {
    if (params.documentId === undefined || params.documentId === null) {
      return this.resolve(params.query, (params.extensions as { persistedQuery?: unknown } | null | undefined)?.persistedQuery);
    }
    // graphql-ws requires a query string: an empty one goes with a documentId.
    if (params.query !== undefined && params.query !== null && params.query !== '') throw bothSent();
    if (typeof params.documentId !== 'string') throw badDocumentId();
    const text = this.trusted?.document(params.documentId);
    if (text !== undefined) return text;
    if (!DOCUMENT_HASH.test(params.documentId)) throw badDocumentId();
    throw unknownDocument();
  }

  /**
   * The document an operation runs, given what it sent as `query` and as `extensions.persistedQuery` (undefined: none).
   * With a query: the query, once its hash is checked (and the document kept). Without: the document kept under the
   * hash. Throws the typed errors of the protocol; PERSISTED_QUERY_NOT_FOUND tells the client to send the query too.
   */
  resolve(query: unknown, extension: unknown): unknown {
    if (extension === undefined || (typeof query !== 'string' && query !== undefined && query !== null)) return query;
    if (!isExtension(extension)) throw malformed();
    const sent = typeof query === 'string' && query !== '';
    // A trusted document: served from the file, never kept here (so never evicted, nor replaced by a registration).
    const trusted = this.trusted?.document(extension.sha256Hash);
    if (trusted !== undefined) {
      if (!sent) return trusted;
      if (!isHashOf(query, extension.sha256Hash)) throw mismatch();
      return query;
    }
    if (this.trusted?.only) {
      // Nothing is registered: the query runs only if it is a trusted document (checked with every other document, at
      // validation), and its hash never names it.
      if (!sent) throw notFound();
      if (!isHashOf(query, extension.sha256Hash)) throw mismatch();
      return query;
    }
    if (this.limits.maxEntries === 0) {
      if (sent) return query;
      throw notSupported();
    }
    if (!sent) {
      const kept = this.used(extension.sha256Hash);
      if (kept === undefined) throw notFound();
      return kept;
    }
    if (sha256(query) !== extension.sha256Hash) throw mismatch();
    this.keep(extension.sha256Hash, query);
    return query;
  }

  /** The document kept under `hash`, now the most recently used (a Map keeps insertion order: it goes last). */
  private used(hash: string): string | undefined {
    const kept = this.documents.get(hash);
    if (kept) {
      this.documents.delete(hash);
      this.documents.set(hash, kept);
    }
    return kept?.text;
  }

  private keep(hash: string, text: string): void {
    if (this.used(hash) !== undefined) return;
    const bytes = Buffer.byteLength(text);
    if (bytes > this.limits.maxBytes) return;
    this.documents.set(hash, { text, bytes });
    this.bytes += bytes;
    for (const [oldest, document] of this.documents) {
      if (this.documents.size <= this.limits.maxEntries && this.bytes <= this.limits.maxBytes) break;
      this.documents.delete(oldest);
      this.bytes -= document.bytes;
    }
  }
}

/** The SHA-256 of a document's text, in lowercase hex: what APQ hashes and trusted documents' keys are. */
export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A hash as a request or a trusted-documents file writes it: the hex alone (Relay, APQ) or `sha256:` and the hex (codegen's preset). */
export const DOCUMENT_HASH = /^(?:sha256:)?([0-9a-fA-F]{64})$/;

/** Whether `hash` (hex, or `sha256:` and hex, as codegen's documents carry it) is the SHA-256 of `text`. */
const isHashOf = (text: string, hash: string) => sha256(text) === hash.replace(/^sha256:/, '').toLowerCase();

/** A GET's `documentId` (Yoga's GET parser keeps only the four usual parameters). */
function documentIdOfGet(request: Request): string | undefined {
  if (request.method !== 'GET' || !request.url.includes('documentId=')) return undefined;
  return new URL(request.url).searchParams.get('documentId') ?? undefined;
}

/** Over HTTP: before Yoga looks for a query, a hash alone or a documentId becomes the document it names. */
export function usePersistedQueries(store: PersistedQueryStore): Plugin {
  return {
    onParams({ params, request, setParams }) {
      const sent = params as typeof params & { documentId?: unknown };
      const documentId = sent.documentId ?? documentIdOfGet(request);
      const extension = (params.extensions as { persistedQuery?: unknown } | undefined)?.persistedQuery;
      if (extension === undefined && (documentId === undefined || documentId === null)) return;
      const query = store.documentOf({ query: params.query, documentId, extensions: params.extensions });
      if (query === params.query && !('documentId' in sent)) return;
      // Without documentId: Yoga refuses parameters it does not know.
      const { documentId: _documentId, ...rest } = sent;
      setParams({ ...rest, query: query as string });
    },
  };
}
