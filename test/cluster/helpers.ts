// Helpers of the cluster suite: gateway replicas as processes of their own on one Redis (a server each test file starts
// for itself, on a free port, so it can stop and restart it), in front of one stand-in whose request log tells which
// replica called GitLab: every replica's subscribers use an admin token of that replica's own, and a replica can only
// poll with a token one of its own subscribers gave it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { print } from 'graphql';
import { Redis } from 'ioredis';
import { it } from 'vitest';
import { RecalculateAllChecksumsDocument, RecalculateChecksumDocument } from '../generated/operations.js';
import { API, WATCH, sleep, wsConnection, type Change, type RestRecord, type Subscriber, type WsConnection } from '../live/helpers.js';
import { closedPort, postGraphQL, sample, spawnGateway, until, type GatewayProcess, type Posted } from '../operability/helpers.js';
import { trackChild } from '../support/processes.js';
import { ADMIN, standInControl, type Harness } from '../support/gateway.js';
import { summaryConnection, type SummaryConnection } from '../summary-live/helpers.js';
import { startStandIn, type RequestLogEntry, type StandIn, type StandInOverrides } from '../../src/stand-in/index.js';

export { until };

// ---------------------------------------------------------------------------------------------------------------
// Redis, or why there is none.

const IN_CI = process.env.CI === 'true';
const HAVE_REDIS = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * Whether this machine can run the suite. Without `redis-server` the suite is skipped with a warning, except under
 * CI=true: there a missing Redis is a broken environment, so a test that fails says so.
 */
export function redisAvailable(suite: string): boolean {
  if (HAVE_REDIS) return true;
  if (!IN_CI) {
    console.warn(`SKIPPED: ${suite} needs redis-server on the PATH (apt-get install redis-server). Under CI=true it fails instead.`);
    return false;
  }
  it(`CI=true requires redis-server for ${suite}`, () => {
    throw new Error(`CI=true but redis-server is not on the PATH: install Debian's redis-server package (see .ci/run); ${suite} cannot be skipped under CI.`);
  });
  return false;
}

/** A redis-server of the test's own, without persistence, which the test may stop and start again on the same port. */
export class RedisServer {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    private readonly password: string,
  ) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await closedPort(), randomBytes(12).toString('hex'));
    await server.restart();
    return server;
  }

  /** What REDIS_URL says: the password travels in the URL. */
  get url(): string {
    return `redis://:${this.password}@127.0.0.1:${this.port}`;
  }

  /** Starts it (again) on its port; resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('redis-server is already running');
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', this.password];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.child = child;
    try {
      await until(() => (output.includes('Ready to accept connections') ? true : undefined), `redis-server on port ${this.port}`, 15_000);
    } catch (error) {
      await this.stop('SIGKILL');
      throw new Error(`${(error as Error).message}\n${output}`);
    }
  }

  /** Stops it (SIGTERM: an orderly stop; SIGKILL: a crash) and waits for the process to end. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    child.kill(signal);
    await this.exited;
  }

  /** A client of the test's own. */
  client(): Redis {
    return new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The cluster: one stand-in, one Redis, replicas on demand.

/** Every replica's env unless a test says otherwise; token re-checks out of the way, so a list call is a poll or a first read. */
const REPLICA_ENV = { GITLAB_API_DIALECT: 'plural', LOG_LEVEL: 'warn', LIVE_AUTH_RECHECK_MS: '600000' };

export interface Replica {
  name: string;
  /** An admin token of this replica's subscribers and calls only. */
  token: string;
  process: GatewayProcess;
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  base: string;
  metrics(): Promise<string>;
  /** One sample of /metrics; undefined when the gateway does not report it. */
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  /** A query or mutation over HTTP, with this replica's token. */
  request(query: string, variables?: Record<string, unknown>): Promise<Posted>;
  /** A graphql-ws socket with this replica's token. */
  socket(): WsConnection;
  /** A graphql-ws socket for verificationSummaryChanged, with this replica's token. */
  summarySocket(): SummaryConnection;
  /** kill -9. */
  kill(): void;
  /** SIGTERM, then waits for the exit (SIGKILL after 15 s). */
  stop(): Promise<void>;
}

export interface Cluster {
  redis: RedisServer;
  standIn: StandIn;
  /** This test's REDIS_KEY_PREFIX. */
  prefix: string;
  replicas: Replica[];
  /** Starts a replica on this cluster's Redis and prefix (unless `env` says otherwise), with a token of its own. */
  startReplica(name: string, env?: Record<string, string>): Promise<Replica>;
  /** The stand-in's request log position now, to read what came after it (see upstreamSince). */
  upstreamMark(): Promise<number>;
  upstreamSince(mark: number): Promise<RequestLogEntry[]>;
  /** What GitLab received over the next `ms`. */
  upstreamOver(ms: number): Promise<RequestLogEntry[]>;
  control(method: string, route: string, body?: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** A prefix no other test shares, so suites can run side by side even on one Redis. */
export const uniquePrefix = () => `test-${randomBytes(6).toString('hex')}:`;

/** A stand-in and a Redis of the test's own (unless it passes one), and no replica yet. */
export async function startCluster(standInOptions: StandInOverrides, env: Record<string, string>, redis?: RedisServer): Promise<Cluster> {
  const [server, standIn] = await Promise.all([redis ?? RedisServer.start(), startStandIn({ records: 50, requestLogSize: 100_000, ...standInOptions })]);
  const prefix = uniquePrefix();
  const run = randomBytes(6).toString('hex');
  const replicas: Replica[] = [];
  const control = (method: string, route: string, body?: unknown) => standInControl(standIn, method, route, body);

  async function startReplica(name: string, extra: Record<string, string> = {}): Promise<Replica> {
    const token = `glpat-cluster-${run}-${name}`;
    await control('POST', 'tokens', { token, role: 'admin' });
    const gateway = await spawnGateway({ ...REPLICA_ENV, GITLAB_URL: standIn.url, REDIS_URL: server.url, REDIS_KEY_PREFIX: prefix, ...env, ...extra });
    // The live helpers read nothing of a harness but the gateway's URL.
    const target = { gateway: { url: gateway.url } } as Harness;
    const metrics = async () => (await fetch(`${gateway.base}/metrics`)).text();
    const replica: Replica = {
      name,
      token,
      process: gateway,
      url: gateway.url,
      base: gateway.base,
      metrics,
      metric: async (metricName, labels = {}) => sample(await metrics(), metricName, labels),
      request: (query, variables) => postGraphQL(gateway.url, query, { token, variables }),
      socket: () => wsConnection(target, { Authorization: `Bearer ${token}` }),
      summarySocket: () => summaryConnection(target, 'graphql-ws', token),
      kill: () => gateway.kill(),
      async stop() {
        if (gateway.child.exitCode !== null || gateway.child.signalCode !== null) return;
        gateway.child.kill('SIGTERM');
        const killer = setTimeout(() => gateway.kill(), 15_000);
        await gateway.exited;
        clearTimeout(killer);
      },
    };
    replicas.push(replica);
    return replica;
  }

  const upstreamMark = async () => ((await control('GET', `requests?after=${Number.MAX_SAFE_INTEGER}`)) as { lastSeq: number }).lastSeq;
  const upstreamSince = async (mark: number) => ((await control('GET', `requests?after=${mark}`)) as { requests: RequestLogEntry[] }).requests;
  return {
    redis: server,
    standIn,
    prefix,
    replicas,
    startReplica,
    upstreamMark,
    upstreamSince,
    async upstreamOver(ms) {
      const mark = await upstreamMark();
      await sleep(ms);
      return upstreamSince(mark);
    },
    control,
    async close() {
      await Promise.all(replicas.map((r) => r.stop()));
      await standIn.stop();
      if (!redis) await server.stop('SIGKILL');
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// What GitLab received, and from whom.

/** The token a request carried (PRIVATE-TOKEN or Bearer). */
export function tokenOf(entry: RequestLogEntry): string | null {
  return entry.privateToken ?? entry.authorization?.replace(/^Bearer /, '') ?? null;
}

const isList = (e: RequestLogEntry, plural: string) => e.method === 'GET' && e.path === `${API}${plural}`;

/** Reads of records by identifier (polls and first reads): list calls naming identifiers. */
export function recordReads(entries: RequestLogEntry[], plural = 'projects'): RequestLogEntry[] {
  return entries.filter((e) => isList(e, plural) && e.params['identifiers[]'] !== undefined);
}

/** Polls of records: list calls naming exactly these identifiers. */
export function recordPolls(entries: RequestLogEntry[], identifiers: readonly string[], plural = 'projects'): RequestLogEntry[] {
  const wanted = JSON.stringify([...identifiers].sort());
  return entries.filter((e) => isList(e, plural) && JSON.stringify([...(e.params['identifiers[]'] ?? [])].sort()) === wanted);
}

/** A summary's counting calls: list calls filtered by checksum state and nothing else. */
export function summaryCalls(entries: RequestLogEntry[], plural = 'projects'): RequestLogEntry[] {
  return entries.filter((e) => isList(e, plural) && e.params.checksum_state !== undefined && e.params['identifiers[]'] === undefined);
}

/** The names of the replicas whose tokens made these calls, sorted (a token no replica owns is named as it is). */
export function callers(entries: RequestLogEntry[], replicas: readonly Replica[]): string[] {
  const names = new Set(entries.map((e) => replicas.find((r) => r.token === tokenOf(e))?.name ?? String(tokenOf(e))));
  return [...names].sort();
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics of the cluster.

export type PollKind = 'records' | 'summary';

/** How many models each replica says it polls for the cluster, by replica name. */
export async function polling(replicas: readonly Replica[], kind: PollKind): Promise<Record<string, number | undefined>> {
  const values = await Promise.all(replicas.map((r) => r.metric('gateway_live_polls_led', { kind })));
  return Object.fromEntries(replicas.map((r, i) => [r.name, values[i]]));
}

/** The one replica that polls `kind` for the cluster, once exactly one says so and the others say 0. */
export async function soleLeader(replicas: readonly Replica[], kind: PollKind, timeoutMs = 20_000): Promise<Replica> {
  let last: Record<string, number | undefined> = {};
  try {
    return await until(async () => {
      last = await polling(replicas, kind);
      const leading = replicas.filter((r) => last[r.name] === 1);
      return leading.length === 1 && replicas.every((r) => last[r.name] === 0 || last[r.name] === 1) ? leading[0] : undefined;
    }, `one replica polling ${kind}`, timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}; gateway_live_polls_led{kind="${kind}"} per replica: ${JSON.stringify(last)}`);
  }
}

/** Waits until every replica reports this value of a metric. */
export async function everyReplicaReports(replicas: readonly Replica[], name: string, value: number, timeoutMs = 20_000): Promise<void> {
  let last: (number | undefined)[] = [];
  try {
    await until(async () => {
      last = await Promise.all(replicas.map((r) => r.metric(name)));
      return last.every((v) => v === value) ? true : undefined;
    }, `${name} ${value} on every replica`, timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}; per replica: ${JSON.stringify(Object.fromEntries(replicas.map((r, i) => [r.name, last[i]])))}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Records: subscribers, mutations and the stand-in's verdicts.

/** The first `n` PROJECT records in one state, read from the stand-in. */
export async function projectsIn(standIn: StandIn, state: string, n: number): Promise<string[]> {
  const res = await fetch(`${standIn.url}${API}projects?per_page=100&checksum_state=${state}`, { headers: { 'private-token': ADMIN } });
  const records = (await res.json()) as RestRecord[];
  if (records.length < n) throw new Error(`the stand-in has ${records.length} ${state} projects, fewer than ${n}`);
  return records.slice(0, n).map((r) => String(r.record_identifier));
}

/** The first `n` PROJECT records, whatever their state. */
export async function projects(standIn: StandIn, n: number): Promise<string[]> {
  const res = await fetch(`${standIn.url}${API}projects?per_page=${n}`, { headers: { 'private-token': ADMIN } });
  const records = (await res.json()) as RestRecord[];
  if (records.length < n) throw new Error(`the stand-in has fewer than ${n} projects`);
  return records.map((r) => String(r.record_identifier));
}

export async function restProject(standIn: StandIn, id: string): Promise<RestRecord> {
  const res = await fetch(`${standIn.url}${API}projects/${id}`, { headers: { 'private-token': ADMIN } });
  if (res.status !== 200) throw new Error(`GET projects/${id}: ${res.status} ${await res.text()}`);
  return (await res.json()) as RestRecord;
}

/** `n` subscribers of WATCH (or `query`) on these records, spread round-robin over these sockets. */
export function watch(sockets: readonly WsConnection[], n: number, identifiers: readonly string[], query = WATCH): Subscriber[] {
  return Array.from({ length: n }, (_, i) => sockets[i % sockets.length].subscribe({ model: 'PROJECT', identifiers }, query));
}

export async function recalculateOne(replica: Replica, id: string): Promise<Posted> {
  const posted = await replica.request(print(RecalculateChecksumDocument), { model: 'PROJECT', recordIdentifier: id });
  if (posted.body.errors) throw new Error(`recalculateChecksum ${id} through ${replica.name}: ${JSON.stringify(posted.body.errors)}`);
  return posted;
}

/** Marks these records pending again (GitLab's bulk job), through a replica. */
export async function recalculateAll(replica: Replica, identifiers: readonly string[]): Promise<void> {
  const posted = await replica.request(print(RecalculateAllChecksumsDocument), { model: 'PROJECT', identifiers });
  const result = posted.body.data?.recalculateAllChecksums as { status: string; errors: string[] } | undefined;
  if (posted.body.errors || result?.status !== 'SUCCESS') throw new Error(`recalculateAllChecksums through ${replica.name}: ${JSON.stringify(posted.body)}`);
}

const FINAL = new Set(['succeeded', 'failed']);

/** Runs GitLab's verification job until none of these records waits or is being verified; their final states. */
export async function verifyToTheEnd(cluster: Pick<Cluster, 'standIn' | 'control'>, identifiers: readonly string[], timeoutMs = 20_000): Promise<Map<string, RestRecord>> {
  return until(async () => {
    const records = await Promise.all(identifiers.map((id) => restProject(cluster.standIn, id)));
    if (records.every((r) => FINAL.has(r.checksum_information.checksum_state))) return new Map(identifiers.map((id, i) => [id, records[i]]));
    await cluster.control('POST', 'verify');
    return undefined;
  }, `every watched record verified`, timeoutMs, 200);
}

/** Whether a change says what GitLab says of the record (a failure repeated shows in the retry count). */
export function matches(change: Change | undefined, record: RestRecord): boolean {
  const info = change?.record.checksumInformation;
  return (
    change !== undefined &&
    change.state === record.checksum_information.checksum_state.toUpperCase() &&
    info?.checksum === record.checksum_information.checksum &&
    info?.lastChecksum === record.checksum_information.last_checksum &&
    info?.checksumRetryCount === record.checksum_information.checksum_retry_count
  );
}

/** Waits until every subscriber's latest event of every record it watches (of `finals`) says what GitLab says now. */
export async function everyFinalState(subscribers: readonly Subscriber[], finals: Map<string, RestRecord>, timeoutMs = 20_000): Promise<void> {
  await Promise.all(
    subscribers.map((s) =>
      s.waitFor((sub) => [...finals].every(([id, record]) => sub.countOf(id) === 0 || matches(sub.of(id).at(-1), record)), 'every final state', timeoutMs),
    ),
  );
}

/** The states a subscriber saw of each record, each event claiming the state of the one before it as its previous. */
export function brokenChains(subscriber: Subscriber, identifiers: readonly string[]): string[] {
  return identifiers.flatMap((id) => {
    const changes = subscriber.of(id);
    const broken = changes.some((c, i) => c.previousState !== (i === 0 ? null : changes[i - 1].state));
    return broken ? [`${id}: ${changes.map((c) => `${c.previousState}->${c.state}`).join(', ')}`] : [];
  });
}
