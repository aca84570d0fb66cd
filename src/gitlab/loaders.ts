// Per-request DataLoaders: every record look-up of one operation becomes list calls of up to 100 `identifiers[]`.
// Beside them, the operation's list calls: identical ones shared, all of them counted against its call budget.
import DataLoader from 'dataloader';
import { gatewayError, missingToken } from '../errors.js';
import type { ModelInfo } from '../models.js';
import { isRejectedByGitLab, type Caller, type GitLabClient, type ListPage, type ListQuery, type RecordJson } from './client.js';
import { identifierProblem, readIdentifier, tooLong, type Identifier, type KeyKind } from './identifiers.js';

const BATCH_LIMIT = 100;

/**
 * The identity of a record whatever spelling the client used: integers without leading zeros,
 * base64 keys by the composite key they decode to (padded or not). Null for a value GitLab could not read,
 * or one longer than MAX_IDENTIFIER_LENGTH (padding aside).
 */
export const recordKey: (identifier: string | number) => Identifier | null = readIdentifier;

export interface ModelRecordSource {
  model: ModelInfo;
  record: RecordJson;
}

/** What fetchByIdentifiers needs of GitLab: the client itself, or a view of it that shares or budgets calls. */
export type ListCalls = Pick<GitLabClient, 'list' | 'splitIdentifiers'>;

/** The answer to a list call past the operation's budget: the client asked for too much in one document. */
export const tooManyCalls = (max: number) =>
  gatewayError('BAD_USER_INPUT', `This operation needs more than ${max} calls to GitLab (UPSTREAM_MAX_CALLS_PER_OPERATION): ask for fewer records, or split it into several operations.`, { maxCalls: max });

const listKey = (model: ModelInfo, query: ListQuery) =>
  JSON.stringify([model.enumName, query.perPage, query.checksumState ?? null, query.identifiers ?? null, query.page ?? null]);

export class RecordLoaders {
  private readonly byModel = new Map<ModelInfo, DataLoader<string, RecordJson | null, string>>();
  /** This operation's list calls by what they ask: aliases that ask the same share one call and its answer. */
  private readonly lists = new Map<string, Promise<ListPage>>();
  private callsMade = 0;
  /** The look-ups' calls, through the shared and budgeted list(). */
  private readonly upstream: ListCalls = {
    list: (caller, model, query) => this.list(model, query, caller),
    splitIdentifiers: (model, ids, call) => this.client.splitIdentifiers(model, ids, call),
  };

  constructor(
    private readonly client: GitLabClient,
    private readonly caller: Caller,
    private readonly onBatch: (model: ModelInfo, size: number) => void = () => {},
    /** False (DATALOADER_BATCHING=false): one list call per look-up, for benchmarks. */
    private readonly batching = true,
    /** Calls to GitLab this operation may make (UPSTREAM_MAX_CALLS_PER_OPERATION). */
    private readonly maxCalls = Infinity,
  ) {}

  /**
   * A list call of this operation: the answer of an identical call made earlier in it (140 aliases of one list cost
   * what one does), else a new call, counted against the budget. Retries of a call are not counted again.
   */
  list(model: ModelInfo, query: ListQuery, caller: Caller = this.caller): Promise<ListPage> {
    const key = listKey(model, query);
    let pending = this.lists.get(key);
    if (!pending) {
      try {
        this.spend(1);
      } catch (error) {
        return Promise.reject(error);
      }
      pending = this.client.list(caller, model, query);
      this.lists.set(key, pending);
    }
    return pending;
  }

  /** Counts calls about to be made (a mutation's PUTs); throws, before any is made, when they pass the budget. */
  spend(calls: number): void {
    if (this.callsMade + calls > this.maxCalls) throw tooManyCalls(this.maxCalls);
    this.callsMade += calls;
  }

  load(model: ModelInfo, identifier: string): Promise<RecordJson | null> {
    if (!this.caller.token) return Promise.reject(missingToken(this.caller));
    // Any other value that is not an identifier names no record (null); an oversized one is the client's error.
    if (tooLong(identifier)) return Promise.reject(gatewayError('BAD_USER_INPUT', identifierProblem(identifier)!));
    return this.loaderFor(model).load(identifier);
  }

  /** Remembers a record learnt elsewhere (a mutation's answer) so this operation reads it without a call. */
  prime(model: ModelInfo, record: RecordJson): void {
    const loader = this.loaderFor(model);
    const id = String(record.record_identifier);
    loader.clear(id).prime(id, record);
  }

  private loaderFor(model: ModelInfo): DataLoader<string, RecordJson | null, string> {
    let loader = this.byModel.get(model);
    if (!loader) {
      loader = new DataLoader((ids) => this.fetch(model, ids), {
        cacheKeyFn: (id) => recordKey(id)?.key ?? `invalid:${id}`,
        // Chunking is done per kind of key in fetch(); DataLoader hands over the whole tick.
        maxBatchSize: Infinity,
        batch: this.batching,
      });
      this.byModel.set(model, loader);
    }
    return loader;
  }

  private async fetch(model: ModelInfo, ids: readonly string[]): Promise<(RecordJson | null | Error)[]> {
    this.onBatch(model, ids.length);
    // Tracing on: the batch is a span, and its calls are its children.
    const batch = this.caller.trace?.batch?.(model.enumName, ids.length);
    let found: Map<string, RecordJson | Error>;
    try {
      found = await fetchByIdentifiers(this.upstream, batch ? { ...this.caller, trace: batch.trace } : this.caller, model, ids);
    } finally {
      batch?.end();
    }
    return ids.map((id) => {
      const key = recordKey(id);
      return key ? (found.get(key.key) ?? null) : null;
    });
  }
}

/**
 * Fetches records by identifier in list calls of up to 100 `identifiers[]` that fit the URL limit, one kind of key
 * per call (GitLab rejects a mix), each identifier in its canonical spelling. Keyed by recordKey(): the record, or the
 * error of the call that carried the key; a key GitLab does not know is absent. Values that are not identifiers are
 * skipped. When GitLab rejects a call (400), its identifiers are split in halves and asked again, so only the ones
 * GitLab really refuses carry the error (about 2 x log2(100) more calls per refused identifier).
 */
export async function fetchByIdentifiers(client: ListCalls, caller: Caller, model: ModelInfo, ids: Iterable<string>): Promise<Map<string, RecordJson | Error>> {
  const groups: Record<KeyKind, Map<string, string>> = { integer: new Map(), base64: new Map() };
  for (const id of ids) {
    const identifier = readIdentifier(id);
    if (identifier) groups[identifier.kind].set(identifier.key, identifier.canonical);
  }
  const chunks = Object.values(groups).flatMap((group) =>
    client.splitIdentifiers(model, [...group.values()], { method: 'GET', pages: 'first', maxCount: BATCH_LIMIT }),
  );
  const found = new Map<string, RecordJson | Error>();
  const fetchChunk = async (chunk: string[]): Promise<void> => {
    try {
      const page = await client.list(caller, model, { perPage: BATCH_LIMIT, identifiers: chunk, page: { flavour: 'offset', page: 1 } });
      for (const record of page.records) {
        const key = recordKey(record.record_identifier);
        if (key) found.set(key.key, record);
      }
    } catch (error) {
      if (chunk.length > 1 && isRejectedByGitLab(error)) {
        const half = Math.ceil(chunk.length / 2);
        await Promise.all([fetchChunk(chunk.slice(0, half)), fetchChunk(chunk.slice(half))]);
        return;
      }
      for (const id of chunk) found.set(recordKey(id)!.key, error as Error);
    }
  };
  // Nearly every batch is one call: no Promise.all around it.
  if (chunks.length === 1) await fetchChunk(chunks[0]);
  else await Promise.all(chunks.map(fetchChunk));
  return found;
}
