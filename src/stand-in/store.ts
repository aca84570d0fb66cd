// The seeded records of every model, kept column-wise in typed arrays so a million records start in well under a second.
import { createHash } from 'node:crypto';
import { CHECKSUM_STATES, type ModelInfo, type RecordJson } from '../models.js';

export const PENDING = 0;
export const STARTED = 1;
export const SUCCEEDED = 2;
export const FAILED = 3;
export const DISABLED = 4;

/** Why a record's last verification failed: the message is derived from it when the record is shown. */
const NO_FAILURE = 0;
const FILE_MISSING = 1;
const TIMED_OUT = 2;

/** Records per block of the per-state counts: the k-th record in a state is found by summing blocks, then scanning one. */
export const BLOCK_SIZE = 1024;
const STATE_COUNT = CHECKSUM_STATES.length;

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
  /** Primary keys, ascending (GitLab always orders by primary key); about 1.2 per record, so 32 bits hold them. */
  readonly ids: Uint32Array;
  /** First part of the composite key, for models identified by base64 composite keys. */
  readonly partitions: Uint32Array | null;
  readonly createdAt: Float64Array;
  /** NaN means null. */
  readonly fileSize: Float64Array;
  /** Read freely, write only through `setState`: the counts below follow every write. */
  readonly state: Uint8Array;
  readonly blocks: number;
  /** Records per state in each block: `blockCounts[block * STATE_COUNT + state]`. */
  private readonly blockCounts: Uint32Array;
  /** Records per state in the whole store. */
  private readonly stateTotals: Float64Array;
  readonly hasChecksum: Uint8Array;
  readonly lastChecksum: Float64Array;
  readonly retryCount: Uint16Array;
  readonly retryAt: Float64Array;
  /** When each started record started: only a few are started at a time, so no column for a million. */
  private readonly startedAt = new Map<number, number>();
  /** Records whose file is gone: their verification always fails. */
  readonly missing: Uint8Array;
  private readonly failure: Uint8Array;

  constructor(
    readonly info: ModelInfo,
    readonly verifiable: boolean,
    composite: boolean,
    size: number,
    private readonly seed: number,
    failRate: number,
  ) {
    this.size = size;
    this.ids = new Uint32Array(size);
    this.partitions = composite ? new Uint32Array(size) : null;
    this.createdAt = new Float64Array(size);
    this.fileSize = new Float64Array(size);
    this.state = new Uint8Array(size);
    this.blocks = Math.ceil(size / BLOCK_SIZE);
    this.blockCounts = new Uint32Array(this.blocks * STATE_COUNT);
    this.stateTotals = new Float64Array(STATE_COUNT);
    // Every record starts pending (state 0), and the counts say so.
    for (let block = 0; block < this.blocks; block++) this.blockCounts[block * STATE_COUNT + PENDING] = Math.min(BLOCK_SIZE, size - block * BLOCK_SIZE);
    this.stateTotals[PENDING] = size;
    this.hasChecksum = new Uint8Array(size);
    this.lastChecksum = new Float64Array(size).fill(NaN);
    this.retryCount = new Uint16Array(size);
    this.retryAt = new Float64Array(size).fill(NaN);
    this.missing = new Uint8Array(size);
    this.failure = new Uint8Array(size);
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
        this.setState(i, FAILED);
        this.retryCount[i] = count;
        this.lastChecksum[i] = created + HOUR_MS;
        this.retryAt[i] = created + HOUR_MS + retryDelayMs(count, random);
        this.failure[i] = FILE_MISSING;
      } else if (roll < failRate + 0.1) {
        this.setState(i, PENDING);
      } else {
        this.setState(i, SUCCEEDED);
        this.hasChecksum[i] = 1;
        this.lastChecksum[i] = created + HOUR_MS + Math.floor(random() * HOUR_MS);
      }
    }
  }

  /** The one place a record's state changes, so that the block counts and totals never drift from `state`. */
  setState(i: number, next: number): void {
    const previous = this.state[i];
    if (previous === next) return;
    this.state[i] = next;
    const base = Math.floor(i / BLOCK_SIZE) * STATE_COUNT;
    this.blockCounts[base + previous]--;
    this.blockCounts[base + next]++;
    this.stateTotals[previous]--;
    this.stateTotals[next]++;
  }

  /** How many records are in `state`, or in the whole store when `state` is null. */
  count(state: number | null): number {
    return state === null ? this.size : this.stateTotals[state];
  }

  countInBlock(block: number, state: number): number {
    return this.blockCounts[block * STATE_COUNT + state];
  }

  /** Index of the n-th (from 0) record in `state` (any state when null), or -1 when there are not that many. */
  nthIndex(state: number | null, n: number): number {
    if (n < 0 || n >= this.count(state)) return -1;
    if (state === null) return n;
    let block = 0;
    for (let c = this.countInBlock(block, state); n >= c; c = this.countInBlock(++block, state)) n -= c;
    for (let i = block * BLOCK_SIZE; ; i++) if (this.state[i] === state && n-- === 0) return i;
  }

  /** First index at or after `from` in `state` (any state when null), or -1; blocks without one are skipped whole. */
  nextIndex(state: number | null, from: number): number {
    if (state === null) return from < this.size ? from : -1;
    let i = Math.max(from, 0);
    while (i < this.size) {
      const block = Math.floor(i / BLOCK_SIZE);
      const end = Math.min(this.size, (block + 1) * BLOCK_SIZE);
      if (this.countInBlock(block, state) === 0) i = end;
      else for (; i < end; i++) if (this.state[i] === state) return i;
    }
    return -1;
  }

  /** Last index at or before `from` in `state` (any state when null), or -1; blocks without one are skipped whole. */
  previousIndex(state: number | null, from: number): number {
    if (state === null) return from >= 0 ? Math.min(from, this.size - 1) : -1;
    let i = Math.min(from, this.size - 1);
    while (i >= 0) {
      const block = Math.floor(i / BLOCK_SIZE);
      const start = block * BLOCK_SIZE;
      if (this.countInBlock(block, state) === 0) i = start - 1;
      else for (; i >= start; i--) if (this.state[i] === state) return i;
    }
    return -1;
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

  failureOf(i: number): string | null {
    switch (this.failure[i]) {
      case FILE_MISSING:
        return this.missingFileMessage(i);
      case TIMED_OUT:
        return 'Verification timed out after 28800 seconds';
      default:
        return null;
    }
  }

  private missingFileMessage(i: number): string {
    const digest = createHash('sha256').update(`${this.info.plural}/${this.ids[i]}`).digest('hex');
    const path = `/var/opt/gitlab/gitlab-rails/shared/${this.info.plural.replace(/_/g, '-')}/${digest.slice(0, 2)}/${digest.slice(2, 4)}/${digest.slice(4)}`;
    return `Error during verification: File is not checksummable - file does not exist at: ${path}`.slice(0, 255);
  }

  /** When a started record started; NaN for a record in any other state. */
  startedAtOf(i: number): number {
    return this.startedAt.get(i) ?? NaN;
  }

  /** Any state may start. */
  start(i: number, now: number): void {
    this.setState(i, STARTED);
    this.startedAt.set(i, now);
  }

  /** Only a started record succeeds or fails; returns whether it succeeded. */
  finish(i: number, now: number, timedOut = false): boolean {
    if (this.state[i] !== STARTED) return this.state[i] === SUCCEEDED;
    this.startedAt.delete(i);
    this.lastChecksum[i] = now;
    if (this.missing[i] || timedOut) {
      const count = Math.min(this.retryCount[i] + 1, 65_535);
      this.setState(i, FAILED);
      this.retryCount[i] = count;
      this.retryAt[i] = now + retryDelayMs(count, Math.random);
      this.hasChecksum[i] = 0;
      this.failure[i] = timedOut ? TIMED_OUT : FILE_MISSING;
      return false;
    }
    this.setState(i, SUCCEEDED);
    this.hasChecksum[i] = 1;
    this.retryCount[i] = 0;
    this.retryAt[i] = NaN;
    this.failure[i] = NO_FAILURE;
    return true;
  }

  /** The bulk job only flips the state: checksum, timestamps, retry fields and failure stay as they were. */
  markPending(i: number): void {
    this.setState(i, PENDING);
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
        checksum_failure: this.failureOf(i),
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
