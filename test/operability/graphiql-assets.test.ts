// GraphiQL's assets: gzipped to a client that takes gzip (every browser), decompressed for one that does not, the same
// bytes as GraphiQL's package ships either way; and the build's copy (dist/graphiql-assets) holds them gzipped only.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGraphiQLAssets, GRAPHIQL_ASSETS_PATH, GRAPHIQL_ASSET_NAMES } from '../../src/graphiql.js';
import { startTestGateway, type TestGateway } from './gateway.js';

const PACKAGE_DIST = join(dirname(createRequire(import.meta.url).resolve('@graphql-yoga/graphiql/package.json')), 'dist');

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A GET that sends exactly the headers given and keeps the body as it came (fetch would decompress it). */
function get(url: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ standIn: { records: 5 }, env: { GRAPHQL_INTROSPECTION: 'true', GRAPHIQL: 'true' } });
});
afterAll(async () => {
  await gw?.close();
});

describe("GraphiQL's assets", () => {
  it('go gzipped to a browser, with their compressed length and Vary: Accept-Encoding, and unzip to the package files', async () => {
    const browser = 'gzip, deflate, br, zstd';
    let sent = 0;
    let shipped = 0;
    for (const name of GRAPHIQL_ASSET_NAMES) {
      const res = await get(`${gw.base}${GRAPHIQL_ASSETS_PATH}${name}`, { 'accept-encoding': browser });
      expect({ name, status: res.status, encoding: res.headers['content-encoding'], vary: res.headers.vary }).toEqual({ name, status: 200, encoding: 'gzip', vary: 'accept-encoding' });
      expect(Number(res.headers['content-length'])).toBe(res.body.length);
      const original = await readFile(join(PACKAGE_DIST, name));
      expect(gunzipSync(res.body).equals(original), name).toBe(true);
      sent += res.body.length;
      shipped += original.length;
    }
    // About 2.4 of 8.7 MB.
    expect(sent).toBeLessThan(shipped * 0.3);
  });

  it('follow Accept-Encoding: gzip where it is taken (q above 0, or *), the plain file otherwise', async () => {
    const name = 'graphiql.css';
    const original = await readFile(join(PACKAGE_DIST, name));
    const cases: Array<[string | null, boolean]> = [
      ['gzip', true],
      ['GZIP;q=0.5', true],
      ['x-gzip', true],
      ['*', true],
      ['br;q=1, *;q=0.1', true],
      [null, false],
      ['identity', false],
      ['br', false],
      ['gzip;q=0', false],
      ['*, gzip;q=0', false],
    ];
    for (const [acceptEncoding, gzipped] of cases) {
      const res = await get(`${gw.base}${GRAPHIQL_ASSETS_PATH}${name}`, acceptEncoding === null ? {} : { 'accept-encoding': acceptEncoding });
      expect({ acceptEncoding, status: res.status, encoding: res.headers['content-encoding'] ?? null }).toEqual({ acceptEncoding, status: 200, encoding: gzipped ? 'gzip' : null });
      expect(Number(res.headers['content-length'])).toBe(res.body.length);
      expect((gzipped ? gunzipSync(res.body) : res.body).equals(original), String(acceptEncoding)).toBe(true);
    }
  });

  it('are not served under other names', async () => {
    for (const path of ['graphiql.css.gz', 'yoga-graphiql.es.js', 'monacoeditorwork/', '', 'constructor', '__proto__']) {
      const res = await get(`${gw.base}${GRAPHIQL_ASSETS_PATH}${path}`, { 'accept-encoding': 'gzip' });
      expect({ path, status: res.status, encoding: res.headers['content-encoding'] ?? null }).toEqual({ path, status: 404, encoding: null });
    }
  });

  it('are written gzipped by the build, and only so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'graphiql-assets-'));
    try {
      await buildGraphiQLAssets(dir);
      for (const name of GRAPHIQL_ASSET_NAMES) {
        expect(existsSync(join(dir, name)), `${name} uncompressed`).toBe(false);
        const original = await readFile(join(PACKAGE_DIST, name));
        expect(gunzipSync(await readFile(join(dir, `${name}.gz`))).equals(original), name).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
