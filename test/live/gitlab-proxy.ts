// A GitLab in front of the stand-in that a test can, at any moment, make refuse identifiers (400, as GitLab answers an
// identifier it cannot read) or hide records (as if deleted): what the stand-in alone does not do on demand.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startGateway, type Gateway } from '../../src/server.js';
import { startStandIn, type RequestLogEntry, type StandIn, type StandInOverrides } from '../../src/stand-in/index.js';
import { standInControl } from '../support/gateway.js';

export interface GitLabProxy {
  /** http://127.0.0.1:<port>: give it to the gateway as GITLAB_URL. */
  url: string;
  /** From now on, any list call naming one of these identifiers is answered 400. */
  refuse(identifiers: string[]): void;
  /** From now on, list calls answer as if these records did not exist. */
  hide(identifiers: string[]): void;
  /** These records exist again. */
  show(identifiers: string[]): void;
  close(): Promise<void>;
}

/** Headers that describe the stand-in's own connection or body, not the answer. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'host']);

async function bodyOf(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length > 0 ? Buffer.concat(chunks).toString('utf8') : undefined;
}

export async function startGitLabProxy(standInUrl: string): Promise<GitLabProxy> {
  const refused = new Set<string>();
  const hidden = new Set<string>();
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://gitlab');
      const asked = url.searchParams.getAll('identifiers[]');
      if (req.method === 'GET' && asked.some((id) => refused.has(id))) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ message: '400 Bad request - invalid base64' }));
        return;
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string' && !HOP_BY_HOP.has(name)) headers[name] = value;
      const answer = await fetch(`${standInUrl}${req.url}`, { method: req.method, headers, body: await bodyOf(req) });
      let body = Buffer.from(await answer.arrayBuffer());
      if (req.method === 'GET' && answer.ok && hidden.size > 0 && asked.length > 0) {
        const records = JSON.parse(body.toString('utf8')) as { record_identifier: number | string }[];
        body = Buffer.from(JSON.stringify(records.filter((r) => !hidden.has(String(r.record_identifier)))));
      }
      const out: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (!HOP_BY_HOP.has(name)) out[name] = value;
      });
      res.writeHead(answer.status, out).end(body);
    })().catch((error: unknown) => {
      res.writeHead(502).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refuse: (ids) => ids.forEach((id) => refused.add(id)),
    hide: (ids) => ids.forEach((id) => hidden.add(id)),
    show: (ids) => ids.forEach((id) => hidden.delete(id)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ProxiedLive {
  standIn: StandIn;
  proxy: GitLabProxy;
  gateway: Gateway;
  /** Every log line the gateway wrote, as is. */
  log(): string;
  /** The gateway's /metrics text. */
  metrics(): Promise<string>;
  /** What the stand-in received since the last resetUpstream() (refused calls never reach it). */
  upstream(): Promise<RequestLogEntry[]>;
  resetUpstream(): Promise<void>;
  control(method: string, route: string, body?: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** A stand-in, this proxy in front of it, and a gateway in front of the proxy, logging at info into memory. */
export async function startProxiedLive(standInOptions: StandInOverrides, env: Record<string, string>): Promise<ProxiedLive> {
  const standIn = await startStandIn({ records: 250, ...standInOptions });
  const proxy = await startGitLabProxy(standIn.url);
  let log = '';
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', GITLAB_URL: proxy.url, GITLAB_API_DIALECT: 'plural', ...env });
  const gateway = await startGateway(config, { gitlabUrl: proxy.url, logger: createLogger('info', { write: (chunk: string) => void (log += chunk) }) });
  const control = (method: string, route: string, body?: unknown) => standInControl(standIn, method, route, body);
  let since = 0;
  return {
    standIn,
    proxy,
    gateway,
    log: () => log,
    metrics: async () => (await fetch(`${new URL(gateway.url).origin}/metrics`)).text(),
    control,
    async upstream() {
      const { requests } = (await control('GET', `requests?after=${since}`)) as { requests: RequestLogEntry[] };
      return requests;
    },
    async resetUpstream() {
      ({ lastSeq: since } = (await control('GET', `requests?after=${Number.MAX_SAFE_INTEGER}`)) as { lastSeq: number });
    },
    async close() {
      await gateway.close();
      await proxy.close();
      await standIn.stop();
    },
  };
}

/** The sum of a metric's series that carry these labels, in a /metrics text (0 when there is none). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    const space = line.lastIndexOf(' ');
    const series = line.slice(0, space);
    if (series !== name && !series.startsWith(`${name}{`)) continue;
    if (wanted.every((label) => series.includes(label))) total += Number(line.slice(space + 1));
  }
  return total;
}
