// Hostile identifiers: whatever a client puts in recordIdentifier or identifiers, every request GitLab receives stays
// under /api/v4/admin/data_management/<model>, with no `..` segment, no empty segment and no smuggled parameter;
// the client gets null, an empty list or a typed error, never a 500, and no record changes. A value that is neither an
// integer nor URL-safe base64 of a composite key never reaches GitLab at all.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/models.js';
import type { RequestLogEntry } from '../../src/stand-in/index.js';
import { ModelRecordDocument, RecalculateAllChecksumsDocument, RecalculateChecksumDocument, RecordPageDocument } from '../generated/operations.js';
import type { GraphQLResponse, Harness } from '../support/gateway.js';
import { API, DIALECTS, puts, restAll, segment, startFor, type RestRecord } from './helpers.js';

const HOSTILE = [
  '../../users',
  '1/../../x',
  '%2e%2e',
  '%2E%2E%2Fusers',
  'a?b=c',
  'a#b',
  '..',
  '.',
  '1?private_token=x',
  '1&identifiers[]=2',
  '1/checksum',
  '../checksum',
  '..\\..\\users',
  '//evil.example.com/x',
  'http://evil.example.com/',
  ' 1',
  '1\u0000',
  '1\r\nX-Injected: yes',
  // Base64 of `1 ../..`: a well-formed composite key (it has a space) that names nothing.
  Buffer.from('1 ../..').toString('base64url'),
  // Base64 of `../../`: no space, so not a composite key at all.
  Buffer.from('../../').toString('base64url'),
];

/** The one well-formed composite key among them, as GitLab spells it (padded): what the gateway sends. */
const COMPOSITE = HOSTILE.at(-2)!;
const COMPOSITE_SENT = COMPOSITE.padEnd(Math.ceil(COMPOSITE.length / 4) * 4, '=');
const SENDABLE = [...HOSTILE, COMPOSITE_SENT];
const NOT_AN_IDENTIFIER = /is not a record identifier \(an integer, or URL-safe base64 of a composite key\)\.$/;

const LIST_PARAMS = ['page', 'per_page', 'pagination', 'cursor', 'checksum_state', 'identifiers[]'];
const BULK_PARAMS = ['checksum_state', 'identifiers[]'];
const TYPED = ['BAD_USER_INPUT', 'NOT_FOUND'];

/** A response that is either clean or carries only typed errors: never a 500, never a masked internal error. */
function expectTyped(res: GraphQLResponse<unknown>, label: string): void {
  expect(res.status, label).toBe(200);
  for (const error of res.errors ?? []) {
    expect(TYPED, `${label}: ${error.message}`).toContain(error.extensions?.code);
    expect(error.message, label).not.toMatch(/unexpected error/i);
  }
}

/** One document with a field per hostile identifier (passed as variables, so nothing is escaped by hand). */
function perIdentifier(operation: 'query' | 'mutation', field: (variable: string) => string): string {
  const declared = HOSTILE.map((_, i) => `$v${i}: ID!`).join(', ');
  return `${operation} Hostile(${declared}) {\n${HOSTILE.map((_, i) => `  h${i}: ${field(`$v${i}`)}`).join('\n')}\n}`;
}
const hostileVariables = Object.fromEntries(HOSTILE.map((id, i) => [`v${i}`, id]));

describe.each(DIALECTS)('hostile identifiers, %s dialect', (dialect: Dialect) => {
  let h: Harness;
  let before: { lfs: RestRecord[]; uploads: RestRecord[] };
  const models = () => [segment('LFS_OBJECT', dialect), segment('UPLOAD', dialect)];

  /** Every upstream request stays on the Data management routes, shaped as the gateway means it. */
  function expectContained(log: RequestLogEntry[], sentIdentifiers: string[]): void {
    for (const entry of log) {
      const label = `${entry.method} ${entry.path}?${entry.query}`;
      expect(entry.path.startsWith(API), label).toBe(true);
      const segments = entry.path.slice(API.length).split('/');
      expect(models(), label).toContain(segments[0]);
      for (const s of segments) {
        expect(s, label).not.toBe('..');
        expect(s, label).not.toBe('.');
        expect(s, label).not.toBe('');
      }
      expect(entry.path, label).not.toMatch(/[?#\s\\]/);
      expect(entry.query, label).not.toMatch(/[#\s]/);
      if (entry.method === 'GET') {
        expect(segments, label).toHaveLength(1);
        for (const key of Object.keys(entry.params)) expect(LIST_PARAMS, label).toContain(key);
        for (const id of entry.params['identifiers[]'] ?? []) expect(sentIdentifiers, label).toContain(id);
      } else if (segments.length === 2) {
        expect(entry.method, label).toBe('PUT');
        expect(segments[1], label).toBe('checksum');
        for (const key of Object.keys(entry.params)) expect(BULK_PARAMS, label).toContain(key);
        for (const id of entry.params['identifiers[]'] ?? []) expect(sentIdentifiers, label).toContain(id);
      } else {
        // The single-record PUT: the whole identifier in one encoded segment, then `checksum`, and no query at all.
        expect(entry.method, label).toBe('PUT');
        expect(segments, label).toHaveLength(3);
        expect(segments[2], label).toBe('checksum');
        expect(sentIdentifiers, label).toContain(decodeURIComponent(segments[1]));
        expect(entry.query, label).toBe('');
      }
    }
  }

  const states = (records: RestRecord[]) => records.map((r) => `${r.record_identifier}:${r.checksum_information?.checksum_state}`);

  beforeAll(async () => {
    h = await startFor(dialect, { compositeKeyModels: ['uploads'] });
    before = { lfs: await restAll(h, 'LFS_OBJECT', dialect), uploads: await restAll(h, 'UPLOAD', dialect) };
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  it('modelRecord answers null for every hostile identifier, and only well-formed keys reach GitLab', async () => {
    for (const model of ['LFS_OBJECT', 'UPLOAD'] as const) {
      const res = await h.request(perIdentifier('query', (v) => `modelRecord(model: ${model}, recordIdentifier: ${v}) { id }`), hostileVariables);
      expectTyped(res, model);
      expect(res.errors, model).toBeUndefined();
      expect(res.data, model).toEqual(Object.fromEntries(HOSTILE.map((_, i) => [`h${i}`, null])));
    }
    const log = await h.upstream();
    expectContained(log, SENDABLE);
    // Only the one well-formed composite key (`1 ../..`) was worth asking GitLab about, once per model.
    expect(log).toHaveLength(2);
    expect(log.map((e) => e.params['identifiers[]'])).toEqual([[COMPOSITE_SENT], [COMPOSITE_SENT]]);
  });

  it('modelRecords(identifiers) answers BAD_USER_INPUT before any call, or an empty list for a key that names nothing', async () => {
    const answers = await Promise.all(HOSTILE.map((id) => h.request(RecordPageDocument, { model: 'LFS_OBJECT', identifiers: [id] })));
    answers.forEach((res, i) => {
      const label = JSON.stringify(HOSTILE[i]);
      expectTyped(res, label);
      if (HOSTILE[i] === COMPOSITE) expect(res.data?.modelRecords?.edges, label).toEqual([]);
      else expect(res.errors?.map((e) => e.message), label).toEqual([expect.stringMatching(NOT_AN_IDENTIFIER)]);
    });
    const log = await h.upstream();
    expectContained(log, SENDABLE);
    // Only the composite key went out, whole, as one identifiers[] value in GitLab's spelling.
    expect(log.map((e) => e.params['identifiers[]'])).toEqual([[COMPOSITE_SENT]]);
  });

  it('recalculateChecksum answers BAD_USER_INPUT; only an identifier ever becomes a path segment', async () => {
    // One request per identifier, sent side by side.
    const asked = HOSTILE.flatMap((id) => (['LFS_OBJECT', 'UPLOAD'] as const).map((model) => ({ model, id })));
    const answers = await Promise.all(asked.map(({ model, id }) => h.request(RecalculateChecksumDocument, { model, recordIdentifier: id })));
    answers.forEach((res, i) => {
      const label = `${asked[i].model} ${JSON.stringify(asked[i].id)}`;
      expectTyped(res, label);
      expect(res.errors?.map((e) => e.extensions?.code), label).toEqual(['BAD_USER_INPUT']);
      if (asked[i].id !== COMPOSITE) expect(res.errors?.[0].message, label).toMatch(NOT_AN_IDENTIFIER);
      expect(res.data, label).toEqual({ recalculateChecksum: null });
    });
    const log = await h.upstream();
    expectContained(log, SENDABLE);
    // Only the composite key reached GitLab (which takes integers only here): one PUT per model, in one encoded segment.
    const named = (e: RequestLogEntry) => `${e.path.slice(API.length).split('/')[0]} ${decodeURIComponent(e.path.slice(API.length).split('/')[1])}`;
    expect(log.map(named).sort()).toEqual([`${segment('LFS_OBJECT', dialect)} ${COMPOSITE_SENT}`, `${segment('UPLOAD', dialect)} ${COMPOSITE_SENT}`].sort());
  });

  it('recalculateAllChecksums(identifiers) never widens to the whole model', async () => {
    const composite = COMPOSITE;
    const answers = await Promise.all(HOSTILE.map((id) => h.request(RecalculateAllChecksumsDocument, { model: 'LFS_OBJECT', identifiers: [id] })));
    answers.forEach((res, i) => {
      const label = JSON.stringify(HOSTILE[i]);
      expectTyped(res, label);
      if (dialect === 'plural' && HOSTILE[i] === composite) {
        // A well-formed composite key that names no record: GitLab queues nothing.
        expect(res.errors, label).toBeUndefined();
        expect(res.data?.recalculateAllChecksums?.status, label).toBe('SUCCESS');
      } else {
        // That GitLab cannot filter (refused before any PUT), or a newer one refuses what is not an identifier.
        expect(res.errors?.map((e) => e.extensions?.code), label).toEqual(['BAD_USER_INPUT']);
      }
    });
    const log = await h.upstream();
    expectContained(log, SENDABLE);
    if (dialect === 'singular') expect(log).toEqual([]);
    else expect(puts(log).map((e) => e.params['identifiers[]'])).toEqual([[COMPOSITE_SENT]]);
  });

  it('an empty or blank identifier is refused before anything is sent: GitLab would read it as no filter', async () => {
    for (const id of ['', ' ']) {
      const list = await h.request(RecordPageDocument, { model: 'LFS_OBJECT', identifiers: [id] });
      expect(list.errors?.map((e) => e.extensions?.code), JSON.stringify(id)).toEqual(['BAD_USER_INPUT']);
      for (const identifiers of [[id], [String(before.lfs[0].record_identifier), id]]) {
        const bulk = await h.request(RecalculateAllChecksumsDocument, { model: 'LFS_OBJECT', identifiers });
        expect(bulk.errors?.map((e) => e.extensions?.code), JSON.stringify(identifiers)).toEqual(['BAD_USER_INPUT']);
      }
      // An empty path segment (`lfs_objects//checksum`) could be merged by a proxy into the bulk route.
      const one = await h.request(RecalculateChecksumDocument, { model: 'LFS_OBJECT', recordIdentifier: id });
      expect(one.errors?.map((e) => e.extensions?.code), JSON.stringify(id)).toEqual(['BAD_USER_INPUT']);
      const record = await h.request(ModelRecordDocument, { model: 'LFS_OBJECT', recordIdentifier: id });
      expect(record.data).toEqual({ modelRecord: null });
    }
    // Nothing went out: neither is an identifier.
    expect(await h.upstream()).toEqual([]);
  });

  it('changed no record', async () => {
    // The bulk job runs just after its answer: give it a moment before comparing.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(states(await restAll(h, 'LFS_OBJECT', dialect))).toEqual(states(before.lfs));
    expect(states(await restAll(h, 'UPLOAD', dialect))).toEqual(states(before.uploads));
  });
});
