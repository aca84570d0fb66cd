// Builds the verification monitor page (web/) with esbuild: a script and a stylesheet named by their content (so they
// can be cached for good), the favicon, and index.html pointing at them. Prints each file's size, raw and gzipped.
//
// Usage: tsx scripts/build-monitor.ts [--out DIR]   (default web/dist; `npm run build` puts it in dist/monitor-page)
//
// Builds running at once (npm start beside a test) write the same files: each file is written under a temporary name
// and renamed, index.html last, so a gateway serving the folder never reads half a build.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { MONITOR_DOCUMENTS_NAME } from '../src/monitor.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WEB = join(ROOT, 'web');
export const DEFAULT_OUT = join(WEB, 'dist');

export interface BuiltFile {
  name: string;
  bytes: number;
  gzipBytes: number;
}

export interface MonitorBuild {
  outDir: string;
  files: BuiltFile[];
  /** The script, stylesheet and favicon together, as a browser downloads them (gzipped). */
  gzipTotal: number;
}

async function writeAtomically(path: string, contents: Uint8Array | string): Promise<void> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  await writeFile(temporary, contents);
  await rename(temporary, path);
}

function hashed(name: string, contents: Uint8Array): string {
  const hash = createHash('sha256').update(contents).digest('hex').slice(0, 10);
  return `${basename(name, extname(name))}-${hash}${extname(name)}`;
}

export async function buildMonitorPage(outDir = DEFAULT_OUT): Promise<MonitorBuild> {
  const result = await build({
    entryPoints: { app: join(WEB, 'src/main.tsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: join(outDir, 'staging'),
    write: false,
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  // The documents are strings with types: the graphql package (about 40 KB gzipped) must not come along.
  const bundledGraphql = Object.keys(result.metafile.inputs).filter((input) => /node_modules\/graphql\//.test(input));
  if (bundledGraphql.length > 0) throw new Error(`the monitor page bundles the graphql package (${bundledGraphql[0]}, ...): import documents from web/generated, not graphql`);

  const assets = new Map<string, Uint8Array>();
  const named: Record<string, string> = {};
  for (const file of result.outputFiles) {
    const name = hashed(basename(file.path), file.contents);
    assets.set(name, file.contents);
    named[extname(file.path)] = name;
  }
  const favicon = await readFile(join(WEB, 'favicon.svg'));
  const faviconName = hashed('favicon.svg', favicon);
  assets.set(faviconName, favicon);
  if (!named['.js'] || !named['.css']) throw new Error(`esbuild produced ${result.outputFiles.map((f) => basename(f.path)).join(', ')}: expected a script and a stylesheet`);

  const template = await readFile(join(WEB, 'index.html'), 'utf8');
  const html = template
    .replace('%SCRIPT%', `/monitor/${named['.js']}`)
    .replace('%STYLES%', `/monitor/${named['.css']}`)
    .replace('%FAVICON%', `/monitor/${faviconName}`);

  await mkdir(outDir, { recursive: true });
  for (const [name, contents] of assets) await writeAtomically(join(outDir, name), contents);
  // The page's documents (codegen's client preset, from web/operations.graphql), for the gateway to trust under
  // TRUSTED_DOCUMENTS_ONLY; never served (src/monitor.ts serves the named assets only).
  await writeAtomically(join(outDir, MONITOR_DOCUMENTS_NAME), await readFile(join(WEB, 'generated/trusted-documents/persisted-documents.json')));
  await writeAtomically(join(outDir, 'index.html'), html);
  // Files of earlier builds that index.html no longer names.
  for (const name of await readdir(outDir)) {
    if (name !== 'index.html' && name !== MONITOR_DOCUMENTS_NAME && !assets.has(name) && !name.endsWith('.tmp')) await rm(join(outDir, name), { recursive: true, force: true });
  }

  const files = [...assets.entries(), ['index.html', Buffer.from(html)] as const].map(([name, contents]) => ({
    name,
    bytes: contents.byteLength,
    gzipBytes: gzipSync(contents, { level: 9 }).byteLength,
  }));
  const gzipTotal = files.filter((f) => f.name !== 'index.html').reduce((sum, f) => sum + f.gzipBytes, 0);
  return { outDir, files, gzipTotal };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

export function describeBuild(built: MonitorBuild): string {
  const lines = built.files.map((f) => `  ${f.name.padEnd(28)} ${kb(f.bytes).padStart(9)}  ${kb(f.gzipBytes).padStart(9)} gzipped`);
  return [`monitor page built in ${relative(ROOT, built.outDir) || '.'}/:`, ...lines, `  total download: ${kb(built.gzipTotal)} gzipped (script, stylesheet and icon)`].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const at = process.argv.indexOf('--out');
  const extra = process.argv.slice(2).filter((arg, i, all) => arg !== '--out' && all[i - 1] !== '--out');
  if ((at >= 0 && !process.argv[at + 1]) || extra.length > 0) {
    process.stderr.write('usage: tsx scripts/build-monitor.ts [--out DIR]\n');
    process.exit(2);
  }
  const outDir = at >= 0 ? resolve(process.argv[at + 1]) : DEFAULT_OUT;
  await mkdir(dirname(outDir), { recursive: true });
  const built = await buildMonitorPage(outDir);
  // On stderr: `npm start` runs this first, and its stdout is the gateway's JSON lines.
  process.stderr.write(`${describeBuild(built)}\n`);
}
