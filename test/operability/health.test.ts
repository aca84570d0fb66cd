// /healthz answers while the process runs; /readyz answers 200 only while GitLab answers (and, given a readiness
// token, once the dialect is known), 503 otherwise. Its body says whether the dialect is known, and why when not.
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startGateway, type Gateway } from '../../src/server.js';
import { startStandIn, type StandIn } from '../../src/stand-in/index.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ADMIN, closedPort } from './helpers.js';

interface Probe {
  status: number;
  contentType: string | null;
  body: unknown;
}

async function get(base: string, path: string): Promise<Probe> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.json() };
}

const READY = (dialect: string) => ({ status: 200, contentType: 'application/json', body: { status: 'ready', upstreamReachable: true, dialect } });
const LEARNT_LATER = 'The API dialect is learnt from the first client request; set GITLAB_READINESS_TOKEN for /readyz to learn it before.';
const NO_ANSWER = 'GitLab does not answer.';
const TOKEN_FAILED = 'GitLab answers, but the probe with GITLAB_READINESS_TOKEN failed (a refused token, or the Data management API is off), so the dialect is not known.';
const HEALTHY = { status: 200, contentType: 'application/json', body: { status: 'ok' } };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(options: Parameters<typeof startTestGateway>[0]): Promise<TestGateway> {
  const gw = await startTestGateway(options);
  cleanups.push(() => gw.close());
  return gw;
}

describe('/healthz and /readyz', () => {
  it('no readiness token, dialect auto: ready once GitLab answers at all (a 401 to an anonymous probe), the dialect unknown until a client request', async () => {
    const gw = await started({ env: { GITLAB_API_DIALECT: 'auto' } });
    await gw.resetUpstream();
    expect(await get(gw.base, '/healthz')).toEqual(HEALTHY);
    // Ready: a replica that waited for the dialect would get no client request to learn it from.
    expect(await get(gw.base, '/readyz')).toEqual({ status: 200, contentType: 'application/json', body: { status: 'ready', upstreamReachable: true, dialect: 'unknown', detail: LEARNT_LATER } });
    // The probe went upstream without any credentials.
    expect((await gw.upstream()).map((e) => ({ path: e.path, query: e.query, authorization: e.authorization, privateToken: e.privateToken }))).toEqual([
      { path: '/api/v4/admin/data_management/projects', query: 'per_page=1', authorization: null, privateToken: null },
    ]);
    // The first client request learns it; /readyz says so from then on.
    expect((await gw.post('{ modelRecords(model: PROJECT, first: 1) { nodes { model } } }')).body).toEqual({ data: { modelRecords: { nodes: [{ model: 'PROJECT' }] } } });
    expect(await get(gw.base, '/readyz')).toEqual(READY('plural'));
  });

  it('probes that arrive while one is out share its call to GitLab', async () => {
    // GitLab answers in 300 ms: the 20 probes all arrive while the first one waits.
    const gw = await started({ standIn: { faults: { latencyMs: 300 } }, env: { GITLAB_API_DIALECT: 'auto', GITLAB_READINESS_TOKEN: ADMIN } });
    expect(await get(gw.base, '/readyz')).toEqual(READY('plural'));
    await gw.resetUpstream();
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(gw.base, '/readyz')));
    expect(answers).toEqual(answers.map(() => READY('plural')));
    expect(await gw.upstream()).toHaveLength(1);
    // The next probe asks again.
    expect(await get(gw.base, '/readyz')).toEqual(READY('plural'));
    expect(await gw.upstream()).toHaveLength(2);
  });

  it('with GITLAB_READINESS_TOKEN: the probe learns the dialect and reports it (singular and plural)', async () => {
    for (const dialect of ['singular', 'plural'] as const) {
      const gw = await started({ standIn: { dialect }, env: { GITLAB_API_DIALECT: 'auto', GITLAB_READINESS_TOKEN: ADMIN } });
      expect(await get(gw.base, '/readyz')).toEqual(READY(dialect));
      expect(gw.gateway.client.dialect.dialect).toBe(dialect);
    }
  });

  it('a readiness token GitLab refuses: reachable but not ready', async () => {
    const gw = await started({ env: { GITLAB_API_DIALECT: 'auto', GITLAB_READINESS_TOKEN: 'glpat-revoked-readiness' } });
    expect(await get(gw.base, '/readyz')).toEqual({ status: 503, contentType: 'application/json', body: { status: 'not ready', upstreamReachable: true, dialect: 'unknown', detail: TOKEN_FAILED } });
    expect(await get(gw.base, '/healthz')).toEqual(HEALTHY);
  });

  it('the stand-in stops: 503 (healthz still 200); it comes back on the same port: 200 again', async () => {
    const gw = await startTestGateway({ env: { GITLAB_API_DIALECT: 'auto', GITLAB_READINESS_TOKEN: ADMIN, UPSTREAM_RETRIES: '1' } });
    let replacement: StandIn | undefined;
    cleanups.push(async () => {
      await gw.gateway.close();
      await replacement?.stop();
    });
    expect(await get(gw.base, '/readyz')).toEqual(READY('plural'));

    await gw.standIn.stop();
    expect(await get(gw.base, '/readyz')).toEqual({ status: 503, contentType: 'application/json', body: { status: 'not ready', upstreamReachable: false, dialect: 'plural', detail: NO_ANSWER } });
    expect(await get(gw.base, '/healthz')).toEqual(HEALTHY);

    replacement = await startStandIn({ records: 5, port: gw.standIn.port });
    expect(await get(gw.base, '/readyz')).toEqual(READY('plural'));
  });

  it('GITLAB_URL at a closed port: 503, upstream unreachable, dialect unknown', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    let logged = '';
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', GITLAB_URL: url, UPSTREAM_RETRIES: '0' });
    const gateway: Gateway = await startGateway(config, { gitlabUrl: url, logger: createLogger('info', { write: (c: string) => void (logged += c) }) });
    cleanups.push(() => gateway.close());
    const base = new URL(gateway.url).origin;
    expect(await get(base, '/readyz')).toEqual({ status: 503, contentType: 'application/json', body: { status: 'not ready', upstreamReachable: false, dialect: 'unknown', detail: NO_ANSWER } });
    expect(await get(base, '/healthz')).toEqual(HEALTHY);
    expect(logged).toBe('');
  });

  it('GITLAB_URL at a closed port with a readiness token: 503 as well', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', GITLAB_URL: url, GITLAB_READINESS_TOKEN: ADMIN, UPSTREAM_RETRIES: '0' });
    const gateway = await startGateway(config, { gitlabUrl: url, logger: createLogger('silent') });
    cleanups.push(() => gateway.close());
    const base = new URL(gateway.url).origin;
    expect(await get(base, '/readyz')).toEqual({ status: 503, contentType: 'application/json', body: { status: 'not ready', upstreamReachable: false, dialect: 'unknown', detail: NO_ANSWER } });
  });
});
