// The monitor page under TRUSTED_DOCUMENTS_ONLY in production: its build writes its documents (codegen's client preset,
// from web/operations.graphql) beside the page, and the gateway trusts them while MONITOR is on, so the page keeps
// working with a front end's file that does not list them. Each document is sent here as the page sends it: its text
// from web/generated/operations.ts, in full, over HTTP and graphql-ws.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMonitorPage } from '../../scripts/build-monitor.js';
import {
  MonitorRecalculateDocument,
  MonitorRecalculateManyDocument,
  MonitorRecordChangesDocument,
  MonitorRecordsDocument,
  MonitorSummaryChangedDocument,
  MonitorSummaryDocument,
} from '../../web/generated/operations.js';
import { startTestGateway, type TestGateway } from '../operability/gateway.js';
import { projectIds } from '../operability/helpers.js';
import { ARBITRARY, connectedWsClient, postJson, throughWs, TRUSTED_FILE } from './helpers.js';

const ONLY = { TRUSTED_DOCUMENTS: TRUSTED_FILE, TRUSTED_DOCUMENTS_ONLY: 'true', LOG_LEVEL: 'silent' };
const REFUSED = { status: 400, body: { errors: [expect.objectContaining({ extensions: { code: 'PERSISTED_QUERY_ONLY' } })] } };

/** As the page's request() sends an operation. */
const asThePage = (url: string, document: { toString(): string }, variables: object) => postJson(url, { query: document.toString(), variables }, { accept: 'application/json' });

let gw: TestGateway;
let off: TestGateway;
beforeAll(async () => {
  // The gateway reads the page's documents where the page is built (web/dist here), when it starts.
  await buildMonitorPage();
  [gw, off] = await Promise.all([
    startTestGateway({ standIn: { records: 5, failRate: 0 }, env: { ...ONLY, MONITOR: 'true' } }),
    startTestGateway({ standIn: { records: 5 }, env: { ...ONLY, MONITOR: 'false' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([gw?.close(), off?.close()]);
});

describe('TRUSTED_DOCUMENTS_ONLY with MONITOR on', () => {
  it("the page's queries and mutations run, sent in full as the page sends them", async () => {
    const [id] = await projectIds(gw.standIn.url, 1);
    const summary = await asThePage(gw.url, MonitorSummaryDocument, {});
    expect(summary.status).toBe(200);
    expect(summary.body.errors).toBeUndefined();
    expect(summary.body.data?.verificationSummary).toEqual(expect.arrayContaining([expect.objectContaining({ model: 'PROJECT', total: 5 })]));
    for (const [document, variables] of [
      [MonitorRecordsDocument, { model: 'PROJECT', state: 'SUCCEEDED', first: 20, after: null }],
      [MonitorRecalculateDocument, { model: 'PROJECT', recordIdentifier: id }],
      [MonitorRecalculateManyDocument, { model: 'PROJECT', identifiers: [id] }],
      [MonitorRecalculateManyDocument, { model: 'PROJECT', checksumState: 'FAILED' }],
    ] as const) {
      const answer = await asThePage(gw.url, document, variables);
      expect({ document: document.toString().slice(0, 40), errors: answer.body.errors }).toEqual({ document: document.toString().slice(0, 40), errors: undefined });
    }
  });

  it('any other document is still refused; the documents file beside the page is not served', async () => {
    expect(await postJson(gw.url, { query: ARBITRARY })).toEqual(REFUSED);
    expect((await fetch(`${gw.base}/monitor/trusted-documents.json`)).status).toBe(404);
  });

  it("the page's subscriptions run over graphql-ws", async () => {
    const client = await connectedWsClient(gw.url);
    try {
      const summary = await throughWs(client, { query: MonitorSummaryChangedDocument.toString() });
      expect(summary.error).toBeUndefined();
      expect(summary.next[0].data?.verificationSummaryChanged).toMatchObject({ total: 5 });
      const records = await throughWs(client, { query: MonitorRecordChangesDocument.toString(), variables: { model: 'PROJECT', state: 'FAILED' } });
      expect(records.error).toBeUndefined();
      expect(records.next[0].data?.checksumStateChangeBatches).toMatchObject({ truncated: false });
    } finally {
      await client.dispose();
    }
  });
});

describe('TRUSTED_DOCUMENTS_ONLY with MONITOR off', () => {
  it("the page's documents are not trusted (the front end's file does not list them)", async () => {
    expect(await asThePage(off.url, MonitorSummaryDocument, {})).toEqual(REFUSED);
  });
});
