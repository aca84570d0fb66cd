// Watching by checksum state: the records of a model that are in one state now, every record that enters it later, a
// record that changes while in it, and each one that leaves it (delivered once more, with its new state). One poll per
// model and state serves every subscriber; LIVE_MAX_IDENTIFIERS bounds what it watches, and `truncated` says so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import { standInControl, type Harness } from '../support/gateway.js';
import { metricValue } from './gitlab-proxy.js';
import { API, connect, rest, sseConnection, startLive, until, wsConnection, type Change, type RestRecord, type State, type Subscriber, type Transport } from './helpers.js';

const TRANSPORTS: Transport[] = ['graphql-ws', 'sse'];

/** A change as the subscriptions below select it: everything, and whether the watch was truncated. */
type StateChange = Change & { truncated: boolean };

const CHANGE_FIELDS = /* GraphQL */ `
  record {
    id
    recordIdentifier
    model
    checksumInformation { checksum checksumState checksumFailure checksumRetryCount lastChecksum }
  }
  previousState
  state
  observedAt
  truncated
`;

const BY_STATE = /* GraphQL */ `
  subscription ByState($model: ModelName!, $checksumState: ChecksumState!) {
    checksumStateChanged(model: $model, checksumState: $checksumState) { ${CHANGE_FIELDS} }
  }
`;

const BY_STATE_BATCHES = /* GraphQL */ `
  subscription ByStateBatches($model: ModelName!, $checksumState: ChecksumState!) {
    checksumStateChangeBatches(model: $model, checksumState: $checksumState) { changes { ${CHANGE_FIELDS} } unknownIdentifiers truncated }
  }
`;

const BY_IDENTIFIERS = /* GraphQL */ `
  subscription ByIdentifiers($model: ModelName!, $identifiers: [ID!]!) {
    checksumStateChanged(model: $model, identifiers: $identifiers) { ${CHANGE_FIELDS} }
  }
`;

const BY_IDENTIFIERS_BATCHES = /* GraphQL */ `
  subscription ByIdentifiersBatches($model: ModelName!, $identifiers: [ID!]!) {
    checksumStateChangeBatches(model: $model, identifiers: $identifiers) { changes { ${CHANGE_FIELDS} } truncated }
  }
`;

/** Either argument, or both, or neither: for the refusals. */
const EITHER = /* GraphQL */ `
  subscription Either($model: ModelName!, $identifiers: [ID!], $checksumState: ChecksumState) {
    checksumStateChangeBatches(model: $model, identifiers: $identifiers, checksumState: $checksumState) { truncated }
  }
`;

const EITHER_MESSAGE = 'Give either identifiers (the records to watch) or checksumState (the records in that state), not both and not neither.';

/** The failure GitLab records for a file that is gone, in the storage directory of the model (its plural path name). */
const failureFor = (plural: string) =>
  new RegExp(`^Error during verification: File is not checksummable - file does not exist at: /var/opt/gitlab/gitlab-rails/shared/${plural.replace(/_/g, '-')}/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}$`);

const idOf = (r: RestRecord) => String(r.record_identifier);
const changesOf = (sub: Subscriber) => sub.changes as StateChange[];
const idsOfChanges = (changes: Change[]) => changes.map((c) => c.record.recordIdentifier);
/** `truncated` of each batch of a batch subscription, in order. */
const batchTruncation = (sub: Subscriber) => sub.payloads.map((p) => (p.checksumStateChangeBatches as { truncated: boolean }).truncated);

/** Every record of a model in one state, read straight from the stand-in page by page (GitLab's order: ascending ids). */
async function listAll(h: Harness, path: string, state: string): Promise<RestRecord[]> {
  const records: RestRecord[] = [];
  for (let page = 1; ; page++) {
    const { status, body } = await rest(h, 'GET', `${path}?per_page=100&page=${page}&checksum_state=${state}`);
    if (status !== 200) throw new Error(`GET ${path} ${state}: ${status} ${JSON.stringify(body)}`);
    records.push(...(body as RestRecord[]));
    if ((body as RestRecord[]).length < 100) return records;
  }
}

/** Whether nothing of the model is pending or started on the stand-in (its plural path name). */
async function settled(h: Harness, plural: string): Promise<boolean> {
  const { states } = (await standInControl.counts(h.standIn))[plural];
  return states.pending === 0 && states.started === 0;
}

/** The records a subscriber believes are in `state`, from its events applied in order. */
function believedIn(changes: Change[], state: State): Set<string> {
  const inState = new Set<string>();
  for (const c of changes) {
    if (c.state === state) inState.add(c.record.recordIdentifier);
    else inState.delete(c.record.recordIdentifier);
  }
  return inState;
}

/**
 * Checks that every event follows from the ones before it: a record not held in the state arrives only by entering it
 * (previousState null), one held changes in it (previousState the state) or leaves it, once, with its new state.
 */
function expectChained(changes: Change[], state: State): void {
  const inState = new Set<string>();
  for (const [i, c] of changes.entries()) {
    const id = c.record.recordIdentifier;
    const at = `event ${i} (record ${id}: ${c.previousState} -> ${c.state})`;
    expect(c.record.checksumInformation?.checksumState, at).toBe(c.state);
    expect(c.previousState, at).toBe(inState.has(id) ? state : null);
    if (!inState.has(id)) expect(c.state, at).toBe(state);
    if (c.state === state) inState.add(id);
    else inState.delete(id);
  }
}

/** What the stand-in received after request number `after`, and the number of its last request. */
async function logAfter(h: Harness, after: number): Promise<{ requests: RequestLogEntry[]; lastSeq: number }> {
  return (await standInControl(h.standIn, 'GET', `requests?after=${after}`)) as { requests: RequestLogEntry[]; lastSeq: number };
}

const lastSeq = async (h: Harness) => (await logAfter(h, Number.MAX_SAFE_INTEGER)).lastSeq;

/** GET calls to one model's collection. */
const callsTo = (entries: RequestLogEntry[], path: string) => entries.filter((e) => e.method === 'GET' && e.path === `${API}${path}`);

/** A call of a state poll, as what it asks: the state it filters by, the page size and page, or the records it names. */
function kindOf(e: RequestLogEntry): string {
  if (e.params['identifiers[]']) return `identifiers:${e.params['identifiers[]'].length}`;
  return `${e.params.checksum_state?.[0] ?? 'any'}:${e.params.per_page?.[0]}:${e.params.page?.[0]}`;
}

/** The listings of one state (the poll's own listing, every page) among these calls. */
const listingsOf = (entries: RequestLogEntry[], path: string, state: string) =>
  callsTo(entries, path).filter((e) => e.params.checksum_state?.[0] === state && e.params.per_page?.[0] === '100');

/** Waits until the poll of (path, state) has listed the state `n` times after request number `after`. */
async function pollsAfter(h: Harness, path: string, state: string, after: number, n: number): Promise<void> {
  await until(async () => listingsOf((await logAfter(h, after)).requests, path, state).length >= n, `${n} listings of ${path} ${state}`, 5_000, 20);
}

/**
 * The calls to a model, cut into poll cycles: a cycle asks each thing once and cycles never overlap, so a call asking
 * what the current cycle already asked starts the next one. The first and last cycles may be cut off by the window.
 */
function cyclesOf(entries: RequestLogEntry[], path: string): string[][] {
  const cycles: string[][] = [];
  for (const e of callsTo(entries, path).sort((a, b) => a.seq - b.seq)) {
    const kind = kindOf(e);
    const current = cycles[cycles.length - 1];
    if (!current || current.includes(kind)) cycles.push([kind]);
    else current.push(kind);
  }
  return cycles.map((cycle) => cycle.sort());
}

const metrics = async (h: Harness) => (await fetch(new URL('/metrics', h.gateway.url))).text();

describe.each(['plural', 'singular'] as const)('the FAILED records of a model of 1,000 under verification (%s dialect)', (dialect) => {
  const plural = 'merge_request_diffs';
  const path = dialect === 'plural' ? plural : 'merge_request_diff';
  const FAILURE = failureFor(plural);
  let h: Harness;

  beforeAll(async () => {
    h = await startLive(
      { dialect, records: 20, modelRecords: { [plural]: 1_000 }, verifyIntervalMs: 50, verifyBatchSize: 50, verifyDurationMs: 20 },
      { LIVE_FAST_POLL_MS: '100', LIVE_SLOW_POLL_MS: '1000', LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' },
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  it('over graphql-ws and SSE: first the failed records, then every one that leaves and each that fails again after a recalculation', async () => {
    // The seeded failures are due, so the job retries them once at start; then nothing moves for half a minute.
    await until(() => settled(h, plural), 'the first verification pass', 10_000, 20);
    const before = await listAll(h, path, 'failed');
    expect(before.length).toBeGreaterThan(30);
    const ids = before.map(idOf);

    const ws = connect(h, 'graphql-ws');
    const sse = connect(h, 'sse');
    try {
      const variables = { model: 'MERGE_REQUEST_DIFF', checksumState: 'FAILED' };
      const batches = [ws.subscribe(variables, BY_STATE_BATCHES), sse.subscribe(variables, BY_STATE_BATCHES)];
      const each = [ws.subscribe(variables, BY_STATE), sse.subscribe(variables, BY_STATE)];
      const subs = [...batches, ...each];
      await Promise.all(subs.map((sub) => sub.initial(ids)));

      // First: exactly the records GitLab lists as failed, in its order, each with its failure, not truncated.
      const first = before.map((r) => ({
        recordIdentifier: idOf(r),
        previousState: null,
        state: 'FAILED',
        checksumFailure: r.checksum_information.checksum_failure,
        checksumRetryCount: r.checksum_information.checksum_retry_count,
        truncated: false,
      }));
      const shapeOf = (c: StateChange) => ({
        recordIdentifier: c.record.recordIdentifier,
        previousState: c.previousState,
        state: c.state,
        checksumFailure: c.record.checksumInformation!.checksumFailure,
        checksumRetryCount: c.record.checksumInformation!.checksumRetryCount,
        truncated: c.truncated,
      });
      for (const sub of batches) {
        expect(sub.batches).toHaveLength(1);
        expect((sub.batches[0] as StateChange[]).map(shapeOf)).toEqual(first);
        expect(batchTruncation(sub)).toEqual([false]);
      }
      for (const sub of each) expect(changesOf(sub).map(shapeOf)).toEqual(first);
      for (const r of before) expect(r.checksum_information.checksum_failure).toMatch(FAILURE);

      const recalculated = await h.request(/* GraphQL */ `mutation { recalculateAllChecksums(model: MERGE_REQUEST_DIFF) { status errors } }`);
      expect(recalculated.data).toEqual({ recalculateAllChecksums: { status: 'SUCCESS', errors: [] } });
      // Every record goes back to pending and through verification once: the same ones fail, one retry further.
      const retries = new Map(before.map((r) => [idOf(r), r.checksum_information.checksum_retry_count + 1]));
      let after: RestRecord[] = [];
      await until(
        async () => {
          if (!(await settled(h, plural))) return false;
          after = await listAll(h, path, 'failed');
          return after.length === before.length && after.every((r) => retries.get(idOf(r)) === r.checksum_information.checksum_retry_count);
        },
        'the recalculated records to fail again',
        15_000,
        50,
      );

      // Each subscriber ends up with what GitLab lists: the failed records, each as it failed this time.
      const caughtUp = (sub: Subscriber) => {
        const held = believedIn(sub.changes, 'FAILED');
        return held.size === ids.length && ids.every((id) => held.has(id) && sub.of(id).at(-1)!.record.checksumInformation!.checksumRetryCount === retries.get(id));
      };
      await until(() => subs.every(caughtUp), 'every subscriber to see the records fail again', 10_000);

      for (const sub of subs) {
        const changes = changesOf(sub);
        expect(sub.errors).toEqual([]);
        expect(believedIn(changes, 'FAILED')).toEqual(new Set(after.map(idOf)));
        // Only records of the state ever come: none of the 950 others.
        expect(new Set(idsOfChanges(changes))).toEqual(new Set(ids));
        expect(changes.every((c) => !c.truncated)).toBe(true);
        const inState = new Set<string>();
        for (const c of changes) {
          const id = c.record.recordIdentifier;
          expect(c.record.checksumInformation!.checksumState).toBe(c.state);
          if (c.state === 'FAILED') {
            // Entering (where it was is not known), or failed again while watched.
            expect([null, 'FAILED']).toContain(c.previousState);
            if (c.previousState === 'FAILED') expect(inState.has(id)).toBe(true);
            expect(c.record.checksumInformation!.checksumFailure).toMatch(FAILURE);
            inState.add(id);
          } else {
            // Leaving: once, from the state, with where it went.
            expect(['PENDING', 'STARTED', 'SUCCEEDED']).toContain(c.state);
            expect([id, c.previousState, inState.has(id)]).toEqual([id, 'FAILED', true]);
            inState.delete(id);
          }
        }
        // Every record failed again, and that was delivered with its new retry count.
        for (const id of ids) expect(sub.of(id).slice(1).some((c) => c.state === 'FAILED' && c.record.checksumInformation!.checksumRetryCount === retries.get(id))).toBe(true);
      }
      // One poll fed them all: the same changes, in the same order, one by one or in batches.
      const sequence = (sub: Subscriber) => sub.changes.map((c) => `${c.record.recordIdentifier}:${c.previousState}->${c.state}@${c.observedAt}`);
      for (const sub of subs.slice(1)) expect(sequence(sub)).toEqual(sequence(subs[0]));
      for (const sub of subs) sub.unsubscribe();
    } finally {
      await ws.dispose();
      await sse.dispose();
    }
    await until(() => h.gateway.live.activeSubscriptions === 0, 'the subscriptions to end');
  });
});

describe('records leaving and entering PENDING, verification driven step by step', () => {
  const path = 'ci_job_artifacts';
  let h: Harness;

  beforeAll(async () => {
    h = await startLive(
      { records: 20, modelRecords: { [path]: 120 }, verifyIntervalMs: 0, verifyBatchSize: 5, verifyDurationMs: 1_000 },
      { LIVE_FAST_POLL_MS: '50', LIVE_SLOW_POLL_MS: '200', LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' },
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  it('over graphql-ws and SSE: each record that leaves is delivered once with its new state; a bulk recalculation brings every record in', async () => {
    const before = (await listAll(h, path, 'pending')).map(idOf);
    expect(before.length).toBeGreaterThan(5);
    const all = (await listAll(h, path, 'succeeded')).concat(await listAll(h, path, 'failed')).map(idOf).concat(before);
    expect(all).toHaveLength(120);

    const ws = connect(h, 'graphql-ws');
    const sse = connect(h, 'sse');
    try {
      const variables = { model: 'CI_JOB_ARTIFACT', checksumState: 'PENDING' };
      const subs = [ws.subscribe(variables, BY_STATE_BATCHES), ws.subscribe(variables, BY_STATE), sse.subscribe(variables, BY_STATE_BATCHES), sse.subscribe(variables, BY_STATE)];
      await Promise.all(subs.map((sub) => sub.initial(before)));
      for (const sub of subs) expect(changesOf(sub).map((c) => [c.record.recordIdentifier, c.previousState, c.state, c.truncated])).toEqual(before.map((id) => [id, null, 'PENDING', false]));

      // One round of GitLab's job: the first few pending records start, and succeed a second later.
      await h.control('POST', 'verify');
      const stayed = (await listAll(h, path, 'pending')).map(idOf);
      const left = before.filter((id) => !stayed.includes(id));
      expect(left.length).toBeGreaterThan(0);
      for (const sub of subs) for (const id of left) await sub.until(id, (c) => c.previousState === 'PENDING', 'leaving PENDING', 5_000);
      await until(async () => (await Promise.all(left.map((id) => rest(h, 'GET', `${path}/${id}`)))).every((r) => (r.body as RestRecord).checksum_information.checksum_state === 'succeeded'), 'the started records to succeed', 5_000, 20);
      // A few more looks after they succeeded: nothing more of them, since they are no longer watched.
      await pollsAfter(h, path, 'pending', await lastSeq(h), 3);
      for (const sub of subs) {
        for (const id of left) {
          const [leaving, ...more] = sub.of(id).slice(1) as StateChange[];
          expect([leaving.previousState, leaving.truncated, more]).toEqual(['PENDING', false, []]);
          expect(['STARTED', 'SUCCEEDED']).toContain(leaving.state);
          expect(leaving.record.checksumInformation!.checksumState).toBe(leaving.state);
        }
        for (const id of stayed) expect(sub.countOf(id)).toBe(1);
      }

      // Everything queued again: each record not held comes in, once, from where it was not known.
      const recalculated = await h.request(/* GraphQL */ `mutation { recalculateAllChecksums(model: CI_JOB_ARTIFACT) { status errors } }`);
      expect(recalculated.data).toEqual({ recalculateAllChecksums: { status: 'SUCCESS', errors: [] } });
      await until(async () => (await listAll(h, path, 'pending')).length === 120, 'every record to be pending', 5_000, 20);
      await until(() => subs.every((sub) => believedIn(sub.changes, 'PENDING').size === 120), 'every record to come in', 5_000);
      for (const sub of subs) {
        expect(sub.errors).toEqual([]);
        expectChained(sub.changes, 'PENDING');
        expect(new Set(believedIn(sub.changes, 'PENDING'))).toEqual(new Set(all));
        for (const id of stayed) expect(sub.countOf(id)).toBe(1);
        for (const id of all.filter((id) => !stayed.includes(id))) expect((sub.of(id).at(-1) as StateChange).truncated).toBe(false);
      }
      // 120 records: the poll reads the state in two pages.
      expect(listingsOf((await logAfter(h, 0)).requests, path, 'pending').some((e) => e.params.page?.[0] === '2')).toBe(true);
      for (const sub of subs) sub.unsubscribe();
    } finally {
      await ws.dispose();
      await sse.dispose();
    }
    await until(() => h.gateway.live.activeSubscriptions === 0, 'the subscriptions to end');
  });
});

describe('a record that fails again between the listing of the state and the read of the records that left it', () => {
  const LATENCY_MS = 1_200;
  let h: Harness;

  beforeAll(async () => {
    // Every seeded failure is due: one round of the job takes them all, and they fail again as long after as GitLab
    // takes to answer below (each step of the scenario then has that long to happen in).
    h = await startLive({ records: 20, verifyIntervalMs: 0, verifyBatchSize: 100, verifyDurationMs: LATENCY_MS }, { LIVE_FAST_POLL_MS: '50', LIVE_SLOW_POLL_MS: '50', LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is delivered as a change in the state (previousState FAILED), not as a record entering it', async () => {
    const failed = await listAll(h, 'projects', 'failed');
    const ids = failed.map(idOf);
    expect(ids.length).toBeGreaterThan(0);
    const conn = wsConnection(h);
    try {
      const sub = conn.subscribe({ model: 'PROJECT', checksumState: 'FAILED' }, BY_STATE_BATCHES);
      await sub.initial(ids);

      // GitLab answers late: a listing sent now reads the records while they are started (not failed), and the read of
      // the records that left it, sent once that answer is in, finds them failed again.
      await h.control('PUT', 'faults', { latencyMs: LATENCY_MS });
      const mark = await lastSeq(h);
      await pollsAfter(h, 'projects', 'failed', mark, 1);
      await h.control('POST', 'verify');
      for (const id of ids) await sub.until(id, (c) => c.record.checksumInformation!.checksumRetryCount! > failed.find((r) => idOf(r) === id)!.checksum_information.checksum_retry_count, 'failing again', 10_000);

      // They never left the state as far as the subscriber can tell: failed, then failed again.
      expect(sub.errors).toEqual([]);
      expectChained(sub.changes, 'FAILED');
      for (const id of ids) expect(sub.of(id).map((c) => `${c.previousState}->${c.state}`)).toEqual(['null->FAILED', 'FAILED->FAILED']);
      sub.unsubscribe();
    } finally {
      await h.control('PUT', 'faults', { latencyMs: 0 });
      await conn.dispose();
    }
  });
});

describe('bounds, refusals and cost', () => {
  const MAX = 5;
  let h: Harness;

  beforeAll(async () => {
    h = await startLive(
      { records: 40, modelRecords: { merge_request_diffs: 250 }, verifyIntervalMs: 0, verifyBatchSize: 1_000, verifyDurationMs: 50, unverifiableModels: ['uploads'] },
      { LIVE_MAX_IDENTIFIERS: String(MAX), LIVE_FAST_POLL_MS: '50', LIVE_SLOW_POLL_MS: '100', LIVE_MAX_UPSTREAM_CALLS_PER_SECOND: '1000' },
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  it(`watches the ${MAX} lowest identifiers in the state, says when more are in it, and takes the next as one leaves`, async () => {
    const many = await listAll(h, 'merge_request_diffs', 'failed');
    const exactly = await listAll(h, 'projects', 'failed');
    const fewer = await listAll(h, 'lfs_objects', 'failed');
    expect([many.length > MAX, exactly.length, fewer.length > 0 && fewer.length < MAX]).toEqual([true, MAX, true]);
    const lowest = many.slice(0, MAX).map(idOf);

    const ws = wsConnection(h);
    const sse = sseConnection(h);
    try {
      const truncatedBatches = ws.subscribe({ model: 'MERGE_REQUEST_DIFF', checksumState: 'FAILED' }, BY_STATE_BATCHES);
      const truncatedEach = sse.subscribe({ model: 'MERGE_REQUEST_DIFF', checksumState: 'FAILED' }, BY_STATE);
      const full = ws.subscribe({ model: 'PROJECT', checksumState: 'FAILED' }, BY_STATE_BATCHES);
      const under = sse.subscribe({ model: 'LFS_OBJECT', checksumState: 'FAILED' }, BY_STATE_BATCHES);
      const named = lowest.slice(0, 2);
      const byIdsBatches = ws.subscribe({ model: 'MERGE_REQUEST_DIFF', identifiers: named }, BY_IDENTIFIERS_BATCHES);
      const byIdsEach = sse.subscribe({ model: 'MERGE_REQUEST_DIFF', identifiers: named }, BY_IDENTIFIERS);
      await Promise.all([
        truncatedBatches.initial(lowest),
        truncatedEach.initial(lowest),
        full.initial(exactly.map(idOf)),
        under.initial(fewer.map(idOf)),
        byIdsBatches.initial(named),
        byIdsEach.initial(named),
      ]);

      expect(idsOfChanges(truncatedBatches.batches[0])).toEqual(lowest);
      expect(batchTruncation(truncatedBatches)).toEqual([true]);
      expect(changesOf(truncatedEach).map((c) => [c.record.recordIdentifier, c.truncated])).toEqual(lowest.map((id) => [id, true]));
      expect([idsOfChanges(full.batches[0]), batchTruncation(full)]).toEqual([exactly.map(idOf), [false]]);
      expect([idsOfChanges(under.batches[0]), batchTruncation(under)]).toEqual([fewer.map(idOf), [false]]);
      expect(batchTruncation(byIdsBatches)).toEqual([false]);
      expect(changesOf(byIdsEach).map((c) => c.truncated)).toEqual([false, false]);

      // The lowest one leaves the state (queued, straight at GitLab): delivered with its new state, and the next in
      // GitLab's order comes in.
      const [leaving, next] = [lowest[0], idOf(many[MAX])];
      expect((await rest(h, 'PUT', `merge_request_diffs/checksum?identifiers[]=${leaving}`)).status).toBe(200);
      for (const sub of [truncatedBatches, truncatedEach]) {
        await sub.until(leaving, (c) => c.previousState === 'FAILED', 'leaving FAILED');
        await sub.until(next, () => true, 'coming in');
        const summary = (id: string) => sub.of(id).map((c) => [c.previousState, c.state, (c as StateChange).truncated]);
        expect(summary(leaving)).toEqual([[null, 'FAILED', true], ['FAILED', 'PENDING', true]]);
        expect(summary(next)).toEqual([[null, 'FAILED', true]]);
        expect(believedIn(sub.changes, 'FAILED')).toEqual(new Set([...lowest.slice(1), next]));
      }
      expect(batchTruncation(truncatedBatches).every((t) => t)).toBe(true);
      // Watching by identifiers, the same change is never truncated.
      for (const sub of [byIdsBatches, byIdsEach]) await sub.until(leaving, (c) => c.state === 'PENDING', 'PENDING');
      expect(changesOf(byIdsEach).every((c) => !c.truncated)).toBe(true);
      expect(batchTruncation(byIdsBatches).every((t) => !t)).toBe(true);
      for (const sub of [truncatedBatches, truncatedEach, full, under, byIdsBatches, byIdsEach]) expect(sub.errors).toEqual([]);
    } finally {
      await ws.dispose();
      await sse.dispose();
    }
    await until(() => h.gateway.live.activeSubscriptions === 0, 'the subscriptions to end');
  });

  it('delivers a record that leaves the state after a lower one took its place among the watched', async () => {
    // Every seeded failure is due: one round of the job retries them all, and then none is due for half a minute.
    await h.control('POST', 'verify');
    await until(() => settled(h, 'merge_request_diffs'), 'the round to end', 5_000, 20);
    const failed = (await listAll(h, 'merge_request_diffs', 'failed')).map(idOf);
    const [lowest, next] = [failed[0], failed[MAX]];
    const queue = async (id: string) => expect((await rest(h, 'PUT', `merge_request_diffs/checksum?identifiers[]=${id}`)).status).toBe(200);

    const ws = wsConnection(h);
    const sse = sseConnection(h);
    try {
      const variables = { model: 'MERGE_REQUEST_DIFF', checksumState: 'FAILED' };
      const subs = [ws.subscribe(variables, BY_STATE_BATCHES), sse.subscribe(variables, BY_STATE)];
      await Promise.all(subs.map((sub) => sub.initial(failed.slice(0, MAX))));
      // The lowest leaves, the next comes in; the lowest fails again and is back among the first five.
      await queue(lowest);
      for (const sub of subs) await sub.until(next, () => true, 'coming in');
      await h.control('POST', 'verify');
      for (const sub of subs) await sub.until(lowest, () => sub.countOf(lowest) === 3, 'failing again');
      // The one it pushed out of the first five was delivered as failed: when it leaves, that is delivered too.
      await queue(next);
      const queued = await lastSeq(h);
      await pollsAfter(h, 'merge_request_diffs', 'failed', queued, 3);
      for (const sub of subs) {
        expect(sub.of(lowest).map((c) => `${c.previousState}->${c.state}`)).toEqual(['null->FAILED', 'FAILED->PENDING', 'null->FAILED']);
        expect(sub.of(next).map((c) => `${c.previousState}->${c.state}`), 'the record pushed out of the watched ones').toEqual(['null->FAILED', 'FAILED->PENDING']);
        expect(believedIn(sub.changes, 'FAILED')).toEqual(new Set(failed.slice(0, MAX)));
        expect(sub.errors).toEqual([]);
      }
    } finally {
      await ws.dispose();
      await sse.dispose();
    }
    await until(() => h.gateway.live.activeSubscriptions === 0, 'the subscriptions to end');
  });

  it.each(TRANSPORTS)('over %s, refuses both identifiers and checksumState, and neither, with BAD_USER_INPUT', async (transport) => {
    const conn = connect(h, transport);
    try {
      const both = conn.subscribe({ model: 'PROJECT', identifiers: ['1'], checksumState: 'FAILED' }, EITHER);
      const neither = conn.subscribe({ model: 'PROJECT' }, EITHER);
      for (const sub of [both, neither]) {
        await sub.waitFor((s) => s.errors.length > 0, 'the refusal');
        expect(sub.errors.map((e) => [e.extensions?.code, e.message])).toEqual([['BAD_USER_INPUT', EITHER_MESSAGE]]);
        expect(sub.payloads).toEqual([]);
      }
    } finally {
      await conn.dispose();
    }
    expect(h.gateway.live.activeSubscriptions).toBe(0);
  });

  it.each(TRANSPORTS)('over %s, a model whose verification is off ends the subscription with GitLab\'s 400, and its poll stops', async (transport) => {
    const conn = connect(h, transport);
    // Another poll, as a clock: the one that failed would have polled again within two of its cycles.
    const clockConn = wsConnection(h);
    try {
      const clock = clockConn.subscribe({ model: 'LFS_OBJECT', checksumState: 'FAILED' }, BY_STATE_BATCHES);
      await clock.waitFor((s) => s.batches.length > 0, 'the clock');
      const subs = [conn.subscribe({ model: 'UPLOAD', checksumState: 'FAILED' }, BY_STATE_BATCHES), conn.subscribe({ model: 'UPLOAD', checksumState: 'FAILED' }, BY_STATE)];
      for (const sub of subs) {
        await sub.waitFor((s) => s.errors.length > 0, 'the error');
        expect(sub.errors.map((e) => [e.extensions?.code, e.message])).toEqual([['BAD_USER_INPUT', 'GitLab rejected the request: 400 Bad request - Upload is not a verifiable model.']]);
        expect(sub.payloads).toEqual([]);
      }
      await until(() => h.gateway.live.activeSubscriptions === 1, 'only the clock to remain');
      const mark = await lastSeq(h);
      await pollsAfter(h, 'lfs_objects', 'failed', mark, 4);
      expect(callsTo((await logAfter(h, mark)).requests, 'uploads')).toEqual([]);
      expect(clock.errors).toEqual([]);
    } finally {
      await conn.dispose();
      await clockConn.dispose();
    }
    await until(() => h.gateway.live.activeSubscriptions === 0, 'the subscriptions to end');
  });

  it('without a token: graphql-ws closes the socket, SSE answers UNAUTHENTICATED, and GitLab is not asked', async () => {
    const mark = await lastSeq(h);
    const ws = wsConnection(h, null);
    const sse = sseConnection(h, null);
    try {
      const overWs = ws.subscribe({ model: 'PROJECT', checksumState: 'FAILED' }, BY_STATE_BATCHES);
      const overSse = sse.subscribe({ model: 'PROJECT', checksumState: 'FAILED' }, BY_STATE_BATCHES);
      await overWs.waitFor((s) => s.received.length > 0, 'the close');
      expect(ws.closes).toEqual([{ code: 4403, reason: 'Forbidden' }]);
      await overSse.waitFor((s) => s.errors.length > 0, 'the refusal');
      expect(overSse.errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
      expect(overSse.payloads).toEqual([]);
    } finally {
      await ws.dispose();
      await sse.dispose();
    }
    expect((await logAfter(h, mark)).requests).toEqual([]);
    expect(h.gateway.live.activeSubscriptions).toBe(0);
  });

  it('costs the same calls per cycle for 1 subscriber and for 50, and nothing once they have all left', async () => {
    const path = 'lfs_objects';
    const ids = (await listAll(h, path, 'failed')).map(idOf);
    const variables = { model: 'LFS_OBJECT', checksumState: 'FAILED' };
    // Whether anything is pending or started (one call each), and the state's one page.
    const cycle = ['failed:100:1', 'pending:1:1', 'started:1:1'];
    const ws = wsConnection(h);
    const sse = sseConnection(h);
    const clockConn = wsConnection(h);
    try {
      const alone = ws.subscribe(variables, BY_STATE_BATCHES);
      await alone.initial(ids);
      const one = await lastSeq(h);
      await pollsAfter(h, path, 'failed', one, 5);
      const others = Array.from({ length: 49 }, (_, i) => (i % 2 === 0 ? ws : sse).subscribe(variables, BY_STATE_BATCHES));
      await Promise.all(others.map((sub) => sub.initial(ids)));
      const joined = await lastSeq(h);
      expect(metricValue(await metrics(h), 'gateway_live_subscriptions')).toBe(50);
      await pollsAfter(h, path, 'failed', joined, 5);
      const { requests } = await logAfter(h, one);

      // Complete cycles only: the window may cut the first and the last.
      const whole = (cycles: string[][]) => cycles.slice(1, -1);
      const byOne = whole(cyclesOf(requests.filter((e) => e.seq <= joined), path));
      const byFifty = whole(cyclesOf(requests.filter((e) => e.seq > joined), path));
      expect(byOne.length).toBeGreaterThanOrEqual(3);
      expect(byFifty.length).toBeGreaterThanOrEqual(3);
      for (const cycles of [byOne, byFifty]) expect(cycles).toEqual(cycles.map(() => cycle));
      // Joining cost nothing: every call while they joined belongs to a cycle like the others.
      expect(whole(cyclesOf(requests, path))).toEqual(whole(cyclesOf(requests, path)).map(() => cycle));
      for (const sub of [alone, ...others]) expect([sub.errors, sub.batches.length]).toEqual([[], 1]);

      await ws.dispose();
      await sse.dispose();
      await until(() => h.gateway.live.activeSubscriptions === 0, 'everyone to leave');
      expect(metricValue(await metrics(h), 'gateway_live_subscriptions')).toBe(0);
      const left = await lastSeq(h);
      const clock = clockConn.subscribe({ model: 'PROJECT', checksumState: 'FAILED' }, BY_STATE_BATCHES);
      await clock.waitFor((s) => s.batches.length > 0, 'the clock');
      await pollsAfter(h, 'projects', 'failed', left, 4);
      expect(callsTo((await logAfter(h, left)).requests, path)).toEqual([]);
    } finally {
      await ws.dispose();
      await sse.dispose();
      await clockConn.dispose();
    }
    await until(() => h.gateway.live.activeSubscriptions === 0, 'the subscriptions to end');
  });
});
