// modelRecord: one record by identifier, exactly as GitLab has it (sizes beyond 2^31, repositories, unverifiable models).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelRecordDocument, type ModelName, type RecordFieldsFragment } from '../generated/operations.js';
import type { Harness } from '../support/gateway.js';
import { DIALECTS, gets, ids, ok, rest, restAll, segment, splitPath, startFor, type RestRecord } from './helpers.js';

/** What a client must see for a record GitLab sent. */
function expected(model: ModelName, modelClass: string, r: RestRecord): RecordFieldsFragment {
  const c = r.checksum_information;
  return {
    id: `gid://gitlab/${modelClass}/${r.record_identifier}`,
    model,
    recordIdentifier: String(r.record_identifier),
    modelClass,
    createdAt: r.created_at,
    fileSize: r.file_size === null ? null : String(r.file_size),
    checksumInformation: c
      ? {
          checksum: c.checksum,
          lastChecksum: c.last_checksum,
          checksumState: c.checksum_state.toUpperCase() as NonNullable<RecordFieldsFragment['checksumInformation']>['checksumState'],
          checksumRetryCount: c.checksum_retry_count,
          checksumRetryAt: c.checksum_retry_at,
          checksumFailure: c.checksum_failure,
        }
      : null,
  };
}

describe.each(DIALECTS)('modelRecord, %s dialect', (dialect) => {
  let h: Harness;
  let lfs: RestRecord[];
  let uploads: RestRecord[];

  beforeAll(async () => {
    h = await startFor(dialect, { compositeKeyModels: ['uploads'], unverifiableModels: ['ci_secure_files'] });
    lfs = await restAll(h, 'LFS_OBJECT', dialect);
    uploads = await restAll(h, 'UPLOAD', dialect);
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  it('returns a record with every field as GitLab has it, in one list call by identifiers[]', async () => {
    const record = lfs[10];
    const data = ok(await h.request(ModelRecordDocument, { model: 'LFS_OBJECT', recordIdentifier: String(record.record_identifier) }));
    expect(data.modelRecord).toEqual(expected('LFS_OBJECT', 'LfsObject', record));
    const log = await h.upstream();
    expect(log).toHaveLength(1);
    expect(log[0].method).toBe('GET');
    expect(splitPath(log[0])).toEqual([segment('LFS_OBJECT', dialect)]);
    expect(log[0].params).toEqual({ page: ['1'], per_page: ['100'], 'identifiers[]': [String(record.record_identifier)] });
  });

  it('an unknown identifier is null, without an error', async () => {
    const res = await h.request(ModelRecordDocument, { model: 'LFS_OBJECT', recordIdentifier: '999999' });
    expect(ok(res).modelRecord).toBeNull();
    expect(gets(await h.upstream())).toHaveLength(1);
  });

  it('an identifier GitLab could not read is null, and nothing is asked upstream', async () => {
    for (const id of ['abc', 'MTIz', '-1', '1.5', '']) {
      const res = await h.request(ModelRecordDocument, { model: 'LFS_OBJECT', recordIdentifier: id });
      expect(ok(res).modelRecord).toBeNull();
    }
    expect(await h.upstream()).toEqual([]);
  });

  it('a file size above 2^31 comes through exactly, as a string', async () => {
    // Read the digits from GitLab's raw JSON, not through a JavaScript number.
    const raw = await rest(h, `${segment('LFS_OBJECT', dialect)}?per_page=100`);
    const sizes = [...raw.text.matchAll(/"record_identifier":(\d+),"model_class":"LfsObject","created_at":"[^"]+","file_size":(\d+)/g)];
    expect(sizes).toHaveLength(100);
    const big = sizes.filter(([, , size]) => BigInt(size) > 2n ** 31n);
    expect(big.length).toBeGreaterThan(2);
    for (const [, id, size] of big) {
      const data = ok(await h.request(ModelRecordDocument, { model: 'LFS_OBJECT', recordIdentifier: id }));
      expect(data.modelRecord?.fileSize).toBe(size);
    }
    // Beyond 32 bits too, not only beyond 31.
    expect(big.some(([, , size]) => BigInt(size) > 2n ** 32n)).toBe(true);
  });

  it('a repository has a null fileSize and a 40-hex checksum', async () => {
    const projects = await restAll(h, 'PROJECT', dialect);
    const project = projects.find((p) => p.checksum_information?.checksum_state === 'succeeded')!;
    const data = ok(await h.request(ModelRecordDocument, { model: 'PROJECT', recordIdentifier: String(project.record_identifier) }));
    expect(data.modelRecord).toEqual(expected('PROJECT', 'Project', project));
    expect(data.modelRecord?.fileSize).toBeNull();
    expect(data.modelRecord?.checksumInformation?.checksum).toMatch(/^[0-9a-f]{40}$/);
  });

  it('a model whose verification is off has checksumInformation null', async () => {
    const files = await restAll(h, 'CI_SECURE_FILE', dialect);
    expect(files[0].checksum_information).toBeUndefined();
    const data = ok(await h.request(ModelRecordDocument, { model: 'CI_SECURE_FILE', recordIdentifier: String(files[0].record_identifier) }));
    expect(data.modelRecord).toEqual(expected('CI_SECURE_FILE', 'Ci::SecureFile', files[0]));
    expect(data.modelRecord?.checksumInformation).toBeNull();
    expect(data.modelRecord?.fileSize).toBe(String(files[0].file_size));
  });

  it('`id` is unique across models: gid://gitlab/<ModelClass>/<id>', async () => {
    const projects = ids(await restAll(h, 'PROJECT', dialect));
    const artifacts = ids(await restAll(h, 'CI_JOB_ARTIFACT', dialect));
    const shared = ids(lfs).find((id) => projects.includes(id) && artifacts.includes(id))!;
    expect(shared).toBeDefined();
    const data = ok(
      await h.request<{ [alias: string]: { id: string; recordIdentifier: string } | null }, Record<string, never>>(
        `query {
          a: modelRecord(model: LFS_OBJECT, recordIdentifier: "${shared}") { id recordIdentifier }
          b: modelRecord(model: PROJECT, recordIdentifier: "${shared}") { id recordIdentifier }
          c: modelRecord(model: CI_JOB_ARTIFACT, recordIdentifier: "${shared}") { id recordIdentifier }
        }`,
      ),
    );
    expect(data).toEqual({
      a: { id: `gid://gitlab/LfsObject/${shared}`, recordIdentifier: shared },
      b: { id: `gid://gitlab/Project/${shared}`, recordIdentifier: shared },
      c: { id: `gid://gitlab/Ci::JobArtifact/${shared}`, recordIdentifier: shared },
    });
  });

  it('finds a composite-key record by its base64 id, padded or unpadded', async () => {
    const record = uploads.find((u) => String(u.record_identifier).endsWith('='))!;
    const padded = String(record.record_identifier);
    const unpadded = padded.replace(/=+$/, '');
    for (const id of [padded, unpadded]) {
      const data = ok(await h.request(ModelRecordDocument, { model: 'UPLOAD', recordIdentifier: id }));
      // The record as GitLab names it, whichever spelling was asked for.
      expect(data.modelRecord).toEqual(expected('UPLOAD', 'Upload', record));
    }
    // GitLab is asked in its own (padded) spelling either way.
    const log = await h.upstream();
    expect(log.map((e) => e.params['identifiers[]'])).toEqual([[padded], [padded]]);
  });

  it('asks once for a composite key spelt two ways in one document', async () => {
    const record = uploads.find((u) => String(u.record_identifier).endsWith('='))!;
    const padded = String(record.record_identifier);
    const data = ok(
      await h.request<{ [alias: string]: { recordIdentifier: string } | null }, Record<string, never>>(
        `query {
          a: modelRecord(model: UPLOAD, recordIdentifier: "${padded}") { recordIdentifier }
          b: modelRecord(model: UPLOAD, recordIdentifier: "${padded.replace(/=+$/, '')}") { recordIdentifier }
        }`,
      ),
    );
    expect(data).toEqual({ a: { recordIdentifier: padded }, b: { recordIdentifier: padded } });
    const log = await h.upstream();
    expect(log).toHaveLength(1);
    expect(log[0].params['identifiers[]']).toHaveLength(1);
  });

  it('a base64 key that names no record is null', async () => {
    const data = ok(await h.request(ModelRecordDocument, { model: 'UPLOAD', recordIdentifier: Buffer.from('999 999999').toString('base64url') }));
    expect(data.modelRecord).toBeNull();
  });
});
