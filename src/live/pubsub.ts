// Where observed changes travel from the watcher to this process's subscribers (other replicas hear of them through
// the cluster, see cluster.ts).
import type { ChecksumStateName } from '../models.js';
import type { RecordJson } from '../gitlab/client.js';

export interface RecordChange {
  /** recordKey() of the record: the same record whatever spelling a subscriber used. */
  key: string;
  record: RecordJson;
  /** signatureOf(record), computed once and shared by every subscriber that keeps it. */
  signature: string;
  previousState: ChecksumStateName | null;
  state: ChecksumStateName;
  observedAt: string;
}

/** All changes one observation of a model found, published as one message. */
export interface ChangeBatch {
  model: string;
  changes: RecordChange[];
  /** recordKey() of the records GitLab knew and this observation answered as absent. */
  disappeared: string[];
  /** When the read that saw them was sent (see Watcher's read numbers): orders observations across replicas. */
  readSeq: number;
}

export interface ChangeBus {
  publish(batch: ChangeBatch): void;
  /** Calls `listener` with every batch of `model`; returns the function that stops it. */
  subscribe(model: string, listener: (batch: ChangeBatch) => void): () => void;
}

export class InMemoryChangeBus implements ChangeBus {
  private readonly listeners = new Map<string, Set<(batch: ChangeBatch) => void>>();

  publish(batch: ChangeBatch): void {
    for (const listener of this.listeners.get(batch.model) ?? []) listener(batch);
  }

  subscribe(model: string, listener: (batch: ChangeBatch) => void): () => void {
    let set = this.listeners.get(model);
    if (!set) this.listeners.set(model, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(model);
    };
  }
}
