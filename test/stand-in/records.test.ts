// The shape of a record: key order, types, sizes, timestamps and checksums, for every model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandalone, type StandaloneStandIn } from '../support/standalone.js';
import { allRecords, call, ids, stateOf, type ApiRecord } from './http.js';

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const FAILURE = /^Error during verification: File is not checksummable - file does not exist at: \S+$/;
const RECORD_KEYS = ['record_identifier', 'model_class', 'created_at', 'file_size', 'checksum_information'];
const CHECKSUM_KEYS = ['checksum', 'last_checksum', 'checksum_state', 'checksum_retry_count', 'checksum_retry_at', 'checksum_failure'];

const REPOSITORIES = ['projects', 'projects_wiki_repositories', 'group_wiki_repositories', 'snippet_repositories', 'design_management_repositories'];
const BLOBS = [
  'ci_job_artifacts',
  'ci_pipeline_artifacts',
  'ci_secure_files',
  'dependency_proxy_blobs',
  'dependency_proxy_manifests',
  'lfs_objects',
  'merge_request_diffs',
  'packages_package_files',
  'pages_deployments',
  'terraform_state_versions',
  'uploads',
  'packages_nuget_symbols',
  'packages_debian_project_component_files',
  'supply_chain_attestations',
];
const CONTAINERS = ['container_repositories'];

let si: StandaloneStandIn;
const records = new Map<string, ApiRecord[]>();

beforeAll(async () => {
  si = await startStandalone(['--records', '60', '--fail-rate', '0.2']);
  for (const model of [...REPOSITORIES, ...BLOBS, ...CONTAINERS]) records.set(model, await allRecords(si.api, model));
});

afterAll(async () => {
  await si?.stop();
});

describe('record shape', () => {
  it('has the keys in GitLab order, for every model', () => {
    expect(records.size).toBe(20);
    for (const [model, list] of records) {
      expect([model, list.length]).toEqual([model, 60]);
      for (const record of list) {
        expect([model, Object.keys(record)]).toEqual([model, RECORD_KEYS]);
        expect([model, Object.keys(record.checksum_information!)]).toEqual([model, CHECKSUM_KEYS]);
      }
    }
  });

  it('has integer identifiers, ascending, and one model class per model', () => {
    for (const [model, list] of records) {
      const identifiers = ids(list);
      expect(identifiers.every((id) => Number.isSafeInteger(id) && (id as number) > 0)).toBe(true);
      for (let i = 1; i < identifiers.length; i++) expect(identifiers[i] as number).toBeGreaterThan(identifiers[i - 1] as number);
      expect([model, new Set(list.map((r) => r.model_class)).size]).toEqual([model, 1]);
    }
  });

  it('answers GET one with the same record the list shows', async () => {
    for (const model of ['projects', 'lfs_objects', 'container_repositories']) {
      for (const record of records.get(model)!.filter((_, i) => i % 13 === 0)) {
        const one = await call<ApiRecord>(`${si.api}/${model}/${record.record_identifier}`);
        expect(one.status).toBe(200);
        expect(one.body).toEqual(record);
        expect(Object.keys(one.body)).toEqual(RECORD_KEYS);
      }
    }
  });

  it('gives repositories no file size, and blobs integer sizes, some beyond 2^31', () => {
    for (const model of REPOSITORIES) expect([model, records.get(model)!.every((r) => r.file_size === null)]).toEqual([model, true]);
    for (const model of BLOBS) {
      const sizes = records.get(model)!.map((r) => r.file_size);
      expect([model, sizes.every((s) => Number.isSafeInteger(s) && (s as number) > 0)]).toEqual([model, true]);
      expect([model, sizes.some((s) => (s as number) > 2 ** 31)]).toEqual([model, true]);
    }
  });

  it('formats every timestamp as GitLab does', () => {
    for (const [model, list] of records) {
      for (const record of list) {
        expect(record.created_at).toMatch(TIMESTAMP);
        const info = record.checksum_information!;
        for (const value of [info.last_checksum, info.checksum_retry_at]) {
          if (value !== null) expect([model, value]).toEqual([model, expect.stringMatching(TIMESTAMP)]);
        }
      }
    }
  });

  it('has lowercase hex checksums: 64 chars for blobs and containers, 40 for repositories', () => {
    const check = (models: string[], pattern: RegExp) => {
      for (const model of models) {
        const succeeded = records.get(model)!.filter((r) => stateOf(r) === 'succeeded');
        expect(succeeded.length).toBeGreaterThan(20);
        for (const record of succeeded) expect([model, record.checksum_information!.checksum]).toEqual([model, expect.stringMatching(pattern)]);
      }
    };
    check(BLOBS, /^[0-9a-f]{64}$/);
    check(CONTAINERS, /^[0-9a-f]{64}$/);
    check(REPOSITORIES, /^[0-9a-f]{40}$/);
    const all = [...records.values()].flat().filter((r) => stateOf(r) === 'succeeded');
    expect(new Set(all.map((r) => r.checksum_information!.checksum)).size).toBeGreaterThan(all.length / 2);
  });

  it('keeps each state consistent with its fields', () => {
    const seen = new Set<string>();
    for (const [model, list] of records) {
      for (const record of list) {
        const info = record.checksum_information!;
        seen.add(info.checksum_state);
        const where = `${model}/${record.record_identifier}`;
        switch (info.checksum_state) {
          case 'succeeded':
            expect([where, info.checksum_retry_count, info.checksum_retry_at, info.checksum_failure]).toEqual([where, 0, null, null]);
            expect([where, typeof info.checksum, typeof info.last_checksum]).toEqual([where, 'string', 'string']);
            break;
          case 'failed':
            expect([where, info.checksum]).toEqual([where, null]);
            expect(info.checksum_retry_count).toBeGreaterThanOrEqual(1);
            expect(info.checksum_retry_at).toMatch(TIMESTAMP);
            expect(info.last_checksum).toMatch(TIMESTAMP);
            expect(Date.parse(info.checksum_retry_at!)).toBeGreaterThan(Date.parse(info.last_checksum!));
            expect(info.checksum_failure).toMatch(FAILURE);
            expect(info.checksum_failure!.length).toBeLessThanOrEqual(255);
            break;
          case 'pending':
            expect([where, info.checksum_retry_count, info.checksum_retry_at, info.checksum_failure]).toEqual([where, 0, null, null]);
            break;
          default:
            throw new Error(`${where} is ${info.checksum_state} at rest`);
        }
      }
    }
    expect([...seen].sort()).toEqual(['failed', 'pending', 'succeeded']);
  });
});
