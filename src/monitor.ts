// The verification monitor page served from this process (MONITOR): its index.html at / and /monitor, its files at
// /monitor/<name>-<hash>.<ext>, nothing from a CDN. The page is built from web/ by scripts/build-monitor.ts.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MONITOR_PATH = '/monitor';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The production build's copy beside the compiled modules (dist/monitor-page), else the development build (web/dist). */
const PAGE_DIRS = [join(HERE, 'monitor-page'), join(HERE, '..', 'web', 'dist')];

const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' };
/** What the build writes: a name, a hash of the content, an extension. Anything else is not one of the page's files. */
const ASSET_NAME = /^[a-z]+-[0-9a-f]{10}\.(js|css|svg)$/;

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>The monitor page is not built</title></head><body>
<h1>The monitor page is not built</h1>
<p>Build it with <code>npm run build:monitor</code> (<code>npm start</code> and <code>npm run build</code> do it), then reload.</p>
</body></html>
`;

/** Content-named files never change: kept in memory once read. */
const assets = new Map<string, Buffer>();

export function isMonitorPath(path: string): boolean {
  return path === MONITOR_PATH || path.startsWith(`${MONITOR_PATH}/`);
}

function pageDir(): string | null {
  return PAGE_DIRS.find((dir) => existsSync(join(dir, 'index.html'))) ?? null;
}

/** The page's documents as its build writes them beside it: trusted under TRUSTED_DOCUMENTS_ONLY (src/trusted-documents.ts). */
export const MONITOR_DOCUMENTS_NAME = 'trusted-documents.json';

/** Where the built page's documents are; null when the page is not built. */
export function monitorDocumentsFile(): string | null {
  const dir = pageDir();
  return dir === null ? null : join(dir, MONITOR_DOCUMENTS_NAME);
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Scripts, styles, images and connections from this origin only, the WebSocket to this host included. */
function contentSecurityPolicy(host: string | undefined): string {
  // A Host that is not a plain host[:port] is left out rather than written into a header.
  const sockets = host && /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host) ? ` ws://${host} wss://${host}` : '';
  return `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'${sockets}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}

function send(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer | string): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...headers, 'content-length': String(bytes.length), 'x-content-type-options': 'nosniff' });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

/**
 * Answers a GET or HEAD of / or /monitor[/...]: the page (in demo mode with the stand-in's public token in it, to be
 * offered in the token form, as GraphiQL's headers carry it) or one of its files.
 */
export async function serveMonitor(req: IncomingMessage, res: ServerResponse, path: string, demoToken?: string): Promise<void> {
  const dir = pageDir();
  if (path === '/' || path === MONITOR_PATH || path === `${MONITOR_PATH}/`) {
    if (!dir) return send(req, res, 503, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }, NOT_BUILT);
    const template = await readFile(join(dir, 'index.html'), 'utf8');
    const html = template.replace('<!--demo-token-->', demoToken ? `<meta name="demo-token" content="${escapeAttribute(demoToken)}" />` : '');
    return send(
      req,
      res,
      200,
      {
        'content-type': 'text/html; charset=utf-8',
        // Small, and it names the current build's files: asked again on every visit.
        'cache-control': 'no-cache',
        'content-security-policy': contentSecurityPolicy(req.headers.host),
        'referrer-policy': 'no-referrer',
      },
      html,
    );
  }
  const name = path.slice(`${MONITOR_PATH}/`.length);
  const match = ASSET_NAME.exec(name);
  let body = match ? assets.get(name) : undefined;
  if (match && !body && dir) {
    body = await readFile(join(dir, name)).catch(() => undefined);
    if (body) assets.set(name, body);
  }
  if (!match || !body) return send(req, res, 404, { 'content-type': 'text/plain; charset=utf-8' }, 'Not found.\n');
  send(req, res, 200, { 'content-type': TYPES[match[1]], 'cache-control': 'public, max-age=31536000, immutable' }, body);
}
