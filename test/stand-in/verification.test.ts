// The checksum state machine: bulk PUT to pending, the background job's started -> succeeded | failed, single PUT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startStandalone, type StandaloneStandIn } from '../support/standalone.js';
import { allRecords, call, stateOf, until, type ApiRecord, type ChecksumInformation } from './http.js';

const ENQUEUED = { status: 'success', message: 'Batch update job has been successfully enqueued.' };
const FAILURE = /^Error during verification: File is not checksummable - file does not exist at: \S+$/;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Worker off (cycles only on POST /-/stand-in/verify); a started record finishes after 400 ms. */
let manual: StandaloneStandIn;
/** Worker on, every 300 ms, batches large enough to take a whole model at once. */
let timed: StandaloneStandIn;

beforeAll(async () => {
  [manual, timed] = await Promise.all([
    startStandalone([
      '--verify-interval-ms', '0',
      '--verify-duration-ms', '400',
      '--verify-batch-size', '1000',
      '--records', '0',
      '--model-records', 'projects=40,lfs_objects=40,uploads=30',
      '--fail-rate', '0.2',
    ]),
    // A record stays started for 500 ms, so polling sees it even on a busy machine.
    startStandalone(['--verify-interval-ms', '300', '--verify-duration-ms', '500', '--verify-batch-size', '1000', '--records', '0', '--model-records', 'projects=40', '--fail-rate', '0.2']),
  ]);
});

afterAll(async () => {
  await Promise.all([manual?.stop(), timed?.stop()]);
});

const info = (record: ApiRecord): ChecksumInformation => record.checksum_information!;
const byId = (records: ApiRecord[]) => new Map(records.map((r) => [r.record_identifier, r]));

/** Waits until no record of the model is `started`. */
async function settled(si: StandaloneStandIn, model: string): Promise<ApiRecord[]> {
  return until(async () => {
    const records = await allRecords(si.api, model);
    return records.some((r) => stateOf(r) === 'started') ? undefined : records;
  }, { timeoutMs: 5_000, what: `${model} to settle` });
}

/** The record as the bulk job leaves it: only the state changes. */
const asPending = (record: ApiRecord): ApiRecord => ({ ...record, checksum_information: { ...info(record), checksum_state: 'pending' } });

/** What a re-verification must have made of `before`, given it finished no earlier than `since`. */
function expectReverified(before: ApiRecord, after: ApiRecord, since: number): void {
  const was = info(before);
  const now = info(after);
  const where = `${after.model_class}/${after.record_identifier}`;
  expect(Date.parse(now.last_checksum!), where).toBeGreaterThanOrEqual(since);
  if (was.checksum_state === 'failed') {
    // Seeded failures are files that are gone: they fail again.
    expect([where, now.checksum_state, now.checksum, now.checksum_retry_count]).toEqual([where, 'failed', null, was.checksum_retry_count + 1]);
    expect(now.checksum_retry_at).toMatch(TIMESTAMP);
    expect(Date.parse(now.checksum_retry_at!), where).toBeGreaterThan(Date.now());
    expect(now.checksum_failure).toMatch(FAILURE);
    expect(now.checksum_failure!.length).toBeLessThanOrEqual(255);
  } else {
    expect([where, now.checksum_state, now.checksum_retry_count, now.checksum_retry_at, now.checksum_failure]).toEqual([where, 'succeeded', 0, null, null]);
    expect(now.checksum).toMatch(/^[0-9a-f]{40}$|^[0-9a-f]{64}$/);
    if (was.checksum !== null) expect([where, now.checksum]).toEqual([where, was.checksum]);
  }
  expect([where, after.created_at, after.file_size]).toEqual([where, before.created_at, before.file_size]);
}

describe('single-record PUT (synchronous)', () => {
  it('verifies a record at once: 200 with the record succeeded and last_checksum updated', async () => {
    const projects = await settled(manual, 'projects');
    const target = projects.find((r) => stateOf(r) === 'succeeded')!;
    const sent = Date.now();
    const put = await call<ApiRecord>(`${manual.api}/projects/${target.record_identifier}/checksum`, { method: 'PUT' });
    expect(put.status).toBe(200);
    expect(Object.keys(put.body)).toEqual(['record_identifier', 'model_class', 'created_at', 'file_size', 'checksum_information']);
    expect(put.body).toEqual({
      ...target,
      checksum_information: { ...info(target), last_checksum: info(put.body).last_checksum },
    });
    expect(Date.parse(info(put.body).last_checksum!)).toBeGreaterThanOrEqual(sent - 5);
    expect(Date.parse(info(put.body).last_checksum!)).toBeGreaterThan(Date.parse(info(target).last_checksum!));
    expect((await call<ApiRecord>(`${manual.api}/projects/${target.record_identifier}`)).body).toEqual(put.body);
  });

  it('verifies a pending record that never had a checksum', async () => {
    const pending = (await allRecords(manual.api, 'lfs_objects')).find((r) => stateOf(r) === 'pending' && info(r).checksum === null && info(r).checksum_failure === null)!;
    expect(pending).toBeDefined();
    const put = await call<ApiRecord>(`${manual.api}/lfs_objects/${pending.record_identifier}/checksum`, { method: 'PUT' });
    expect(put.status).toBe(200);
    expect(info(put.body)).toEqual({
      checksum: expect.stringMatching(/^[0-9a-f]{64}$/),
      last_checksum: expect.stringMatching(TIMESTAMP),
      checksum_state: 'succeeded',
      checksum_retry_count: 0,
      checksum_retry_at: null,
      checksum_failure: null,
    });
  });

  it('saves each failure: the retry count grows with every failed attempt', async () => {
    const failing = (await allRecords(manual.api, 'projects')).find((r) => stateOf(r) === 'failed')!;
    let count = info(failing).checksum_retry_count;
    for (let attempt = 0; attempt < 2; attempt++) {
      const put = await call(`${manual.api}/projects/${failing.record_identifier}/checksum`, { method: 'PUT' });
      expect([put.status, put.body]).toEqual([400, { message: `400 Bad request - Verifying projects/${failing.record_identifier} failed.` }]);
      const now = info((await call<ApiRecord>(`${manual.api}/projects/${failing.record_identifier}`)).body);
      expect([now.checksum_state, now.checksum, now.checksum_retry_count]).toEqual(['failed', null, count + 1]);
      expect(now.checksum_failure).toMatch(FAILURE);
      count++;
    }
  });
});

describe('bulk PUT and the background job (cycles run on demand)', () => {
  it('answers 200 "enqueued", then sets every record to pending without touching anything else', async () => {
    const before = await allRecords(manual.api, 'projects');
    const lfsBefore = await allRecords(manual.api, 'lfs_objects');
    expect(before.filter((r) => stateOf(r) !== 'pending').length).toBeGreaterThan(20);
    expect(before.some((r) => stateOf(r) === 'failed')).toBe(true);

    const put = await call(`${manual.api}/projects/checksum`, { method: 'PUT' });
    expect([put.status, put.body]).toEqual([200, ENQUEUED]);
    const after = await until(async () => {
      const records = await allRecords(manual.api, 'projects');
      return records.every((r) => stateOf(r) === 'pending') ? records : undefined;
    }, { timeoutMs: 2_000, what: 'every project to be pending' });
    expect(after).toEqual(before.map(asPending));
    // Other models are left alone.
    expect(await allRecords(manual.api, 'lfs_objects')).toEqual(lfsBefore);
  });

  it('moves pending and due failed records to started, then to succeeded or failed', async () => {
    const models = ['projects', 'lfs_objects', 'uploads'];
    const before = new Map<string, ApiRecord[]>();
    for (const model of models) before.set(model, await allRecords(manual.api, model));
    const due = (r: ApiRecord) => stateOf(r) === 'pending' || (stateOf(r) === 'failed' && Date.parse(info(r).checksum_retry_at!) <= Date.now());
    const expected = models.map((m) => before.get(m)!.filter(due).length).reduce((a, b) => a + b, 0);

    const cycleAt = Date.now();
    const started = await manual.verify();
    expect(started).toBe(expected);
    expect(started).toBeGreaterThanOrEqual(40);

    // Every project was pending: all are started now, their other fields as they were.
    const during = await allRecords(manual.api, 'projects');
    expect(during).toEqual(before.get('projects')!.map((r) => ({ ...r, checksum_information: { ...info(r), checksum_state: 'started' } })));

    const finished = await settled(manual, 'projects');
    const previous = byId(before.get('projects')!);
    // `before` shows them pending; what they were before the bulk PUT decides the outcome, which the failure field still tells.
    for (const record of finished) {
      const was = previous.get(record.record_identifier)!;
      const wasFailed = info(was).checksum_failure !== null;
      expectReverified(wasFailed ? { ...was, checksum_information: { ...info(was), checksum_state: 'failed' } } : was, record, cycleAt);
    }
    expect(finished.filter((r) => stateOf(r) === 'failed').length).toBe(before.get('projects')!.filter((r) => info(r).checksum_failure !== null).length);

    for (const model of ['lfs_objects', 'uploads']) {
      const old = byId(before.get(model)!);
      for (const record of await settled(manual, model)) {
        const was = old.get(record.record_identifier)!;
        if (due(was)) expectReverified(was, record, cycleAt);
        else expect(record).toEqual(was);
      }
    }
    // Nothing is due any more: failures wait for their retry time.
    expect(await manual.verify()).toBe(0);
  });

  it('touches only the identifiers[] named in the plural bulk PUT, from the query, a JSON body or a form body', async () => {
    const before = await settled(manual, 'lfs_objects');
    const succeeded = before.filter((r) => stateOf(r) === 'succeeded');
    const [a, b, c, d] = succeeded.map((r) => r.record_identifier);
    const viaQuery = await call(`${manual.api}/lfs_objects/checksum?identifiers[]=${a}&identifiers[]=999999`, { method: 'PUT' });
    expect([viaQuery.status, viaQuery.body]).toEqual([200, ENQUEUED]);
    const viaBody = await call(`${manual.api}/lfs_objects/checksum`, { method: 'PUT', json: { identifiers: [b, c] } });
    expect([viaBody.status, viaBody.body]).toEqual([200, ENQUEUED]);
    const viaForm = await fetch(`${manual.api}/lfs_objects/checksum`, {
      method: 'PUT',
      headers: { 'private-token': ADMIN_TOKEN, 'content-type': 'application/x-www-form-urlencoded' },
      body: `identifiers%5B%5D=${d}`,
    });
    expect([viaForm.status, await viaForm.json()]).toEqual([200, ENQUEUED]);
    const named = new Set([a, b, c, d]);
    const after = await until(async () => {
      const records = await allRecords(manual.api, 'lfs_objects');
      return records.filter((r) => stateOf(r) === 'pending').length === 4 ? records : undefined;
    }, { timeoutMs: 2_000, what: 'four pending lfs objects' });
    expect(after).toEqual(before.map((r) => (named.has(r.record_identifier) ? asPending(r) : r)));
  });

  it('touches only the checksum_state named in the plural bulk PUT, alone or with identifiers[]', async () => {
    const before = await allRecords(manual.api, 'lfs_objects');
    const failed = before.filter((r) => stateOf(r) === 'failed');
    const succeeded = before.filter((r) => stateOf(r) === 'succeeded');
    expect(failed.length).toBeGreaterThan(1);

    // identifiers[] of one failed and one succeeded record, restricted to succeeded: only the succeeded one moves.
    const pick = `identifiers[]=${failed[0].record_identifier}&identifiers[]=${succeeded[5].record_identifier}`;
    const put = await call(`${manual.api}/lfs_objects/checksum?${pick}&checksum_state=succeeded`, { method: 'PUT' });
    expect([put.status, put.body]).toEqual([200, ENQUEUED]);
    const step1 = await until(async () => {
      const records = await allRecords(manual.api, 'lfs_objects');
      return records.filter((r) => stateOf(r) === 'pending').length === before.filter((r) => stateOf(r) === 'pending').length + 1 ? records : undefined;
    }, { timeoutMs: 2_000, what: 'one more pending lfs object' });
    expect(step1).toEqual(before.map((r) => (r.record_identifier === succeeded[5].record_identifier ? asPending(r) : r)));

    const all = await call(`${manual.api}/lfs_objects/checksum`, { method: 'PUT', json: { checksum_state: 'failed' } });
    expect([all.status, all.body]).toEqual([200, ENQUEUED]);
    const failedIds = new Set(failed.map((r) => r.record_identifier));
    const step2 = await until(async () => {
      const records = await allRecords(manual.api, 'lfs_objects');
      return records.some((r) => stateOf(r) === 'failed') ? undefined : records;
    }, { timeoutMs: 2_000, what: 'no failed lfs object' });
    // Failed records keep retry count, retry time, failure and last_checksum while pending again.
    expect(step2).toEqual(step1.map((r) => (failedIds.has(r.record_identifier) ? asPending(r) : r)));
    for (const record of step2.filter((r) => failedIds.has(r.record_identifier))) {
      expect(info(record).checksum_retry_count).toBeGreaterThanOrEqual(1);
      expect(info(record).checksum_failure).toMatch(FAILURE);
    }
  });

  it('refuses checksum_state=pending (and unknown states) in the bulk PUT, touching nothing', async () => {
    const before = await allRecords(manual.api, 'projects');
    for (const state of ['pending', 'bogus']) {
      const put = await call(`${manual.api}/projects/checksum?checksum_state=${state}`, { method: 'PUT' });
      expect([state, put.status, put.body]).toEqual([state, 400, { error: 'checksum_state does not have a valid value' }]);
    }
    const viaBody = await call(`${manual.api}/projects/checksum`, { method: 'PUT', json: { checksum_state: 'pending' } });
    expect(viaBody.status).toBe(400);
    // Give a wrongly enqueued job the chance to run before comparing.
    await call(`${manual.api}/projects?per_page=1`);
    expect(await allRecords(manual.api, 'projects')).toEqual(before);
  });

  it('re-verifies the whole model in the singular dialect, whatever the filters', async () => {
    await manual.setSettings({ dialect: 'singular' });
    try {
      const before = await settled(manual, 'upload');
      expect(before.some((r) => stateOf(r) === 'succeeded')).toBe(true);
      const put = await call(`${manual.api}/upload/checksum?identifiers[]=${before[0].record_identifier}&checksum_state=failed`, { method: 'PUT' });
      expect([put.status, put.body]).toEqual([200, ENQUEUED]);
      const after = await until(async () => {
        const records = await allRecords(manual.api, 'upload');
        return records.every((r) => stateOf(r) === 'pending') ? records : undefined;
      }, { timeoutMs: 2_000, what: 'every upload to be pending' });
      expect(after).toEqual(before.map(asPending));
    } finally {
      await manual.setSettings({ dialect: 'plural' });
    }
  });
});

describe('the background job on its own timer', () => {
  it('re-verifies a whole model within a few periods after a bulk PUT, passing through started', async () => {
    // The first cycles after start take the seeded pending and due failed records; wait until they are done.
    const before = await until(async () => {
      const records = await allRecords(timed.api, 'projects');
      return records.every((r) => stateOf(r) === 'succeeded' || stateOf(r) === 'failed') ? records : undefined;
    }, { timeoutMs: 5_000, intervalMs: 50, what: 'the first cycles to finish' });
    expect(before.some((r) => stateOf(r) === 'failed')).toBe(true);

    const putAt = Date.now();
    const put = await call(`${timed.api}/projects/checksum`, { method: 'PUT' });
    expect([put.status, put.body]).toEqual([200, ENQUEUED]);

    const seen = new Set<string>();
    const after = await until(async () => {
      const records = await allRecords(timed.api, 'projects');
      for (const record of records) seen.add(stateOf(record));
      const done = records.every((r) => (stateOf(r) === 'succeeded' || stateOf(r) === 'failed') && Date.parse(info(r).last_checksum!) >= putAt);
      return done ? records : undefined;
    }, { timeoutMs: 4_000, intervalMs: 20, what: 'every project to be re-verified' });
    expect(seen.has('started')).toBe(true);
    // A cycle within 300 ms, 500 ms of work: well under 4 s (about 13 periods) even on a loaded machine.
    expect(Date.now() - putAt).toBeLessThan(4_000);

    const previous = byId(before);
    for (const record of after) expectReverified(previous.get(record.record_identifier)!, record, putAt);
  });
});
