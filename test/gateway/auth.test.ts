// Authentication: the client's own GitLab token is forwarded as it came; GitLab decides; nothing secret leaks.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelRecordDocument, ModelRecordsDocument, RecalculateAllChecksumsDocument, RecalculateChecksumDocument } from '../generated/operations.js';
import { ADMIN, READ_ONLY, USER, type GraphQLResponse, type Harness } from '../support/gateway.js';
import { answered, DIALECTS, errorText, gets, ids, ok, oneError, puts, restAll, startFor } from './helpers.js';

const UNKNOWN = 'glpat-unknown-0123456789';
const ADDED = 'glpat-added-admin-token';

describe.each(DIALECTS)('auth, %s dialect', (dialect) => {
  let h: Harness;
  let lfsIds: string[];
  /** Every response of this file, checked for leaks at the end. */
  const seen: GraphQLResponse<unknown>[] = [];

  beforeAll(async () => {
    h = await startFor(dialect);
    lfsIds = ids(await restAll(h, 'LFS_OBJECT', dialect));
    // Keep every answer for the leak checks.
    const request = h.request.bind(h);
    h.request = async (document, variables, options) => {
      const res = await request(document, variables, options);
      seen.push(res);
      return res;
    };
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  const everyOperation = (): [TypedDocumentNode<unknown, unknown>, unknown][] =>
    [
      [ModelRecordsDocument, { model: 'LFS_OBJECT', first: 2 }],
      [ModelRecordDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[0] }],
      [RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[1] }],
      [RecalculateAllChecksumsDocument, { model: 'CI_SECURE_FILE' }],
    ] as [TypedDocumentNode<unknown, unknown>, unknown][];

  it('forwards Authorization: Bearer as received, and no PRIVATE-TOKEN', async () => {
    answered(await h.request(ModelRecordsDocument, { model: 'LFS_OBJECT', first: 2 }, { header: 'bearer' }));
    answered(await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[0] }, { header: 'bearer' }));
    const log = await h.upstream();
    expect(log.length).toBeGreaterThanOrEqual(2);
    expect(puts(log)).toHaveLength(1);
    for (const entry of log) {
      expect(entry.authorization).toBe(`Bearer ${ADMIN}`);
      expect(entry.privateToken).toBeNull();
    }
  });

  it('forwards PRIVATE-TOKEN as received, and no Authorization', async () => {
    answered(await h.request(ModelRecordsDocument, { model: 'LFS_OBJECT', first: 2 }, { header: 'private-token' }));
    answered(await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[0] }, { header: 'private-token' }));
    const log = await h.upstream();
    expect(puts(log)).toHaveLength(1);
    for (const entry of log) {
      expect(entry.privateToken).toBe(ADMIN);
      expect(entry.authorization).toBeNull();
    }
  });

  it('each request carries its own caller\'s token, also when requests overlap', async () => {
    await h.control('POST', 'tokens', { token: ADDED, role: 'admin' });
    const [a, b] = await Promise.all([
      h.request(ModelRecordDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[0] }, { token: ADMIN }),
      h.request(ModelRecordDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[0] }, { token: ADDED, header: 'private-token' }),
    ]);
    expect(ok(a).modelRecord?.recordIdentifier).toBe(lfsIds[0]);
    expect(ok(b).modelRecord?.recordIdentifier).toBe(lfsIds[0]);
    const log = await h.upstream();
    expect(log).toHaveLength(2);
    expect(log.map((e) => e.authorization ?? e.privateToken).sort()).toEqual([`Bearer ${ADMIN}`, ADDED].sort());
  });

  it('without a token every operation is UNAUTHENTICATED and nothing is sent upstream', async () => {
    for (const [document, variables] of everyOperation()) {
      const res = await h.request(document, variables, { token: null });
      const error = oneError(res, 'UNAUTHENTICATED');
      expect(error.message).toContain('A GitLab token is required');
    }
    expect(await h.upstream()).toEqual([]);
  });

  it('an unknown token is UNAUTHENTICATED, asked once (a 401 is not retried)', async () => {
    for (const header of ['bearer', 'private-token'] as const) {
      await h.resetUpstream();
      const res = await h.request(ModelRecordsDocument, { model: 'LFS_OBJECT', first: 2 }, { token: UNKNOWN, header });
      oneError(res, 'UNAUTHENTICATED');
      expect(res.data).toEqual({ modelRecords: null });
      expect(await h.upstream()).toHaveLength(1);
    }
    const put = await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[0] }, { token: UNKNOWN });
    oneError(put, 'UNAUTHENTICATED');
  });

  it('a token that is not an administrator\'s is FORBIDDEN everywhere', async () => {
    for (const [document, variables] of everyOperation()) {
      const res = await h.request(document, variables, { token: USER });
      oneError(res, 'FORBIDDEN');
    }
    // A 403 is an answer: one request per operation.
    expect(await h.upstream()).toHaveLength(4);
  });

  it('a read-only (read_api) token may query but not mutate', async () => {
    const list = answered(await h.request(ModelRecordsDocument, { model: 'LFS_OBJECT', first: 2 }, { token: READ_ONLY }));
    expect(list.modelRecords.nodes.map((n) => n.recordIdentifier)).toEqual(lfsIds.slice(0, 2));
    const one = ok(await h.request(ModelRecordDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[3] }, { token: READ_ONLY }));
    expect(one.modelRecord?.recordIdentifier).toBe(lfsIds[3]);
    await h.resetUpstream();

    const single = await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[0] }, { token: READ_ONLY });
    oneError(single, 'FORBIDDEN');
    expect(single.data).toEqual({ recalculateChecksum: null });
    const bulk = await h.request(RecalculateAllChecksumsDocument, { model: 'LFS_OBJECT' }, { token: READ_ONLY });
    oneError(bulk, 'FORBIDDEN');
    const log = await h.upstream();
    expect(puts(log)).toHaveLength(2);
    expect(gets(log)).toHaveLength(0);
  });

  it('a token revoked in GitLab stops working at once: nothing is cached', async () => {
    const token = `glpat-revoke-me-${dialect}`;
    await h.control('POST', 'tokens', { token, role: 'admin' });
    ok(await h.request(ModelRecordDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[0] }, { token }));
    await h.control('DELETE', `tokens/${token}`);
    const res = await h.request(ModelRecordDocument, { model: 'LFS_OBJECT', recordIdentifier: lfsIds[0] }, { token });
    oneError(res, 'UNAUTHENTICATED');
    expect(errorText(res)).not.toContain(token);
  });

  it('no error message of this file contains a token or the upstream URL', () => {
    const errors = seen.filter((res) => res.errors);
    expect(errors.length).toBeGreaterThan(10);
    const { host, port } = new URL(h.standIn.url);
    for (const res of errors) {
      const text = errorText(res);
      for (const secret of [ADMIN, USER, READ_ONLY, UNKNOWN, ADDED, 'glpat-', h.standIn.url, `${host}`, `:${port}`]) {
        expect(text).not.toContain(secret);
      }
    }
  });
});
