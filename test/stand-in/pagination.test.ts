// Offset and keyset pagination, headers and Link relations, in both dialects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandalone, type StandaloneStandIn } from '../support/standalone.js';
import { call, ids, links, type Answer, type ApiRecord } from './http.js';

/** The 17 names of the public doc (singular dialect), with GitLab's class names. */
const SINGULAR: Record<string, string> = {
  ci_job_artifact: 'Ci::JobArtifact',
  ci_pipeline_artifact: 'Ci::PipelineArtifact',
  ci_secure_file: 'Ci::SecureFile',
  container_repository: 'ContainerRepository',
  dependency_proxy_blob: 'DependencyProxy::Blob',
  dependency_proxy_manifest: 'DependencyProxy::Manifest',
  design_management_repository: 'DesignManagement::Repository',
  group_wiki_repository: 'GroupWikiRepository',
  lfs_object: 'LfsObject',
  merge_request_diff: 'MergeRequestDiff',
  packages_package_file: 'Packages::PackageFile',
  pages_deployment: 'PagesDeployment',
  project: 'Project',
  projects_wiki_repository: 'Projects::WikiRepository',
  snippet_repository: 'SnippetRepository',
  terraform_state_version: 'Terraform::StateVersion',
  upload: 'Upload',
};

const PLURAL: Record<string, string> = {
  ci_job_artifacts: 'Ci::JobArtifact',
  ci_pipeline_artifacts: 'Ci::PipelineArtifact',
  ci_secure_files: 'Ci::SecureFile',
  container_repositories: 'ContainerRepository',
  dependency_proxy_blobs: 'DependencyProxy::Blob',
  dependency_proxy_manifests: 'DependencyProxy::Manifest',
  design_management_repositories: 'DesignManagement::Repository',
  group_wiki_repositories: 'GroupWikiRepository',
  lfs_objects: 'LfsObject',
  merge_request_diffs: 'MergeRequestDiff',
  packages_package_files: 'Packages::PackageFile',
  pages_deployments: 'PagesDeployment',
  projects: 'Project',
  projects_wiki_repositories: 'Projects::WikiRepository',
  snippet_repositories: 'SnippetRepository',
  terraform_state_versions: 'Terraform::StateVersion',
  uploads: 'Upload',
  packages_nuget_symbols: 'Packages::Nuget::Symbol',
  packages_debian_project_component_files: 'Packages::Debian::ProjectComponentFile',
  supply_chain_attestations: 'SupplyChain::Attestation',
};

let si: StandaloneStandIn;
/** Every project id, from one page of 100 after another (set by the first walk). */
let projectIds: Array<number | string>;

beforeAll(async () => {
  si = await startStandalone(['--records', '30', '--model-records', 'projects=250,lfs_objects=10001,uploads=10000']);
});

afterAll(async () => {
  await si?.stop();
});

function header(answer: Answer, name: string): string | null {
  return answer.headers.get(name);
}

/** The page and per_page a Link URL asks for, and its path. */
function target(url: string) {
  const parsed = new URL(url);
  return { path: parsed.pathname, page: parsed.searchParams.get('page'), perPage: parsed.searchParams.get('per_page') };
}

function expectAscendingUnique(list: Array<number | string>): void {
  expect(new Set(list).size).toBe(list.length);
  for (let i = 1; i < list.length; i++) expect(list[i] as number).toBeGreaterThan(list[i - 1] as number);
}

/** Walks pages by X-Next-Page, returning every record and the number of pages. */
async function walkByNextPage(api: string, model: string, query: string) {
  const records: ApiRecord[] = [];
  let pages = 0;
  for (let page: string | null = '1'; page; pages++) {
    const answer: Answer<ApiRecord[]> = await call<ApiRecord[]>(`${api}/${model}?${query}&page=${page}`);
    expect(answer.status).toBe(200);
    expect(header(answer, 'x-page')).toBe(page);
    records.push(...answer.body);
    page = header(answer, 'x-next-page');
    if (pages > 1000) throw new Error('runaway walk');
  }
  return { records, pages };
}

/** Walks pages by Link rel="next", starting from `first`, returning every record and the number of pages. */
async function walkByLink(first: string) {
  const records: ApiRecord[] = [];
  let pages = 0;
  for (let url: string | undefined = first; url; pages++) {
    const answer: Answer<ApiRecord[]> = await call<ApiRecord[]>(url);
    expect(answer.status).toBe(200);
    records.push(...answer.body);
    url = links(header(answer, 'link')).next;
    if (pages > 1000) throw new Error('runaway walk');
  }
  return { records, pages };
}

describe('offset pagination (plural dialect)', () => {
  it('defaults to page 1 of 20, with every header', async () => {
    const answer = await call<ApiRecord[]>(`${si.api}/projects`);
    expect(answer.status).toBe(200);
    expect(answer.body).toHaveLength(20);
    expectAscendingUnique(ids(answer.body));
    expect(answer.body[0].record_identifier).toBe(1);
    expect({
      page: header(answer, 'x-page'),
      perPage: header(answer, 'x-per-page'),
      next: header(answer, 'x-next-page'),
      prev: header(answer, 'x-prev-page'),
      total: header(answer, 'x-total'),
      totalPages: header(answer, 'x-total-pages'),
    }).toEqual({ page: '1', perPage: '20', next: '2', prev: '', total: '250', totalPages: '13' });
    const rel = links(header(answer, 'link'));
    expect(Object.keys(rel).sort()).toEqual(['first', 'last', 'next']);
    expect(target(rel.next)).toEqual({ path: '/api/v4/admin/data_management/projects', page: '2', perPage: '20' });
    expect(target(rel.first)).toEqual({ path: '/api/v4/admin/data_management/projects', page: '1', perPage: '20' });
    expect(target(rel.last)).toEqual({ path: '/api/v4/admin/data_management/projects', page: '13', perPage: '20' });
  });

  it('clamps per_page to 100', async () => {
    const answer = await call<ApiRecord[]>(`${si.api}/projects?per_page=500`);
    expect(answer.body).toHaveLength(100);
    expect([header(answer, 'x-per-page'), header(answer, 'x-total-pages')]).toEqual(['100', '3']);
    expect(target(links(header(answer, 'link')).next).perPage).toBe('100');
  });

  it('answers a middle page with prev and next, and the last page without next', async () => {
    const middle = await call<ApiRecord[]>(`${si.api}/projects?per_page=100&page=2`);
    expect(middle.body).toHaveLength(100);
    expect([header(middle, 'x-page'), header(middle, 'x-prev-page'), header(middle, 'x-next-page')]).toEqual(['2', '1', '3']);
    const rel = links(header(middle, 'link'));
    expect(Object.keys(rel).sort()).toEqual(['first', 'last', 'next', 'prev']);
    expect([target(rel.prev).page, target(rel.next).page, target(rel.first).page, target(rel.last).page]).toEqual(['1', '3', '1', '3']);

    const last = await call<ApiRecord[]>(`${si.api}/projects?per_page=100&page=3`);
    expect(last.body).toHaveLength(50);
    expect([header(last, 'x-page'), header(last, 'x-prev-page'), header(last, 'x-next-page'), header(last, 'x-total')]).toEqual(['3', '2', '', '250']);
    expect(Object.keys(links(header(last, 'link'))).sort()).toEqual(['first', 'last', 'prev']);

    const beyond = await call<ApiRecord[]>(`${si.api}/projects?per_page=100&page=4`);
    expect([beyond.status, beyond.body, header(beyond, 'x-next-page'), header(beyond, 'x-prev-page')]).toEqual([200, [], '', '3']);
  });

  it('walks all 250 records by X-Next-Page and by Link rel="next", each once, ascending', async () => {
    const byHeader = await walkByNextPage(si.api, 'projects', 'per_page=30');
    expect(byHeader.pages).toBe(9);
    expect(byHeader.records).toHaveLength(250);
    projectIds = ids(byHeader.records);
    expectAscendingUnique(projectIds);
    // Ids have gaps, as real tables do, but start at 1.
    expect(projectIds[0]).toBe(1);
    expect(projectIds[249] as number).toBeGreaterThan(250);

    const byLink = await walkByLink(`${si.api}/projects?per_page=30`);
    expect(byLink.pages).toBe(9);
    expect(ids(byLink.records)).toEqual(projectIds);
    expect(byLink.records).toEqual(byHeader.records);

    const hundreds = await walkByNextPage(si.api, 'projects', 'per_page=100');
    expect(ids(hundreds.records)).toEqual(projectIds);
  });

  it('keeps filters in the Link URLs, and X-Total counts the filtered records', async () => {
    const first = await call<ApiRecord[]>(`${si.api}/projects?checksum_state=succeeded&per_page=25`);
    const total = Number(header(first, 'x-total'));
    expect(total).toBeGreaterThan(100);
    expect(total).toBeLessThan(250);
    expect(header(first, 'x-total-pages')).toBe(String(Math.ceil(total / 25)));
    const walked = await walkByLink(`${si.api}/projects?checksum_state=succeeded&per_page=25`);
    expect(walked.records).toHaveLength(total);
    expect(walked.pages).toBe(Math.ceil(total / 25));
    expect(walked.records.every((r) => r.checksum_information!.checksum_state === 'succeeded')).toBe(true);
    expectAscendingUnique(ids(walked.records));
  });

  it('gives X-Total and X-Total-Pages up to 10,000 records and omits them above', async () => {
    const exactly = await call<ApiRecord[]>(`${si.api}/uploads`);
    expect([header(exactly, 'x-total'), header(exactly, 'x-total-pages'), header(exactly, 'x-next-page')]).toEqual(['10000', '500', '2']);
    expect(target(links(header(exactly, 'link')).last).page).toBe('500');

    const over = await call<ApiRecord[]>(`${si.api}/lfs_objects`);
    expect(over.body).toHaveLength(20);
    expect([header(over, 'x-total'), header(over, 'x-total-pages'), header(over, 'x-next-page'), header(over, 'x-page')]).toEqual([null, null, '2', '1']);
    expect(Object.keys(links(header(over, 'link'))).sort()).toEqual(['first', 'next']);

    const lastPage = await call<ApiRecord[]>(`${si.api}/lfs_objects?per_page=100&page=101`);
    expect(lastPage.body).toHaveLength(1);
    expect([header(lastPage, 'x-next-page'), header(lastPage, 'x-prev-page'), header(lastPage, 'x-total')]).toEqual(['', '100', null]);
    expect(Object.keys(links(header(lastPage, 'link'))).sort()).toEqual(['first', 'prev']);

    // A filter that selects fewer than the limit is counted again.
    const failed = await call<ApiRecord[]>(`${si.api}/lfs_objects?checksum_state=failed&per_page=100`);
    const total = Number(header(failed, 'x-total'));
    expect(total).toBeGreaterThan(100);
    expect(total).toBeLessThan(10_000);
    const walked = await walkByNextPage(si.api, 'lfs_objects', 'checksum_state=failed&per_page=100');
    expect(walked.records).toHaveLength(total);
  });
});

describe('keyset pagination (plural dialect)', () => {
  it('answers the first page with only a Link rel="next"', async () => {
    const answer = await call<ApiRecord[]>(`${si.api}/projects?pagination=keyset&per_page=40`);
    expect(answer.status).toBe(200);
    expect(ids(answer.body)).toEqual(projectIds.slice(0, 40));
    expect([header(answer, 'x-total'), header(answer, 'x-total-pages'), header(answer, 'x-next-page'), header(answer, 'x-page')]).toEqual([null, null, null, null]);
    const rel = links(header(answer, 'link'));
    expect(Object.keys(rel)).toEqual(['next']);
    const next = new URL(rel.next);
    expect(next.pathname).toBe('/api/v4/admin/data_management/projects');
    expect(next.searchParams.get('pagination')).toBe('keyset');
    expect(next.searchParams.get('cursor')).toBeTruthy();
  });

  it('walks every record ascending by Link rel="next" until it is absent', async () => {
    for (const [perPage, pages] of [[40, 7], [50, 5], [100, 3]]) {
      for (const sort of ['', '&sort=asc']) {
        const walked = await walkByLink(`${si.api}/projects?pagination=keyset&per_page=${perPage}${sort}`);
        expect([perPage, sort, walked.pages]).toEqual([perPage, sort, pages]);
        expect(ids(walked.records)).toEqual(projectIds);
      }
    }
  });

  it('walks every record descending with sort=desc', async () => {
    for (const [perPage, pages] of [[40, 7], [50, 5]]) {
      const walked = await walkByLink(`${si.api}/projects?pagination=keyset&sort=desc&per_page=${perPage}`);
      expect([perPage, walked.pages]).toEqual([perPage, pages]);
      expect(ids(walked.records)).toEqual([...projectIds].reverse());
    }
  });

  it('clamps per_page and keeps filters across keyset pages', async () => {
    const clamped = await call<ApiRecord[]>(`${si.api}/projects?pagination=keyset&per_page=1000`);
    expect([clamped.body.length, header(clamped, 'x-per-page')]).toEqual([100, '100']);

    const offset = await walkByNextPage(si.api, 'projects', 'checksum_state=succeeded&per_page=100');
    for (const sort of ['asc', 'desc']) {
      const keyset = await walkByLink(`${si.api}/projects?pagination=keyset&sort=${sort}&checksum_state=succeeded&per_page=30`);
      const expected = ids(offset.records);
      expect(ids(keyset.records)).toEqual(sort === 'asc' ? expected : [...expected].reverse());
    }

    const picked = [projectIds[5], projectIds[100], projectIds[200], projectIds[249]];
    const query = picked.map((id) => `identifiers[]=${id}`).join('&');
    const filtered = await walkByLink(`${si.api}/projects?pagination=keyset&per_page=2&${query}`);
    expect([filtered.pages, ids(filtered.records)]).toEqual([2, picked]);
  });
});

describe('model names', () => {
  it('knows the 20 plural names, including the three newer models', async () => {
    expect(Object.keys(PLURAL)).toHaveLength(20);
    for (const [model, modelClass] of Object.entries(PLURAL)) {
      const answer = await call<ApiRecord[]>(`${si.api}/${model}?per_page=1`);
      expect([model, answer.status, answer.body[0]?.model_class]).toEqual([model, 200, modelClass]);
    }
    for (const model of Object.keys(SINGULAR)) {
      expect([model, (await call(`${si.api}/${model}?per_page=1`)).status]).toEqual([model, 400]);
    }
  });
});

describe('singular dialect (switched at run time)', () => {
  beforeAll(async () => {
    expect(await si.setSettings({ dialect: 'singular' })).toEqual({ dialect: 'singular', featureFlag: true, primary: true, maxOffset: null });
  });
  afterAll(async () => {
    await si.setSettings({ dialect: 'plural' });
  });

  it('knows exactly the 17 singular names', async () => {
    expect(Object.keys(SINGULAR)).toHaveLength(17);
    for (const [model, modelClass] of Object.entries(SINGULAR)) {
      const answer = await call<ApiRecord[]>(`${si.api}/${model}?per_page=1`);
      expect([model, answer.status, answer.body[0]?.model_class]).toEqual([model, 200, modelClass]);
    }
    for (const model of Object.keys(PLURAL)) {
      expect([model, (await call(`${si.api}/${model}?per_page=1`)).status]).toEqual([model, 400]);
    }
  });

  it('sends no X-Total, no X-Total-Pages and no rel="last"', async () => {
    const answer = await call<ApiRecord[]>(`${si.api}/project`);
    expect(answer.body).toHaveLength(20);
    expect({
      page: header(answer, 'x-page'),
      perPage: header(answer, 'x-per-page'),
      next: header(answer, 'x-next-page'),
      prev: header(answer, 'x-prev-page'),
      total: header(answer, 'x-total'),
      totalPages: header(answer, 'x-total-pages'),
    }).toEqual({ page: '1', perPage: '20', next: '2', prev: '', total: null, totalPages: null });
    const rel = links(header(answer, 'link'));
    expect(Object.keys(rel).sort()).toEqual(['first', 'next']);
    expect(target(rel.next)).toEqual({ path: '/api/v4/admin/data_management/project', page: '2', perPage: '20' });

    const clamped = await call<ApiRecord[]>(`${si.api}/project?per_page=500&page=3`);
    expect(clamped.body).toHaveLength(50);
    expect([header(clamped, 'x-per-page'), header(clamped, 'x-next-page'), header(clamped, 'x-prev-page'), header(clamped, 'x-total')]).toEqual(['100', '', '2', null]);
    expect(Object.keys(links(header(clamped, 'link'))).sort()).toEqual(['first', 'prev']);

    const zero = await call(`${si.api}/project?per_page=0`);
    expect([zero.status, zero.body]).toEqual([400, { error: 'per_page does not have a valid value' }]);
  });

  it('walks all 250 records by X-Next-Page and by Link rel="next"', async () => {
    const byHeader = await walkByNextPage(si.api, 'project', 'per_page=30');
    expect(byHeader.pages).toBe(9);
    expect(ids(byHeader.records)).toEqual(projectIds);
    const byLink = await walkByLink(`${si.api}/project?per_page=30`);
    expect(byLink.pages).toBe(9);
    expect(ids(byLink.records)).toEqual(projectIds);
  });

  it('ignores pagination=keyset and sort: offset pages, ascending', async () => {
    const offset = await call<ApiRecord[]>(`${si.api}/project?per_page=10`);
    for (const query of ['pagination=keyset', 'pagination=keyset&sort=desc', 'sort=desc', 'sort=bogus', 'pagination=bogus']) {
      const answer = await call<ApiRecord[]>(`${si.api}/project?per_page=10&${query}`);
      expect([query, answer.status]).toEqual([query, 200]);
      expect(answer.body).toEqual(offset.body);
      expect([header(answer, 'x-page'), header(answer, 'x-next-page')]).toEqual(['1', '2']);
    }
    const walked = await walkByLink(`${si.api}/project?pagination=keyset&per_page=100`);
    expect(walked.pages).toBe(3);
    expect(ids(walked.records)).toEqual(projectIds);
  });
});
