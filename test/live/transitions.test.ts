// A bulk recalculation through the gateway, watched over graphql-ws and over SSE: every record's walk through
// GitLab's state machine arrives in order, each event chained to the one before it, ending in the record's final state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness } from '../support/gateway.js';
import {
  connect,
  expectedChain,
  chainOf,
  FAILURE,
  recordsIn,
  restRecord,
  sleep,
  states,
  TIMESTAMP,
  until,
  type Change,
  type RestRecord,
  type State,
  type Transport,
  startLive,
} from './helpers.js';

const TRANSPORTS: Transport[] = ['graphql-ws', 'sse'];

const RECALCULATE_ALL = /* GraphQL */ `
  mutation { recalculateAllChecksums(model: PROJECT) { model status message errors } }
`;
const ENQUEUED = { recalculateAllChecksums: { model: 'PROJECT', status: 'SUCCESS', message: 'Batch update job has been successfully enqueued.', errors: [] } };

const IDS_IN = /* GraphQL */ `
  query ($state: ChecksumState!, $first: Int!) { modelRecords(model: PROJECT, checksumState: $state, first: $first) { nodes { recordIdentifier } } }
`;

async function idsIn(h: Harness, state: State, first: number): Promise<string[]> {
  const res = await h.request<{ modelRecords: { nodes: { recordIdentifier: string }[] } }, { state: State; first: number }>(IDS_IN, { state, first });
  expect(res.errors).toBeUndefined();
  const ids = res.data!.modelRecords.nodes.map((n) => n.recordIdentifier);
  expect(ids).toHaveLength(first);
  return ids;
}

/** `count` records that verify and one that fails, with how the stand-in holds each of them now. */
async function pickRecords(h: Harness, count: number): Promise<{ all: string[]; succeeded: string[]; failed: string; before: Map<string, RestRecord> }> {
  const succeeded = await idsIn(h, 'SUCCEEDED', count);
  const [failed] = await idsIn(h, 'FAILED', 1);
  const all = [...succeeded, failed];
  const before = new Map(await Promise.all(all.map(async (id) => [id, await restRecord(h, 'projects', id)] as const)));
  return { all, succeeded, failed, before };
}

/** The checksum information a subscriber should see for a stand-in record, in `state`. */
function infoOf(record: RestRecord, state: State) {
  const c = record.checksum_information;
  return { checksum: c.checksum, checksumState: state, checksumFailure: c.checksum_failure, checksumRetryCount: c.checksum_retry_count, lastChecksum: c.last_checksum };
}

function expectWellFormed(changes: Change[]): void {
  for (const c of changes) expect(c.observedAt).toMatch(TIMESTAMP);
  const times = changes.map((c) => Date.parse(c.observedAt));
  expect(times).toEqual([...times].sort((a, b) => a - b));
  expect(chainOf(changes)).toEqual(expectedChain(changes));
}

/** The current state, as the first event of a record carries it. */
function expectInitial(changes: Change[], record: RestRecord): void {
  const id = String(record.record_identifier);
  expect(changes[0]).toEqual({
    record: { id: `gid://gitlab/Project/${id}`, recordIdentifier: id, model: 'PROJECT', checksumInformation: infoOf(record, record.checksum_information.checksum_state.toUpperCase() as State) },
    previousState: null,
    state: record.checksum_information.checksum_state.toUpperCase(),
    observedAt: expect.stringMatching(TIMESTAMP),
  });
}

/** Worker off: states move only when the test runs a cycle, and a started record stays started 400 ms. */
describe('bulk recalculation, verification driven step by step', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startLive({ verifyIntervalMs: 0, verifyDurationMs: 400, verifyBatchSize: 100_000 }, { LIVE_FAST_POLL_MS: '50', LIVE_SLOW_POLL_MS: '200' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it.each(TRANSPORTS)('over %s, each record goes PENDING -> STARTED -> SUCCEEDED (or FAILED), every state delivered in order', async (transport) => {
    const { all, succeeded, failed, before } = await pickRecords(h, 3);
    expect(before.get(failed)!.checksum_information.checksum_failure).toMatch(FAILURE);

    const conn = connect(h, transport);
    try {
      const sub = conn.subscribe({ model: 'PROJECT', identifiers: all });
      await sub.initial(all);
      for (const id of all) expectInitial(sub.of(id), before.get(id)!);

      const res = await h.request(RECALCULATE_ALL);
      expect(res.errors).toBeUndefined();
      expect(res.data).toEqual(ENQUEUED);
      // The bulk job only flips the state; the gateway's closer polling finds it.
      for (const id of all) await sub.until(id, (c) => c.state === 'PENDING', 'PENDING', 3_000);

      const verifiedFrom = Date.now();
      await h.control('POST', 'verify');
      for (const id of succeeded) await sub.until(id, (c) => c.state === 'SUCCEEDED' && c.previousState !== null, 'SUCCEEDED again', 3_000);
      await sub.until(failed, (c) => c.state === 'FAILED' && c.previousState !== null, 'FAILED again', 3_000);
      // Nothing more moves: nothing more arrives.
      const count = sub.received.length;
      await sleep(300);
      expect(sub.received.length).toBe(count);
      expect(sub.errors).toEqual([]);
      expect(sub.completed).toBe(false);

      for (const id of succeeded) {
        const was = before.get(id)!;
        const changes = sub.of(id);
        expect(states(changes), `record ${id}`).toEqual(['SUCCEEDED', 'PENDING', 'STARTED', 'SUCCEEDED']);
        expectWellFormed(changes);
        // Pending and started keep everything but the state.
        expect(changes[1].record.checksumInformation).toEqual(infoOf(was, 'PENDING'));
        expect(changes[2].record.checksumInformation).toEqual(infoOf(was, 'STARTED'));
        const last = changes[3].record.checksumInformation!;
        expect(last).toEqual({ checksum: was.checksum_information.checksum, checksumState: 'SUCCEEDED', checksumFailure: null, checksumRetryCount: 0, lastChecksum: expect.stringMatching(TIMESTAMP) });
        expect(last.checksum).toMatch(/^[0-9a-f]{40}$/);
        expect(Date.parse(last.lastChecksum!)).toBeGreaterThanOrEqual(verifiedFrom);
      }

      const was = before.get(failed)!;
      const changes = sub.of(failed);
      expect(states(changes)).toEqual(['FAILED', 'PENDING', 'STARTED', 'FAILED']);
      expectWellFormed(changes);
      expect(changes[1].record.checksumInformation).toEqual(infoOf(was, 'PENDING'));
      const last = changes[3].record.checksumInformation!;
      expect(last).toEqual({
        checksum: null,
        checksumState: 'FAILED',
        checksumFailure: was.checksum_information.checksum_failure,
        checksumRetryCount: was.checksum_information.checksum_retry_count + 1,
        lastChecksum: expect.stringMatching(TIMESTAMP),
      });
      expect(Date.parse(last.lastChecksum!)).toBeGreaterThanOrEqual(verifiedFrom);
      sub.unsubscribe();
    } finally {
      await conn.dispose();
    }
    await until(() => h.gateway.live.activeSubscriptions === 0, 'the subscription to end');
  });
});

/**
 * Worker on, as GitLab runs it (here every 300 ms, a started record finishing 150 ms later), polls every 100 ms:
 * a poll may fall between two states, so PENDING and STARTED may be skipped; the final state never is.
 */
describe('bulk recalculation, background verification running on its own', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startLive({ verifyIntervalMs: 300, verifyBatchSize: 100_000 }, { LIVE_FAST_POLL_MS: '100', LIVE_SLOW_POLL_MS: '300' });
    // Let the first cycles take the seeded pending and due failed records, so only the test moves records afterwards.
    await until(
      async () => {
        const now = Date.now();
        const [pending, started, failed] = await Promise.all([recordsIn(h, 'projects', 'pending'), recordsIn(h, 'projects', 'started'), recordsIn(h, 'projects', 'failed')]);
        return pending.length === 0 && started.length === 0 && failed.length > 0 && failed.every((r) => Date.parse(r.checksum_information.checksum_retry_at!) > now + 10_000);
      },
      'the seeded records to settle',
      5_000,
      50,
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  it.each(TRANSPORTS)('over %s, every record ends in its final state, with a consistent chain of previous states', async (transport) => {
    const { all, succeeded, failed, before } = await pickRecords(h, 4);

    const conn = connect(h, transport);
    try {
      const sub = conn.subscribe({ model: 'PROJECT', identifiers: all });
      await sub.initial(all);
      for (const id of all) expectInitial(sub.of(id), before.get(id)!);

      const from = Date.now();
      const res = await h.request(RECALCULATE_ALL);
      expect(res.data).toEqual(ENQUEUED);
      // Final: the state the record settles in, with a verification newer than the request.
      const isFinal = (final: State) => (c: Change) => c.state === final && c.previousState !== null && Date.parse(c.record.checksumInformation!.lastChecksum!) >= from;
      for (const id of succeeded) await sub.until(id, isFinal('SUCCEEDED'), 'SUCCEEDED after the recalculation', 5_000);
      await sub.until(failed, isFinal('FAILED'), 'FAILED after the recalculation', 5_000);
      const count = sub.received.length;
      await sleep(700);
      expect(sub.received.length, 'nothing after the final state').toBe(count);
      expect(sub.errors).toEqual([]);

      for (const id of all) {
        const was = before.get(id)!;
        const changes = sub.of(id);
        const final = was.checksum_information.checksum_state.toUpperCase() as State;
        expectWellFormed(changes);
        // Only the intermediate states may be missing, never reordered or repeated.
        expect([[final], ['PENDING', final], ['STARTED', final], ['PENDING', 'STARTED', final]], `record ${id}: ${states(changes).join(' ')}`).toContainEqual(states(changes).slice(1));
        const last = changes[changes.length - 1].record.checksumInformation!;
        if (final === 'SUCCEEDED') {
          expect(last).toEqual({ checksum: was.checksum_information.checksum, checksumState: 'SUCCEEDED', checksumFailure: null, checksumRetryCount: 0, lastChecksum: expect.stringMatching(TIMESTAMP) });
        } else {
          expect(last).toEqual({
            checksum: null,
            checksumState: 'FAILED',
            checksumFailure: was.checksum_information.checksum_failure,
            checksumRetryCount: was.checksum_information.checksum_retry_count + 1,
            lastChecksum: expect.stringMatching(TIMESTAMP),
          });
          expect(last.checksumFailure).toMatch(FAILURE);
        }
      }
      sub.unsubscribe();
    } finally {
      await conn.dispose();
    }
  });
});
