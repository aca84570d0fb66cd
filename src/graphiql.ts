// GraphiQL served from this process: Yoga's page with its assets taken from the installed package, not a CDN,
// so it works where the browser cannot reach the internet.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
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

const distDir = join(dirname(createRequire(import.meta.url).resolve('@graphql-yoga/graphiql/package.json')), 'dist');
const cache = new Map<string, Buffer>();

export function renderLocalGraphiQL(options: GraphiQLOptions): string {
  return renderGraphiQL(options)
    .replace(/https:\/\/unpkg\.com\/@graphql-yoga\/graphiql@[^/]+\/dist\//g, GRAPHIQL_ASSETS_PATH)
    // An empty icon rather than none: without a link the browser asks for /favicon.ico, a 404 in its console.
    .replace(/<link rel=icon href=[^>]+>/, '<link rel=icon href="data:,">');
}

/** Serves one of GraphiQL's files; returns false when the path is not one of them. */
export async function serveGraphiQLAsset(path: string, res: ServerResponse): Promise<boolean> {
  const name = path.slice(GRAPHIQL_ASSETS_PATH.length);
  const type = ASSETS[name];
  if (!type) return false;
  let body = cache.get(name);
  if (!body) {
    body = await readFile(join(distDir, name));
    cache.set(name, body);
  }
  res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'public, max-age=86400' }).end(body);
  return true;
}
