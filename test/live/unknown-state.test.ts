// A GitLab newer than this gateway may send a checksum state it does not know. Queries and both subscriptions answer
// with a typed UPSTREAM_ERROR for it, over HTTP, graphql-ws and SSE alike, and the other records are unaffected.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/server.js';
import { ADMIN, type Harness } from '../support/gateway.js';
import { connect, WATCH, WATCH_BATCHES, type Transport } from './helpers.js';

const record = (id: number, state: string) => ({
  record_identifier: id,
  model_class: 'Project',
  created_at: '2025-01-01T00:00:00.000Z',
  file_size: 1024,
  checksum_information: { checksum: null, last_checksum: null, checksum_state: state, checksum_retry_count: 0, checksum_retry_at: null, checksum_failure: null },
});
/** Record 1 is in a state GitLab may add one day; record 2 is an ordinary one. */
const RECORDS = [record(1, 'quarantined'), record(2, 'succeeded')];

let gitlab: Server;
let gateway: Gateway;
let h: Pick<Harness, 'gateway'>;

beforeAll(async () => {
  // A GitLab of its own: the stand-in only ever sends the states GitLab has today.
  gitlab = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://gitlab');
    const wanted = url.searchParams.getAll('identifiers[]');
    const body = JSON.stringify(RECORDS.filter((r) => wanted.length === 0 || wanted.includes(String(r.record_identifier))));
    res.writeHead(200, { 'content-type': 'application/json', 'x-page': '1', 'x-per-page': '100', 'x-total': '2', 'x-total-pages': '1', 'x-next-page': '' }).end(body);
  });
  await new Promise<void>((resolve) => gitlab.listen(0, '127.0.0.1', resolve));
  const gitlabUrl = `http://127.0.0.1:${(gitlab.address() as AddressInfo).port}`;
  gateway = await startGateway(loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', GITLAB_URL: gitlabUrl, GITLAB_API_DIALECT: 'plural' }), { gitlabUrl });
  h = { gateway };
});
afterAll(async () => {
  await gateway?.close();
  await new Promise((resolve) => gitlab?.close(resolve));
});

const UNKNOWN_STATE = { message: 'GitLab sent an unknown checksum state.', extensions: { code: 'UPSTREAM_ERROR' } };

it('a query: UPSTREAM_ERROR on the field, the other record answered', async () => {
  const res = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ query: '{ a: modelRecord(model: PROJECT, recordIdentifier: "1") { checksumInformation { checksumState } } b: modelRecord(model: PROJECT, recordIdentifier: "2") { checksumInformation { checksumState } } }' }),
  });
  const body = (await res.json()) as { data: unknown; errors: { message: string; extensions: unknown; path: unknown }[] };
  expect(body.errors.map(({ message, extensions, path }) => ({ message, extensions, path }))).toEqual([{ ...UNKNOWN_STATE, path: ['a', 'checksumInformation', 'checksumState'] }]);
  expect(body.data).toEqual({ a: { checksumInformation: null }, b: { checksumInformation: { checksumState: 'SUCCEEDED' } } });
});

it.each(['graphql-ws', 'sse'] as Transport[])('both subscriptions over %s: UPSTREAM_ERROR for the record in the unknown state', async (transport) => {
  const conn = connect(h as Harness, transport);
  try {
    const each = conn.subscribe({ model: 'PROJECT', identifiers: ['1'] }, WATCH);
    const batches = conn.subscribe({ model: 'PROJECT', identifiers: ['2', '1'] }, WATCH_BATCHES);
    await each.waitFor((s) => s.errors.length > 0, 'an error');
    await batches.waitFor((s) => s.errors.length > 0, 'an error');
    // One error for the record's checksumInformation, one for the change's state; nothing untyped.
    for (const sub of [each, batches]) expect(sub.errors.map(({ message, extensions }) => ({ message, extensions }))).toEqual([UNKNOWN_STATE, UNKNOWN_STATE]);
    each.unsubscribe();
    batches.unsubscribe();
  } finally {
    await conn.dispose();
  }
});
