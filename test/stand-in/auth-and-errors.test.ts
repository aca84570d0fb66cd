// The error catalogue of upstream-behaviour.md, row by row, against the standalone stand-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, READ_API_TOKEN, startStandalone, USER_TOKEN, type StandaloneStandIn } from '../support/standalone.js';
import { call, type ApiRecord } from './http.js';

const UNAUTHORIZED = { message: '401 Unauthorized' };
const FORBIDDEN = { message: '403 Forbidden' };
const BAD_MODEL = { error: 'model_name does not have a valid value' };
const NOT_PRIMARY = { message: '400 Bad request - Endpoint only available on primary site.' };
const FLAG_OFF = { message: '404 Not Found' };
const b64 = (text: string) => Buffer.from(text).toString('base64url');

let plural: StandaloneStandIn;
let singular: StandaloneStandIn;

beforeAll(async () => {
  [plural, singular] = await Promise.all([
    startStandalone(['--records', '40', '--fail-rate', '0.2', '--unverifiable', 'uploads']),
    startStandalone(['--dialect', 'singular', '--feature-flag', 'off', '--records', '40', '--fail-rate', '0.2']),
  ]);
});

afterAll(async () => {
  await Promise.all([plural?.stop(), singular?.stop()]);
});

/** The four routes of one model, as [method, path] pairs. */
function routes(model: string, id: string | number = 1): Array<[string, string]> {
  return [
    ['GET', model],
    ['GET', `${model}/${id}`],
    ['PUT', `${model}/checksum`],
    ['PUT', `${model}/${id}/checksum`],
  ];
}

describe('authentication', () => {
  it('answers 401 without a token, on every route', async () => {
    for (const [method, path] of routes('projects')) {
      const answer = await call(`${plural.api}/${path}`, { method, token: null });
      expect([method, path, answer.status, answer.body]).toEqual([method, path, 401, UNAUTHORIZED]);
    }
  });

  it('answers 401 to an unknown token, sent either way', async () => {
    for (const [method, path] of routes('projects')) {
      for (const bearer of [false, true]) {
        const answer = await call(`${plural.api}/${path}`, { method, token: 'glpat-nobody', bearer });
        expect([method, path, bearer, answer.status, answer.body]).toEqual([method, path, bearer, 401, UNAUTHORIZED]);
      }
    }
  });

  it('accepts the admin token as PRIVATE-TOKEN and as Authorization: Bearer', async () => {
    const viaHeader = await call<ApiRecord>(`${plural.api}/projects/1`, { token: ADMIN_TOKEN });
    const viaBearer = await call<ApiRecord>(`${plural.api}/projects/1`, { token: ADMIN_TOKEN, bearer: true });
    expect(viaHeader.status).toBe(200);
    expect(viaBearer.status).toBe(200);
    expect(viaBearer.body).toEqual(viaHeader.body);
    expect(viaHeader.body.record_identifier).toBe(1);
  });

  it('answers 403 to a user who is not an administrator, on every route', async () => {
    for (const [method, path] of routes('projects')) {
      for (const bearer of [false, true]) {
        const answer = await call(`${plural.api}/${path}`, { method, token: USER_TOKEN, bearer });
        expect([method, path, answer.status, answer.body]).toEqual([method, path, 403, FORBIDDEN]);
      }
    }
  });

  it('lets a read_api token GET but not PUT', async () => {
    const list = await call<ApiRecord[]>(`${plural.api}/projects?per_page=3`, { token: READ_API_TOKEN });
    expect(list.status).toBe(200);
    expect(list.body.map((r) => r.record_identifier)).toEqual([1, 2, 3]);
    const one = await call<ApiRecord>(`${plural.api}/projects/2`, { token: READ_API_TOKEN });
    expect([one.status, one.body.record_identifier]).toEqual([200, 2]);
    for (const path of ['projects/checksum', 'projects/2/checksum']) {
      const put = await call(`${plural.api}/${path}`, { method: 'PUT', token: READ_API_TOKEN });
      expect([path, put.status, put.body]).toEqual([path, 403, FORBIDDEN]);
    }
  });

  it('authenticates before it validates parameters', async () => {
    const badToken = await call(`${plural.api}/LFS_OBJECT?per_page=0&checksum_state=bogus`, { token: 'glpat-nobody' });
    expect([badToken.status, badToken.body]).toEqual([401, UNAUTHORIZED]);
    const noToken = await call(`${plural.api}/bogus/1/checksum`, { method: 'PUT', token: null });
    expect([noToken.status, noToken.body]).toEqual([401, UNAUTHORIZED]);
    const user = await call(`${plural.api}/bogus?per_page=0`, { token: USER_TOKEN });
    expect([user.status, user.body]).toEqual([403, FORBIDDEN]);
    const readOnly = await call(`${plural.api}/bogus/checksum?checksum_state=pending`, { method: 'PUT', token: READ_API_TOKEN });
    expect([readOnly.status, readOnly.body]).toEqual([403, FORBIDDEN]);
  });

  it('honours tokens added and revoked at run time', async () => {
    const url = `${plural.api}/projects/1`;
    expect((await call(url, { token: 'glpat-late-admin' })).status).toBe(401);
    await plural.addToken('glpat-late-admin', 'admin');
    await plural.addToken('glpat-late-user', 'user');
    await plural.addToken('glpat-late-reader', 'readOnly');
    expect((await call(url, { token: 'glpat-late-admin' })).status).toBe(200);
    expect((await call(url, { token: 'glpat-late-admin', bearer: true })).status).toBe(200);
    expect((await call(url, { token: 'glpat-late-user' })).status).toBe(403);
    expect((await call(url, { token: 'glpat-late-reader' })).status).toBe(200);
    expect((await call(`${url}/checksum`, { method: 'PUT', token: 'glpat-late-reader' })).status).toBe(403);
    expect(await plural.revokeToken('glpat-late-admin')).toBe(true);
    expect(await plural.revokeToken('glpat-late-admin')).toBe(false);
    const revoked = await call(url, { token: 'glpat-late-admin' });
    expect([revoked.status, revoked.body]).toEqual([401, UNAUTHORIZED]);
  });
});

describe('error catalogue (plural dialect)', () => {
  it('answers 404 "<id> Not Found" for a record that does not exist', async () => {
    const get = await call(`${plural.api}/projects/999999`);
    expect([get.status, get.body]).toEqual([404, { message: '404 999999 Not Found' }]);
    const put = await call(`${plural.api}/lfs_objects/424242/checksum`, { method: 'PUT' });
    expect([put.status, put.body]).toEqual([404, { message: '404 424242 Not Found' }]);
  });

  it('rejects unknown, wrongly cased and singular model names on every route', async () => {
    for (const model of ['bogus', 'LFS_OBJECTS', 'LFS_OBJECT', 'Lfs_Objects', 'lfs_object', 'project', 'upload', 'lfs_objects ']) {
      for (const [method, path] of routes(encodeURIComponent(model))) {
        const answer = await call(`${plural.api}/${path}`, { method });
        expect([model, method, path, answer.status, answer.body]).toEqual([model, method, path, 400, BAD_MODEL]);
      }
    }
  });

  it('accepts a percent-encoded underscore in the model name', async () => {
    const encoded = await call<ApiRecord[]>(`${plural.api}/lfs%5Fobjects?per_page=5`);
    const plain = await call<ApiRecord[]>(`${plural.api}/lfs_objects?per_page=5`);
    expect(encoded.status).toBe(200);
    expect(encoded.body).toHaveLength(5);
    expect(encoded.body).toEqual(plain.body);
    const id = plain.body[4].record_identifier;
    const one = await call<ApiRecord>(`${plural.api}/lfs%5fobjects/${id}`);
    expect([one.status, one.body]).toEqual([200, plain.body[4]]);
    expect(one.body.model_class).toBe('LfsObject');
  });

  it('rejects a bad checksum_state', async () => {
    for (const value of ['bogus', 'SUCCEEDED', 'Pending', '2']) {
      const answer = await call(`${plural.api}/projects?checksum_state=${value}`);
      expect([value, answer.status, answer.body]).toEqual([value, 400, { error: 'checksum_state does not have a valid value' }]);
    }
  });

  it('rejects a bad sort, with keyset and with offset pagination', async () => {
    for (const query of ['pagination=keyset&sort=bogus', 'sort=bogus', 'pagination=keyset&sort=ASC', 'sort=ascending&page=2']) {
      const answer = await call(`${plural.api}/projects?${query}`);
      expect([query, answer.status, answer.body]).toEqual([query, 400, { error: 'sort does not have a valid value' }]);
    }
    for (const query of ['sort=asc', 'sort=desc', 'pagination=keyset&sort=desc']) {
      expect((await call(`${plural.api}/projects?${query}`)).status).toBe(200);
    }
  });

  it('rejects per_page=0', async () => {
    for (const query of ['per_page=0', 'pagination=keyset&per_page=0']) {
      const answer = await call(`${plural.api}/projects?${query}`);
      expect([query, answer.status, answer.body]).toEqual([query, 400, { error: 'per_page does not have a valid value' }]);
    }
  });

  it('rejects identifiers that are not base64', async () => {
    for (const value of ['@@@', 'not base64', 'abc$', 'QSBC=']) {
      const answer = await call(`${plural.api}/projects?identifiers[]=${encodeURIComponent(value)}`);
      expect([value, answer.status, answer.body]).toEqual([value, 400, { message: '400 Bad request - invalid base64' }]);
    }
  });

  it('rejects a list mixing integers and base64 as invalid base64', async () => {
    for (const query of [`identifiers[]=1&identifiers[]=${b64('100 1')}`, `identifiers[]=${b64('100 1')}&identifiers[]=2`]) {
      const answer = await call(`${plural.api}/projects?${query}`);
      expect([query, answer.status, answer.body]).toEqual([query, 400, { message: '400 Bad request - invalid base64' }]);
    }
  });

  it('rejects base64 that decodes to something without a space', async () => {
    for (const value of [b64('abc'), b64('12'), b64('100-1')]) {
      const answer = await call(`${plural.api}/projects?identifiers[]=${value}`);
      expect([value, answer.status, answer.body]).toEqual([value, 400, { message: '400 Bad request - Invalid composite key format' }]);
    }
  });

  it('refuses checksum work on a model whose verification is off, and omits checksum_information', async () => {
    const notVerifiable = { message: '400 Bad request - Upload is not a verifiable model.' };
    const list = await call<ApiRecord[]>(`${plural.api}/uploads?per_page=5`);
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(5);
    for (const record of list.body) {
      expect(Object.keys(record)).toEqual(['record_identifier', 'model_class', 'created_at', 'file_size']);
      expect(record.model_class).toBe('Upload');
    }
    const one = await call<ApiRecord>(`${plural.api}/uploads/${list.body[0].record_identifier}`);
    expect(one.status).toBe(200);
    expect('checksum_information' in one.body).toBe(false);
    for (const [method, path] of [
      ['GET', 'uploads?checksum_state=succeeded'],
      ['GET', 'uploads?checksum_state=pending'],
      ['PUT', 'uploads/checksum'],
      ['PUT', `uploads/${list.body[0].record_identifier}/checksum`],
    ]) {
      const answer = await call(`${plural.api}/${path}`, { method });
      expect([method, path, answer.status, answer.body]).toEqual([method, path, 400, notVerifiable]);
    }
    // Other models stay verifiable.
    expect(Object.keys((await call<ApiRecord>(`${plural.api}/lfs_objects/1`)).body)).toContain('checksum_information');
  });

  it('answers 400 "Verifying <model>/<id> failed." to a single re-checksum that fails, and saves the failure', async () => {
    const failed = await call<ApiRecord[]>(`${plural.api}/lfs_objects?checksum_state=failed&per_page=100`);
    expect(failed.status).toBe(200);
    const record = failed.body.find((r) => r.checksum_information!.checksum_failure?.includes('file does not exist'));
    expect(record, 'a seeded record whose file is missing').toBeDefined();
    const before = record!.checksum_information!;
    const id = record!.record_identifier;
    const startedAt = Date.now();
    const put = await call(`${plural.api}/lfs_objects/${id}/checksum`, { method: 'PUT' });
    expect([put.status, put.body]).toEqual([400, { message: `400 Bad request - Verifying lfs_objects/${id} failed.` }]);

    const after = (await call<ApiRecord>(`${plural.api}/lfs_objects/${id}`)).body.checksum_information!;
    expect(after.checksum_state).toBe('failed');
    expect(after.checksum).toBeNull();
    expect(after.checksum_retry_count).toBe(before.checksum_retry_count + 1);
    expect(Date.parse(after.last_checksum!)).toBeGreaterThanOrEqual(startedAt - 5);
    expect(Date.parse(after.checksum_retry_at!)).toBeGreaterThan(Date.now());
    expect(after.checksum_failure).toMatch(/^Error during verification: File is not checksummable - file does not exist at: \S+$/);
  });

  it('refuses both PUTs on a secondary site, and GETs keep working', async () => {
    expect(await plural.setSettings({ primary: false })).toEqual({ dialect: 'plural', featureFlag: true, primary: false, maxOffset: null });
    try {
      for (const path of ['projects/checksum', 'projects/1/checksum', 'lfs_objects/checksum?checksum_state=failed']) {
        const answer = await call(`${plural.api}/${path}`, { method: 'PUT' });
        expect([path, answer.status, answer.body]).toEqual([path, 400, NOT_PRIMARY]);
      }
      expect((await call(`${plural.api}/projects/1`)).status).toBe(200);
      expect((await call(`${plural.api}/projects`)).status).toBe(200);
    } finally {
      await plural.setSettings({ primary: true });
    }
    const healthy = (await call<ApiRecord[]>(`${plural.api}/projects?checksum_state=succeeded&per_page=1`)).body[0];
    const back = await call<ApiRecord>(`${plural.api}/projects/${healthy.record_identifier}/checksum`, { method: 'PUT' });
    expect([back.status, back.body.checksum_information?.checksum_state]).toEqual([200, 'succeeded']);
  });

  it('ignores the feature flag in the plural dialect', async () => {
    await plural.setSettings({ featureFlag: false });
    try {
      expect((await call(`${plural.api}/projects/1`)).status).toBe(200);
      expect((await call(`${plural.api}/projects`)).status).toBe(200);
    } finally {
      await plural.setSettings({ featureFlag: true });
    }
  });

  it('rejects invalid settings', async () => {
    for (const body of [{ dialect: 'bogus' }, { featureFlag: 'yes' }, { primary: 1 }, { colour: 'red' }]) {
      const response = await fetch(`${plural.url}/-/stand-in/settings`, { method: 'PUT', body: JSON.stringify(body) });
      expect([JSON.stringify(body), response.status]).toEqual([JSON.stringify(body), 400]);
    }
    expect(await plural.settings()).toEqual({ dialect: 'plural', featureFlag: true, primary: true, maxOffset: null });
  });
});

describe('singular dialect and the geo_primary_verification_view flag', () => {
  it('starts with the flag off and answers 404 "404 Not Found" on every route', async () => {
    expect(await singular.settings()).toEqual({ dialect: 'singular', featureFlag: false, primary: true, maxOffset: null });
    for (const model of ['lfs_object', 'project', 'lfs_objects', 'bogus']) {
      for (const [method, path] of routes(model)) {
        const answer = await call(`${singular.api}/${path}?per_page=0`, { method });
        expect([method, path, answer.status, answer.body]).toEqual([method, path, 404, FLAG_OFF]);
      }
    }
  });

  it('with the flag on, knows only the singular names, case-sensitively', async () => {
    await singular.setSettings({ featureFlag: true });
    try {
      for (const model of ['lfs_object', 'project', 'lfs%5Fobject']) {
        const answer = await call<ApiRecord[]>(`${singular.api}/${model}?per_page=2`);
        expect([model, answer.status, answer.body.length]).toEqual([model, 200, 2]);
      }
      for (const model of ['lfs_objects', 'projects', 'LFS_OBJECT', 'Lfs_Object', 'packages_nuget_symbols', 'packages_nuget_symbol']) {
        for (const [method, path] of routes(model)) {
          const answer = await call(`${singular.api}/${path}`, { method });
          expect([model, method, path, answer.status, answer.body]).toEqual([model, method, path, 400, BAD_MODEL]);
        }
      }
      // The failure message names the model as the path did.
      const failed = await call<ApiRecord[]>(`${singular.api}/lfs_object?checksum_state=failed`);
      expect(failed.body.length).toBeGreaterThan(0);
      const id = failed.body[0].record_identifier;
      const put = await call(`${singular.api}/lfs_object/${id}/checksum`, { method: 'PUT' });
      expect([put.status, put.body]).toEqual([400, { message: `400 Bad request - Verifying lfs_object/${id} failed.` }]);
    } finally {
      await singular.setSettings({ featureFlag: false });
    }
    const off = await call(`${singular.api}/lfs_object`);
    expect([off.status, off.body]).toEqual([404, FLAG_OFF]);
  });

  it('refuses both PUTs on a secondary site in the singular dialect too', async () => {
    await singular.setSettings({ featureFlag: true, primary: false });
    try {
      for (const path of ['project/checksum', 'project/1/checksum']) {
        const answer = await call(`${singular.api}/${path}`, { method: 'PUT' });
        expect([path, answer.status, answer.body]).toEqual([path, 400, NOT_PRIMARY]);
      }
    } finally {
      await singular.setSettings({ featureFlag: false, primary: true });
    }
  });
});

describe('request log', () => {
  it('records what was sent: method, raw path and query, both token headers, request id, trace context', async () => {
    const { lastSeq } = await plural.requests();
    await call(`${plural.api}/lfs%5Fobjects?identifiers[]=1&identifiers[]=2&checksum_state=failed`, {
      headers: { 'x-request-id': 'req-123', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=a1' },
    });
    await call(`${plural.api}/projects/checksum?identifiers%5B%5D=7`, { method: 'PUT', token: 'glpat-other', bearer: true });
    await call(`${plural.api}/projects/5`, { token: null });
    const { requests, lastSeq: newLast } = await plural.requests(lastSeq);
    expect(newLast).toBe(lastSeq + 3);
    expect(requests.map(({ at, ...rest }) => rest)).toEqual([
      {
        seq: lastSeq + 1,
        method: 'GET',
        path: '/api/v4/admin/data_management/lfs%5Fobjects',
        query: 'identifiers[]=1&identifiers[]=2&checksum_state=failed',
        params: { 'identifiers[]': ['1', '2'], checksum_state: ['failed'] },
        privateToken: ADMIN_TOKEN,
        authorization: null,
        requestId: 'req-123',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        tracestate: 'vendor=a1',
      },
      {
        seq: lastSeq + 2,
        method: 'PUT',
        path: '/api/v4/admin/data_management/projects/checksum',
        query: 'identifiers%5B%5D=7',
        params: { 'identifiers[]': ['7'] },
        privateToken: null,
        authorization: 'Bearer glpat-other',
        requestId: null,
        traceparent: null,
        tracestate: null,
      },
      {
        seq: lastSeq + 3,
        method: 'GET',
        path: '/api/v4/admin/data_management/projects/5',
        query: '',
        params: {},
        privateToken: null,
        authorization: null,
        requestId: null,
        traceparent: null,
        tracestate: null,
      },
    ]);
    for (const entry of requests) expect(entry.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('clears on DELETE and keeps counting', async () => {
    await call(`${plural.api}/projects/1`);
    const before = await plural.requests();
    expect(before.requests.length).toBeGreaterThan(0);
    const cleared = await plural.clearRequests();
    expect(cleared.lastSeq).toBe(before.lastSeq);
    expect(await plural.requests()).toEqual({ requests: [], lastSeq: before.lastSeq });
    await call(`${plural.api}/projects/2`);
    const after = await plural.requests();
    expect(after.requests.map((r) => [r.seq, r.path])).toEqual([[before.lastSeq + 1, '/api/v4/admin/data_management/projects/2']]);
  });
});
