// GraphiQL served from this process: Yoga's page with its assets taken from this installation, not a CDN,
// so it works where the browser cannot reach the internet.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { constants, gunzip, gzip } from 'node:zlib';
import type { ServerResponse } from 'node:http';
import { renderGraphiQL, type GraphiQLOptions } from 'graphql-yoga';

export const GRAPHIQL_ASSETS_PATH = '/graphiql-assets/';

const ASSETS: Record<string, string> = {
  'graphiql.css': 'text/css',
  'yoga-graphiql.umd.js': 'application/javascript',
  'monacoeditorwork/editor.worker.bundle.js': 'application/javascript',
  'monacoeditorwork/json.worker.bundle.js': 'application/javascript',
  'monacoeditorwork/graphql.worker..bundle.js': 'application/javascript',
};

/** The files GraphiQL's page loads from GRAPHIQL_ASSETS_PATH. */
export const GRAPHIQL_ASSET_NAMES = Object.keys(ASSETS);

/** Where `npm run build` puts the assets, gzipped (<name>.gz): beside the compiled modules (dist/graphiql-assets). */
export const BUILT_ASSETS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'graphiql-assets');

/** The package's own files (a development dependency: a production install has only the built copy). */
function packageAssetsDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@graphql-yoga/graphiql/package.json')), 'dist');
}

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Gzip at its best level, paid once per file: the 9 MB of assets become 2.4 MB, on disk and on the wire. */
function compress(body: Buffer): Promise<Buffer> {
  return gzipAsync(body, { level: constants.Z_BEST_COMPRESSION });
}

/** Writes the served files, gzipped, out of the package into `to` (the build's step: production installs leave the package out). */
export async function buildGraphiQLAssets(to = BUILT_ASSETS_DIR): Promise<void> {
  const from = packageAssetsDir();
  for (const name of GRAPHIQL_ASSET_NAMES) {
    await mkdir(dirname(join(to, name)), { recursive: true });
    await writeFile(join(to, `${name}.gz`), await compress(await readFile(join(from, name))));
  }
}

/** Every asset held gzipped in memory once asked for: read from the build, or under `npm start` compressed from the package. */
const gzipped = new Map<string, Promise<Buffer>>();
/** Decided on first use, so a gateway with GRAPHIQL off starts without the package. */
let fromBuild: boolean | undefined;

function gzippedAsset(name: string): Promise<Buffer> {
  let body = gzipped.get(name);
  if (!body) {
    fromBuild ??= existsSync(BUILT_ASSETS_DIR);
    body = fromBuild ? readFile(join(BUILT_ASSETS_DIR, `${name}.gz`)) : readFile(join(packageAssetsDir(), name)).then(compress);
    // A failed read is not kept: the next request tries again.
    body.catch(() => gzipped.delete(name));
    gzipped.set(name, body);
  }
  return body;
}

/** Whether an Accept-Encoding takes gzip (every browser's does): `gzip;q=0` refuses it, and a client without one gets the plain file. */
function acceptsGzip(header: string | undefined): boolean {
  let wildcard = false;
  for (const part of (header ?? '').toLowerCase().split(',')) {
    const [coding, ...parameters] = part.split(';').map((s) => s.trim());
    const q = parameters.find((p) => p.startsWith('q='));
    const accepted = q === undefined || Number(q.slice(2)) > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return accepted;
    if (coding === '*') wildcard = accepted;
  }
  return wildcard;
}

/** The examples GraphiQL opens on, one tab each: a query, a mutation, and a subscription that shows what they do. */
function examples(demo: boolean): string[] {
  // Lines short enough for the editor pane of a laptop screen.
  const token = demo ? '# The demo admin token is in the Headers below.' : '# Put your GitLab token in the Headers below:\n# { "Authorization": "Bearer <token>" }';
  return [
    `# Records of a model and their checksum state.
# Next page: pass pageInfo.endCursor as \`after\`.
# Filters: checksumState: FAILED, identifiers: ["1"].
${token}
query ProjectRecords {
  modelRecords(model: PROJECT, first: 5) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      recordIdentifier
      checksumInformation {
        checksumState
        checksum
        checksumFailure
        lastChecksum
      }
    }
  }
}
`,
    `# Verifies one record now, in GitLab. A failed
# verification is data: \`errors\` says why.
# recalculateAllChecksums(model: PROJECT) queues
# a whole model instead.
mutation VerifyProject {
  recalculateChecksum(
    model: PROJECT
    recordIdentifier: "1"
  ) {
    errors
    record {
      recordIdentifier
      checksumInformation { checksumState checksum }
    }
  }
}
`,
    `# Live: first the current state of each record,
# then a batch whenever verification changes any.
# Keep it running; run VerifyProject in its tab.
subscription WatchProjects {
  checksumStateChangeBatches(
    model: PROJECT
    identifiers: ["1", "2", "3"]
  ) {
    changes {
      state
      previousState
      observedAt
      record { recordIdentifier }
    }
    unknownIdentifiers
  }
}
`,
    `# Live progress of verification, model by model:
# counts per state first, then again whenever one
# changes. Run recalculateAllChecksums(model:
# PROJECT) and watch PENDING rise, then fall.
subscription VerificationProgress {
  verificationSummaryChanged(models: [PROJECT, LFS_OBJECT]) {
    model
    total
    states { state count }
    verifiedPerMinute
    estimatedCompletionAt
  }
}
`,
  ];
}

/** GraphiQL's page: the project's examples in tabs, and in demo mode the stand-in's token in its headers. */
export function graphiqlOptions(demoToken?: string): GraphiQLOptions {
  const headers = demoToken ? JSON.stringify({ Authorization: `Bearer ${demoToken}` }, null, 2) : undefined;
  const tabs = examples(demoToken !== undefined);
  return {
    title: 'Data management gateway',
    headers,
    // The first tab's; also what a new tab opens with.
    defaultQuery: tabs[0],
    // Used when the browser has no tabs of a previous visit stored; each tab carries the headers (the token).
    defaultTabs: tabs.map((query) => ({ query, headers: headers ?? null })),
    // GraphiQL sends subscriptions as SSE over GET, with no content type: without this header CSRF prevention
    // refuses them (403 BAD_REQUEST "Required CSRF header not present").
    additionalHeaders: { 'x-graphql-yoga-csrf': 'graphiql' },
  };
}

/**
 * Yoga's page opens on its welcome comment unless given `query`, which would also override the `?query=` of a link (and
 * of a reload: GraphiQL keeps the edited query there). So the page picks: the link's query if any, else the first example.
 */
const START_QUERY = '(function(o){o.query=new URLSearchParams(location.search).get("query")||o.defaultQuery;return o})';

export function renderLocalGraphiQL(options: GraphiQLOptions): string {
  const json = JSON.stringify(options);
  return renderGraphiQL(options)
    .replace(json, () => `${START_QUERY}(${json})`)
    .replace(/https:\/\/unpkg\.com\/@graphql-yoga\/graphiql@[^/]+\/dist\//g, GRAPHIQL_ASSETS_PATH)
    // An empty icon rather than none: without a link the browser asks for /favicon.ico, a 404 in its console.
    .replace(/<link rel=icon href=[^>]+>/, '<link rel=icon href="data:,">');
}

/** Serves one of GraphiQL's files, gzipped to a client that takes it, else decompressed; false when the path is not one of them. */
export async function serveGraphiQLAsset(path: string, res: ServerResponse): Promise<boolean> {
  const name = path.slice(GRAPHIQL_ASSETS_PATH.length);
  // Own names only: `constructor` is no file.
  const type = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
  if (!type) return false;
  const body = await gzippedAsset(name);
  const headers = { 'content-type': type, 'cache-control': 'public, max-age=86400', vary: 'accept-encoding' };
  if (acceptsGzip(res.req.headers['accept-encoding'])) {
    res.writeHead(200, { ...headers, 'content-encoding': 'gzip', 'content-length': body.length }).end(body);
  } else {
    // The rare client without gzip (curl without --compressed): decompressed per request, not kept, to keep memory low.
    const plain = await gunzipAsync(body);
    res.writeHead(200, { ...headers, 'content-length': plain.length }).end(plain);
  }
  return true;
}
