// The `models` query: the models this GitLab knows, in the dialect it speaks, with names a client can use at once.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelsDocument, type ModelsQuery } from '../generated/operations.js';
import { startHarness, type Harness } from '../support/gateway.js';
import { API, DIALECTS, gets, oneError, QUIET, rest, startFor, type RestRecord } from './helpers.js';

type Listed = NonNullable<ModelsQuery['models']>[number];

const project = (restName: string): Listed => ({ name: 'PROJECT', modelClass: 'Project', kind: 'REPOSITORY', restName, singularName: 'project', pluralName: 'projects' });
const NUGET_SYMBOL: Listed = { name: 'PACKAGES_NUGET_SYMBOL', modelClass: 'Packages::Nuget::Symbol', kind: 'BLOB', restName: 'packages_nuget_symbols', singularName: null, pluralName: 'packages_nuget_symbols' };

/** The upstream calls, as method, model segment and page size. */
const calls = (h: Harness) => h.upstream().then((log) => log.map((e) => `${e.method} ${e.path.slice(API.length)} per_page=${e.params.per_page?.[0]}`));

describe.each(DIALECTS)('models, %s dialect learnt', (dialect) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startFor(dialect);
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  it('lists every model of the dialect, each name one this GitLab answers to with records of that class; no call to GitLab', async () => {
    const res = await h.request(ModelsDocument);
    expect(res.errors).toBeUndefined();
    const models = res.data!.models!;
    // The dialect is known (learnt by the warm-up): nothing to ask GitLab.
    expect(await h.upstream()).toEqual([]);

    expect(models.find((m) => m.name === 'PROJECT')).toEqual(project(dialect === 'plural' ? 'projects' : 'project'));
    if (dialect === 'plural') expect(models).toContainEqual(NUGET_SYMBOL);
    else expect(models.map((m) => m.name)).not.toContain('PACKAGES_NUGET_SYMBOL');
    expect(models).toHaveLength(dialect === 'plural' ? 20 : 17);
    for (const model of models) {
      expect(model.restName).toBe(dialect === 'plural' ? model.pluralName : model.singularName);
      // GitLab itself: the REST name lists records, of the model class given.
      const answer = await rest(h, `${model.restName}?per_page=1`);
      expect(answer.status, model.restName).toBe(200);
      const [record] = answer.json as RestRecord[];
      expect(record.model_class, model.restName).toBe(model.modelClass);
    }
  });

  it('needs a token: UNAUTHENTICATED, with path, and nothing sent', async () => {
    const res = await h.request(ModelsDocument, undefined, { token: null });
    expect(oneError(res, 'UNAUTHENTICATED').path).toEqual(['models']);
    expect(res.data).toEqual({ models: null });
    expect(await h.upstream()).toEqual([]);
  });
});

describe('models while the dialect is not known yet (GITLAB_API_DIALECT=auto)', () => {
  let h: Harness;

  beforeAll(async () => {
    // No warm-up: `models` is the gateway's first word with this GitLab.
    h = await startHarness({ dialect: 'singular', verifyIntervalMs: 0 }, QUIET);
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetUpstream());

  it('a token GitLab refuses is UNAUTHENTICATED after one call, and the dialect stays unknown', async () => {
    const res = await h.request(ModelsDocument, undefined, { token: 'glpat-not-a-token-of-this-gitlab' });
    oneError(res, 'UNAUTHENTICATED');
    expect(await calls(h)).toEqual(['GET projects per_page=1']);
  });

  it('learns the dialect with one list call of one record (two here: the plural name first), then answers from it', async () => {
    const first = await h.request(ModelsDocument);
    expect(first.errors).toBeUndefined();
    expect(first.data!.models!.map((m) => m.restName)).toContain('project');
    expect(first.data!.models).toHaveLength(17);
    expect(await calls(h)).toEqual(['GET projects per_page=1', 'GET project per_page=1']);

    await h.resetUpstream();
    expect((await h.request(ModelsDocument)).data!.models).toEqual(first.data!.models);
    expect(gets(await h.upstream())).toEqual([]);
  });
});

describe('models with a pinned dialect (GITLAB_API_DIALECT=singular)', () => {
  it('answers at once, without asking GitLab', async () => {
    const h = await startHarness({ dialect: 'singular', verifyIntervalMs: 0 }, { ...QUIET, GITLAB_API_DIALECT: 'singular' });
    try {
      const res = await h.request(ModelsDocument);
      expect(res.errors).toBeUndefined();
      expect(res.data!.models!.find((m) => m.name === 'PROJECT')).toEqual(project('project'));
      expect(await h.upstream()).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
