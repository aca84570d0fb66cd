// CORS: a page at another origin may call only if CORS_ORIGINS lists its origin (`scheme://host:*` for any port);
// otherwise its preflight and its request are refused with 403 naming CORS_ORIGINS. The gateway's own origin (GraphiQL)
// needs no listing. Demo mode lists http://localhost:* and http://127.0.0.1:*. CSRF prevention: a request a browser
// could send cross-site without a preflight (a GET or a form-like POST) needs the x-graphql-yoga-csrf header.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startGateway, type Gateway } from '../../src/server.js';
import { startStandIn, type StandIn } from '../../src/stand-in/index.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN } from './helpers.js';

const DASH = 'https://dash.example.com';
const OPS = 'https://ops.example.com';
const EVIL = 'https://evil.example.com';
const QUERY = '{ modelRecords(model: PROJECT, first: 1) { nodes { model } } }';
const DATA = { data: { modelRecords: { nodes: [{ model: 'PROJECT' }] } } };
const ORIGIN_REFUSED = {
  errors: [{ message: 'This origin is not allowed to call the gateway: add it to CORS_ORIGINS (comma-separated origins, e.g. https://dashboard.example.com).', extensions: { code: 'BAD_REQUEST' } }],
};

let none: TestGateway; // no CORS_ORIGINS
let one: TestGateway; // CORS_ORIGINS=https://dash.example.com
let two: TestGateway; // CORS_ORIGINS=https://dash.example.com,https://ops.example.com
let ports: TestGateway; // CORS_ORIGINS=http://localhost:*

beforeAll(async () => {
  [none, one, two, ports] = await Promise.all([
    startTestGateway({ standIn: { records: 5 } }),
    startTestGateway({ standIn: { records: 5 }, env: { CORS_ORIGINS: DASH } }),
    startTestGateway({ standIn: { records: 5 }, env: { CORS_ORIGINS: ` ${DASH}, ${OPS} ` } }),
    startTestGateway({ standIn: { records: 5 }, env: { CORS_ORIGINS: 'http://localhost:*' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([none, one, two, ports].filter(Boolean).map((g) => g.close()));
});

const preflight = (url: string, origin: string) =>
  fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-request-id' },
  });

const crossOriginPost = (url: string, origin: string, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json', authorization: `Bearer ${ADMIN}`, ...headers },
    body: JSON.stringify({ query: QUERY }),
  });

/** Status, body and the CORS headers of a refusal: 403 naming CORS_ORIGINS, and no permission granted. */
async function refusal(res: Response) {
  return {
    status: res.status,
    body: await res.json(),
    allowOrigin: res.headers.get('access-control-allow-origin'),
    allowMethods: res.headers.get('access-control-allow-methods'),
    allowHeaders: res.headers.get('access-control-allow-headers'),
    vary: res.headers.get('vary'),
  };
}
const REFUSED = { status: 403, body: ORIGIN_REFUSED, allowOrigin: null, allowMethods: null, allowHeaders: null, vary: 'Origin' };

describe('CORS', () => {
  it('no CORS_ORIGINS: a preflight from another origin, and the request itself, are refused naming CORS_ORIGINS; nothing reaches GitLab', async () => {
    await none.resetUpstream();
    expect(await refusal(await preflight(none.url, DASH))).toEqual(REFUSED);
    expect(await refusal(await crossOriginPost(none.url, DASH))).toEqual(REFUSED);
    // A sandboxed page or a file says `null`.
    expect(await refusal(await crossOriginPost(none.url, 'null'))).toEqual(REFUSED);
    expect(await none.upstream()).toEqual([]);
  });

  it("the gateway's own origin needs no listing (GraphiQL's requests): by Host, by X-Forwarded-Host behind a proxy, or by Sec-Fetch-Site", async () => {
    for (const [origin, headers] of <[string, Record<string, string>][]>[
      [none.base, {}],
      ['https://gateway.example.com', { 'x-forwarded-host': 'gateway.example.com' }],
      ['https://gateway.example.com', { 'sec-fetch-site': 'same-origin' }],
    ]) {
      const res = await crossOriginPost(none.url, origin, headers);
      expect({ origin, headers, status: res.status, body: await res.json(), allowOrigin: res.headers.get('access-control-allow-origin') }).toEqual({ origin, headers, status: 200, body: DATA, allowOrigin: null });
    }
    // Another page of the same site is another origin.
    expect(await refusal(await crossOriginPost(none.url, 'https://gateway.example.com', { 'sec-fetch-site': 'same-site' }))).toEqual(REFUSED);
  });

  it('CORS_ORIGINS=https://dash.example.com: that origin is allowed, its headers too, and x-request-id is exposed', async () => {
    const pre = await preflight(one.url, DASH);
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(DASH);
    expect(pre.headers.get('access-control-allow-methods')).toBe('POST');
    expect(pre.headers.get('access-control-allow-headers')?.split(/,\s*/).sort()).toEqual(['authorization', 'content-type', 'private-token', 'x-graphql-yoga-csrf', 'x-request-id']);
    expect(pre.headers.get('vary')).toBe('Origin');

    const res = await crossOriginPost(one.url, DASH);
    expect(await res.json()).toEqual(DATA);
    expect(res.headers.get('access-control-allow-origin')).toBe(DASH);
    expect(res.headers.get('access-control-expose-headers')).toBe('x-request-id');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('vary')).toBe('Origin');
  });

  it('CORS_ORIGINS=https://dash.example.com: another origin is refused, preflight and request, naming CORS_ORIGINS', async () => {
    await one.resetUpstream();
    for (const origin of [EVIL, 'http://dash.example.com', 'https://dash.example.com:8443']) {
      expect({ origin, ...(await refusal(await preflight(one.url, origin))) }).toEqual({ origin, ...REFUSED });
      expect({ origin, ...(await refusal(await crossOriginPost(one.url, origin))) }).toEqual({ origin, ...REFUSED });
    }
    expect(await one.upstream()).toEqual([]);
  });

  it('two origins (spaces trimmed): each is allowed, a third is refused', async () => {
    expect((await preflight(two.url, DASH)).headers.get('access-control-allow-origin')).toBe(DASH);
    expect((await preflight(two.url, OPS)).headers.get('access-control-allow-origin')).toBe(OPS);
    expect(await refusal(await crossOriginPost(two.url, EVIL))).toEqual(REFUSED);
    const ops = await crossOriginPost(two.url, OPS);
    expect(await ops.json()).toEqual(DATA);
    expect(ops.headers.get('access-control-allow-origin')).toBe(OPS);
    expect(ops.headers.get('vary')).toContain('Origin');
  });

  it('CORS_ORIGINS=http://localhost:*: any port of that scheme and host, nothing else', async () => {
    for (const origin of ['http://localhost:5173', 'http://localhost:3000', 'http://localhost']) {
      const pre = await preflight(ports.url, origin);
      expect({ origin, status: pre.status, allowOrigin: pre.headers.get('access-control-allow-origin') }).toEqual({ origin, status: 204, allowOrigin: origin });
    }
    for (const origin of ['https://localhost:5173', 'http://localhost.evil.example.com', 'http://localhost:5173.evil.example.com', 'http://127.0.0.1:5173']) {
      expect({ origin, ...(await refusal(await preflight(ports.url, origin))) }).toEqual({ origin, ...REFUSED });
    }
  });
});

describe('demo mode (no GITLAB_URL)', () => {
  /** A gateway configured as in demo mode, in front of a stand-in of its own (main.ts would start it in process). */
  async function demoGateway(env: Record<string, string> = {}): Promise<{ gateway: Gateway; standIn: StandIn }> {
    const standIn = await startStandIn({ records: 5 });
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', ...env });
    return { standIn, gateway: await startGateway(config, { gitlabUrl: standIn.url, demoToken: standIn.tokens.admin, logger: createLogger('silent') }) };
  }

  it('a front-end dev server on this machine (http://localhost:* and http://127.0.0.1:*) may call; other origins may not', async () => {
    const { gateway, standIn } = await demoGateway();
    try {
      for (const origin of ['http://localhost:5173', 'http://127.0.0.1:8080', 'http://localhost:3000']) {
        const pre = await preflight(gateway.url, origin);
        expect({ origin, status: pre.status, allowOrigin: pre.headers.get('access-control-allow-origin') }).toEqual({ origin, status: 204, allowOrigin: origin });
        const res = await crossOriginPost(gateway.url, origin);
        expect({ origin, body: await res.json(), allowOrigin: res.headers.get('access-control-allow-origin') }).toEqual({ origin, body: DATA, allowOrigin: origin });
      }
      for (const origin of [EVIL, 'https://localhost:5173', 'http://[::1]:5173']) {
        expect({ origin, ...(await refusal(await preflight(gateway.url, origin))) }).toEqual({ origin, ...REFUSED });
      }
    } finally {
      await gateway.close();
      await standIn.stop();
    }
  });

  it('CORS_ORIGINS set in demo mode replaces that default', async () => {
    const { gateway, standIn } = await demoGateway({ CORS_ORIGINS: DASH });
    try {
      expect((await preflight(gateway.url, DASH)).headers.get('access-control-allow-origin')).toBe(DASH);
      expect(await refusal(await preflight(gateway.url, 'http://localhost:5173'))).toEqual(REFUSED);
    } finally {
      await gateway.close();
      await standIn.stop();
    }
  });
});

describe('CSRF prevention', () => {
  const CSRF_REFUSED = { errors: [{ message: 'Required CSRF header not present: send x-graphql-yoga-csrf, or a JSON content type.', extensions: { code: 'BAD_REQUEST' } }] };
  const get = (headers: Record<string, string>) =>
    fetch(`${none.url}?query=${encodeURIComponent(QUERY)}`, { headers: { authorization: `Bearer ${ADMIN}`, accept: 'application/json', ...headers } });

  it('a GET with neither a JSON content type nor x-graphql-yoga-csrf is refused before anything reaches GitLab', async () => {
    await none.resetUpstream();
    for (const headers of <Record<string, string>[]>[{}, { 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, { 'content-type': 'multipart/form-data; boundary=x' }]) {
      const res = await get(headers);
      expect({ headers, status: res.status, body: await res.json() }).toEqual({ headers, status: 403, body: CSRF_REFUSED });
    }
    expect(await none.upstream()).toEqual([]);
  });

  it('a GET with x-graphql-yoga-csrf, or with a JSON content type, is served', async () => {
    for (const headers of <Record<string, string>[]>[{ 'x-graphql-yoga-csrf': '1' }, { 'content-type': 'application/json' }]) {
      const res = await get(headers);
      expect({ headers, status: res.status, body: await res.json() }).toEqual({ headers, status: 200, body: DATA });
    }
  });

  it('a form-like POST (urlencoded, or text/plain) is refused; the same POST as application/json works', async () => {
    await none.resetUpstream();
    const form = await fetch(none.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${ADMIN}` },
      body: `query=${encodeURIComponent(QUERY)}`,
    });
    expect(form.status).toBe(403);
    expect(await form.json()).toEqual(CSRF_REFUSED);
    const text = await fetch(none.url, { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ query: QUERY }) });
    expect(text.status).toBe(403);
    expect(await text.json()).toEqual(CSRF_REFUSED);
    expect(await none.upstream()).toEqual([]);

    const json = await none.post(QUERY);
    expect(json.status).toBe(200);
    expect(json.body).toEqual(DATA);
  });
});
