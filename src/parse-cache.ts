// Yoga's parse cache (parsed documents and parse failures by query text, for HTTP, SSE and graphql-ws alike), bounded
// by the heap its entries hold rather than by their number: a parsed document costs far more than its text, and Yoga's
// own cache (1,024 entries) let one client without a token exhaust the heap with ~850 documents of 107 KB.
import type { DocumentNode, Token } from 'graphql';

export interface ParseCacheLimits {
  /** Estimated heap of every kept entry together; 0 keeps nothing. */
  maxBytes: number;
  /** Longest query text (in UTF-16 code units) kept; a longer one is parsed each time it comes. */
  maxQueryLength: number;
}

/** hit: kept (a document or a failure); miss: parsed, then kept if it fits; too_long: parsed, never kept. */
export type ParseCacheOutcome = 'hit' | 'miss' | 'too_long';

export interface ParseCacheObserver {
  lookup(outcome: ParseCacheOutcome): void;
  /** The estimated heap of what is kept, after each change. */
  held(bytes: number): void;
}

/** The cache interface Yoga's parserAndValidationCache option takes (get and set by query text). */
export interface TextCache<T> {
  get(text: string): T | undefined;
  set(text: string, value: T): void;
}

// Measured (heap after a full collection, documents parsed and validated against this schema): 250 (a list of numbers)
// to 480 bytes per token: graphql-js keeps every token, linked from the first to the last, and each node's location.
// The text's length alone says little: 16 KB are 8 tokens (a comment) or 8,000 (4 MB, 240 times the text).
// Per character of text, 6 bytes cover the text itself (the key and the source, two bytes a character at worst) and
// a message that quotes a value of it (a failure, or a validation error kept on the document by Yoga).
const BYTES_PER_TOKEN = 500;
/** What graphql-jit's code for a document's query adds (measured: 256 to 320 bytes per token of the document). */
const BYTES_PER_COMPILED_TOKEN = 350;
const BYTES_PER_CHARACTER = 6;
/** The entry, its map slot and a small error object. */
const BYTES_PER_ENTRY = 1_024;

/** The tokens a parsed document keeps, counted up to `atMost` (0 for a document parsed without locations). */
export function tokenCount(document: DocumentNode, atMost = Infinity): number {
  let tokens = 0;
  for (let token: Token | null | undefined = document.loc?.startToken; token && tokens < atMost; token = token.next) tokens++;
  return tokens;
}

/** The tokens a parsed document keeps; without locations, the most a text can hold (one every two characters). */
function tokensOf(document: DocumentNode, text: string): number {
  return document.loc ? tokenCount(document) : Math.ceil(text.length / 2);
}

interface Entry {
  value: unknown;
  failed: boolean;
  bytes: number;
}

/**
 * One store for documents and failures (a text either parses or fails, always the same way), least recently used first
 * (a Map keeps insertion order: a used entry is put back last). A document too long or too costly is not kept: each
 * request for it parses it again, which MAX_TOKENS keeps cheap, and the heap it took goes with the request.
 */
export class ParseCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  /** Kept documents that passed validation (see markValid); an evicted document leaves with its entry. */
  private readonly valid = new WeakSet<DocumentNode>();

  constructor(
    private readonly limits: ParseCacheLimits,
    private readonly observer: ParseCacheObserver,
  ) {}

  /** Yoga asks this one first, once per operation it parses: the place to count lookups. */
  readonly documentCache: TextCache<DocumentNode> = {
    get: (text) => {
      const entry = this.entries.get(text);
      if (entry) {
        this.entries.delete(text);
        this.entries.set(text, entry);
      }
      this.observer.lookup(entry ? 'hit' : text.length > this.limits.maxQueryLength ? 'too_long' : 'miss');
      return entry && !entry.failed ? (entry.value as DocumentNode) : undefined;
    },
    set: (text, document) => this.keep(text, document, false),
  };

  /** Asked only after documentCache missed (which put the entry last already). */
  readonly errorCache: TextCache<unknown> = {
    get: (text) => {
      const entry = this.entries.get(text);
      return entry?.failed ? entry.value : undefined;
    },
    set: (text, error) => this.keep(text, error, true),
  };

  /** After a validation without errors: the document's rules depend on nothing of the request (see yoga.ts). */
  markValid(document: DocumentNode): void {
    this.valid.add(document);
  }

  /** Whether this document is the one kept for its text (one parsed for a single request is not). */
  keeps(document: DocumentNode): boolean {
    return this.entryOf(document) !== undefined;
  }

  /** A kept document's query was compiled (query-executor.ts): its code counts towards the cache's bytes too. */
  noteCompiled(document: DocumentNode): void {
    const entry = this.entryOf(document);
    if (!entry) return;
    const bytes = BYTES_PER_COMPILED_TOKEN * tokenCount(document);
    entry.bytes += bytes;
    this.bytes += bytes;
    this.evictOverBudget();
    this.observer.held(this.bytes);
  }

  /**
   * The document of this text if it is kept and passed validation (counted as the hit it is), else undefined without
   * counting: the request then goes through Yoga, which looks it up itself.
   */
  validDocument(text: string): DocumentNode | undefined {
    const entry = this.entries.get(text);
    if (!entry || entry.failed || !this.valid.has(entry.value as DocumentNode)) return undefined;
    this.entries.delete(text);
    this.entries.set(text, entry);
    this.observer.lookup('hit');
    return entry.value as DocumentNode;
  }

  private keep(text: string, value: unknown, failed: boolean): void {
    if (text.length > this.limits.maxQueryLength || this.entries.has(text)) return;
    const tokens = failed ? 0 : tokensOf(value as DocumentNode, text);
    const bytes = BYTES_PER_ENTRY + BYTES_PER_CHARACTER * text.length + BYTES_PER_TOKEN * tokens;
    if (bytes > this.limits.maxBytes) return;
    this.entries.set(text, { value, failed, bytes });
    this.bytes += bytes;
    this.evictOverBudget();
    this.observer.held(this.bytes);
  }

  private entryOf(document: DocumentNode): Entry | undefined {
    const text = document.loc?.source.body;
    const entry = text === undefined ? undefined : this.entries.get(text);
    return entry?.value === document ? entry : undefined;
  }

  private evictOverBudget(): void {
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.limits.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
    }
  }
}
