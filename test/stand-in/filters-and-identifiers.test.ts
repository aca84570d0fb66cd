// identifiers[] and checksum_state filters, and models identified by base64 composite keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandalone, type StandaloneStandIn } from '../support/standalone.js';
import { allRecords, call, ids, stateOf, until, type ApiRecord } from './http.js';

const STATES = ['pending', 'started', 'succeeded', 'failed', 'disabled'] as const;
const b64url = (text: string) => Buffer.from(text).toString('base64url');

let si: StandaloneStandIn;
let projects: ApiRecord[];
let uploads: ApiRecord[];

beforeAll(async () => {
  si = await startStandalone(['--records', '60', '--model-records', 'projects=120', '--fail-rate', '0.15', '--composite', 'uploads']);
  [projects, uploads] = await Promise.all([allRecords(si.api, 'projects'), allRecords(si.api, 'uploads')]);
});

afterAll(async () => {
  await si?.stop();
});

describe('identifiers[]', () => {
  it('selects exactly the named records, ascending, whatever order they were sent in', async () => {
    expect(projects).toHaveLength(120);
    const wanted = [projects[40], projects[3], projects[77], projects[0]].map((r) => r.record_identifier);
    const query = wanted.map((id) => `identifiers[]=${id}`).join('&');
    const answer = await call<ApiRecord[]>(`${si.api}/projects?${query}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual([projects[0], projects[3], projects[40], projects[77]]);
    expect(answer.headers.get('x-total')).toBe('4');
  });

  it('leaves unknown identifiers silently absent, and repeats out', async () => {
    const known = projects[10].record_identifier;
    const answer = await call<ApiRecord[]>(`${si.api}/projects?identifiers[]=999999&identifiers[]=${known}&identifiers[]=${known}&identifiers[]=123456789`);
    expect([answer.status, ids(answer.body)]).toEqual([200, [known]]);
    const none = await call<ApiRecord[]>(`${si.api}/projects?identifiers[]=999999`);
    expect([none.status, none.body, none.headers.get('x-total'), none.headers.get('x-next-page')]).toEqual([200, [], '0', '']);
  });

  it('treats an empty identifiers[]= as no filter', async () => {
    const answer = await call<ApiRecord[]>(`${si.api}/projects?identifiers[]=&per_page=100`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(projects.slice(0, 100));
    expect(answer.headers.get('x-total')).toBe('120');
  });

  it('pages through a filtered list', async () => {
    const wanted = projects.filter((_, i) => i % 3 === 0).map((r) => r.record_identifier);
    const query = wanted.map((id) => `identifiers[]=${id}`).join('&');
    const first = await call<ApiRecord[]>(`${si.api}/projects?${query}&per_page=25`);
    const second = await call<ApiRecord[]>(`${si.api}/projects?${query}&per_page=25&page=2`);
    expect([first.headers.get('x-total'), first.headers.get('x-next-page'), second.headers.get('x-next-page')]).toEqual(['40', '2', '']);
    expect([...ids(first.body), ...ids(second.body)]).toEqual(wanted);
  });
});

describe('checksum_state', () => {
  it('selects by each state, and the states partition the model', async () => {
    const byState: Record<string, Array<number | string>> = {};
    for (const state of STATES) {
      const records = await allRecords(si.api, 'projects', `checksum_state=${state}`);
      expect(records.every((r) => stateOf(r) === state)).toBe(true);
      byState[state] = ids(records);
      expect(byState[state]).toEqual(ids(projects.filter((r) => stateOf(r) === state)));
    }
    expect(byState.failed.length).toBeGreaterThan(0);
    expect(byState.pending.length).toBeGreaterThan(0);
    expect(byState.succeeded.length).toBeGreaterThan(50);
    expect(byState.started).toEqual([]);
    expect(byState.disabled).toEqual([]);
    expect(Object.values(byState).flat().sort((a, b) => (a as number) - (b as number))).toEqual(ids(projects));
  });

  it('combines with identifiers[]', async () => {
    const failed = projects.filter((r) => stateOf(r) === 'failed').slice(0, 2);
    const succeeded = projects.filter((r) => stateOf(r) === 'succeeded').slice(0, 3);
    const query = [...succeeded, ...failed].map((r) => `identifiers[]=${r.record_identifier}`).join('&');
    const onlyFailed = await call<ApiRecord[]>(`${si.api}/projects?checksum_state=failed&${query}`);
    expect(onlyFailed.body).toEqual(failed);
    expect(onlyFailed.headers.get('x-total')).toBe(String(failed.length));
    const onlySucceeded = await call<ApiRecord[]>(`${si.api}/projects?${query}&checksum_state=succeeded`);
    expect(onlySucceeded.body).toEqual(succeeded);
    const none = await call<ApiRecord[]>(`${si.api}/projects?${query}&checksum_state=pending`);
    expect(none.body).toEqual([]);
  });
});

describe('composite keys (uploads started with --composite uploads)', () => {
  it('identifies records by padded URL-safe base64 of "<partition> <id>"', () => {
    expect(uploads).toHaveLength(60);
    for (const record of uploads) {
      const id = record.record_identifier;
      expect(typeof id).toBe('string');
      expect(id).toMatch(/^[A-Za-z0-9_-]+={0,2}$/);
      expect((id as string).length % 4).toBe(0);
      const decoded = Buffer.from(id as string, 'base64url').toString('utf8');
      expect(decoded).toMatch(/^\d+ \d+$/);
      expect(Buffer.from(decoded).toString('base64').replace(/\+/g, '-').replace(/\//g, '_')).toBe(id);
    }
    expect(new Set(ids(uploads)).size).toBe(60);
    // Ordered by primary key: partitions fill one after another as ids grow, so the keys ascend value by value too.
    const keys = uploads.map((r) => Buffer.from(r.record_identifier as string, 'base64url').toString().split(' ').map(Number));
    for (let i = 1; i < keys.length; i++) {
      expect(keys[i][1]).toBeGreaterThan(keys[i - 1][1]);
      expect(keys[i][0]).toBeGreaterThanOrEqual(keys[i - 1][0]);
    }
    expect(uploads.some((r) => (r.record_identifier as string).endsWith('='))).toBe(true);
  });

  it('answers GET by the identifier, padded or not', async () => {
    const padded = uploads.find((r) => (r.record_identifier as string).endsWith('='))!;
    const id = padded.record_identifier as string;
    const unpadded = id.replace(/=+$/, '');
    for (const value of [id, unpadded]) {
      const answer = await call<ApiRecord>(`${si.api}/uploads/${value}`);
      expect([value, answer.status, answer.body]).toEqual([value, 200, padded]);
    }
    // A key whose encoding needs no padding at all.
    const noPadding = uploads.find((r) => !(r.record_identifier as string).endsWith('='));
    expect(noPadding).toBeDefined();
    expect((await call<ApiRecord>(`${si.api}/uploads/${noPadding!.record_identifier}`)).body).toEqual(noPadding);
  });

  it('answers 404 for a well-formed key that names nothing, and for an integer', async () => {
    const missing = b64url('999 999999');
    const answer = await call(`${si.api}/uploads/${missing}`);
    expect([answer.status, answer.body]).toEqual([404, { message: `404 ${missing} Not Found` }]);
    // Right id, wrong partition.
    const [partition, id] = Buffer.from(uploads[0].record_identifier as string, 'base64url').toString().split(' ');
    const wrongPartition = b64url(`${Number(partition) + 1000} ${id}`);
    expect((await call(`${si.api}/uploads/${wrongPartition}`)).status).toBe(404);
    const integer = await call(`${si.api}/uploads/${id}`);
    expect([integer.status, integer.body]).toEqual([404, { message: `404 ${id} Not Found` }]);
  });

  it('filters by identifiers[], padded and unpadded, unknown keys absent', async () => {
    const picked = [uploads[2], uploads[7], uploads[30]];
    const values = [picked[0].record_identifier as string, (picked[1].record_identifier as string).replace(/=+$/, ''), picked[2].record_identifier as string, b64url('1 424242')];
    const query = values.map((v) => `identifiers[]=${encodeURIComponent(v)}`).join('&');
    const answer = await call<ApiRecord[]>(`${si.api}/uploads?${query}`);
    expect([answer.status, answer.body]).toEqual([200, picked]);
    const integers = await call<ApiRecord[]>(`${si.api}/uploads?identifiers[]=1&identifiers[]=2`);
    expect([integers.status, integers.body]).toEqual([200, []]);
    const mixed = await call(`${si.api}/uploads?identifiers[]=1&${query}`);
    expect([mixed.status, mixed.body]).toEqual([400, { message: '400 Bad request - invalid base64' }]);
    const noSpace = await call(`${si.api}/uploads?identifiers[]=${b64url('12345')}`);
    expect([noSpace.status, noSpace.body]).toEqual([400, { message: '400 Bad request - Invalid composite key format' }]);
  });

  it("decodes as strictly as Ruby's urlsafe_decode64: wrong padding or leftover bits are invalid base64", async () => {
    // "1 23" is MSAyMw== (or MSAyMw); MSAyMx decodes to the same bytes in a lenient decoder, but its last bits are set.
    for (const good of ['MSAyMw==', 'MSAyMw']) expect((await call(`${si.api}/uploads?identifiers[]=${good}`)).status).toBe(200);
    for (const bad of ['MSAyMw=', 'MSAyMw===', 'MSAy==', 'MSAyMx', 'MSAyMx==']) {
      const answer = await call(`${si.api}/uploads?identifiers[]=${bad}`);
      expect([bad, answer.status, answer.body]).toEqual([bad, 400, { message: '400 Bad request - invalid base64' }]);
    }
  });

  it('refuses the identifiers of the rejectedIdentifiers fault (a GitLab stricter than the gateway), and only those', async () => {
    const [a, b] = [uploads[1].record_identifier as string, uploads[2].record_identifier as string];
    expect((await si.setFaults({ rejectedIdentifiers: [b] })).status).toBe(200);
    try {
      const both = await call(`${si.api}/uploads?identifiers[]=${a}&identifiers[]=${b}`);
      expect([both.status, both.body]).toEqual([400, { message: '400 Bad request - Invalid composite key format' }]);
      expect((await call(`${si.api}/uploads/${b}`)).status).toBe(400);
      expect((await call<ApiRecord[]>(`${si.api}/uploads?identifiers[]=${a}`)).body).toEqual([uploads[1]]);
      expect((await si.setFaults({ rejectedIdentifiers: 'x' })).status).toBe(400);
    } finally {
      await si.setFaults({ rejectedIdentifiers: [] });
    }
  });

  it('combines composite identifiers with checksum_state', async () => {
    const failed = uploads.filter((r) => stateOf(r) === 'failed');
    const succeeded = uploads.filter((r) => stateOf(r) === 'succeeded').slice(0, 2);
    expect(failed.length).toBeGreaterThan(0);
    const query = [...succeeded, ...failed].map((r) => `identifiers[]=${encodeURIComponent(r.record_identifier)}`).join('&');
    const answer = await call<ApiRecord[]>(`${si.api}/uploads?checksum_state=failed&${query}`);
    expect(answer.body).toEqual(failed);
  });

  it('takes only integers in the single-record PUT', async () => {
    const answer = await call(`${si.api}/uploads/${uploads[0].record_identifier}/checksum`, { method: 'PUT' });
    expect([answer.status, answer.body]).toEqual([400, { error: 'record_identifier is invalid' }]);
  });

  it('re-verifies only the named composite keys in a bulk PUT', async () => {
    const target = uploads.find((r) => stateOf(r) === 'succeeded')!;
    const put = await call(`${si.api}/uploads/checksum?identifiers[]=${encodeURIComponent(target.record_identifier)}`, { method: 'PUT' });
    expect([put.status, put.body]).toEqual([200, { status: 'success', message: 'Batch update job has been successfully enqueued.' }]);
    await until(async () => (stateOf((await call<ApiRecord>(`${si.api}/uploads/${target.record_identifier}`)).body) === 'pending' ? true : undefined), {
      timeoutMs: 2_000,
      what: 'the named upload to be pending',
    });
    const after = await allRecords(si.api, 'uploads');
    expect(after.filter((r) => stateOf(r) === 'pending').length).toBe(uploads.filter((r) => stateOf(r) === 'pending').length + 1);
    expect(after.filter((r) => r.record_identifier !== target.record_identifier)).toEqual(uploads.filter((r) => r.record_identifier !== target.record_identifier));
  });
});
