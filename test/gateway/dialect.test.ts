// GitLab's two spellings of the API: detected (and re-detected) under GITLAB_API_DIALECT=auto, or pinned.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelRecordDocument, RecalculateAllChecksumsDocument, RecalculateChecksumDocument, RecordPageDocument } from '../generated/operations.js';
import { startHarness, type Harness } from '../support/gateway.js';
import { answered, API, ids, ok, oneError, puts, QUIET, restAll, splitPath } from './helpers.js';

/** The model segment and the pagination style of each upstream call, for compact comparisons. */
const calls = (h: Harness) =>
  h.upstream().then((log) =>
    log.map((e) => `${e.method} ${e.path.slice(API.length)}${e.params.pagination ? ' keyset' : ''}${e.params.page ? ` page=${e.params.page[0]}` : ''}`),
  );

describe('GITLAB_API_DIALECT=auto', () => {
  let h: Harness;
  let lfsIds: string[];

  beforeAll(async () => {
    // No warm-up: the first query of the first test is the gateway's first word with this GitLab.
    h = await startHarness({ dialect: 'singular', verifyIntervalMs: 0 }, QUIET);
    lfsIds = ids(await restAll(h, 'LFS_OBJECT', 'singular'));
    await h.resetUpstream();
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  it('detects a singular GitLab: the plural name is refused with 400, the singular one answers', async () => {
    const data = answered(await h.request(RecordPageDocument, { model: 'LFS_OBJECT', first: 3 }));
    expect(data.modelRecords.edges.map((e) => e.node.recordIdentifier)).toEqual(lfsIds.slice(0, 3));
    expect(await calls(h)).toEqual(['GET lfs_objects keyset', 'GET lfs_object page=1']);
  });

  it('once detected, asks with the singular name straight away and paginates by offset', async () => {
    const first = answered(await h.request(RecordPageDocument, { model: 'LFS_OBJECT', first: 3 }));
    answered(await h.request(RecordPageDocument, { model: 'LFS_OBJECT', first: 3, after: first.modelRecords.pageInfo.endCursor }));
    expect(await calls(h)).toEqual(['GET lfs_object page=1', 'GET lfs_object page=2']);
  });

  it('a newer model (SUPPLY_CHAIN_ATTESTATION) is BAD_USER_INPUT on this GitLab, without asking it', async () => {
    for (const res of [
      await h.request(RecordPageDocument, { model: 'SUPPLY_CHAIN_ATTESTATION', first: 3 }),
      await h.request(ModelRecordDocument, { model: 'SUPPLY_CHAIN_ATTESTATION', recordIdentifier: '1' }),
      await h.request(RecalculateChecksumDocument, { model: 'PACKAGES_NUGET_SYMBOL', recordIdentifier: '1' }),
      await h.request(RecalculateAllChecksumsDocument, { model: 'PACKAGES_DEBIAN_PROJECT_COMPONENT_FILE' }),
    ]) {
      expect(oneError(res, 'BAD_USER_INPUT').message).toContain('GitLab 18.8 or later');
    }
    expect(await h.upstream()).toEqual([]);
  });

  it('re-detects when GitLab is upgraded to the plural API at run time, and an offset cursor carries on', async () => {
    const page1 = answered(await h.request(RecordPageDocument, { model: 'LFS_OBJECT', first: 4 }));
    await h.control('PUT', 'settings', { dialect: 'plural' });
    await h.resetUpstream();

    const page2 = answered(await h.request(RecordPageDocument, { model: 'LFS_OBJECT', first: 4, after: page1.modelRecords.pageInfo.endCursor }));
    expect(page2.modelRecords.edges.map((e) => e.node.recordIdentifier)).toEqual(lfsIds.slice(4, 8));
    expect(await calls(h)).toEqual(['GET lfs_object page=2', 'GET lfs_objects page=2']);

    await h.resetUpstream();
    const fresh = answered(await h.request(RecordPageDocument, { model: 'LFS_OBJECT', first: 4 }));
    expect(fresh.modelRecords.edges.map((e) => e.node.recordIdentifier)).toEqual(lfsIds.slice(0, 4));
    expect(await calls(h)).toEqual(['GET lfs_objects keyset']);
    // The newer models are there now.
    answered(await h.request(RecordPageDocument, { model: 'SUPPLY_CHAIN_ATTESTATION', first: 1 }));
  });

  it('re-detects a downgrade back to singular; a keyset cursor from before is then BAD_USER_INPUT', async () => {
    const keyset = answered(await h.request(RecordPageDocument, { model: 'LFS_OBJECT', first: 4 }));
    await h.control('PUT', 'settings', { dialect: 'singular' });
    await h.resetUpstream();

    const stale = await h.request(RecordPageDocument, { model: 'LFS_OBJECT', first: 4, after: keyset.modelRecords.pageInfo.endCursor });
    expect(oneError(stale, 'BAD_USER_INPUT').message).toContain('This cursor is no longer valid');
    // The refused plural call taught the gateway; no singular call was made for a cursor it cannot honour.
    expect(await calls(h)).toEqual([`GET lfs_objects keyset`]);

    await h.resetUpstream();
    const fresh = answered(await h.request(RecordPageDocument, { model: 'LFS_OBJECT', first: 4 }));
    expect(fresh.modelRecords.edges.map((e) => e.node.recordIdentifier)).toEqual(lfsIds.slice(0, 4));
    expect(await calls(h)).toEqual(['GET lfs_object page=1']);
  });

  it('a mutation re-detects too: the refused PUT did nothing, the second one verifies', async () => {
    await h.control('PUT', 'settings', { dialect: 'plural' });
    await h.resetUpstream();
    const id = lfsIds[0];
    const data = answered(await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: id }));
    expect(data.recalculateChecksum.record?.checksumInformation?.checksumState).toBe('SUCCEEDED');
    expect(await calls(h)).toEqual([`PUT lfs_object/${id}/checksum`, `PUT lfs_objects/${id}/checksum`]);
  });

  it('after a downgrade, a filtered bulk recalculation is refused before any PUT reaches a route that would act on it', async () => {
    await h.control('PUT', 'settings', { dialect: 'singular' });
    await h.resetUpstream();
    const res = await h.request(RecalculateAllChecksumsDocument, { model: 'LFS_OBJECT', checksumState: 'FAILED' });
    oneError(res, 'BAD_USER_INPUT');
    const log = await h.upstream();
    // At most the refused plural spelling; never the singular route, which would re-verify the whole model.
    expect(puts(log).map((e) => splitPath(e)[0])).not.toContain('lfs_object');
    expect(log.length).toBeLessThanOrEqual(1);
    const states = (await restAll(h, 'LFS_OBJECT', 'singular')).map((r) => r.checksum_information!.checksum_state);
    expect(states.filter((s) => s === 'pending').length).toBeLessThan(100);
  });
});

describe('GITLAB_API_DIALECT=auto against a plural GitLab', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ dialect: 'plural', verifyIntervalMs: 0 }, QUIET);
  });
  afterAll(() => h?.close());

  it('asks in the plural dialect first, with keyset pagination: one call', async () => {
    answered(await h.request(RecordPageDocument, { model: 'LFS_OBJECT', first: 3 }));
    answered(await h.request(RecordPageDocument, { model: 'SUPPLY_CHAIN_ATTESTATION', first: 3 }));
    expect(await calls(h)).toEqual(['GET lfs_objects keyset', 'GET supply_chain_attestations keyset']);
  });
});

describe('a pinned dialect is never switched', () => {
  let pluralOnSingular: Harness;
  let singularOnPlural: Harness;
  beforeAll(async () => {
    pluralOnSingular = await startHarness({ dialect: 'singular', verifyIntervalMs: 0 }, { ...QUIET, GITLAB_API_DIALECT: 'plural' });
    singularOnPlural = await startHarness({ dialect: 'plural', verifyIntervalMs: 0 }, { ...QUIET, GITLAB_API_DIALECT: 'singular' });
  });
  afterAll(async () => {
    await pluralOnSingular?.close();
    await singularOnPlural?.close();
  });

  it('plural against a singular GitLab: BAD_USER_INPUT, one call each time, always the plural name', async () => {
    const h = pluralOnSingular;
    for (let i = 0; i < 2; i++) {
      const res = await h.request(RecordPageDocument, { model: 'LFS_OBJECT', first: 3 });
      expect(oneError(res, 'BAD_USER_INPUT').message).toBe('GitLab does not know this model: it may need a newer GitLab.');
    }
    oneError(await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: '1' }), 'BAD_USER_INPUT');
    expect(await calls(h)).toEqual(['GET lfs_objects keyset', 'GET lfs_objects keyset', 'PUT lfs_objects/1/checksum']);
  });

  it('singular against a plural GitLab: BAD_USER_INPUT, no switch', async () => {
    const h = singularOnPlural;
    for (let i = 0; i < 2; i++) {
      const res = await h.request(RecordPageDocument, { model: 'LFS_OBJECT', first: 3 });
      expect(oneError(res, 'BAD_USER_INPUT').message).toBe('GitLab does not know this model: it may need a newer GitLab.');
    }
    expect(await calls(h)).toEqual(['GET lfs_object page=1', 'GET lfs_object page=1']);
    // A plural-only model is refused without asking.
    await h.resetUpstream();
    oneError(await h.request(RecordPageDocument, { model: 'SUPPLY_CHAIN_ATTESTATION', first: 3 }), 'BAD_USER_INPUT');
    expect(await h.upstream()).toEqual([]);
  });
});
