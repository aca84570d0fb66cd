// Automatic persisted queries (Apollo's protocol): once the gateway has a document under its SHA-256, a client may send
// the hash alone. One store serves HTTP (GET and POST) and graphql-ws, bounded in documents and in bytes.
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

const isExtension = (value: unknown): value is PersistedQueryExtension =>
  typeof value === 'object' && value !== null && (value as { version?: unknown }).version === 1 && typeof (value as { sha256Hash?: unknown }).sha256Hash === 'string';

/** Documents by the hash of their text; past either bound the least recently used go first. */
export class PersistedQueryStore {
  private readonly documents = new Map<string, { text: string; bytes: number }>();
  private bytes = 0;

  constructor(private readonly limits: PersistedQueryLimits) {}

  /**
   * The document an operation runs, given what it sent as `query` and as `extensions.persistedQuery` (undefined: none).
   * With a query: the query, once its hash is checked (and the document kept). Without: the document kept under the
   * hash. Throws the typed errors of the protocol; PERSISTED_QUERY_NOT_FOUND tells the client to send the query too.
   */
  resolve(query: unknown, extension: unknown): unknown {
    if (extension === undefined || (typeof query !== 'string' && query !== undefined && query !== null)) return query;
    if (!isExtension(extension)) throw malformed();
    const sent = typeof query === 'string' && query !== '';
    if (this.limits.maxEntries === 0) {
      if (sent) return query;
      throw notSupported();
    }
    if (!sent) {
      const kept = this.used(extension.sha256Hash);
      if (kept === undefined) throw notFound();
      return kept;
    }
    if (createHash('sha256').update(query).digest('hex') !== extension.sha256Hash) throw mismatch();
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

/** Over HTTP: before Yoga looks for a query, a hash alone becomes the document it names. */
export function usePersistedQueries(store: PersistedQueryStore): Plugin {
  return {
    onParams({ params, setParams }) {
      const extension = (params.extensions as { persistedQuery?: unknown } | undefined)?.persistedQuery;
      if (extension === undefined) return;
      const query = store.resolve(params.query, extension);
      if (query !== params.query) setParams({ ...params, query: query as string });
    },
  };
}
