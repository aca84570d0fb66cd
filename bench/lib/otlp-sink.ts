// The collector of the tracing scenario: takes OTLP/HTTP exports on /v1/traces (JSON or protobuf), answers as a
// collector does, and counts them without decoding, in a process of its own so its work is not the gateway's nor the
// load generator's. GET /stats answers { exports, bytes }. Loopback only; prints "listening on <origin>".
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let exports = 0;
let bytes = 0;

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ exports, bytes }));
    return;
  }
  let size = 0;
  req.on('data', (chunk: Buffer) => (size += chunk.length));
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
    exports++;
    bytes += size;
    const json = String(req.headers['content-type'] ?? '').startsWith('application/json');
    // An empty ExportTraceServiceResponse, in the request's encoding.
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : undefined);
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`listening on http://127.0.0.1:${port}`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
