// A trusted-documents file the gateway cannot use stops it at start, as any bad setting does: exit status 2, one line
// on stderr naming TRUSTED_DOCUMENTS and what is wrong, nothing on stdout. In demo mode too (the stand-in it started goes
// with it).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closedPort, runMain } from '../operability/helpers.js';
import { sha256 } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'trusted-documents-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file of these contents in the test's folder. */
function file(name: string, contents: string): string {
  const path = join(dir, name);
  writeFileSync(path, contents);
  return path;
}

const entry = (document: string, hash = sha256(document)) => JSON.stringify({ [`sha256:${hash}`]: document });

const missing = join(dir, 'missing.json');
const CASES: [string, Record<string, string>, RegExp][] = [
  ['a missing file', { TRUSTED_DOCUMENTS: missing }, new RegExp(`^TRUSTED_DOCUMENTS: cannot read ${missing}: no such file$`)],
  ['a directory', { TRUSTED_DOCUMENTS: dir }, /^TRUSTED_DOCUMENTS: cannot read .*: a directory, not a file$/],
  ['a file that is not JSON', { TRUSTED_DOCUMENTS: file('bad.json', '{"sha256:ab": "query {') }, /^TRUSTED_DOCUMENTS: .*bad\.json is not JSON \(.+\)$/],
  ['a JSON array', { TRUSTED_DOCUMENTS: file('array.json', '["query { models { name } }"]') }, /^TRUSTED_DOCUMENTS: .*array\.json must be a JSON object of SHA-256 hash to document/],
  ['no documents', { TRUSTED_DOCUMENTS: file('empty.json', '{}') }, /^TRUSTED_DOCUMENTS: .*empty\.json holds no documents$/],
  ['a key that is not a hash', { TRUSTED_DOCUMENTS: file('key.json', JSON.stringify({ Models: 'query Models { models { name } }' })) }, /^TRUSTED_DOCUMENTS: .*key\.json: "Models" is not a SHA-256 hash/],
  [
    'a hash that is not its document’s',
    { TRUSTED_DOCUMENTS: file('mismatch.json', entry('query Models { models { name } }', sha256('query Models { models { kind } }'))) },
    /^TRUSTED_DOCUMENTS: .*mismatch\.json: "sha256:[0-9a-f]{64}" is not the SHA-256 of its document$/,
  ],
  ['a value that is not a document', { TRUSTED_DOCUMENTS: file('value.json', JSON.stringify({ [`sha256:${sha256('x')}`]: 42 })) }, /names no document/],
  ['a document that does not parse', { TRUSTED_DOCUMENTS: file('parse.json', entry('query Models { models { name }')) }, /^TRUSTED_DOCUMENTS: .*parse\.json: "sha256:[0-9a-f]{64}" names a document that does not parse: Syntax Error: Expected Name, found <EOF>\.$/],
  [
    'a document the schema does not validate',
    { TRUSTED_DOCUMENTS: file('invalid.json', entry('query Models { models { nope } }')) },
    /^TRUSTED_DOCUMENTS: .*invalid\.json: "sha256:[0-9a-f]{64}" names a document that is not valid against the schema: Cannot query field "nope" on type "Model"\./,
  ],
  ['TRUSTED_DOCUMENTS_ONLY without a file', { TRUSTED_DOCUMENTS_ONLY: 'true' }, /^TRUSTED_DOCUMENTS_ONLY=true needs TRUSTED_DOCUMENTS/],
];

describe('a trusted-documents file the gateway cannot use', () => {
  // One process per case, all at once: each pays Node's and tsx's start-up, which is most of the time.
  it('exits 2 with one stderr line naming the variable and the fault, in front of a GitLab and in demo mode', async () => {
    const gitlab = `http://127.0.0.1:${await closedPort()}`;
    const runs = await Promise.all([
      ...CASES.map(([, env]) => runMain({ PORT: '0', HOST: '127.0.0.1', GITLAB_URL: gitlab, ...env })),
      // Demo mode: the embedded stand-in has started by then; it must not keep the process alive.
      runMain({ PORT: '0', HOST: '127.0.0.1', TRUSTED_DOCUMENTS: missing }),
    ]);
    for (const [i, run] of runs.entries()) {
      const [name, , line] = CASES[i] ?? ['demo mode', {}, new RegExp(`^TRUSTED_DOCUMENTS: cannot read ${missing}: no such file$`)];
      expect({ name, code: run.code, signal: run.signal, stdout: run.stdout, lines: run.stderr.split('\n').length }).toEqual({ name, code: 2, signal: null, stdout: '', lines: 2 });
      expect(run.stderr.startsWith('config error: ')).toBe(true);
      expect(run.stderr.slice('config error: '.length).trimEnd(), name).toMatch(line);
    }
  }, 150_000);
});
