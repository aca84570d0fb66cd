// A bad setting stops the process at start: exit status 2 and exactly one line on stderr naming the variable.
import { describe, expect, it } from 'vitest';
import { runMain } from './helpers.js';

const CASES: [Record<string, string>, string][] = [
  [{ GITLAB_URL: 'not-a-url' }, 'config error: GITLAB_URL must be an http(s) URL such as https://gitlab.example.com'],
  [{ GITLAB_URL: 'https://gitlab.example.com', UPSTREAM_CONNECT_TIMEOUT_MS: '-5' }, 'config error: UPSTREAM_CONNECT_TIMEOUT_MS must be an integer between 1 and 9007199254740991, got "-5"'],
  [{ PORT: 'abc' }, 'config error: PORT must be an integer between 0 and 65535, got "abc"'],
  [{ GRAPHQL_INTROSPECTION: 'maybe' }, 'config error: GRAPHQL_INTROSPECTION must be true or false, got "maybe"'],
  [{ LOG_LEVEL: 'loud' }, 'config error: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
  [{ GITLAB_API_DIALECT: 'x' }, 'config error: GITLAB_API_DIALECT must be one of auto, singular, plural, got "x"'],
];

describe('configuration errors', () => {
  // One process per case, all at once: each one pays Node's and tsx's start-up, which is most of the time.
  it('each bad value exits 2 with one stderr line naming the variable, and nothing on stdout', async () => {
    const runs = await Promise.all(CASES.map(([env]) => runMain({ ...env, PORT: env.PORT ?? '0', HOST: '127.0.0.1' })));
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
});
