// GitLab's answers as bytes on the wire, from a TCP server that writes them by hand: header names in any case, a
// header sent twice, an informational answer first, a chunked body split mid-character. The gateway reads the same
// answer from each (GitLab's proxies differ in all of these).
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startGateway } from '../../src/server.js';
import { ADMIN, type GraphQLResponse } from '../support/gateway.js';
import { QUIET } from './helpers.js';

const RECORD = {
  record_identifier: 7,
  model_class: 'Project',
  created_at: '2026-01-02T03:04:05.000Z',
  file_size: 42,
  checksum_information: { checksum: 'prüfsumme-✓', last_checksum: null, checksum_state: 'succeeded', checksum_retry_count: 0, checksum_retry_at: null, checksum_failure: null },
};

/** How the next answer is written: its head (status line and headers) and its body, in the pieces given. */
interface Wire {
  informational: boolean;
  headers: string[];
  pieces: Buffer[];
  /** After the pieces, the body goes on, 16 KiB every few milliseconds, until the gateway closes the connection. */
  endless?: boolean;
}

let wire: Wire;
const requests: string[] = [];
let server: Server;
let gateway: Awaited<ReturnType<typeof startGateway>>;

/** Connections to the fake GitLab that are still open. */
const open = new Set<Socket>();

function answer(socket: Socket): void {
  open.add(socket);
  socket.once('close', () => open.delete(socket));
  // The gateway resets a connection whose answer it cuts off.
  socket.on('error', () => {});
  let pending = '';
  socket.on('data', (data) => {
    pending += data.toString('latin1');
    for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
      requests.push(pending.slice(0, end));
      pending = pending.slice(end + 4);
      if (wire.informational) socket.write('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n');
      socket.write(`HTTP/1.1 200 OK\r\n${wire.headers.join('\r\n')}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      // Each piece is its own chunk and its own write: the gateway reads them as they come.
      for (const piece of wire.pieces) socket.write(Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]));
      if (wire.endless) {
        const more = Buffer.from(`4000\r\n${' '.repeat(0x4000)}\r\n`);
        const timer = setInterval(() => socket.write(more), 2);
        socket.once('close', () => clearInterval(timer));
        continue;
      }
      socket.write('0\r\n\r\n');
    }
  });
}

/** The body in pieces of `size` bytes: small pieces split the multi-byte characters of the checksum. */
function piecesOf(body: string, size: number): Buffer[] {
  const bytes = Buffer.from(body, 'utf8');
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
  return pieces;
}

async function query(): Promise<GraphQLResponse<{ modelRecords: { totalCount: number | null; pageInfo: { hasNextPage: boolean }; nodes: Array<{ recordIdentifier: string; checksumInformation: { checksum: string } }> } }>> {
  const res = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'private-token': ADMIN },
    body: JSON.stringify({ query: '{ modelRecords(model: PROJECT, first: 1) { totalCount pageInfo { hasNextPage } nodes { recordIdentifier checksumInformation { checksum } } } }' }),
  });
  return (await res.json()) as never;
}

/** The fake GitLab, and a gateway in front of it with these variables. */
async function startBoth(env: Record<string, string> = {}): Promise<void> {
  server = createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  gateway = await startGateway(loadConfig({ ...QUIET, HOST: '127.0.0.1', PORT: '0', GITLAB_API_DIALECT: 'singular', ...env }), { gitlabUrl: `http://127.0.0.1:${port}` });
}

async function stopBoth(): Promise<void> {
  await gateway?.close();
  for (const socket of open) socket.destroy();
  await new Promise((resolve) => server?.close(resolve));
}

describe("GitLab's answers as written on the wire", () => {
  beforeAll(() => startBoth());
  afterAll(stopBoth);
  beforeEach(() => {
    requests.length = 0;
  });

  const body = JSON.stringify([RECORD]);
  const expected = { data: { modelRecords: { totalCount: 5, pageInfo: { hasNextPage: true }, nodes: [{ recordIdentifier: '7', checksumInformation: { checksum: 'prüfsumme-✓' } }] } } };

  it.each([
    ['lower-case names, one piece', { informational: false, headers: ['content-type: application/json', 'x-total: 5', 'x-next-page: 2'], pieces: [Buffer.from(body)] }],
    ['names in any case', { informational: false, headers: ['Content-Type: application/json', 'X-TOTAL: 5', 'X-Next-Page: 2'], pieces: [Buffer.from(body)] }],
    ['a header sent twice: the first counts', { informational: false, headers: ['content-type: application/json', 'X-Total: 5', 'x-total: 9', 'x-next-page: 2', 'X-Next-Page: 3'], pieces: [Buffer.from(body)] }],
    ['an informational answer first', { informational: true, headers: ['content-type: application/json', 'x-total: 5', 'x-next-page: 2'], pieces: [Buffer.from(body)] }],
    ['the body in pieces of 3 bytes, characters split', { informational: false, headers: ['content-type: application/json', 'x-total: 5', 'x-next-page: 2'], pieces: piecesOf(body, 3) }],
    ['other headers around them', { informational: false, headers: ['Date: Tue, 01 Dec 2026 10:00:00 GMT', 'X-Page: 1', 'x-per-page: 1', 'content-type: application/json', 'x-prev-page: ', 'x-total: 5', 'X-Total-Pages: 5', 'x-next-page: 2', 'Vary: Origin'], pieces: [Buffer.from(body)] }],
  ] satisfies Array<[string, Wire]>)('%s', async (_name, given) => {
    wire = given;
    expect(await query()).toEqual(expected);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatch(/^GET \/api\/v4\/admin\/data_management\/project\?page=1&per_page=1 HTTP\/1\.1\r\n/);
  });

  it('an answer that is not JSON by its type is an upstream error', async () => {
    wire = { informational: false, headers: ['content-type: text/html', 'x-total: 5'], pieces: [Buffer.from(body)] };
    const res = await query();
    expect(res.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_ERROR']);
  });
});

describe('an answer larger than UPSTREAM_MAX_RESPONSE_BYTES', () => {
  const BOUND = 65_536;
  beforeAll(() => startBoth({ UPSTREAM_MAX_RESPONSE_BYTES: String(BOUND) }));
  afterAll(stopBoth);
  beforeEach(() => {
    requests.length = 0;
  });

  const headers = ['content-type: application/json', 'x-total: 5', 'x-next-page: 2'];
  /** The record's JSON with a field the gateway does not read, padded to `bytes` in all. */
  const padded = (bytes: number) => {
    const bare = JSON.stringify([{ ...RECORD, padding: '' }]);
    return JSON.stringify([{ ...RECORD, padding: 'x'.repeat(bytes - Buffer.byteLength(bare)) }]);
  };
  const refused = { code: 'UPSTREAM_ERROR', message: 'GitLab answered with a larger body than this gateway reads.' };

  it('is refused at the bound, without asking again, and its connection closed', async () => {
    wire = { informational: false, headers, pieces: piecesOf(padded(BOUND + 1), 8192) };
    const res = await query();
    expect(res.errors?.map((e) => ({ code: e.extensions?.code, message: e.message }))).toEqual([refused]);
    expect(res.data).toEqual({ modelRecords: null });
    expect(requests).toHaveLength(1);
    await expect.poll(() => open.size).toBe(0);
  });

  it('an answer that does not end is cut off at the bound', async () => {
    wire = { informational: false, headers, pieces: [Buffer.from('[')], endless: true };
    const res = await query();
    expect(res.errors?.map((e) => ({ code: e.extensions?.code, message: e.message }))).toEqual([refused]);
    // The gateway closed the connection: the fake stops writing, nothing goes on after the operation.
    await expect.poll(() => open.size).toBe(0);
  });

  it('one of the bound exactly is read, and the gateway goes on as before', async () => {
    wire = { informational: false, headers, pieces: piecesOf(padded(BOUND), 8192) };
    const res = await query();
    expect(res.errors).toBeUndefined();
    expect(res.data?.modelRecords.nodes).toEqual([{ recordIdentifier: '7', checksumInformation: { checksum: 'prüfsumme-✓' } }]);
  });
});
