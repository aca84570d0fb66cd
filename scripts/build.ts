// The production build (`npm run build`): the gateway bundled by esbuild into one module, dist/main.js, holding every
// runtime dependency, so the image's runtime stage carries no node_modules at all; beside it the licenses of the
// packages it holds, GraphiQL's assets (gzipped) and the monitor page.
//
// Usage: tsx scripts/build.ts [--out DIR]   (default dist)
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type Metafile, type Plugin } from 'esbuild';
import { buildGraphiQLAssets } from '../src/graphiql.js';
import { buildMonitorPage } from './build-monitor.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DEFAULT_OUT = join(ROOT, 'dist');
export const LICENSES_FILE = 'third-party-licenses.txt';

// CommonJS packages inside an ES module still find require, __filename and __dirname (ws's optional native helpers,
// ioredis's error stacks); aliased imports so no name in the bundle can collide with them.
const BANNER = [
  "import { createRequire as __bundleCreateRequire } from 'node:module';",
  "import { fileURLToPath as __bundleFileURLToPath } from 'node:url';",
  "import { dirname as __bundleDirname } from 'node:path';",
  'const require = __bundleCreateRequire(import.meta.url);',
  'const __filename = __bundleFileURLToPath(import.meta.url);',
  'const __dirname = __bundleDirname(__filename);',
].join('\n');

const LICENSE_FILE = /^(?:licen[cs]e|copying|notice)\b/i;

/** Packages the bundle may leave out: ws's optional native speed-ups, which it requires inside a try and does without. */
const OPTIONAL_PACKAGES = new Set(['bufferutil', 'utf-8-validate']);

/** What the bundle still imports at run time: anything but Node's own modules and the optional ones fails the build. */
function runtimeImports(metafile: Metafile): string[] {
  const paths = [...new Set(Object.values(metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path)))].sort();
  const unexpected = paths.filter((path) => !path.startsWith('node:') && !isBuiltin(path) && !OPTIONAL_PACKAGES.has(path));
  if (unexpected.length > 0) throw new Error(`the bundle would need these at run time, which the image does not have: ${unexpected.join(', ')}`);
  return paths;
}

/** Where ioredis reads its own version (for Redis's CLIENT SETINFO): its package.json, two folders above the module. */
const IOREDIS_META_READ = 'const data = await fs_1.promises.readFile(filePath, "utf8");';

/**
 * ioredis names its version to Redis (CLIENT SETINFO LIB-VER) from its package.json, found from __dirname: in the
 * bundle that is dist/'s, and it would send "error-fetching-version". The bundle holds the text it would have read.
 */
function ioredisVersion(): Plugin {
  return {
    name: 'ioredis-version',
    setup(builder) {
      builder.onLoad({ filter: /[\\/]ioredis[\\/]built[\\/]utils[\\/]index\.js$/ }, async ({ path }) => {
        const source = await readFile(path, 'utf8');
        if (!source.includes(IOREDIS_META_READ)) throw new Error(`ioredis no longer reads its version as the build expects (${IOREDIS_META_READ}): see ioredisVersion in scripts/build.ts`);
        const { version } = JSON.parse(await readFile(join(path, '../../../package.json'), 'utf8')) as { version: string };
        return { contents: source.replace(IOREDIS_META_READ, `const data = ${JSON.stringify(JSON.stringify({ version }))};`), loader: 'js' };
      });
    },
  };
}

interface BundledPackage {
  name: string;
  version: string;
  license: string;
  texts: string[];
}

/** The packages whose code is in the bundle: a package's root is the path up to its name after the last node_modules. */
async function bundledPackages(metafile: Metafile): Promise<BundledPackage[]> {
  const roots = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const input of Object.keys(output.inputs)) {
      const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (match) roots.add(resolve(ROOT, match[1]));
    }
  }
  const packages: BundledPackage[] = [];
  for (const root of [...roots].sort()) {
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
    const files = (await readdir(root)).filter((name) => LICENSE_FILE.test(name)).sort();
    const texts = await Promise.all(files.map((name) => readFile(join(root, name), 'utf8')));
    packages.push({ name: manifest.name, version: manifest.version, license: manifest.license ?? 'UNKNOWN', texts });
  }
  return packages;
}

function licensesText(packages: BundledPackage[]): string {
  const header = `The gateway's dist/main.js holds code of these ${packages.length} packages, under these licenses.\n`;
  const sections = packages.map((p) => {
    const texts = p.texts.length > 0 ? p.texts.map((t) => t.trim()).join('\n\n') : `(the package ships no license file; its package.json says ${p.license})`;
    return `${'='.repeat(80)}\n${p.name}@${p.version} (${p.license})\n${'='.repeat(80)}\n${texts}\n`;
  });
  return [header, ...sections].join('\n');
}

export interface GatewayBuild {
  outDir: string;
  bundleBytes: number;
  packages: BundledPackage[];
  /** Node's modules and the optional packages main.js imports at run time. */
  runtimeImports: string[];
}

export async function buildGateway(outDir = DEFAULT_OUT): Promise<GatewayBuild> {
  await rm(outDir, { recursive: true, force: true });
  const result = await build({
    entryPoints: [join(ROOT, 'src/main.ts')],
    outfile: join(outDir, 'main.js'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: { js: BANNER },
    // Licenses go to their own file, whole; no source map: Node reads one only under --enable-source-maps.
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    plugins: [ioredisVersion()],
  });
  const imports = runtimeImports(result.metafile);
  const packages = await bundledPackages(result.metafile);
  await writeFile(join(outDir, LICENSES_FILE), licensesText(packages));
  await buildGraphiQLAssets(join(outDir, 'graphiql-assets'));
  await buildMonitorPage(join(outDir, 'monitor-page'));
  const bundleBytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
  return { outDir, bundleBytes, packages, runtimeImports: imports };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  let out: string | undefined;
  try {
    ({ out } = parseArgs({ options: { out: { type: 'string' } }, strict: true }).values);
  } catch {
    process.stderr.write('usage: tsx scripts/build.ts [--out DIR]\n');
    process.exit(2);
  }
  const built = await buildGateway(out ? resolve(out) : DEFAULT_OUT);
  const where = relative(process.cwd(), built.outDir) || '.';
  const unfiled = built.packages.filter((p) => p.texts.length === 0).map((p) => `${p.name} (${p.license})`);
  process.stderr.write(`${where}/main.js: ${(built.bundleBytes / 1024 / 1024).toFixed(1)} MiB, ${built.packages.length} packages inside; their licenses in ${where}/${LICENSES_FILE}\n`);
  if (unfiled.length > 0) process.stderr.write(`named only in their package.json (they ship no license file): ${unfiled.join(', ')}\n`);
}
