// The README's GraphQL examples: the same as test/operations/readme.graphql, and they run as the README says.
import { readFileSync } from 'node:fs';
import { parse, print, type OperationDefinitionNode } from 'graphql';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FailingMergeRequestDiffsDocument, OverviewDocument, RecalculateDocument, RecordsOfTwoModelsDocument, VerificationProgressDocument, WatchProjectsDocument, WatchProjectsInBatchesDocument } from '../generated/operations.js';
import { ADMIN, startHarness, type Harness } from '../support/gateway.js';

const root = new URL('../../', import.meta.url);
const operationsIn = (text: string) =>
  new Map(parse(text).definitions.filter((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition').map((op) => [op.name?.value ?? '', print(op)]));

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ records: 200, verifyIntervalMs: 0 });
});
afterAll(async () => {
  await h?.close();
});

describe('README examples', () => {
  it('are the operations of test/operations/readme.graphql, word for word', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
    const inReadme = operationsIn(blocks);
    const inOperations = operationsIn(readFileSync(new URL('test/operations/readme.graphql', root), 'utf8'));
    expect([...inReadme.keys()].sort()).toEqual(['FailingMergeRequestDiffs', 'Overview', 'Recalculate', 'RecordsOfTwoModels', 'VerificationProgress', 'WatchProjects', 'WatchProjectsInBatches']);
    expect(inReadme).toEqual(inOperations);
  });

  it('RecordsOfTwoModels: three look-ups, one upstream call per model', async () => {
    await h.resetUpstream();
    const res = await h.request(RecordsOfTwoModelsDocument);
    expect(res.errors).toBeUndefined();
    expect(res.data?.a?.checksumInformation?.checksumState).toBeTypeOf('string');
    expect(res.data?.b?.checksumInformation?.checksumState).toBeTypeOf('string');
    expect(res.data?.c?.fileSize).toMatch(/^\d+$/);
    const calls = (await h.upstream()).map((r) => `${r.method} ${r.path}`).sort();
    expect(calls).toEqual(['GET /api/v4/admin/data_management/lfs_objects', 'GET /api/v4/admin/data_management/projects']);
  });

  it('Recalculate: one record verified now, failed LFS objects queued', async () => {
    const res = await h.request(RecalculateDocument);
    expect(res.errors).toBeUndefined();
    expect(res.data?.recalculateChecksum?.errors).toEqual([]);
    expect(res.data?.recalculateChecksum?.record?.checksumInformation?.checksumState).toBe('SUCCEEDED');
    expect(res.data?.recalculateAllChecksums).toEqual({ status: 'SUCCESS', message: 'Batch update job has been successfully enqueued.', errors: [] });
  });

  it('WatchProjects over graphql-ws: the current state of each of the three records first', async () => {
    const client = createClient({ url: h.gateway.url.replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { Authorization: `Bearer ${ADMIN}` } });
    try {
      const first: { record: { recordIdentifier: string }; previousState: unknown }[] = [];
      await new Promise<void>((resolve, reject) => {
        const stop = client.subscribe(
          { query: print(WatchProjectsDocument) },
          {
            next: (result) => {
              if (result.errors) return reject(new Error(JSON.stringify(result.errors)));
              first.push((result.data as { checksumStateChanged: (typeof first)[number] }).checksumStateChanged);
              if (first.length === 3) {
                stop();
                resolve();
              }
            },
            error: reject,
            complete: () => undefined,
          },
        );
      });
      expect(first.map((e) => e.record.recordIdentifier).sort()).toEqual(['1', '2', '3']);
      expect(first.every((e) => e.previousState === null)).toBe(true);
    } finally {
      await client.dispose();
    }
  });

  it('WatchProjectsInBatches over graphql-ws: one first event with the current state of all three records', async () => {
    const client = createClient({ url: h.gateway.url.replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { Authorization: `Bearer ${ADMIN}` } });
    try {
      const first = await new Promise<{ record: { recordIdentifier: string }; previousState: unknown; observedAt: string }[]>((resolve, reject) => {
        const stop = client.subscribe(
          { query: print(WatchProjectsInBatchesDocument) },
          {
            next: (result) => {
              if (result.errors) return reject(new Error(JSON.stringify(result.errors)));
              stop();
              resolve((result.data as { checksumStateChangeBatches: { changes: [] } }).checksumStateChangeBatches.changes);
            },
            error: reject,
            complete: () => undefined,
          },
        );
      });
      expect(first.map((e) => e.record.recordIdentifier)).toEqual(['1', '2', '3']);
      expect(first.every((e) => e.previousState === null && !Number.isNaN(Date.parse(e.observedAt)))).toBe(true);
    } finally {
      await client.dispose();
    }
  });

  it('Overview: every model of the dialect, counted per state', async () => {
    const res = await h.request(OverviewDocument);
    expect(res.errors).toBeUndefined();
    const summaries = res.data!.verificationSummary!;
    expect(summaries).toHaveLength(20);
    for (const summary of summaries) {
      expect(summary.total).toBe(200);
      expect(summary.states.map((s) => s.state)).toEqual(['PENDING', 'STARTED', 'SUCCEEDED', 'FAILED', 'DISABLED']);
      expect(summary.states.reduce((sum, s) => sum + s.count, 0)).toBe(200);
    }
  });

  it('VerificationProgress and FailingMergeRequestDiffs over graphql-ws: the current counts, and the failed records', async () => {
    const client = createClient({ url: h.gateway.url.replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { Authorization: `Bearer ${ADMIN}` } });
    const first = <T>(query: string) =>
      new Promise<T>((resolve, reject) => {
        const stop = client.subscribe(
          { query },
          {
            next: (result) => {
              if (result.errors) return reject(new Error(JSON.stringify(result.errors)));
              stop();
              resolve(result.data as T);
            },
            error: reject,
            complete: () => undefined,
          },
        );
      });
    try {
      const progress = await first<{ verificationSummaryChanged: { model: string; total: number } }>(print(VerificationProgressDocument));
      expect(progress.verificationSummaryChanged).toMatchObject({ model: 'LFS_OBJECT', total: 200 });
      type Batch = { checksumStateChangeBatches: { truncated: boolean; changes: { state: string; previousState: unknown; record: { checksumInformation: { checksumFailure: string | null } } }[] } };
      const failing = await first<Batch>(print(FailingMergeRequestDiffsDocument));
      const { changes, truncated } = failing.checksumStateChangeBatches;
      expect(truncated).toBe(false);
      expect(changes.length).toBeGreaterThan(0);
      expect(changes.every((c) => c.state === 'FAILED' && c.previousState === null && c.record.checksumInformation.checksumFailure)).toBe(true);
    } finally {
      await client.dispose();
    }
  });
});
