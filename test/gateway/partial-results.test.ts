// Partial results: root fields are nullable, so one failing alias answers null with its own error and the others keep
// their data. Before, a failing non-null root field nulled the whole `data` (and, in a mutation, skipped the fields
// after it).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import type { Harness } from '../support/gateway.js';
import { DIALECTS, gets, ids, puts, restAll, segment, splitPath, startFor, type RestRecord } from './helpers.js';

type Verified = { errors: string[]; record: { recordIdentifier: string; checksumInformation: { checksumState: string } | null } | null } | null;
type Page = { nodes: { recordIdentifier: string }[] } | null;

const UNKNOWN = '99999999';
const PAYLOAD = 'errors record { recordIdentifier checksumInformation { checksumState } }';

/** The errors of a response as path, code and message, for exact comparisons. */
const described = (errors: { path?: (string | number)[]; message: string; extensions?: { code?: string } }[] | undefined) =>
  (errors ?? []).map((e) => ({ path: e.path, code: e.extensions?.code, message: e.message }));

/** What the stand-in received, as method and path below the API root. */
const received = (log: RequestLogEntry[]) => log.map((e) => `${e.method} ${splitPath(e).join('/')}`);

describe.each(DIALECTS)('partial results, %s dialect', (dialect) => {
  let h: Harness;
  let projects: RestRecord[];
  let verified: string[];

  beforeAll(async () => {
    h = await startFor(dialect);
    projects = await restAll(h, 'PROJECT', dialect);
    // Records verified once verify again: only records with a missing file fail, and they never succeed.
    verified = ids(projects.filter((r) => r.checksum_information?.checksum_state === 'succeeded'));
    expect(verified.length).toBeGreaterThan(3);
    expect(ids(projects)).not.toContain(UNKNOWN);
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  it('a mutation whose second alias fails answers the first: its data, and NOT_FOUND with path ["b"]', async () => {
    const good = verified[0];
    const res = await h.request<{ a: Verified; b: Verified }, Record<string, never>>(
      `mutation { a: recalculateChecksum(model: PROJECT, recordIdentifier: "${good}") { ${PAYLOAD} } b: recalculateChecksum(model: PROJECT, recordIdentifier: "${UNKNOWN}") { ${PAYLOAD} } }`,
    );
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ a: { errors: [], record: { recordIdentifier: good, checksumInformation: { checksumState: 'SUCCEEDED' } } }, b: null });
    expect(described(res.errors)).toEqual([{ path: ['b'], code: 'NOT_FOUND', message: `GitLab answered: 404 ${UNKNOWN} Not Found` }]);
    const project = segment('PROJECT', dialect);
    expect(received(await h.upstream())).toEqual([`PUT ${project}/${good}/checksum`, `PUT ${project}/${UNKNOWN}/checksum`]);
  });

  it('a mutation whose first alias fails still runs the ones after it', async () => {
    const good = verified[1];
    const res = await h.request<{ b: Verified; a: Verified }, Record<string, never>>(
      `mutation { b: recalculateChecksum(model: PROJECT, recordIdentifier: "${UNKNOWN}") { ${PAYLOAD} } a: recalculateChecksum(model: PROJECT, recordIdentifier: "${good}") { ${PAYLOAD} } }`,
    );
    expect(res.data).toEqual({ b: null, a: { errors: [], record: { recordIdentifier: good, checksumInformation: { checksumState: 'SUCCEEDED' } } } });
    expect(described(res.errors)).toEqual([{ path: ['b'], code: 'NOT_FOUND', message: `GitLab answered: 404 ${UNKNOWN} Not Found` }]);
    // Mutation fields run one after the other, in document order: the failed PUT, then the good one.
    const project = segment('PROJECT', dialect);
    expect(received(await h.upstream())).toEqual([`PUT ${project}/${UNKNOWN}/checksum`, `PUT ${project}/${good}/checksum`]);
  });

  it('bulk mutations too: a refused alias (BAD_USER_INPUT, nothing sent for it) beside one that queued', async () => {
    const res = await h.request<{ queued: { status: string } | null; refused: { status: string } | null }, Record<string, never>>(
      'mutation { refused: recalculateAllChecksums(model: PAGES_DEPLOYMENT, checksumState: PENDING) { status } queued: recalculateAllChecksums(model: PAGES_DEPLOYMENT) { status } }',
    );
    expect(res.data).toEqual({ refused: null, queued: { status: 'SUCCESS' } });
    expect(described(res.errors)).toEqual([{ path: ['refused'], code: 'BAD_USER_INPUT', message: 'checksumState cannot be PENDING: pending records are queued already.' }]);
    expect(received(await h.upstream())).toEqual([`PUT ${segment('PAGES_DEPLOYMENT', dialect)}/checksum`]);
  });

  it('a dashboard asking two models keeps the one that worked when GitLab refuses the other', async () => {
    const lfs = ids(await restAll(h, 'LFS_OBJECT', dialect));
    const refused = lfs[5];
    await h.resetUpstream();
    await h.control('PUT', 'faults', { rejectedIdentifiers: [refused] });
    try {
      const res = await h.request<{ projects: Page; lfs: Page }, Record<string, never>>(
        `query Dashboard { projects: modelRecords(model: PROJECT, first: 3) { nodes { recordIdentifier } } lfs: modelRecords(model: LFS_OBJECT, identifiers: ["${refused}"]) { nodes { recordIdentifier } } }`,
      );
      expect(res.status).toBe(200);
      expect(res.data).toEqual({ projects: { nodes: ids(projects.slice(0, 3)).map((recordIdentifier) => ({ recordIdentifier })) }, lfs: null });
      expect(described(res.errors)).toEqual([{ path: ['lfs'], code: 'BAD_USER_INPUT', message: 'GitLab rejected the request: 400 Bad request - Invalid composite key format' }]);
      // One list call per model: the projects' page, and the refused one (a 400 is an answer, not retried).
      const log = await h.upstream();
      expect(puts(log)).toEqual([]);
      expect(gets(log).map((e) => splitPath(e)[0]).sort()).toEqual([segment('LFS_OBJECT', dialect), segment('PROJECT', dialect)].sort());
      expect(gets(log).find((e) => splitPath(e)[0] === segment('LFS_OBJECT', dialect))!.params['identifiers[]']).toEqual([refused]);
    } finally {
      await h.control('PUT', 'faults', { rejectedIdentifiers: [] });
    }
  });

  if (dialect === 'singular') {
    it('a dashboard asking for a model this GitLab lacks keeps the others, and asks GitLab only for them', async () => {
      const res = await h.request<{ projects: Page; symbols: Page }, Record<string, never>>(
        'query Dashboard { projects: modelRecords(model: PROJECT, first: 2) { nodes { recordIdentifier } } symbols: modelRecords(model: PACKAGES_NUGET_SYMBOL, first: 2) { nodes { recordIdentifier } } }',
      );
      expect(res.data).toEqual({ projects: { nodes: ids(projects.slice(0, 2)).map((recordIdentifier) => ({ recordIdentifier })) }, symbols: null });
      expect(described(res.errors)).toEqual([{ path: ['symbols'], code: 'BAD_USER_INPUT', message: expect.stringContaining('GitLab 18.8 or later') }]);
      expect(received(await h.upstream())).toEqual([`GET ${segment('PROJECT', dialect)}`]);
    });
  }
});
