// The mutations: recalculateChecksum (synchronous, one record) and recalculateAllChecksums (queued, optionally filtered).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelRecordsDocument, RecalculateAllChecksumsDocument, RecalculateChecksumDocument } from '../generated/operations.js';
import type { Harness } from '../support/gateway.js';
import { answered, DIALECTS, gets, ids, ok, oneError, puts, restAll, type RestRecord, segment, splitPath, startFor } from './helpers.js';

const ENQUEUED = 'Batch update job has been successfully enqueued.';
const stateOf = (r: RestRecord) => r.checksum_information!.checksum_state;

describe.each(DIALECTS)('mutations, %s dialect', (dialect) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startFor(dialect, { compositeKeyModels: ['uploads'], unverifiableModels: ['ci_secure_files'] });
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  it('recalculateChecksum verifies a record: SUCCEEDED, errors [], one PUT and no other call', async () => {
    const before = await restAll(h, 'LFS_OBJECT', dialect);
    const record = before.find((r) => stateOf(r) === 'pending')!;
    const id = String(record.record_identifier);
    await h.resetUpstream();
    const startedAt = Date.now();

    const data = answered(await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: id }));
    const payload = data.recalculateChecksum;
    expect(payload.errors).toEqual([]);
    expect(payload.record).toMatchObject({ id: `gid://gitlab/LfsObject/${id}`, model: 'LFS_OBJECT', recordIdentifier: id, modelClass: 'LfsObject' });
    const info = payload.record!.checksumInformation!;
    expect(info.checksumState).toBe('SUCCEEDED');
    expect(info.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(info.checksumFailure).toBeNull();
    expect(info.checksumRetryCount).toBe(0);
    expect(Date.parse(info.lastChecksum!)).toBeGreaterThanOrEqual(startedAt - 5);

    const log = await h.upstream();
    expect(log).toHaveLength(1);
    expect(log[0].method).toBe('PUT');
    expect(splitPath(log[0])).toEqual([segment('LFS_OBJECT', dialect), id, 'checksum']);
    expect(log[0].query).toBe('');

    // GitLab has it so, too.
    const after = (await restAll(h, 'LFS_OBJECT', dialect)).find((r) => String(r.record_identifier) === id)!;
    expect(after.checksum_information).toMatchObject({ checksum_state: 'succeeded', checksum: info.checksum });
  });

  it('a record whose file is missing fails: the record in FAILED state and errors, but no GraphQL error', async () => {
    const failed = answered(await h.request(ModelRecordsDocument, { model: 'LFS_OBJECT', checksumState: 'FAILED', first: 1 }));
    const before = failed.modelRecords.nodes[0];
    expect(before.checksumInformation?.checksumFailure).toContain('file does not exist');
    const id = before.recordIdentifier;
    await h.resetUpstream();

    const payload = answered(await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: id })).recalculateChecksum;
    const info = payload.record!.checksumInformation!;
    expect(payload.record!.recordIdentifier).toBe(id);
    expect(info.checksumState).toBe('FAILED');
    expect(info.checksum).toBeNull();
    expect(info.checksumFailure).toMatch(/^Error during verification: File is not checksummable - file does not exist at: \/var\/opt\/gitlab\//);
    expect(info.checksumRetryCount).toBe(before.checksumInformation!.checksumRetryCount! + 1);
    expect(payload.errors).toEqual([`Verification failed: ${info.checksumFailure}`]);

    // The PUT, then one read of the failed state GitLab saved but did not send back.
    const log = await h.upstream();
    expect(log.map((e) => e.method)).toEqual(['PUT', 'GET']);
    expect(splitPath(log[0])).toEqual([segment('LFS_OBJECT', dialect), id, 'checksum']);
    expect(log[1].params['identifiers[]']).toEqual([id]);
  });

  it('recalculateChecksum of an unknown record is NOT_FOUND', async () => {
    const res = await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: '999999' });
    const error = oneError(res, 'NOT_FOUND');
    expect(error.message).toBe('GitLab answered: 404 999999 Not Found');
    expect(res.data).toEqual({ recalculateChecksum: null });
    expect(puts(await h.upstream())).toHaveLength(1);
  });

  it('recalculateChecksum takes integer identifiers only: a composite key is BAD_USER_INPUT', async () => {
    const uploads = await restAll(h, 'UPLOAD', dialect);
    await h.resetUpstream();
    const res = await h.request(RecalculateChecksumDocument, { model: 'UPLOAD', recordIdentifier: String(uploads[0].record_identifier) });
    oneError(res, 'BAD_USER_INPUT');
  });

  it('recalculateAllChecksums queues the whole model: "success", GitLab\'s message, and every record pending upstream', async () => {
    const before = await restAll(h, 'PAGES_DEPLOYMENT', dialect);
    expect(before.filter((r) => stateOf(r) !== 'pending').length).toBeGreaterThan(200);
    await h.resetUpstream();

    const data = answered(await h.request(RecalculateAllChecksumsDocument, { model: 'PAGES_DEPLOYMENT' }));
    expect(data.recalculateAllChecksums).toEqual({ model: 'PAGES_DEPLOYMENT', status: 'SUCCESS', message: ENQUEUED, errors: [] });

    const log = await h.upstream();
    expect(log).toHaveLength(1);
    expect(log[0].method).toBe('PUT');
    expect(splitPath(log[0])).toEqual([segment('PAGES_DEPLOYMENT', dialect), 'checksum']);
    expect(log[0].query).toBe('');

    const after = await restAll(h, 'PAGES_DEPLOYMENT', dialect);
    expect(after.map(stateOf)).toEqual(before.map(() => 'pending'));
    // Only the state moves: checksums stay until the background job re-verifies.
    expect(after.map((r) => r.checksum_information!.checksum)).toEqual(before.map((r) => r.checksum_information!.checksum));
  });

  if (dialect === 'plural') {
    it('filters go upstream as checksum_state and identifiers[], and only the matching records become pending', async () => {
      const before = await restAll(h, 'MERGE_REQUEST_DIFF', dialect);
      const wanted = ids(before).slice(0, 60);
      const failedWanted = before.filter((r) => wanted.includes(String(r.record_identifier)) && stateOf(r) === 'failed');
      expect(failedWanted.length).toBeGreaterThan(0);
      await h.resetUpstream();

      const data = answered(await h.request(RecalculateAllChecksumsDocument, { model: 'MERGE_REQUEST_DIFF', checksumState: 'FAILED', identifiers: wanted }));
      expect(data.recalculateAllChecksums).toEqual({ model: 'MERGE_REQUEST_DIFF', status: 'SUCCESS', message: ENQUEUED, errors: [] });

      const log = await h.upstream();
      expect(log).toHaveLength(1);
      expect(log[0].method).toBe('PUT');
      expect(splitPath(log[0])).toEqual(['merge_request_diffs', 'checksum']);
      expect(log[0].params).toEqual({ checksum_state: ['failed'], 'identifiers[]': wanted });

      const after = await restAll(h, 'MERGE_REQUEST_DIFF', dialect);
      const changed = new Set(failedWanted.map((r) => String(r.record_identifier)));
      expect(after.map(stateOf)).toEqual(before.map((r) => (changed.has(String(r.record_identifier)) ? 'pending' : stateOf(r))));
    });

    it('a checksumState filter alone is sent alone', async () => {
      answered(await h.request(RecalculateAllChecksumsDocument, { model: 'TERRAFORM_STATE_VERSION', checksumState: 'SUCCEEDED' }));
      const log = await h.upstream();
      expect(log.map((e) => e.params)).toEqual([{ checksum_state: ['succeeded'] }]);
    });
  } else {
    it('filters are BAD_USER_INPUT (this GitLab would re-verify the whole model) and no PUT is sent', async () => {
      const before = await restAll(h, 'MERGE_REQUEST_DIFF', dialect);
      await h.resetUpstream();
      for (const variables of [
        { model: 'MERGE_REQUEST_DIFF' as const, checksumState: 'FAILED' as const },
        { model: 'MERGE_REQUEST_DIFF' as const, identifiers: ids(before).slice(0, 3) },
        { model: 'MERGE_REQUEST_DIFF' as const, checksumState: 'SUCCEEDED' as const, identifiers: ids(before).slice(0, 3) },
      ]) {
        const res = await h.request(RecalculateAllChecksumsDocument, variables);
        const error = oneError(res, 'BAD_USER_INPUT');
        expect(error.message).toContain('18.8');
        expect(res.data).toEqual({ recalculateAllChecksums: null });
      }
      expect(await h.upstream()).toEqual([]);
      expect((await restAll(h, 'MERGE_REQUEST_DIFF', dialect)).map(stateOf)).toEqual(before.map(stateOf));
    });
  }

  it('checksumState PENDING is BAD_USER_INPUT and nothing is sent', async () => {
    const res = await h.request(RecalculateAllChecksumsDocument, { model: 'LFS_OBJECT', checksumState: 'PENDING' });
    const error = oneError(res, 'BAD_USER_INPUT');
    expect(error.message).toBe('checksumState cannot be PENDING: pending records are queued already.');
    expect(await h.upstream()).toEqual([]);
  });

  it('an empty identifier is BAD_USER_INPUT and nothing is sent (GitLab would read `identifiers[]=` as the whole model)', async () => {
    for (const identifiers of [[''], ['  '], ['1', '']]) {
      const res = await h.request(RecalculateAllChecksumsDocument, { model: 'LFS_OBJECT', identifiers });
      oneError(res, 'BAD_USER_INPUT');
    }
    expect(await h.upstream()).toEqual([]);
  });

  it('a model whose verification is off is BAD_USER_INPUT, with GitLab\'s reason', async () => {
    const res = await h.request(RecalculateAllChecksumsDocument, { model: 'CI_SECURE_FILE' });
    const error = oneError(res, 'BAD_USER_INPUT');
    expect(error.message).toBe('GitLab rejected the request: 400 Bad request - Ci::SecureFile is not a verifiable model.');
  });

  it('on a secondary site both mutations are BAD_USER_INPUT; queries still work', async () => {
    await h.control('PUT', 'settings', { primary: false });
    try {
      const one = await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: '1' });
      expect(oneError(one, 'BAD_USER_INPUT').message).toBe('GitLab rejected the request: 400 Bad request - Endpoint only available on primary site.');
      const all = await h.request(RecalculateAllChecksumsDocument, { model: 'LFS_OBJECT' });
      expect(oneError(all, 'BAD_USER_INPUT').message).toBe('GitLab rejected the request: 400 Bad request - Endpoint only available on primary site.');
      answered(await h.request(ModelRecordsDocument, { model: 'LFS_OBJECT', first: 1 }));
      const log = await h.upstream();
      // A 400 is an answer, not a transient failure: each PUT went once.
      expect(puts(log)).toHaveLength(2);
      expect(gets(log).length).toBeGreaterThan(0);
    } finally {
      await h.control('PUT', 'settings', { primary: true });
    }
  });
});
