// The command line: --help, refusal of bad flags, the seed, the token and site flags, and a clean stop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, runCli, startStandalone, type CliRun, type StandaloneStandIn } from '../support/standalone.js';
import { call, type ApiRecord } from './http.js';

const FLAGS = [
  'host',
  'port',
  'records',
  'model-records',
  'dialect',
  'seed',
  'verify-interval-ms',
  'verify-batch-size',
  'verify-duration-ms',
  'fail-rate',
  'unverifiable',
  'composite',
  'feature-flag',
  'secondary',
  'max-offset',
  'admin-token',
  'user-token',
  'read-only-token',
  'latency-ms',
  'latency-jitter-ms',
  'error-rate',
  'rate-limit-rate',
  'retry-after-s',
  'reset-rate',
  'malformed-rate',
  'max-request-line-bytes',
  'help',
];

/** Runs `tasks` with at most `limit` at a time (the machine has two cores). */
async function limited<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await tasks[index]();
      }
    }),
  );
  return results;
}

describe('command line', () => {
  it('--help exits 0 and lists every flag', async () => {
    const run = await runCli(['--help']);
    expect([run.code, run.stderr]).toEqual([0, '']);
    const listed = [...run.stdout.matchAll(/^ {2}--([a-z-]+)\s/gm)].map((m) => m[1]);
    expect(listed).toEqual(FLAGS);
    expect(run.stdout).toMatch(/^Usage: /);
    expect(run.stdout).not.toContain('listening');
  });

  it('exits 2 with a clear message on stderr for unknown flags and bad values', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--bogus'], /Unknown option '--bogus'/],
      [['--dialect', 'bogus'], /--dialect must be singular or plural, got "bogus"/],
      [['--records', 'abc'], /--records must be an integer between 0 and \d+, got "abc"/],
      [['--fail-rate', '2'], /--fail-rate must be a number between 0 and 1, got "2"/],
      [['--port', '70000'], /--port must be an integer between 0 and 65535, got "70000"/],
      [['--latency-ms=-5'], /--latency-ms must be an integer between 0 and Infinity, got "-5"/],
      [['--model-records', 'bogus=5'], /--model-records: unknown model "bogus"/],
      [['--unverifiable', 'projects,nope'], /--unverifiable: unknown model "nope"/],
      [['--feature-flag', 'maybe'], /--feature-flag must be on or off, got "maybe"/],
      [['--max-offset', '0'], /--max-offset must be an integer between 1 and Infinity, got "0"/],
      [['--max-request-line-bytes', '10'], /--max-request-line-bytes must be an integer between 256 and 1048576, got "10"/],
      [['extra'], /Unexpected argument 'extra'/],
    ];
    const runs = await limited<CliRun>(cases.map(([flags]) => () => runCli(['--port', '0', ...flags], 10_000)), 3);
    cases.forEach(([flags, message], i) => {
      const run = runs[i];
      expect([flags, run.code, run.stdout]).toEqual([flags, 2, '']);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toMatch(/^stand-in: /);
      expect(run.stderr).toContain('Run with --help to list the flags.');
    });
  });
});

describe('seeded data and start-up flags', () => {
  let first: StandaloneStandIn;
  let twin: StandaloneStandIn;
  const models = ['projects', 'lfs_objects', 'container_repositories', 'uploads', 'supply_chain_attestations'];
  const snapshot = async (si: StandaloneStandIn, token = ADMIN_TOKEN) => {
    const pages: Record<string, ApiRecord[]> = {};
    for (const model of models) {
      const answer = await call<ApiRecord[]>(`${si.api}/${model}?per_page=100`, { token });
      expect(answer.status).toBe(200);
      pages[model] = answer.body;
    }
    return pages;
  };

  beforeAll(async () => {
    [first, twin] = await Promise.all([
      startStandalone(['--seed', '7', '--records', '40', '--verify-interval-ms', '0']),
      startStandalone(['--seed', '7', '--records', '40', '--verify-interval-ms', '0']),
    ]);
  });

  afterAll(async () => {
    await Promise.all([first?.stop(), twin?.stop()]);
  });

  it('prints the listening line with the tokens', () => {
    const { stdout } = first.output();
    expect(stdout).toMatch(/^GitLab stand-in \(plural dialect\) listening on http:\/\/127\.0\.0\.1:\d+ after \d+ ms\n/);
    expect(stdout).toContain('admin token:     glpat-standin-admin');
    expect(stdout).toContain('non-admin token: glpat-standin-user');
    expect(stdout).toContain('read_api token:  glpat-standin-read-api');
    expect(first.url).not.toBe(twin.url);
  });

  it('gives the same data for the same seed, in two processes', async () => {
    const a = await snapshot(first);
    const b = await snapshot(twin);
    for (const model of models) expect(a[model]).toHaveLength(40);
    expect(b).toEqual(a);
    const one = await call(`${first.api}/lfs_objects/${a.lfs_objects[17].record_identifier}`);
    const other = await call(`${twin.api}/lfs_objects/${a.lfs_objects[17].record_identifier}`);
    expect(other.text).toBe(one.text);
  });

  it('gives different data for another seed; token and --secondary flags apply', async () => {
    await twin.stop();
    const other = await startStandalone([
      '--seed', '8',
      '--records', '40',
      '--verify-interval-ms', '0',
      '--admin-token', 'custom-admin',
      '--user-token', 'custom-user',
      '--read-only-token', 'custom-reader',
      '--secondary',
    ]);
    try {
      expect(other.output().stdout).toContain('admin token:     custom-admin');
      const a = await snapshot(first);
      const c = await snapshot(other, 'custom-admin');
      for (const model of models) {
        expect(c[model]).toHaveLength(40);
        expect(c[model]).not.toEqual(a[model]);
        // Empty repositories checksum to 40 zeros whatever the seed.
        const checksums = (pages: ApiRecord[]) => pages.map((r) => r.checksum_information?.checksum).filter((sum) => sum && !/^0+$/.test(sum));
        const shared = checksums(c[model]).filter((sum) => checksums(a[model]).includes(sum));
        // A container repository's checksum is that of its tag list, which the seed does not change.
        if (model !== 'container_repositories') expect([model, shared]).toEqual([model, []]);
        expect(c[model].map((r) => r.created_at)).not.toEqual(a[model].map((r) => r.created_at));
      }

      expect((await call(`${other.api}/projects/1`, { token: ADMIN_TOKEN })).status).toBe(401);
      expect((await call(`${other.api}/projects/1`, { token: 'custom-user' })).status).toBe(403);
      expect((await call(`${other.api}/projects/1`, { token: 'custom-reader', bearer: true })).status).toBe(200);
      expect((await call(`${other.api}/projects/1/checksum`, { method: 'PUT', token: 'custom-reader' })).status).toBe(403);
      const put = await call(`${other.api}/projects/checksum`, { method: 'PUT', token: 'custom-admin' });
      expect([put.status, put.body]).toEqual([400, { message: '400 Bad request - Endpoint only available on primary site.' }]);
      expect(await other.settings()).toEqual({ dialect: 'plural', featureFlag: true, primary: false, maxOffset: null });
    } finally {
      await other.stop();
    }
  });

  it('stops cleanly on SIGTERM and frees its port', async () => {
    const status = await first.stop();
    expect(status).toEqual({ code: 0, signal: null });
    await expect(fetch(`${first.api}/projects`)).rejects.toThrow();
  });
});
