// Per-request DataLoaders: every record look-up of one operation becomes list calls of up to 100 `identifiers[]`.
import DataLoader from 'dataloader';
import { missingToken } from '../errors.js';
import type { ModelInfo } from '../models.js';
import type { Caller, GitLabClient, RecordJson } from './client.js';

const BATCH_LIMIT = 100;
const INTEGER = /^\d{1,18}$/;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

type KeyKind = 'integer' | 'base64';

/**
 * The identity of a record whatever spelling the client used: integers without leading zeros,
 * base64 keys by the composite key they decode to (padded or not). Null for a value GitLab could not read.
 */
export function recordKey(identifier: string | number): { kind: KeyKind; key: string } | null {
  const value = String(identifier);
  if (INTEGER.test(value)) return { kind: 'integer', key: `i:${BigInt(value)}` };
  if (!BASE64URL.test(value) || value.replace(/=+$/, '').length % 4 === 1) return null;
  const decoded = Buffer.from(value.replace(/=+$/, ''), 'base64url').toString('utf8');
  return decoded.includes(' ') ? { kind: 'base64', key: `b:${decoded}` } : null;
}

export interface ModelRecordSource {
  model: ModelInfo;
  record: RecordJson;
}

export class RecordLoaders {
  private readonly byModel = new Map<ModelInfo, DataLoader<string, RecordJson | null, string>>();

  constructor(
    private readonly client: GitLabClient,
    private readonly caller: Caller,
    private readonly onBatch: (model: ModelInfo, size: number) => void = () => {},
    /** False (DATALOADER_BATCHING=false): one list call per look-up, for benchmarks. */
    private readonly batching = true,
  ) {}

  load(model: ModelInfo, identifier: string): Promise<RecordJson | null> {
    if (!this.caller.token) return Promise.reject(missingToken());
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
    const found = await fetchByIdentifiers(this.client, this.caller, model, ids);
    return ids.map((id) => {
      const key = recordKey(id);
      return key ? (found.get(key.key) ?? null) : null;
    });
  }
}

/**
 * Fetches records by identifier in list calls of up to 100 `identifiers[]`, one kind of key per call
 * (GitLab rejects a mix). Keyed by recordKey(); a failed call fails only the keys it carried.
 */
export async function fetchByIdentifiers(client: GitLabClient, caller: Caller, model: ModelInfo, ids: Iterable<string>): Promise<Map<string, RecordJson | Error>> {
  const groups: Record<KeyKind, string[]> = { integer: [], base64: [] };
  for (const id of ids) {
    const key = recordKey(id);
    if (key) groups[key.kind].push(id);
  }
  const chunks: string[][] = [];
  for (const group of Object.values(groups)) {
    for (let i = 0; i < group.length; i += BATCH_LIMIT) chunks.push(group.slice(i, i + BATCH_LIMIT));
  }
  const found = new Map<string, RecordJson | Error>();
  await Promise.all(
    chunks.map(async (chunk) => {
      try {
        const page = await client.list(caller, model, { perPage: BATCH_LIMIT, identifiers: chunk, page: { flavour: 'offset', page: 1 } });
        for (const record of page.records) {
          const key = recordKey(record.record_identifier);
          if (key) found.set(key.key, record);
        }
      } catch (error) {
        for (const id of chunk) found.set(recordKey(id)!.key, error as Error);
      }
    }),
  );
  return found;
}
