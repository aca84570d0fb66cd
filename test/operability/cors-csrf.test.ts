// CORS: no origin is allowed unless CORS_ORIGINS lists it. CSRF prevention: a request a browser could send
// cross-site without a preflight (a GET or a form-like POST) needs the x-graphql-yoga-csrf header.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN } from './helpers.js';

const DASH = 'https://dash.example.com';
const OPS = 'https://ops.example.com';
const EVIL = 'https://evil.example.com';
const QUERY = '{ modelRecords(model: PROJECT, first: 1) { nodes { model } } }';
const DATA = { data: { modelRecords: { nodes: [{ model: 'PROJECT' }] } } };

let none: TestGateway; // no CORS_ORIGINS
let one: TestGateway; // CORS_ORIGINS=https://dash.example.com
let two: TestGateway; // CORS_ORIGINS=https://dash.example.com,https://ops.example.com

beforeAll(async () => {
  [none, one, two] = await Promise.all([
    startTestGateway({ standIn: { records: 5 } }),
    startTestGateway({ standIn: { records: 5 }, env: { CORS_ORIGINS: DASH } }),
    startTestGateway({ standIn: { records: 5 }, env: { CORS_ORIGINS: ` ${DASH}, ${OPS} ` } }),
  ]);
});
afterAll(async () => {
  await Promise.all([none, one, two].filter(Boolean).map((g) => g.close()));
});

const preflight = (gw: TestGateway, origin: string) =>
  fetch(gw.url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-request-id' },
  });

const crossOriginPost = (gw: TestGateway, origin: string) =>
  fetch(gw.url, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ query: QUERY }),
  });

describe('CORS', () => {
  it('no CORS_ORIGINS: a preflight from another origin is not allowed, nor is the request itself', async () => {
    const pre = await preflight(none, DASH);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect(pre.headers.get('access-control-allow-methods')).toBeNull();
    expect(pre.headers.get('access-control-allow-headers')).toBeNull();
    expect(pre.status).toBe(403);

    const res = await crossOriginPost(none, DASH);
    // The server answers (CORS is the browser's to enforce), but grants nothing.
    expect(await res.json()).toEqual(DATA);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-expose-headers')).toBeNull();
  });

  it('CORS_ORIGINS=https://dash.example.com: that origin is allowed, its headers too, and x-request-id is exposed', async () => {
    const pre = await preflight(one, DASH);
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(DASH);
    expect(pre.headers.get('access-control-allow-methods')).toBe('POST');
    expect(pre.headers.get('access-control-allow-headers')?.split(/,\s*/).sort()).toEqual(['authorization', 'content-type', 'private-token', 'x-graphql-yoga-csrf', 'x-request-id']);

    const res = await crossOriginPost(one, DASH);
    expect(await res.json()).toEqual(DATA);
    expect(res.headers.get('access-control-allow-origin')).toBe(DASH);
    expect(res.headers.get('access-control-expose-headers')).toBe('x-request-id');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('CORS_ORIGINS=https://dash.example.com: another origin is not allowed', async () => {
    for (const res of [await preflight(one, EVIL), await crossOriginPost(one, EVIL)]) {
      const allowed = res.headers.get('access-control-allow-origin');
      expect(allowed).not.toBe(EVIL);
      expect(allowed).not.toBe('*');
      // Yoga names the one allowed origin, which a browser at another origin refuses.
      expect(allowed).toBe(DASH);
    }
  });

  it('two origins (spaces trimmed): each is allowed, a third gets "null"', async () => {
    expect((await preflight(two, DASH)).headers.get('access-control-allow-origin')).toBe(DASH);
    expect((await preflight(two, OPS)).headers.get('access-control-allow-origin')).toBe(OPS);
    const evil = await crossOriginPost(two, EVIL);
    expect(evil.headers.get('access-control-allow-origin')).toBe('null');
    const ops = await crossOriginPost(two, OPS);
    expect(await ops.json()).toEqual(DATA);
    expect(ops.headers.get('access-control-allow-origin')).toBe(OPS);
    expect(ops.headers.get('vary')).toContain('Origin');
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
