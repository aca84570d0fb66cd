// The seeded records of every model, kept column-wise in typed arrays so a million records start in well under a second.
import { createHash } from 'node:crypto';
import { CHECKSUM_STATES, type ModelInfo, type RecordJson } from '../models.js';

export const PENDING = 0;
export const STARTED = 1;
export const SUCCEEDED = 2;
export const FAILED = 3;
export const DISABLED = 4;

const HOUR_MS = 3_600_000;
const SEED_EPOCH_MS = Date.UTC(2025, 1, 5, 11, 27, 10, 173);

/** Deterministic PRNG (mulberry32): the same seed gives the same records. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class ModelStore {
  readonly size: number;
  /** Primary keys, ascending (GitLab always orders by primary key). */
  readonly ids: Float64Array;
  /** First part of the composite key, for models identified by base64 composite keys. */
  readonly partitions: Uint32Array | null;
  readonly createdAt: Float64Array;
  /** NaN means null. */
  readonly fileSize: Float64Array;
  readonly state: Uint8Array;
  readonly hasChecksum: Uint8Array;
  readonly lastChecksum: Float64Array;
  readonly retryCount: Uint16Array;
  readonly retryAt: Float64Array;
  readonly startedAt: Float64Array;
  /** Records whose file is gone: their verification always fails. */
  readonly missing: Uint8Array;
  readonly failures = new Map<number, string>();

  constructor(
    readonly info: ModelInfo,
    readonly verifiable: boolean,
    composite: boolean,
    size: number,
    private readonly seed: number,
    failRate: number,
  ) {
    this.size = size;
    this.ids = new Float64Array(size);
    this.partitions = composite ? new Uint32Array(size) : null;
    this.createdAt = new Float64Array(size);
    this.fileSize = new Float64Array(size);
    this.state = new Uint8Array(size);
    this.hasChecksum = new Uint8Array(size);
    this.lastChecksum = new Float64Array(size).fill(NaN);
    this.retryCount = new Uint16Array(size);
    this.retryAt = new Float64Array(size).fill(NaN);
    this.startedAt = new Float64Array(size).fill(NaN);
    this.missing = new Uint8Array(size);
    this.seedRecords(failRate);
  }

  private seedRecords(failRate: number): void {
    const random = prng(this.seed * 7919 + this.info.plural.length * 104729 + this.info.plural.charCodeAt(0));
    let id = 0;
    let created = SEED_EPOCH_MS;
    for (let i = 0; i < this.size; i++) {
      // Real tables have gaps in their ids.
      id += random() < 0.1 ? 2 + Math.floor(random() * 3) : 1;
      created += 1000 + Math.floor(random() * 60_000);
      this.ids[i] = id;
      if (this.partitions) {
        // Partitions fill one after another as ids grow (as GitLab's CI partitions do): keys ascend both ways.
        const step = random() < 0.02 ? 1 : 0;
        this.partitions[i] = i === 0 ? 100 : this.partitions[i - 1] + step;
      }
      this.createdAt[i] = created;
      this.fileSize[i] = this.info.kind === 'repository' ? NaN : seedFileSize(random, i);
      const roll = random();
      if (roll < failRate) {
        this.missing[i] = 1;
        const count = 1 + Math.floor(random() * 3);
        this.state[i] = FAILED;
        this.retryCount[i] = count;
        this.lastChecksum[i] = created + HOUR_MS;
        this.retryAt[i] = created + HOUR_MS + retryDelayMs(count, random);
        this.failures.set(i, this.failureMessage(i));
      } else if (roll < failRate + 0.1) {
        this.state[i] = PENDING;
      } else {
        this.state[i] = SUCCEEDED;
        this.hasChecksum[i] = 1;
        this.lastChecksum[i] = created + HOUR_MS + Math.floor(random() * HOUR_MS);
      }
    }
  }

  /** Index of a primary key, or -1. */
  indexOfId(id: number): number {
    let lo = 0;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.ids[mid];
      if (v === id) return mid;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** First index whose id is greater than `id` (for keyset cursors). */
  indexAfterId(id: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ids[mid] <= id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of a record named by its composite key values ("partition id"), or -1. */
  indexOfCompositeKey(key: string): number {
    if (!this.partitions) return -1;
    const [partition, id, extra] = key.split(' ');
    if (extra !== undefined || !/^\d+$/.test(partition ?? '') || !/^\d+$/.test(id ?? '')) return -1;
    const i = this.indexOfId(Number(id));
    return i >= 0 && this.partitions[i] === Number(partition) ? i : -1;
  }

  identifierOf(i: number): number | string {
    if (!this.partitions) return this.ids[i];
    return encodeCompositeKey(`${this.partitions[i]} ${this.ids[i]}`);
  }

  /** What the file or repository hashes to, computed from its deterministic content. */
  checksumOf(i: number): string {
    const content = `${this.info.modelClass}/${this.ids[i]}/${this.seed}`;
    switch (this.info.kind) {
      case 'repository':
        // An empty repository checksums to 40 zeros.
        return this.ids[i] % 25 === 0 ? '0'.repeat(40) : createHash('sha1').update(content).digest('hex');
      case 'container':
        return createHash('sha256').update(`latest\nv1.${this.ids[i]}\n`).digest('hex');
      default:
        return createHash('sha256').update(content).digest('hex');
    }
  }

  failureMessage(i: number): string {
    const digest = createHash('sha256').update(`${this.info.plural}/${this.ids[i]}`).digest('hex');
    const path = `/var/opt/gitlab/gitlab-rails/shared/${this.info.plural.replace(/_/g, '-')}/${digest.slice(0, 2)}/${digest.slice(2, 4)}/${digest.slice(4)}`;
    return `Error during verification: File is not checksummable - file does not exist at: ${path}`.slice(0, 255);
  }

  /** Any state may start. */
  start(i: number, now: number): void {
    this.state[i] = STARTED;
    this.startedAt[i] = now;
  }

  /** Only a started record succeeds or fails; returns whether it succeeded. */
  finish(i: number, now: number, timedOut = false): boolean {
    if (this.state[i] !== STARTED) return this.state[i] === SUCCEEDED;
    this.startedAt[i] = NaN;
    this.lastChecksum[i] = now;
    if (this.missing[i] || timedOut) {
      const count = Math.min(this.retryCount[i] + 1, 65_535);
      this.state[i] = FAILED;
      this.retryCount[i] = count;
      this.retryAt[i] = now + retryDelayMs(count, Math.random);
      this.hasChecksum[i] = 0;
      this.failures.set(i, timedOut ? 'Verification timed out after 28800 seconds' : this.failureMessage(i));
      return false;
    }
    this.state[i] = SUCCEEDED;
    this.hasChecksum[i] = 1;
    this.retryCount[i] = 0;
    this.retryAt[i] = NaN;
    this.failures.delete(i);
    return true;
  }

  /** The bulk job only flips the state: checksum, timestamps, retry fields and failure stay as they were. */
  markPending(i: number): void {
    this.state[i] = PENDING;
  }

  toJson(i: number): RecordJson {
    const record: RecordJson = {
      record_identifier: this.identifierOf(i),
      model_class: this.info.modelClass,
      created_at: isoOrNull(this.createdAt[i]),
      file_size: Number.isNaN(this.fileSize[i]) ? null : this.fileSize[i],
    };
    if (this.verifiable) {
      record.checksum_information = {
        checksum: this.hasChecksum[i] ? this.checksumOf(i) : null,
        last_checksum: isoOrNull(this.lastChecksum[i]),
        checksum_state: CHECKSUM_STATES[this.state[i]],
        checksum_retry_count: this.retryCount[i],
        checksum_retry_at: isoOrNull(this.retryAt[i]),
        checksum_failure: this.failures.get(i) ?? null,
      };
    }
    return record;
  }
}

/** GitLab's Base64.urlsafe_encode64: URL-safe alphabet, with `=` padding. */
export function encodeCompositeKey(key: string): string {
  return Buffer.from(key).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

function isoOrNull(ms: number): string | null {
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** Mostly small files, a few very large ones (beyond 2^31, so clients must not use 32-bit integers). */
function seedFileSize(random: () => number, i: number): number {
  if (i % 17 === 5) return 2 ** 31 + Math.floor(random() * 50_000_000_000);
  return 1 + Math.floor(random() ** 3 * 200_000_000);
}

/** GitLab's back-off: n^4 + 15 + rand(30) * (n + 1) seconds, capped at about an hour. */
export function retryDelayMs(retryCount: number, random: () => number): number {
  const seconds = retryCount ** 4 + 15 + Math.floor(random() * 30) * (retryCount + 1);
  return Math.min(seconds, 3600) * 1000;
}
