// The Dockerfile without a Docker engine: its shape, read statically, and its steps, replayed by
// scripts/check-image-steps.sh on a clean clone of the committed HEAD (so uncommitted changes are not what passes;
// CHECK_IMAGE_WORKTREE=1 in the environment makes the script use the working tree instead).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dockerfilePath = join(root, 'Dockerfile');
/** Node's flags in the image, in `npm run start:prod` and `npm start` alike (the bench reads them from the CMD). */
const IMAGE_NODE_FLAGS = ['--max-semi-space-size=32'];

interface Instruction {
  keyword: string;
  args: string;
}

/** One instruction a line: comments and blank lines dropped, continuation lines joined. */
function parseDockerfile(text: string): Instruction[] {
  const joined: string[] = [];
  let acc = '';
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*#/.test(raw) || (/^\s*$/.test(raw) && acc === '')) continue;
    if (/\\\s*$/.test(raw)) {
      acc += raw.replace(/\\\s*$/, ' ');
      continue;
    }
    joined.push((acc + raw).trim());
    acc = '';
  }
  if (acc.trim()) joined.push(acc.trim());
  return joined.filter(Boolean).map((line) => {
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    return { keyword: keyword.toUpperCase(), args };
  });
}

/** The instructions of each stage, in order. */
function stages(instructions: Instruction[]): { from: string; name?: string; body: Instruction[] }[] {
  const result: { from: string; name?: string; body: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((w) => !w.startsWith('--platform='));
      result.push({ from: words[0], name: words[1]?.toUpperCase() === 'AS' ? words[2] : undefined, body: [] });
    } else {
      result.at(-1)?.body.push(instruction);
    }
  }
  return result;
}

/**
 * A Node.js line with long-term support: even majors up to 26 (odd ones never got LTS) from 22 on (20 reached its end
 * of life in April 2026); from 27 on, one major a year and each becomes LTS.
 */
function isLtsMajor(major: number): boolean {
  return major >= 22 && (major % 2 === 0 || major >= 27);
}

/** Runs the script in its own process group, so a timeout ends npm and the gateway it started too. */
function runScript(timeoutMs: number): Promise<{ code: number | null; output: string; seconds: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('bash', [join(root, 'scripts/check-image-steps.sh')], { cwd: root, env: process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const kill = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    };
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      output += `\n[test] no result after ${timeoutMs / 1000} s: SIGTERM to the script's process group\n`;
      kill('SIGTERM'); // the script's trap stops the gateway and removes its temporary directory
      killTimer = setTimeout(() => kill('SIGKILL'), 15_000);
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolve({ code, output, seconds: Math.round((Date.now() - started) / 1000) });
    });
  });
}

describe('Dockerfile', () => {
  const instructions = parseDockerfile(readFileSync(dockerfilePath, 'utf8'));
  const all = stages(instructions);
  const final = all.at(-1)!;
  const finalArgs = (keyword: string) => final.body.filter((i) => i.keyword === keyword).map((i) => i.args);

  it('is multi-stage, every stage on a Node.js LTS image', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const stage of all) {
      const match = /^node:(\d+)(?:[.-]|$)/.exec(stage.from);
      expect(match, `FROM ${stage.from}`).not.toBeNull();
      expect(isLtsMajor(Number(match![1])), `FROM ${stage.from}: not an LTS line`).toBe(true);
    }
    expect(new Set(all.map((s) => s.from)).size, 'every stage on the same image').toBe(1);
  });

  it('builds in an earlier stage and carries only the bundle in the final one, with no install there', () => {
    const build = all.slice(0, -1).find((s) => s.body.some((i) => i.keyword === 'RUN' && /\bnpm run build\b/.test(i.args)));
    expect(build, 'a stage that runs `npm run build`').toBeDefined();
    expect(build!.body.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args)), 'the build stage installs with npm ci').toBe(true);
    expect(finalArgs('RUN'), 'the final stage installs nothing: dist/main.js holds its dependencies').toEqual([]);
    expect(finalArgs('COPY').some((a) => /\b(node_modules|package-lock\.json)\b/.test(a)), 'no dependencies copied into the final stage').toBe(false);
    expect(finalArgs('COPY').some((a) => a.includes(`--from=${build!.name}`) && /\bdist\b/.test(a)), 'dist/ copied from the build stage').toBe(true);
    expect(finalArgs('COPY').some((a) => !a.includes('--from') && /\bsrc\b/.test(a)), 'no sources in the final stage').toBe(false);
  });

  it('runs as the non-root node user, exposes its port, and starts dist/main.js', () => {
    const users = finalArgs('USER');
    expect(users.at(-1)).toBe('node');
    const env = finalArgs('ENV').join(' ');
    expect(env).toMatch(/\bNODE_ENV=production\b/);
    const port = /\bPORT=(\d+)\b/.exec(env)?.[1] ?? '4000';
    expect(finalArgs('EXPOSE').join(' ').split(/\s+/).map((p) => p.replace(/\/tcp$/, ''))).toContain(port);
    expect(JSON.parse(finalArgs('CMD').at(-1)!)).toEqual(['node', ...IMAGE_NODE_FLAGS, 'dist/main.js']);
  });

  it('has a HEALTHCHECK that asks /readyz with node itself (no curl in slim images)', () => {
    const healthcheck = finalArgs('HEALTHCHECK').at(-1);
    expect(healthcheck).toBeDefined();
    expect(healthcheck).toMatch(/\bCMD\s+node\b/);
    expect(healthcheck).toContain('/readyz');
    expect(healthcheck).toMatch(/process\.env\.PORT/);
    expect(healthcheck).not.toMatch(/\b(curl|wget)\b/);
  });

  it('keeps local builds and dependencies out of the build context', () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split(/\r?\n/).map((l) => l.trim().replace(/^\/|\/$/g, ''));
    for (const path of ['node_modules', 'dist', '.git']) expect(ignored).toContain(path);
  });

  it('matches the production build: `npm run build` bundles src/main.ts into dist/main.js', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toBe('tsx scripts/build.ts');
    expect(pkg.scripts['start:prod']).toBe(['node', ...IMAGE_NODE_FLAGS, 'dist/main.js'].join(' '));
    expect(pkg.scripts.start).toBe(['exec node', ...IMAGE_NODE_FLAGS, '--import tsx src/main.ts'].join(' '));
    expect(existsSync(join(root, 'src/main.ts'))).toBe(true);
  });
});

describe('the image steps, replayed on a clean clone (scripts/check-image-steps.sh)', () => {
  // npm ci, the build and a start on a slow machine: about 4 minutes alone, more beside the other suites.
  const timeoutMs = 8 * 60_000;

  it(
    'builds, serves from dist/ alone, passes its HEALTHCHECK and stops cleanly on SIGTERM',
    async () => {
      const { code, output, seconds } = await runScript(timeoutMs - 20_000);
      const tail = output.trimEnd().split('\n').slice(-60).join('\n');
      expect(code, `scripts/check-image-steps.sh exited ${code} after ${seconds} s:\n${tail}`).toBe(0);
      expect(output).toContain('All image steps passed');
    },
    timeoutMs,
  );
});
