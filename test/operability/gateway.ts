// The gateway in process, in front of a stand-in, with its log lines captured.
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startGateway, type Gateway } from '../../src/server.js';
import { startStandIn, type RequestLogEntry, type StandIn, type StandInOverrides } from '../../src/stand-in/index.js';
import { postGraphQL, type LogLine, type PostOptions, type Posted } from './helpers.js';

export interface TestGateway {
  standIn: StandIn;
  gateway: Gateway;
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  /** http://127.0.0.1:<port> */
  base: string;
  /** Every log line written so far, parsed. */
  logs(): LogLine[];
  /** Everything the logger wrote, as is. */
  rawLog(): string;
  post(query: string, options?: PostOptions): Promise<Posted>;
  metrics(): Promise<string>;
  /** What the stand-in received since the last resetUpstream(). */
  upstream(): Promise<RequestLogEntry[]>;
  resetUpstream(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A stand-in and a gateway in front of it, configured as in production (GITLAB_URL set, so introspection and
 * GraphiQL are off unless `env` turns them on), logging into memory at `level` (default: LOG_LEVEL of `env`, else info).
 */
export async function startTestGateway(options: { standIn?: StandInOverrides; env?: Record<string, string>; level?: string } = {}): Promise<TestGateway> {
  const standIn = await startStandIn({ records: 50, ...options.standIn });
  let raw = '';
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', GITLAB_URL: standIn.url, GITLAB_API_DIALECT: 'plural', ...options.env });
  // As main.ts does: the configured level (LOG_LEVEL), unless the test asks for another.
  const logger = createLogger(options.level ?? config.logLevel, { write: (chunk: string) => void (raw += chunk) });
  const gateway = await startGateway(config, { gitlabUrl: standIn.url, logger });
  const base = new URL(gateway.url).origin;
  let since = 0;
  const requests = async (after: number) => {
    const res = await fetch(`${standIn.url}/-/stand-in/requests?after=${after}`);
    return (await res.json()) as { requests: RequestLogEntry[]; lastSeq: number };
  };
  return {
    standIn,
    gateway,
    url: gateway.url,
    base,
    rawLog: () => raw,
    logs: () =>
      raw
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as LogLine),
    post: (query, o) => postGraphQL(gateway.url, query, o),
    metrics: async () => (await fetch(`${base}/metrics`)).text(),
    upstream: async () => (await requests(since)).requests,
    async resetUpstream() {
      since = (await requests(Number.MAX_SAFE_INTEGER)).lastSeq;
    },
    async close() {
      await gateway.close();
      await standIn.stop();
    },
  };
}

