// Start-up as an operator meets it: configuration errors name the variable and exit 2; with no GITLAB_URL, demo mode.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { GraphQLResponse } from '../support/gateway.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEMO_TOKEN = 'glpat-standin-admin';

/** A clean environment: nothing of this machine's gateway settings leaks into the child. */
function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs what `npm start` runs (tsx src/main.ts) to completion. */
function runMain(extra: Record<string, string>): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(`${ROOT}node_modules/.bin/tsx`, ['src/main.ts'], { cwd: ROOT, env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`src/main.ts did not exit: ${stdout} ${stderr}`));
    }, 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('loadConfig', () => {
  const configError = (values: Record<string, string>): ConfigError => {
    try {
      loadConfig(values);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return error as ConfigError;
    }
    throw new Error(`loadConfig accepted ${JSON.stringify(values)}`);
  };

  it('rejects a GITLAB_URL that is not an http(s) URL, naming the variable', () => {
    for (const value of ['not a url', 'gitlab.example.com', 'ftp://gitlab.example.com', 'javascript:alert(1)']) {
      expect(configError({ GITLAB_URL: value }).message).toMatch(/^GITLAB_URL /);
    }
  });

  it('rejects credentials in GITLAB_URL without repeating them', () => {
    const error = configError({ GITLAB_URL: 'https://root:s3cret-pw@gitlab.example.com' });
    expect(error.message).toMatch(/^GITLAB_URL /);
    expect(error.message).not.toContain('s3cret-pw');
  });

  it('rejects a negative or non-numeric timeout, naming the variable', () => {
    for (const [name, value] of [
      ['UPSTREAM_HEADERS_TIMEOUT_MS', '-1'],
      ['UPSTREAM_CONNECT_TIMEOUT_MS', '-250'],
      ['UPSTREAM_BODY_TIMEOUT_MS', 'soon'],
      ['UPSTREAM_HEADERS_TIMEOUT_MS', '0'],
      ['UPSTREAM_RETRIES', '-1'],
      ['UPSTREAM_MAX_RESPONSE_BYTES', '1000'],
      ['UPSTREAM_MAX_RESPONSE_BYTES', '16MiB'],
      ['PORT', 'http'],
    ]) {
      expect(configError({ [name]: value }).message).toMatch(new RegExp(`^${name} must be an integer`));
    }
  });

  it('rejects an unknown GITLAB_API_DIALECT', () => {
    expect(configError({ GITLAB_API_DIALECT: 'both' }).message).toMatch(/^GITLAB_API_DIALECT must be one of auto, singular, plural/);
  });

  it('accepts GitLab\'s base URL with or without /api/v4, and the documented defaults', () => {
    expect(loadConfig({ GITLAB_URL: 'https://gitlab.example.com/api/v4/' }).gitlabUrl).toBe('https://gitlab.example.com');
    expect(loadConfig({ GITLAB_URL: 'https://example.com/gitlab/' }).gitlabUrl).toBe('https://example.com/gitlab');
    const config = loadConfig({});
    expect(config.gitlabUrl).toBeNull();
    expect(config.dialect).toBe('auto');
    expect(config.upstream.retries).toBe(2);
    expect(config.upstream.maxResponseBytes).toBe(16 * 1024 * 1024);
    expect(config.port).toBe(4000);
  });
});

describe('npm start (tsx src/main.ts) with a bad configuration', () => {
  it('exits 2 with one line naming the variable, for GITLAB_URL and for a negative timeout', async () => {
    const [badUrl, badTimeout] = await Promise.all([
      runMain({ GITLAB_URL: 'not-a-url', PORT: '0', HOST: '127.0.0.1' }),
      runMain({ UPSTREAM_HEADERS_TIMEOUT_MS: '-5', PORT: '0', HOST: '127.0.0.1' }),
    ]);
    for (const [exit, name] of [
      [badUrl, 'GITLAB_URL'],
      [badTimeout, 'UPSTREAM_HEADERS_TIMEOUT_MS'],
    ] as const) {
      expect(exit.code, exit.stderr).toBe(2);
      const lines = exit.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(name);
      expect(lines[0]).not.toMatch(/\bat\b.*:\d+:\d+/); // no stack trace
      expect(exit.stdout).toBe('');
    }
    // Starting tsx is slow on a busy 2-core machine.
  }, 90_000);
});

describe('demo mode (no GITLAB_URL)', () => {
  let child: ChildProcess;
  let stdout = '';
  let url: string;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  beforeAll(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env: env({ PORT: '0', HOST: '127.0.0.1' }), stdio: ['ignore', 'pipe', 'pipe'] });
    exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo mode did not start: ${stdout} ${stderr}`)), 80_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk;
        const ready = /Gateway ready: (http:\/\/[^\s"]+)/.exec(stdout);
        if (ready) {
          clearTimeout(timer);
          resolve(ready[1]);
        }
      });
      void exited.then(() => reject(new Error(`demo mode exited: ${stdout} ${stderr}`)));
    });
  }, 90_000);
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });

  const post = async (query: string, token: string | null) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query }) });
    return { status: res.status, ...((await res.json()) as object) } as GraphQLResponse<{ modelRecords: { totalCount: number | null; nodes: { id: string }[] } }>;
  };

  it('prints the URL of the gateway and the demo admin token', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/);
    expect(stdout).toContain('Demo mode');
    expect(stdout).toContain(DEMO_TOKEN);
  });

  it('GET /graphql from a browser is GraphiQL with the demo token already in its headers', async () => {
    const res = await fetch(url, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).toMatch(/graphiql/i);
    expect(html).toContain(`Bearer ${DEMO_TOKEN}`);
  });

  it('a query with the demo token works; without a token it is UNAUTHENTICATED', async () => {
    const res = await post('query { modelRecords(model: PROJECT, first: 3) { totalCount nodes { id } } }', DEMO_TOKEN);
    expect(res.errors).toBeUndefined();
    expect(res.data?.modelRecords.nodes).toHaveLength(3);
    expect(res.data?.modelRecords.nodes[0].id).toMatch(/^gid:\/\/gitlab\/Project\/\d+$/);
    // The embedded stand-in seeds 200 records per model.
    expect(res.data?.modelRecords.totalCount).toBe(200);
    const anonymous = await post('query { modelRecords(model: PROJECT, first: 3) { nodes { id } } }', null);
    expect(anonymous.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });

  it('stops cleanly on SIGTERM (exit 0)', async () => {
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
  });
});
