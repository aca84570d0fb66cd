// How changes reach subscribers: a recalculation through the gateway is pushed at once, without a poll;
// a change made past the gateway (straight to GitLab) is found by polling.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, type Harness } from '../support/gateway.js';
import { API, FAILURE, recordsIn, rest, sseConnection, TIMESTAMP, wsConnection, type RestRecord, startLive } from './helpers.js';

const RECALCULATE = /* GraphQL */ `
  mutation ($id: ID!) {
    recalculateChecksum(model: PROJECT, recordIdentifier: $id) { errors record { recordIdentifier checksumInformation { checksumState } } }
  }
`;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function pick(h: Harness): Promise<{ failed: RestRecord; succeeded: RestRecord }> {
  const [[failed], [succeeded]] = await Promise.all([recordsIn(h, 'projects', 'failed'), recordsIn(h, 'projects', 'succeeded')]);
  expect(failed.checksum_information.checksum_failure).toMatch(FAILURE);
  return { failed, succeeded };
}

describe('a recalculation through the gateway', () => {
  let h: Harness;
  beforeAll(async () => {
    // No poll can deliver anything within the test: both paces are a minute, and so is the token recheck.
    h = await startLive({ verifyIntervalMs: 0 }, { LIVE_FAST_POLL_MS: '60000', LIVE_SLOW_POLL_MS: '60000' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is delivered to graphql-ws and SSE subscribers at once, without waiting for a poll', async () => {
    const { failed, succeeded } = await pick(h);
    const ids = [String(failed.record_identifier), String(succeeded.record_identifier)];
    const ws = wsConnection(h);
    const sse = sseConnection(h);
    cleanups.push(() => ws.dispose(), () => sse.dispose());
    const viaWs = ws.subscribe({ model: 'PROJECT', identifiers: ids });
    const viaSse = sse.subscribe({ model: 'PROJECT', identifiers: ids });
    await Promise.all([viaWs.initial(ids), viaSse.initial(ids)]);
    expect(h.gateway.live.stats.cycles).toBe(0);
    await h.resetUpstream();

    // A failed record fails again: its retry count and last verification change.
    const t0 = Date.now();
    const res = await h.request(RECALCULATE, { id: ids[0] });
    expect(res.data).toEqual({
      recalculateChecksum: { errors: [`Verification failed: ${failed.checksum_information.checksum_failure}`], record: { recordIdentifier: ids[0], checksumInformation: { checksumState: 'FAILED' } } },
    });
    for (const sub of [viaWs, viaSse]) {
      const change = await sub.until(ids[0], (c) => c.previousState !== null, 'the pushed FAILED event', 2_000);
      expect(Date.now() - t0).toBeLessThan(2_000);
      expect(change).toEqual({
        record: {
          id: `gid://gitlab/Project/${ids[0]}`,
          recordIdentifier: ids[0],
          model: 'PROJECT',
          checksumInformation: {
            checksum: null,
            checksumState: 'FAILED',
            checksumFailure: failed.checksum_information.checksum_failure,
            checksumRetryCount: failed.checksum_information.checksum_retry_count + 1,
            lastChecksum: expect.stringMatching(TIMESTAMP),
          },
        },
        previousState: 'FAILED',
        state: 'FAILED',
        observedAt: expect.stringMatching(TIMESTAMP),
      });
      expect(Date.parse(change.record.checksumInformation!.lastChecksum!)).toBeGreaterThanOrEqual(t0);
    }

    // A succeeded record succeeds again, with a newer last verification.
    const t1 = Date.now();
    const ok = await h.request(RECALCULATE, { id: ids[1] });
    expect(ok.data).toEqual({ recalculateChecksum: { errors: [], record: { recordIdentifier: ids[1], checksumInformation: { checksumState: 'SUCCEEDED' } } } });
    for (const sub of [viaWs, viaSse]) {
      const change = await sub.until(ids[1], (c) => c.previousState !== null, 'the pushed SUCCEEDED event', 2_000);
      expect(Date.now() - t1).toBeLessThan(2_000);
      expect([change.previousState, change.state, change.record.checksumInformation!.checksum, change.record.checksumInformation!.checksumRetryCount]).toEqual([
        'SUCCEEDED',
        'SUCCEEDED',
        succeeded.checksum_information.checksum,
        0,
      ]);
      expect(Date.parse(change.record.checksumInformation!.lastChecksum!)).toBeGreaterThanOrEqual(t1);
      // One event per change, each subscriber: the initial state and the two recalculations.
      expect(sub.summary()).toEqual(expect.arrayContaining([`${ids[0]}:FAILED->FAILED`, `${ids[1]}:SUCCEEDED->SUCCEEDED`]));
      expect(sub.changes).toHaveLength(4);
    }

    // No poll ran: GitLab saw the two PUTs and the one read of the record whose failed state the PUT did not return.
    expect(h.gateway.live.stats.cycles).toBe(0);
    const seen = (await h.upstream()).map((e) => `${e.method} ${e.path}${e.method === 'GET' ? `?${e.params['identifiers[]']}` : ''}`);
    expect(seen).toEqual([`PUT ${API}projects/${ids[0]}/checksum`, `GET ${API}projects?${ids[0]}`, `PUT ${API}projects/${ids[1]}/checksum`]);
  });
});

describe('a change made straight to GitLab', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startLive({ verifyIntervalMs: 0, verifyDurationMs: 400, verifyBatchSize: 100_000 }, { LIVE_FAST_POLL_MS: '100', LIVE_SLOW_POLL_MS: '300' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is found by polling, at the slow pace while every watched record is settled', async () => {
    const { failed, succeeded } = await pick(h);
    const [f, s] = [String(failed.record_identifier), String(succeeded.record_identifier)];
    const ws = wsConnection(h);
    cleanups.push(() => ws.dispose());
    const sub = ws.subscribe({ model: 'PROJECT', identifiers: [f, s] });
    await sub.initial([f, s]);

    // One record, synchronously verified by GitLab.
    const put = await rest(h, 'PUT', `projects/${s}/checksum`);
    expect(put.status).toBe(200);
    const after = put.body as RestRecord;
    const t0 = Date.now();
    const change = await sub.until(s, (c) => c.previousState !== null, 'the polled SUCCEEDED event', 2_000);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect([change.previousState, change.state, change.record.checksumInformation]).toEqual([
      'SUCCEEDED',
      'SUCCEEDED',
      { checksum: succeeded.checksum_information.checksum, checksumState: 'SUCCEEDED', checksumFailure: null, checksumRetryCount: 0, lastChecksum: after.checksum_information.last_checksum },
    ]);

    const failedPut = await rest(h, 'PUT', `projects/${f}/checksum`);
    expect(failedPut).toEqual({ status: 400, body: { message: `400 Bad request - Verifying projects/${f} failed.` } });
    const failedChange = await sub.until(f, (c) => c.previousState !== null, 'the polled FAILED event', 2_000);
    expect([failedChange.previousState, failedChange.state, failedChange.record.checksumInformation!.checksumRetryCount, failedChange.record.checksumInformation!.checksumFailure]).toEqual([
      'FAILED',
      'FAILED',
      failed.checksum_information.checksum_retry_count + 1,
      failed.checksum_information.checksum_failure,
    ]);

    // A bulk recalculation straight to GitLab, then its background job: polling follows the whole walk.
    const bulk = await fetch(`${h.standIn.url}${API}projects/checksum?identifiers[]=${s}`, { method: 'PUT', headers: { 'private-token': ADMIN } });
    expect(bulk.status).toBe(200);
    await sub.until(s, (c) => c.state === 'PENDING', 'PENDING', 2_000);
    await h.control('POST', 'verify');
    await sub.until(s, (c) => c.previousState === 'STARTED', 'SUCCEEDED after STARTED', 2_000);
    expect(sub.of(s).map((c) => `${c.previousState}->${c.state}`)).toEqual(['null->SUCCEEDED', 'SUCCEEDED->SUCCEEDED', 'SUCCEEDED->PENDING', 'PENDING->STARTED', 'STARTED->SUCCEEDED']);
    expect(sub.of(f).map((c) => `${c.previousState}->${c.state}`)).toEqual(['null->FAILED', 'FAILED->FAILED']);
    expect(sub.errors).toEqual([]);
  });
});
