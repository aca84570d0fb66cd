// A bad setting stops the process at start: exit status 2 and exactly one line on stderr naming the variable.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runMain } from './helpers.js';

const CASES: [Record<string, string>, string][] = [
  [{ GITLAB_URL: 'not-a-url' }, 'config error: GITLAB_URL must be an http(s) URL such as https://gitlab.example.com'],
  [{ GITLAB_URL: 'https://gitlab.example.com', UPSTREAM_CONNECT_TIMEOUT_MS: '-5' }, 'config error: UPSTREAM_CONNECT_TIMEOUT_MS must be an integer between 1 and 9007199254740991, got "-5"'],
  [{ PORT: 'abc' }, 'config error: PORT must be an integer between 0 and 65535, got "abc"'],
  [{ GRAPHQL_INTROSPECTION: 'maybe' }, 'config error: GRAPHQL_INTROSPECTION must be true or false, got "maybe"'],
  [{ LOG_LEVEL: 'loud' }, 'config error: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
  [{ GITLAB_API_DIALECT: 'x' }, 'config error: GITLAB_API_DIALECT must be one of auto, singular, plural, got "x"'],
  [{ LIVE_FAST_POLL_MS: '60000' }, 'config error: LIVE_FAST_POLL_MS (60000) must not exceed LIVE_SLOW_POLL_MS (30000)'],
  [{ CORS_ORIGINS: 'https://dash.example.com,dash.example.com' }, 'config error: CORS_ORIGINS entries must be origins such as https://dashboard.example.com (scheme, host, optional port or :* for any) or *, got "dash.example.com"'],
  [{ CORS_ORIGINS: 'https://dash.example.com/app' }, 'config error: CORS_ORIGINS entries must be origins such as https://dashboard.example.com (scheme, host, optional port or :* for any) or *, got "https://dash.example.com/app"'],
  // `:*` stands for the port: a port and `:*` both is no origin.
  [{ CORS_ORIGINS: 'http://localhost:8080:*' }, 'config error: CORS_ORIGINS entries must be origins such as https://dashboard.example.com (scheme, host, optional port or :* for any) or *, got "http://localhost:8080:*"'],
  [{ MAX_DEPTH: '20', MAX_NESTING: '16' }, 'config error: MAX_NESTING (16) must be greater than MAX_DEPTH (20): every selection level nests one more brace'],
  [{ METRICS_MAX_OPERATION_NAMES: '-1' }, 'config error: METRICS_MAX_OPERATION_NAMES must be an integer between 0 and 10000, got "-1"'],
  // An address of no interface here: binding to it fails at once, without any traffic.
  [{ HOST: '192.0.2.1' }, 'config error: HOST "192.0.2.1" is not an address of this machine'],
];

describe('configuration errors', () => {
  // One process per case, all at once: each one pays Node's and tsx's start-up, which is most of the time.
  it('each bad value exits 2 with one stderr line naming the variable, and nothing on stdout', async () => {
    const runs = await Promise.all(CASES.map(([env]) => runMain({ PORT: '0', HOST: '127.0.0.1', ...env })));
    for (const [i, run] of runs.entries()) {
      const [env, line] = CASES[i];
      const variable = Object.keys(env).at(-1)!;
      expect({ variable, code: run.code, signal: run.signal, stderr: run.stderr, stdout: run.stdout }).toEqual({
        variable,
        code: 2,
        signal: null,
        stderr: `${line}\n`,
        stdout: '',
      });
      expect(line).toContain(variable);
    }
  }, 150_000);

  it('a port in use exits 2 with one line naming PORT, and leaves nothing running', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const run = await runMain({ PORT: String(port), HOST: '127.0.0.1' });
      expect({ code: run.code, stderr: run.stderr, stdout: run.stdout }).toEqual({
        code: 2,
        stderr: `config error: PORT ${port} is already in use on 127.0.0.1\n`,
        stdout: '',
      });
    } finally {
      holder.close();
    }
  }, 150_000);
});
