// Scenario: the production footprint. What the Dockerfile's runtime stage holds (package.json and dist/ from `npm run
// build` in a full install: the bundle, its licenses, GraphiQL's assets, the monitor page; no node_modules), on disk as
// du counts it, and the gateway's resident memory when it runs from there as the image runs it: idle after its start,
// after a query, and after GraphiQL's page and assets. Counts only, no times. Made in a temporary directory from the
// working tree.
import { execFile } from 'node:child_process';
import { copyFile, cp, lstat, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GRAPHIQL_ASSETS_PATH, GRAPHIQL_ASSET_NAMES } from '../../src/graphiql.js';
import { figure, type RunOptions, type ScenarioResult } from '../lib/figures.js';
import { ADMIN_TOKEN, gatewayNode, REPO_ROOT, startGatewayProcess, startStandalone, type GatewayProcess } from '../lib/processes.js';

const MIB = 1024 * 1024;
/** Before GraphiQL's assets were stored gzipped and the gateway bundled: 28.8 MiB of node_modules and 8.9 MiB of dist/. */
export const FOOTPRINT_BEFORE_MIB = 37.7;
export const FOOTPRINT_TARGETS = { installedMiB: FOOTPRINT_BEFORE_MIB / 2 } as const;

interface TreeSize {
  /** What `du -s` counts: the blocks of files and directories, a hard-linked file once. */
  diskBytes: number;
  /** The sum of the files' lengths. */
  bytes: number;
  files: number;
}

async function treeSize(dir: string): Promise<TreeSize> {
  const seen = new Set<string>();
  const size: TreeSize = { diskBytes: 0, bytes: 0, files: 0 };
  const paths = [dir, ...((await lstat(dir)).isDirectory() ? await readdir(dir, { recursive: true, withFileTypes: true }) : []).map((e) => join(e.parentPath, e.name))];
  for (const path of paths) {
    const stat = await lstat(path);
    const key = `${stat.dev}:${stat.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    size.diskBytes += stat.blocks * 512;
    if (stat.isFile()) {
      size.bytes += stat.size;
      size.files++;
    }
  }
  return size;
}

const mib = (bytes: number) => Math.round((bytes / MIB) * 10) / 10;

/** npm as the image's build would run it: none of the variables of the `npm run bench` this runs under, npm's cache preferred. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    const npmSetting = /^npm_config_(registry|cache|userconfig|globalconfig|cafile|proxy|https_proxy|noproxy|strict_ssl)$/.test(name);
    if ((name.startsWith('npm_') && !npmSetting) || ['NODE_ENV', 'NODE_OPTIONS', 'INIT_CWD'].includes(name)) continue;
    env[name] = value;
  }
  return { ...env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

async function npm(args: string[], cwd: string): Promise<void> {
  await promisify(execFile)('npm', args, { cwd, env: npmEnv(), maxBuffer: 64 * MIB });
}

/** The build stage: the files the Dockerfile copies into it, the repository's full install beside them, `npm run build`. */
async function build(dir: string): Promise<string> {
  await mkdir(join(dir, 'scripts'), { recursive: true });
  for (const file of ['package.json', 'package-lock.json', 'tsconfig.json', 'scripts/build.ts', 'scripts/build-monitor.ts']) await copyFile(join(REPO_ROOT, file), join(dir, file));
  await cp(join(REPO_ROOT, 'src'), join(dir, 'src'), { recursive: true });
  await cp(join(REPO_ROOT, 'web'), join(dir, 'web'), { recursive: true, filter: (source) => !source.startsWith(join(REPO_ROOT, 'web', 'dist')) });
  await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  await npm(['run', 'build'], dir);
  return join(dir, 'dist');
}

async function settledRss(gateway: GatewayProcess, settleMs: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const rss = await gateway.rssBytes();
  if (rss === null) throw new Error('no resident memory figure for the gateway (/proc)');
  return rss;
}

interface RuntimeMemory {
  /** `node --version` of the gateway's node. */
  node: string;
  rssBytes: { idle: number; afterQuery: number; afterGraphiQL: number };
  /** What GraphiQL's assets weigh on the wire to a browser. */
  graphiqlWireBytes: number;
}

/**
 * The gateway of a production directory (`app`: node_modules and dist/), run as the image runs it in front of a
 * stand-in of its own, with GraphiQL on (off by default with GITLAB_URL): its RSS idle, after a query, after GraphiQL.
 */
async function measureRuntimeMemory(app: string, settleMs: number): Promise<RuntimeMemory> {
  const standIn = await startStandalone(['--records', '200', '--verify-interval-ms', '0']);
  let gateway: GatewayProcess | undefined;
  try {
    gateway = await startGatewayProcess({ gitlabUrl: standIn.url, root: app, entry: join(app, 'dist', 'main.js'), env: { GRAPHIQL: 'true', GRAPHQL_INTROSPECTION: 'true' } });
    const node = (await promisify(execFile)(gatewayNode(), ['--version'])).stdout.trim();
    const idle = await settledRss(gateway, settleMs);
    const query = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'private-token': ADMIN_TOKEN },
      body: JSON.stringify({ query: '{ modelRecords(model: PROJECT, first: 5) { totalCount nodes { id recordIdentifier } } }' }),
    });
    const answer = (await query.json()) as { data?: { modelRecords?: { totalCount: number } }; errors?: unknown };
    if (query.status !== 200 || answer.errors || !answer.data?.modelRecords?.totalCount) throw new Error(`the query answered ${query.status}: ${JSON.stringify(answer)}`);
    const afterQuery = await settledRss(gateway, settleMs);
    const page = await fetch(gateway.url, { headers: { accept: 'text/html' } });
    if (page.status !== 200 || !(await page.text()).includes(GRAPHIQL_ASSETS_PATH)) throw new Error(`GraphiQL's page answered ${page.status}`);
    let graphiqlWireBytes = 0;
    for (const name of GRAPHIQL_ASSET_NAMES) {
      const asset = await fetch(`${gateway.origin}${GRAPHIQL_ASSETS_PATH}${name}`, { headers: { 'accept-encoding': 'gzip' } });
      await asset.arrayBuffer();
      if (asset.status !== 200) throw new Error(`GraphiQL's ${name} answered ${asset.status}`);
      graphiqlWireBytes += Number(asset.headers.get('content-length') ?? NaN);
    }
    const afterGraphiQL = await settledRss(gateway, settleMs);
    return { node, rssBytes: { idle, afterQuery, afterGraphiQL }, graphiqlWireBytes };
  } finally {
    await gateway?.stop();
    await standIn.stop();
  }
}

export async function runFootprint(options: RunOptions): Promise<ScenarioResult> {
  const S = 'footprint';
  const settleMs = options.quick ? 2_000 : 5_000;
  const work = await mkdtemp(join(tmpdir(), 'bench-footprint-'));
  try {
    options.log('  npm run build (build stage, the repository install beside it)');
    const builtDist = await build(join(work, 'build'));

    const app = join(work, 'app');
    options.log('  package.json and dist/ only (runtime stage)');
    await mkdir(app, { recursive: true });
    await copyFile(join(REPO_ROOT, 'package.json'), join(app, 'package.json'));
    await cp(builtDist, join(app, 'dist'), { recursive: true });
    const total = await treeSize(app);
    const bundle = await treeSize(join(app, 'dist', 'main.js'));
    const graphiqlAssets = await treeSize(join(app, 'dist', 'graphiql-assets'));
    const monitorPage = await treeSize(join(app, 'dist', 'monitor-page'));
    options.log(
      `  ${mib(total.diskBytes)} MiB in all: dist/main.js ${mib(bundle.diskBytes)} MiB, GraphiQL's assets ${mib(graphiqlAssets.diskBytes)} MiB, ` +
        `the monitor page ${Math.round(monitorPage.diskBytes / 1024)} KiB`,
    );

    const { node, rssBytes, graphiqlWireBytes } = await measureRuntimeMemory(app, settleMs);
    options.log(
      `  gateway on Node ${node}: RSS ${mib(rssBytes.idle)} MiB idle, ${mib(rssBytes.afterQuery)} MiB after a query, ${mib(rssBytes.afterGraphiQL)} MiB after GraphiQL ` +
        `(${mib(graphiqlWireBytes)} MiB sent for its assets)`,
    );
    const figures = [
      figure(S, 'installed runtime on disk (package.json + dist/)', mib(total.diskBytes), 'MiB', `<= ${FOOTPRINT_TARGETS.installedMiB}`, mib(total.diskBytes) <= FOOTPRINT_TARGETS.installedMiB, `${FOOTPRINT_BEFORE_MIB} MiB before; ${total.files} files, ${mib(total.bytes)} MiB in them`),
      figure(S, 'dist/main.js, the bundle (npm run build)', mib(bundle.diskBytes), 'MiB', '', null, 'every runtime dependency inside; no node_modules'),
      figure(S, "GraphiQL's assets in dist/", mib(graphiqlAssets.diskBytes), 'MiB', '', null, `gzipped; the monitor page ${Math.round(monitorPage.diskBytes / 1024)} KiB`),
      figure(S, "GraphiQL's assets sent to a browser", mib(graphiqlWireBytes), 'MiB', '', null, 'gzip'),
      figure(S, 'gateway RSS at idle', mib(rssBytes.idle), 'MiB', '', null, `Node ${node}, ${settleMs / 1000} s after ready`),
      figure(S, 'gateway RSS after a query', mib(rssBytes.afterQuery), 'MiB'),
      figure(S, "gateway RSS after GraphiQL's page and assets", mib(rssBytes.afterGraphiQL), 'MiB'),
    ];
    return { scenario: S, figures, details: { node, bundle, graphiqlAssets, monitorPage, total, rssBytes, graphiqlWireBytes } };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
