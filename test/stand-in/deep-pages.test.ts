// Offset pages anywhere in a model, with and without checksum_state, against the whole table walked record by record;
// the per-state counts of the control API; and GitLab.com's maximum offset (405).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandalone, type StandaloneStandIn } from '../support/standalone.js';
import { call, ids, links, stateOf, until, type Answer, type ApiRecord } from './http.js';

const STATES = ['pending', 'started', 'succeeded', 'failed', 'disabled'] as const;
type StateName = (typeof STATES)[number];

interface ModelCounts {
  total: number;
  states: Record<StateName, number>;
  verifiable: boolean;
}

/** Plural name -> singular name of the models these tests page through. */
const MODELS = { lfs_objects: 'lfs_object', projects: 'project' } as const;
type Model = keyof typeof MODELS;

const offsetMessage = (limit: number, modelClass: string) =>
  `Offset pagination has a maximum allowed offset of ${limit} for requests that return objects of type ${modelClass}. Remaining records can be retrieved using keyset pagination.`;

/** Every record of a plural model, in table order, by keyset pages (a walk that never skips ahead). */
async function table(si: StandaloneStandIn, model: Model): Promise<ApiRecord[]> {
  const records: ApiRecord[] = [];
  for (let url: string | undefined = `${si.api}/${model}?pagination=keyset&per_page=100`; url; ) {
    const answer: Answer<ApiRecord[]> = await call<ApiRecord[]>(url);
    expect(answer.status).toBe(200);
    records.push(...answer.body);
    url = links(answer.headers.get('link')).next;
  }
  return records;
}

async function counts(si: StandaloneStandIn): Promise<Record<string, ModelCounts>> {
  const answer = await call<Record<string, ModelCounts>>(`${si.url}/-/stand-in/counts`);
  expect(answer.status).toBe(200);
  return answer.body;
}

async function settings(si: StandaloneStandIn, body: unknown): Promise<Answer<Record<string, unknown>>> {
  return call(`${si.url}/-/stand-in/settings`, { method: 'PUT', json: body });
}

function tally(records: ApiRecord[]): Record<StateName, number> {
  const states = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<StateName, number>;
  for (const record of records) states[stateOf(record)]++;
  return states;
}

/** Pages worth asking for when a selection spans `lastPage` pages: both ends, the middle, one past, far past. */
function pagesToAsk(lastPage: number): number[] {
  return [...new Set([1, 2, Math.ceil(lastPage / 2), lastPage - 1, lastPage, lastPage + 1, lastPage + 40, 1_000_000])].filter((p) => p >= 1);
}

/** Asks for `page` and expects exactly the slice of `selected` and the headers GitLab gives for it. */
async function expectPage(si: StandaloneStandIn, path: string, query: string, selected: ApiRecord[], page: number, perPage: number, plural: boolean): Promise<void> {
  const answer = await call<ApiRecord[]>(`${si.api}/${path}?${query}${query ? '&' : ''}per_page=${perPage}&page=${page}`);
  const where = `${path}?${query} per_page=${perPage} page=${page}`;
  expect([where, answer.status]).toEqual([where, 200]);
  const n = selected.length;
  const hasNext = page * perPage < n;
  const counted = plural && n <= 10_000;
  const totalPages = Math.max(1, Math.ceil(n / perPage));
  expect([where, answer.body]).toEqual([where, selected.slice((page - 1) * perPage, page * perPage)]);
  const header = (name: string) => answer.headers.get(name);
  expect([where, header('x-page'), header('x-per-page'), header('x-next-page'), header('x-prev-page'), header('x-total'), header('x-total-pages')]).toEqual([
    where,
    String(page),
    String(perPage),
    hasNext ? String(page + 1) : '',
    page > 1 ? String(page - 1) : '',
    counted ? String(n) : null,
    counted ? String(totalPages) : null,
  ]);
  const rel = Object.fromEntries(Object.entries(links(header('link'))).map(([name, url]) => [name, new URL(url).searchParams.get('page')]));
  const expected: Record<string, string> = { first: '1' };
  if (page > 1) expected.prev = String(page - 1);
  if (hasNext) expected.next = String(page + 1);
  if (counted) expected.last = String(totalPages);
  expect([where, rel]).toEqual([where, expected]);
}

/** Every filter, two page sizes, pages across the whole selection, all compared with the walked table. */
async function expectEveryPage(si: StandaloneStandIn, model: Model, records: ApiRecord[], plural: boolean): Promise<void> {
  const path = plural ? model : MODELS[model];
  for (const state of [null, ...STATES]) {
    const selected = state === null ? records : records.filter((r) => stateOf(r) === state);
    for (const perPage of [100, 7]) {
      const lastPage = Math.max(1, Math.ceil(selected.length / perPage));
      for (const page of pagesToAsk(lastPage)) await expectPage(si, path, state ? `checksum_state=${state}` : '', selected, page, perPage, plural);
    }
  }
}

describe('offset pages of a few thousand records', () => {
  let si: StandaloneStandIn;
  const tables = {} as Record<Model, ApiRecord[]>;

  /** Walks both models again, and checks the control API's counts against what the walk saw. */
  async function rewalk(): Promise<void> {
    for (const model of Object.keys(MODELS) as Model[]) tables[model] = await table(si, model);
    const now = await counts(si);
    for (const model of Object.keys(MODELS) as Model[]) {
      expect([model, now[model]]).toEqual([model, { total: tables[model].length, states: tally(tables[model]), verifiable: true }]);
    }
  }

  beforeAll(async () => {
    si = await startStandalone([
      '--records', '30',
      // Over 10,000 records in all, but only its succeeded ones are more than GitLab counts.
      '--model-records', 'projects=12000,lfs_objects=2500',
      '--composite', 'lfs_objects',
      '--unverifiable', 'uploads',
      '--verify-interval-ms', '0',
      // Records stay started until the process ends, so the counts hold still.
      '--verify-duration-ms', '3600000',
    ]);
    await rewalk();
  });

  afterAll(async () => {
    await si?.stop();
  });

  it('walks ascending tables whose sizes and states the counts route gives', async () => {
    expect(tables.projects).toHaveLength(12_000);
    expect(tables.lfs_objects).toHaveLength(2500);
    for (const records of Object.values(tables)) expect(new Set(ids(records)).size).toBe(records.length);
    const projectIds = ids(tables.projects) as number[];
    expect(projectIds.every((id, i) => i === 0 || id > projectIds[i - 1])).toBe(true);
    const projects = tally(tables.projects);
    expect(projects.succeeded).toBeGreaterThan(10_000);
    expect(projects.pending).toBeGreaterThan(0);
    expect(projects.pending).toBeLessThan(10_000);
  });

  it('answers every model in the counts route; a model without verification counts no states', async () => {
    const all = await counts(si);
    expect(Object.keys(all)).toHaveLength(20);
    expect(all.uploads).toEqual({ total: 30, states: { pending: 0, started: 0, succeeded: 0, failed: 0, disabled: 0 }, verifiable: false });
    expect(all.supply_chain_attestations.total).toBe(30);
    const sum = Object.values(all.supply_chain_attestations.states).reduce((a, b) => a + b, 0);
    expect([all.supply_chain_attestations.verifiable, sum]).toEqual([true, 30]);
  });

  it('gives every page of every filter in the plural dialect, with X-Total only up to 10,000', async () => {
    for (const model of Object.keys(MODELS) as Model[]) await expectEveryPage(si, model, tables[model], true);
  });

  it('gives the same pages in the singular dialect, never with X-Total', async () => {
    await settings(si, { dialect: 'singular' });
    try {
      for (const model of Object.keys(MODELS) as Model[]) await expectEveryPage(si, model, tables[model], false);
    } finally {
      await settings(si, { dialect: 'plural' });
    }
  });

  it('keeps identifiers[] pages as they were: only the named records, filtered, paged', async () => {
    const named = tables.projects.filter((_, i) => i % 997 === 5);
    const query = named.map((r) => `identifiers[]=${r.record_identifier}`).join('&');
    for (const state of [null, 'succeeded'] as const) {
      const selected = state === null ? named : named.filter((r) => stateOf(r) === state);
      const filter = state === null ? query : `${query}&checksum_state=${state}`;
      for (const page of pagesToAsk(Math.ceil(selected.length / 3))) await expectPage(si, 'projects', filter, selected, page, 3, true);
    }
  });

  it('keeps counts and pages right after the background job starts a batch', async () => {
    const before = await counts(si);
    const started = await call<{ started: number }>(`${si.url}/-/stand-in/verify`, { method: 'POST' });
    expect(started.body.started).toBeGreaterThan(0);
    await rewalk();
    expect(tally(tables.projects).started).toBe(10);
    expect(tally(tables.projects).pending + tally(tables.projects).failed).toBe(before.projects.states.pending + before.projects.states.failed - 10);
    for (const model of Object.keys(MODELS) as Model[]) await expectEveryPage(si, model, tables[model], true);
  });

  it('keeps counts and pages right after a single re-checksum and a filtered bulk re-checksum', async () => {
    const failedOne = tables.projects.find((r) => stateOf(r) === 'failed')!;
    const single = await call(`${si.api}/projects/${failedOne.record_identifier}/checksum`, { method: 'PUT' });
    expect(single.status).toBe(400);
    const before = await counts(si);
    const bulk = await call(`${si.api}/projects/checksum?checksum_state=succeeded`, { method: 'PUT' });
    expect(bulk.status).toBe(200);
    // The bulk job runs after the answer, as GitLab's Sidekiq job does.
    await until(async () => ((await counts(si)).projects.states.succeeded === 0 ? true : undefined), { what: 'the bulk job' });
    await rewalk();
    const after = tally(tables.projects);
    expect(after).toEqual({ ...before.projects.states, succeeded: 0, pending: before.projects.states.pending + before.projects.states.succeeded });
    expect(after.pending).toBeGreaterThan(10_000);
    await expectEveryPage(si, 'projects', tables.projects, true);
  });
});

describe('maximum offset (GitLab.com)', () => {
  let si: StandaloneStandIn;

  beforeAll(async () => {
    si = await startStandalone(['--records', '50', '--model-records', 'lfs_objects=3000', '--verify-interval-ms', '0', '--max-offset', '1000']);
  });

  afterAll(async () => {
    await si?.stop();
  });

  it('answers 405 once page x per_page passes the limit set by --max-offset', async () => {
    expect(await si.settings()).toEqual({ dialect: 'plural', featureFlag: true, primary: true, maxOffset: 1000 });
    const within = await call<ApiRecord[]>(`${si.api}/lfs_objects?per_page=100&page=10`);
    expect([within.status, within.body.length]).toEqual([200, 100]);
    for (const query of ['per_page=100&page=11', 'per_page=7&page=143', 'per_page=100&page=11&checksum_state=succeeded', 'per_page=1000&page=11']) {
      const beyond = await call(`${si.api}/lfs_objects?${query}`);
      expect([query, beyond.status, beyond.body]).toEqual([query, 405, { error: offsetMessage(1000, 'LfsObject') }]);
    }
    // 142 x 7 = 994: still within.
    expect((await call(`${si.api}/lfs_objects?per_page=7&page=142`)).status).toBe(200);
    // Keyset pagination is the way past it.
    expect((await call(`${si.api}/lfs_objects?pagination=keyset&per_page=100`)).status).toBe(200);
  });

  it('is switched through the settings, and applies in the singular dialect too', async () => {
    expect((await settings(si, { maxOffset: 50_000 })).body.maxOffset).toBe(50_000);
    expect((await call(`${si.api}/projects?per_page=100&page=500`)).status).toBe(200);
    const beyond = await call(`${si.api}/projects?per_page=100&page=501`);
    expect([beyond.status, beyond.body]).toEqual([405, { error: offsetMessage(50_000, 'Project') }]);
    await settings(si, { dialect: 'singular' });
    try {
      const singular = await call(`${si.api}/project?per_page=100&page=501`);
      expect([singular.status, singular.body]).toEqual([405, { error: offsetMessage(50_000, 'Project') }]);
    } finally {
      await settings(si, { dialect: 'plural' });
    }
    expect((await settings(si, { maxOffset: null })).body.maxOffset).toBe(null);
    const unlimited = await call<ApiRecord[]>(`${si.api}/projects?per_page=100&page=100000`);
    expect([unlimited.status, unlimited.body, unlimited.headers.get('x-next-page')]).toEqual([200, [], '']);
  });

  it('refuses a limit that is not a positive integer or null', async () => {
    for (const value of [0, -5, 1.5, '100', true]) {
      const answer = await settings(si, { maxOffset: value });
      expect([value, answer.status, answer.body]).toEqual([value, 400, { error: 'maxOffset must be a positive integer or null' }]);
    }
    expect((await si.settings()).dialect).toBe('plural');
  });
});

describe('a million records', () => {
  let si: StandaloneStandIn;

  beforeAll(async () => {
    si = await startStandalone(['--records', '1', '--model-records', 'lfs_objects=1000000', '--verify-interval-ms', '0']);
  });

  afterAll(async () => {
    await si?.stop();
  });

  it('answers page 10,000 of 100 as the last page, and page 10,001 empty', async () => {
    const all = await counts(si);
    expect(all.lfs_objects.total).toBe(1_000_000);
    for (const [dialect, path] of [['plural', 'lfs_objects'], ['singular', 'lfs_object']] as const) {
      await settings(si, { dialect });
      const last = await call<ApiRecord[]>(`${si.api}/${path}?per_page=100&page=10000`);
      const header = (answer: Answer, name: string) => answer.headers.get(name);
      expect([dialect, last.status, last.body.length, header(last, 'x-next-page'), header(last, 'x-prev-page'), header(last, 'x-total')]).toEqual([dialect, 200, 100, '', '9999', null]);
      const before = await call<ApiRecord[]>(`${si.api}/${path}?per_page=100&page=9999`);
      expect([before.body.length, header(before, 'x-next-page')]).toEqual([100, '10000']);
      expect(last.body[0].record_identifier as number).toBeGreaterThan(before.body[99].record_identifier as number);
      const past = await call<ApiRecord[]>(`${si.api}/${path}?per_page=100&page=10001`);
      expect([past.status, past.body, header(past, 'x-next-page')]).toEqual([200, [], '']);
    }
    await settings(si, { dialect: 'plural' });
  });

  it('finds the last page of each state from the counts, with only records in that state', async () => {
    const { states } = (await counts(si)).lfs_objects;
    expect(states.failed).toBeGreaterThan(10_000);
    for (const state of ['succeeded', 'failed', 'pending'] as const) {
      const lastPage = Math.ceil(states[state] / 100);
      const last = await call<ApiRecord[]>(`${si.api}/lfs_objects?checksum_state=${state}&per_page=100&page=${lastPage}`);
      expect([state, last.status, last.body.length, last.headers.get('x-next-page'), last.headers.get('x-total')]).toEqual([
        state,
        200,
        states[state] - (lastPage - 1) * 100,
        '',
        null,
      ]);
      expect(last.body.every((r) => stateOf(r) === state)).toBe(true);
      const past = await call<ApiRecord[]>(`${si.api}/lfs_objects?checksum_state=${state}&per_page=100&page=${lastPage + 1}`);
      expect([past.body, past.headers.get('x-next-page')]).toEqual([[], '']);
    }
  });
});
