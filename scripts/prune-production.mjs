// Takes out of a production install (`npm ci --omit=dev`) the files Node never loads: TypeScript (declarations and
// sources: Node runs no TypeScript under node_modules), source maps (read only under --enable-source-maps), markdown,
// and the test, benchmark and example directories some packages ship. License files stay. About half of node_modules.
// Plain JavaScript: it runs where only node and npm are (the image's runtime stage, `npm run prune:production`).
//
// Usage: node scripts/prune-production.mjs [node_modules directory, default ./node_modules]
import { readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const UNLOADED_FILE = /\.(?:[cm]?ts|map|md|markdown)$/i;
const LICENSE = /^(?:licen[cs]e|copying|notice)\b/i;
/** Directories at a package's root that hold no code the package runs. */
const UNLOADED_DIRS = new Set(['test', 'tests', '__tests__', 'bench', 'benchmark', 'benchmarks', 'example', 'examples']);

let files = 0;
let bytes = 0;

async function remove(path) {
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (entry.isFile()) {
      files++;
      bytes += (await stat(join(entry.parentPath, entry.name))).size;
    }
  }
  await rm(path, { recursive: true, force: true });
}

/** Files of a package's tree, and a nested node_modules as packages of its own. */
async function pruneTree(dir, atPackageRoot) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules') await prunePackages(path);
      else if (atPackageRoot && UNLOADED_DIRS.has(entry.name)) await remove(path);
      else await pruneTree(path, false);
    } else if (entry.isFile() && UNLOADED_FILE.test(entry.name) && !LICENSE.test(entry.name)) {
      files++;
      bytes += (await stat(path)).size;
      await rm(path);
    }
  }
}

/** The packages of a node_modules directory (scoped ones one level down); symbolic links are not followed. */
async function prunePackages(nodeModules) {
  for (const entry of await readdir(nodeModules, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const path = join(nodeModules, entry.name);
    if (entry.name.startsWith('@')) {
      for (const scoped of await readdir(path, { withFileTypes: true })) {
        if (scoped.isDirectory()) await pruneTree(join(path, scoped.name), true);
      }
    } else {
      await pruneTree(path, true);
    }
  }
}

const target = resolve(process.argv[2] ?? 'node_modules');
await prunePackages(target);
console.log(`pruned ${files} files (${(bytes / 1e6).toFixed(1)} MB) that Node never loads from ${target}`);
