// The floor of scenario 1: the least any Node gateway must do for a modelRecord request, with no GraphQL at all.
// It reads the POST body as JSON, makes the same upstream list call through an undici Pool, parses GitLab's answer
// and writes the record back as JSON, shaped as the gateway's answer. The call goes through the gateway's own
// exchange (src/gitlab/upstream-call.ts), as the broadcaster floor writes through the gateway's outbox: what the two
// share is not what tells them apart. Started by bench/scenarios/overhead.ts, loopback only. Environment:
// UPSTREAM_ORIGIN (the stand-in), UPSTREAM_PATH (path and query of the gateway's list call).
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { exchange } from '../../src/gitlab/upstream-call.js';

const origin = process.env.UPSTREAM_ORIGIN;
const upstreamPath = process.env.UPSTREAM_PATH;
if (!origin || !upstreamPath) throw new Error('UPSTREAM_ORIGIN and UPSTREAM_PATH are required');
const pool = new Pool(origin, { connections: 32, keepAliveTimeout: 30_000 });

interface RecordJson {
  model_class: string;
  record_identifier: number;
  file_size: number | null;
  checksum_information: { checksum: string | null; checksum_state: string; last_checksum: string | null };
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const fail = (status: number, message: string) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message }] }));
    };
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8')); // a gateway reads its request, whatever it then does with it
    } catch {
      return fail(400, 'body is not JSON');
    }
    const token = req.headers['private-token'];
    exchange(pool, { method: 'GET', path: upstreamPath, headers: { accept: 'application/json', 'private-token': String(token ?? '') } }, () => {})
      .then(({ status, text }) => {
        if (status !== 200) return fail(502, `upstream status ${status}`);
        const record = (JSON.parse(text) as RecordJson[])[0];
        if (!record) return fail(404, 'no such record');
        const info = record.checksum_information;
        const body = JSON.stringify({
          data: {
            modelRecord: {
              id: Buffer.from(`${record.model_class}/${record.record_identifier}`).toString('base64'),
              recordIdentifier: String(record.record_identifier),
              fileSize: record.file_size,
              checksumInformation: { checksum: info.checksum, checksumState: info.checksum_state.toUpperCase(), lastChecksum: info.last_checksum },
            },
          },
        });
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      })
      .catch((error: Error) => fail(502, error.message));
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') console.log(`bare proxy listening on http://127.0.0.1:${address.port}`);
});
process.once('SIGTERM', () => server.close(() => pool.close().then(() => process.exit(0))));
