// Which browser origins may call /graphql: those CORS_ORIGINS lists (an origin, `scheme://host:*` for any port, or
// `*`), and the gateway's own (GraphiQL, or a page behind the same proxy), which needs no permission.
import type { IncomingMessage } from 'node:http';
import type { CORSOptions } from 'graphql-yoga';

const ALLOWED_HEADERS = ['authorization', 'private-token', 'content-type', 'x-request-id', 'x-graphql-yoga-csrf'];
const EXPOSED_HEADERS = ['x-request-id'];

export function originAllowed(origin: string, allowed: readonly string[]): boolean {
  for (const entry of allowed) {
    if (entry === '*' || entry === origin) return true;
    if (!entry.endsWith(':*')) continue;
    // `http://localhost:*`: that scheme and host on any port, the default one included.
    const prefix = entry.slice(0, -1);
    if (origin === entry.slice(0, -2) || (origin.startsWith(prefix) && /^\d{1,5}$/.test(origin.slice(prefix.length)))) return true;
  }
  return false;
}

/** Whether a request with this Origin comes from a page of the gateway's own origin (browsers say so, or its host does). */
function sameOrigin(req: IncomingMessage, origin: string): boolean {
  if (req.headers['sec-fetch-site'] === 'same-origin') return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false; // `null` (a sandboxed page, a file) or garbage
  }
  const own = (req.headers.host ?? '').toLowerCase();
  const forwarded = String(req.headers['x-forwarded-host'] ?? '').split(',')[0].trim().toLowerCase();
  return host === own || (forwarded !== '' && host === forwarded);
}

/** A request (or preflight) from a browser page at an origin CORS_ORIGINS does not list: to refuse, saying so. */
export function refusedOrigin(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  return origin !== undefined && !originAllowed(origin, allowed) && !sameOrigin(req, origin);
}

export const ORIGIN_REFUSED = 'This origin is not allowed to call the gateway: add it to CORS_ORIGINS (comma-separated origins, e.g. https://dashboard.example.com).';

/** Yoga's CORS headers: granted to a listed origin only, naming that origin. */
export function corsFor(allowed: readonly string[]): (request: Request) => CORSOptions {
  return (request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !originAllowed(origin, allowed)) return false;
    return { origin, allowedHeaders: ALLOWED_HEADERS, exposedHeaders: EXPOSED_HEADERS };
  };
}
