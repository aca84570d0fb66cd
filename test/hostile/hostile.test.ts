// Every case of the hostile corpus (cases.ts) against one gateway, a process of its own in front of the stand-in. Each
// case gets the class of answer it names, and whatever it sends: no 5xx, no INTERNAL_SERVER_ERROR, no UPSTREAM_* code
// (GitLab is healthy: an upstream error here is client input that reached it), every error with a code, no stack or
// file path, a small answer, nothing upstream outside the API prefix (nor a dot segment, nor a request line nginx
// refuses), no error, stack, token or huge line in the gateway's log, /metrics not grown by the client, no socket
// closed as an internal error, and nothing left running once the client has gone: subscriptions, sockets, calls to
// GitLab. Last, the memory of the gateway comes back to its start once the hostile client has left.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from '../../src/stand-in/index.js';
import { ADMIN, API } from '../support/gateway.js';
import { until } from '../operability/helpers.js';
import { CASES, hasRawFrames, isMany, itemsOf, known, type HostileCase, type Request } from './cases.js';
import { closeAgent, HostileClient, type Answer, type Outcome } from './client.js';
import { startHostileGateway, type HostileGateway, type Memory } from './gateway.js';
import { UpstreamLog, type Seen } from './upstream.js';

/**
 * The gateway's settings besides the defaults under test: quick polls, so that a poll left running shows at once; and
 * a small budget for the parse cache (32 MB by default), so that what a bounded cache keeps stays far inside the memory
 * margins below, whose point is what is not bounded.
 */
const ENV = {
  LOG_LEVEL: 'info',
  GITLAB_API_DIALECT: 'plural',
  LIVE_FAST_POLL_MS: '200',
  LIVE_SLOW_POLL_MS: '1000',
  LIVE_MAX_BACKOFF_MS: '1000',
  LIVE_AUTH_RECHECK_MS: '2000',
  PARSE_CACHE_MAX_BYTES: String(8 << 20),
};
/** GitLab's latency while a client leaves mid-request, so that work still going on for it shows. */
const SLOW_GITLAB_MS = 1500;

const MAX_REPLY_BYTES = 32 * 1024;
const MAX_LOG_LINE_BYTES = 4 * 1024;
/** /metrics may grow this much per case: a handful of new series, not one per name a client invents. */
const MAX_METRICS_GROWTH_BYTES = 64 * 1024;
/**
 * Heap a client that does not read may make the gateway hold while it stays connected: twice what one socket may
 * queue (WS_MAX_BUFFERED_BYTES, 32 MB). Without a bound, 1 MB of invalid documents held hundreds of MB.
 */
const MAX_HELD_FOR_A_PAUSED_CLIENT = 64 << 20;
/**
 * Margins of the memory check, after a forced full collection: the attack this corpus comes from added 350 to 700 MB
 * of RSS, and 200 documents of 500 KB kept by a cache add 100 to 200 MB of heap. What legitimately stays (compiled
 * code, grown pools, bounded caches of small documents) is a few MB of heap; RSS moves more (freed pages are not all
 * given back to the system at once), so it gets a wider margin.
 */
const HEAP_MARGIN = 48 << 20;
const RSS_MARGIN = 128 << 20;
/**
 * Heap one case may leave behind: what bounded caches keep (Yoga's parsed documents within their budget), not a copy
 * of everything it sent. Cases that keep nothing stay under 6 MB here; the ones that fill a cache kept 85 to 250 MB.
 */
const MAX_KEPT_PER_CASE = 24 << 20;

const MB = (bytes: number) => `${Math.round(bytes / 1e5) / 10} MB`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let standIn: StandIn;
let gw: HostileGateway;
let upstream: UpstreamLog;
const client = new HostileClient();
let baseline: Memory;
const ran = new Set<string>();
/** The heap (after a full collection) when the last case ended: where the next one starts. */
let heapAfterLastCase: number | null = null;

const control = async (method: string, route: string, body?: unknown) => {
  const res = await fetch(`${standIn.url}/-/stand-in/${route}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`control ${method} ${route}: ${res.status}`);
  return res.json();
};

const liveSubscriptions = () => gw.metric('gateway_live_subscriptions');
const openSockets = () => gw.metric('gateway_websocket_connections');

beforeAll(async () => {
  standIn = await startStandIn({ records: 1200, compositeKeyModels: ['supply_chain_attestations'], verifyIntervalMs: 1000, failRate: 0 });
  gw = await startHostileGateway(standIn.url, ENV);
  upstream = new UpstreamLog(control);
  await upstream.start();
  // What a well-behaved client does first (the dialect learnt, code compiled, pools grown) is not the corpus' doing.
  const warmUp = new HostileClient();
  const benign: HostileCase[] = [
    { name: 'warm-up query', transport: 'http-post', request: { query: '{ modelRecords(model: PROJECT, first: 10) { nodes { id } } }' }, answer: 'ok' },
    { name: 'warm-up refusal', transport: 'http-post', request: { query: '{ nope }' }, answer: 'refused' },
    { name: 'warm-up subscription', transport: 'graphql-ws', messages: [{ query: 'subscription { checksumStateChanged(model: PROJECT, identifiers: ["1"]) { state } }' }], answer: 'ok' },
    { name: 'warm-up SSE', transport: 'sse', request: { query: 'subscription { checksumStateChanged(model: PROJECT, identifiers: ["2"]) { state } }' }, answer: 'ok' },
  ];
  for (const c of benign) await warmUp.send(c, { url: gw.url, requestId: 'warm-up' });
  warmUp.leave();
  await until(async () => ((await liveSubscriptions()) === 0 && (await openSockets()) === 0 ? true : undefined), 'the warm-up to end', 30_000, 100);
  baseline = await gw.memory();
  heapAfterLastCase = baseline.heapUsedBytes;
  const idsOf = async (model: string) => {
    const res = await fetch(`${standIn.url}${API}${model}?per_page=20`, { headers: { 'private-token': ADMIN } });
    return ((await res.json()) as { record_identifier: number | string }[]).map((r) => String(r.record_identifier));
  };
  known.projectIds = await idsOf('projects');
  known.attestationIds = await idsOf('supply_chain_attestations');
}, 180_000);

afterAll(async () => {
  client.leave();
  closeAgent();
  upstream?.stop();
  await gw?.close();
  await standIn?.stop();
}, 60_000);

// ---------------------------------------------------------------------------------------------------------------
// What holds for every case.

/** The tokens a case sends that must never be written anywhere. */
function secretsOf(c: HostileCase): string[] {
  const token = c.token;
  const params = c.transport === 'graphql-ws' ? c.connectionParams : undefined;
  const found = [typeof token === 'string' ? token : null, params ? JSON.stringify(params) : null].filter((t): t is string => t !== null && t !== ADMIN && t.length >= 8);
  // A long token is looked for by a piece of it.
  return found.map((t) => t.slice(0, 64));
}

/**
 * Whether a call GitLab received is this case's: by its request id over HTTP and SSE; over graphql-ws (whose operations
 * get request ids of their own) by its first identifier, one of those the case watches.
 */
function callsOf(c: HostileCase, requestId: string): (seen: Seen) => boolean {
  if (c.transport !== 'graphql-ws') return (seen) => seen.requestId === requestId;
  const ids = new Set(itemsOf<unknown>(c.messages).flatMap((m) => ((typeof m === 'object' && m !== null && ((m as Request).variables as { ids?: string[] } | undefined)?.ids) || [])));
  return (seen) => seen.firstIdentifier !== null && ids.has(seen.firstIdentifier);
}

const STACK = /\n\s+at |^\s*at \S+ \(|\(?(file:\/\/|\/[\w.@-]+\/)[\w./@-]+\.(?:ts|js|mjs|cjs)(?::\d+)?/m;

/** Problems with one answer's text: size, stack, error codes. */
function replyProblems(text: string, status: number | undefined): string[] {
  const problems: string[] = [];
  const shown = text.slice(0, 160).replace(/\s+/g, ' ');
  if (status !== undefined && status >= 500) problems.push(`HTTP ${status}: ${shown}`);
  if (Buffer.byteLength(text) > MAX_REPLY_BYTES) problems.push(`an answer over ${MAX_REPLY_BYTES / 1024} KB: ${Buffer.byteLength(text)} bytes, ${shown.slice(0, 80)}`);
  if (STACK.test(text)) problems.push(`a stack or a file path in the answer: ${(STACK.exec(text)?.[0] ?? '').slice(0, 80)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return problems;
  }
  const message = parsed as { type?: string; payload?: unknown; errors?: unknown };
  const errors = message.type === 'error' ? message.payload : message.type === 'next' ? (message.payload as { errors?: unknown })?.errors : message.errors;
  for (const error of Array.isArray(errors) ? errors : []) {
    const code = (error as { extensions?: { code?: unknown } })?.extensions?.code;
    const what = String((error as { message?: unknown })?.message ?? '').slice(0, 100);
    if (typeof code !== 'string') problems.push(`an error without extensions.code: ${what}`);
    else if (code === 'INTERNAL_SERVER_ERROR') problems.push(`INTERNAL_SERVER_ERROR: ${what}`);
    else if (code.startsWith('UPSTREAM_')) problems.push(`${code} (client input that reached GitLab): ${what}`);
  }
  return problems;
}

const isTyped4xx = (a: Answer) => a.kind === 'http' && a.status >= 400 && a.status < 500 && a.codes !== null && a.codes.every((code) => typeof code === 'string');
const withCodes = (a: Answer) => a.kind === 'errors' && a.codes.every((code) => typeof code === 'string');
/**
 * Codes with which the gateway may close a socket: graphql-ws's own (44xx), going away (1001), a protocol error (1002),
 * not UTF-8 (1007), policy (1008), too big (1009), try again later (1013).
 */
const isOwnClose = (code: number) => (code >= 4400 && code <= 4499) || [1001, 1002, 1007, 1008, 1009, 1013].includes(code);

function describeAnswer(a: Answer): string {
  if (a.kind === 'errors') return `errors ${JSON.stringify(a.codes)}`;
  if (a.kind === 'http') return `HTTP ${a.status} ${JSON.stringify(a.codes)}`;
  if (a.kind === 'closed') return `socket closed with ${a.code}`;
  return a.kind === 'none' ? 'no answer' : 'data';
}

/** Whether an answer is of the case's class. */
function ofClass(c: HostileCase, a: Answer): boolean {
  const closedOwn = a.kind === 'closed' && isOwnClose(a.code);
  switch (c.answer) {
    case 'ok':
      return a.kind === 'data';
    case 'served':
      return a.kind === 'data' || withCodes(a) || isTyped4xx(a) || closedOwn;
    case 'refused':
      return withCodes(a) || isTyped4xx(a) || closedOwn;
    case 'refused-4xx':
      return isTyped4xx(a);
    case 'unauthenticated':
      return (a.kind === 'errors' || a.kind === 'http') && a.codes !== null && a.codes.length > 0 && a.codes.every((code) => code === 'UNAUTHENTICATED') && (a.kind === 'errors' || isTyped4xx(a));
  }
}

function classProblems(c: HostileCase, outcome: Outcome): string[] {
  const problems: string[] = [];
  if (c.transport === 'graphql-ws') {
    const close = outcome.closedByGateway;
    if (close && (close.code === 4500 || close.code === 1011)) problems.push(`the gateway closed the socket as an internal error (${close.code} ${close.reason})`);
    else if (close && !isOwnClose(close.code) && !(c.doesNotRead && close.code === 1006)) problems.push(`the gateway closed the socket with ${close.code} ${close.reason}`);
    if (c.answer === 'unauthenticated') {
      if (outcome.acknowledged) problems.push('an unknown or malformed token got a connection_ack (a session)');
      if (!close || (close.code !== 4401 && close.code !== 4403)) problems.push(`the socket was not closed with 4401/4403 (${close ? `${close.code} ${close.reason}` : 'still open'})`);
      return problems;
    }
    // A client that does not read may be cut off: that is an answer of any class. Protocol abuse is refused by closing.
    if (c.doesNotRead && close) return problems;
    if (c.answer === 'refused' && close && isOwnClose(close.code) && hasRawFrames(c)) return problems;
  }
  // A flood, or raw frames (protocol abuse, which closing the socket may answer), is judged answer by answer; otherwise
  // the last operation is the hostile one, and those before it are its company, which its refusal must leave running.
  const flood = c.transport === 'graphql-ws' ? isMany(c.messages) || hasRawFrames(c) : isMany(c.request);
  const judged = flood ? outcome.answers : outcome.answers.slice(-1);
  const company = flood ? [] : outcome.answers.slice(0, -1);
  const wrong = new Map<string, number>();
  judged.forEach((a) => {
    if (ofClass(c, a)) return;
    const key = `expected ${c.answer}, got ${describeAnswer(a)}`;
    wrong.set(key, (wrong.get(key) ?? 0) + 1);
  });
  if (judged.length === 0) problems.push(`expected ${c.answer}, got nothing`);
  for (const a of company) if (!(a.kind === 'data' || withCodes(a))) problems.push(`an operation beside the hostile one got ${describeAnswer(a)}`);
  if (company.length > 0 && c.transport === 'graphql-ws' && outcome.closedByGateway) problems.push('the refusal closed the socket, taking the operations beside it along');
  for (const [key, n] of wrong) problems.push(n > 1 ? `${key} (x${n})` : key);
  return problems;
}

/** Problems in what the gateway wrote while the case ran. */
function logProblems(c: HostileCase, written: { stdout: string; stderr: string }): string[] {
  const problems = new Set<string>();
  for (const line of written.stdout.split('\n')) {
    if (line === '') continue;
    if (Buffer.byteLength(line) > MAX_LOG_LINE_BYTES) problems.add(`a log line of ${Buffer.byteLength(line)} bytes: ${line.slice(0, 120)}`);
    let level = 0;
    try {
      level = (JSON.parse(line) as { level?: number }).level ?? 0;
    } catch {
      problems.add(`a log line that is not JSON: ${line.slice(0, 120)}`);
    }
    if (level >= 50) problems.add(`an error in the log: ${line.slice(0, 200)}`);
    if (line.includes('    at ') || line.includes('\\n    at ')) problems.add(`a stack in the log: ${line.slice(0, 200)}`);
  }
  const stderr = written.stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^(Debugger (attached|listening)|For help, see)/.test(line));
  if (stderr.length > 0) problems.add(`written to stderr: ${stderr.slice(0, 3).join(' | ').slice(0, 300)}`);
  for (const secret of secretsOf(c)) if (written.stdout.includes(secret) || written.stderr.includes(secret)) problems.add('the token appears in the log');
  return [...problems];
}

/** Problems of many answers, one line per kind ("kind: example"), with how many answers had it. */
function summarised(problems: string[]): string[] {
  const byKind = new Map<string, { example: string; count: number }>();
  for (const problem of problems) {
    const kind = problem.split(':')[0];
    const seen = byKind.get(kind);
    if (seen) seen.count++;
    else byKind.set(kind, { example: problem, count: 1 });
  }
  return [...byKind.values()].map(({ example, count }) => (count > 1 ? `${example} (and ${count - 1} more answers like it)` : example));
}

const dedupe = (problems: string[]) => {
  const counts = new Map<string, number>();
  for (const p of problems) counts.set(p, (counts.get(p) ?? 0) + 1);
  return [...counts].map(([p, n]) => (n > 1 ? `${p} (x${n})` : p));
};

async function runCase(c: HostileCase, index: number): Promise<string[]> {
  ran.add(c.name);
  const problems: string[] = [];
  const requestId = `hostile-${index}`;
  const logMark = gw.mark();
  const metricsBefore = Buffer.byteLength(await gw.metricsText());
  const failedPollsBefore = await gw.metric('gateway_live_poll_cycles_total', { outcome: 'upstream_error' });
  const heapBefore = heapAfterLastCase ?? (await gw.memory()).heapUsedBytes;
  let heldForPausedClient = 0;
  // What earlier cases left running is theirs (reported there): this case is judged on what it adds.
  const leftBefore = { subscriptions: (await liveSubscriptions()) - client.subscriptionsHeld(), sockets: (await openSockets()) - client.socketsHeld() };

  // A client that leaves mid-request does so once GitLab has its first call, and GitLab is slow meanwhile.
  let leftAtSeq: number | null = null;
  const ofThisCase = callsOf(c, requestId);
  let leave: Promise<void> | undefined;
  if (c.leavesWhileGitLabAnswers) {
    await control('PUT', 'faults', { latencyMs: SLOW_GITLAB_MS });
    const from = upstream.lastSeq;
    leave = until(
      async () => {
        await upstream.read();
        return upstream.since(from).some(ofThisCase) ? true : undefined;
      },
      'the first call to GitLab of the leaving client',
      30_000,
      20,
    ).then(
      () => void (leftAtSeq = upstream.lastSeq),
      () => void problems.push('GitLab never got a call of the leaving client'),
    );
  }

  const outcome = await client.send(c, {
    url: gw.url,
    requestId,
    leave,
    dealtWith: async ({ markerId }) => {
      // The gateway has dealt with everything sent before the marker once the marker's look-up reaches GitLab, or
      // it has given up on the socket (ws waits up to 30 s for a paused client's close frame).
      const socketsBefore = client.socketsHeld();
      await until(
        async () => {
          await upstream.read();
          if (upstream.since(0).some((s) => s.firstIdentifier === markerId)) return true;
          return (await openSockets()) < socketsBefore ? true : undefined;
        },
        'the gateway to deal with what the client sent',
        90_000,
        100,
      );
      heldForPausedClient = (await gw.memory()).heapUsedBytes - heapBefore;
    },
  });

  if (c.leavesWhileGitLabAnswers) {
    // What the gateway had started before it knew the client left may still reach GitLab (how much depends on how busy
    // the machine is); nothing new may start after. Known: its subscriptions are gone from the gauge. Then, once what
    // was on its way has been answered, no call of this case may reach GitLab any more.
    if (c.transport !== 'http-post') {
      await until(async () => ((await liveSubscriptions()) - client.subscriptionsHeld() - leftBefore.subscriptions <= 0 ? true : undefined), 'the gateway to drop the leaving client\'s subscriptions', 30_000, 50).catch(() => undefined);
    }
    await sleep(2 * SLOW_GITLAB_MS);
    await upstream.read();
    const settledAt = upstream.lastSeq;
    const whileLeaving = upstream.since(leftAtSeq ?? settledAt).filter(ofThisCase).length;
    await sleep(4 * SLOW_GITLAB_MS);
    await upstream.read();
    const after = upstream.since(settledAt).filter(ofThisCase).length;
    await control('PUT', 'faults', { latencyMs: 0 });
    if (after > 0) problems.push(`${after} calls to GitLab started after the gateway knew the client had left (${whileLeaving} reached it while it was leaving)`);
  } else {
    problems.push(...outcome.problems, ...classProblems(c, outcome));
  }
  problems.push(...summarised(outcome.replies.flatMap((reply) => replyProblems(reply.text, reply.status))));
  if (heldForPausedClient > MAX_HELD_FOR_A_PAUSED_CLIENT) problems.push(`a client that does not read made the gateway hold ${MB(heldForPausedClient)} of heap`);

  // Nothing outlives what the client still holds.
  const outliving = async () => ({ subscriptions: (await liveSubscriptions()) - client.subscriptionsHeld() - leftBefore.subscriptions, sockets: (await openSockets()) - client.socketsHeld() - leftBefore.sockets });
  try {
    await until(async () => {
      const left = await outliving();
      // Below 0: what an earlier case left running ended meanwhile.
      return left.subscriptions <= 0 && left.sockets <= 0 ? true : undefined;
    }, 'the gauges to match what the client holds', 10_000, 50);
  } catch {
    const left = await outliving();
    problems.push(`${left.subscriptions} subscriptions and ${left.sockets} sockets more than the client holds (gateway_live_subscriptions, gateway_websocket_connections)`);
  }
  await upstream.read();
  problems.push(...upstream.takeProblems().map((p) => `upstream (this case, or a subscription still held): ${p}`));
  const failedPolls = (await gw.metric('gateway_live_poll_cycles_total', { outcome: 'upstream_error' })) - failedPollsBefore;
  if (failedPolls > 0) problems.push(`${failedPolls} shared poll cycles failed upstream`);
  const metricsGrowth = Buffer.byteLength(await gw.metricsText()) - metricsBefore;
  if (metricsGrowth > MAX_METRICS_GROWTH_BYTES) problems.push(`/metrics grew by ${Math.round(metricsGrowth / 1024)} KB`);
  problems.push(...logProblems(c, gw.writtenSince(logMark)));
  // What the gateway still holds once the case is over, beyond what the client keeps open (a few KB a subscription);
  // read again a little later when over the bound, as calls already on their way may still be landing.
  heapAfterLastCase = (await gw.memory()).heapUsedBytes;
  if (heapAfterLastCase - heapBefore > MAX_KEPT_PER_CASE) {
    await sleep(5_000);
    heapAfterLastCase = (await gw.memory()).heapUsedBytes;
  }
  const kept = heapAfterLastCase - heapBefore;
  if (kept > MAX_KEPT_PER_CASE) problems.push(`the gateway kept ${MB(kept)} more heap after this case`);
  return dedupe(problems);
}

describe('every hostile input gets a typed refusal or an answer, and nothing outlives it', () => {
  CASES.forEach((c, index) => {
    it(`${c.transport}: ${c.name}`, async () => {
      expect(await runCase(c, index)).toEqual([]);
    }, 300_000);
  });
});

describe('after the hostile client leaves', () => {
  it('the gateway lets go of everything it started, and its memory comes back to where it was', async () => {
    // Run alone, this test plays the corpus itself first.
    for (const [index, c] of CASES.entries()) if (!ran.has(c.name)) await runCase(c, index);
    const held = await gw.memory();
    client.leave();

    await until(async () => ((await liveSubscriptions()) === 0 ? true : undefined), 'gateway_live_subscriptions back to 0', 30_000, 100).catch(() => {});
    await until(async () => ((await openSockets()) === 0 ? true : undefined), 'gateway_websocket_connections back to 0', 60_000, 100).catch(() => {});
    const counts = { subscriptions: await liveSubscriptions(), sockets: await openSockets() };

    // No poll runs for nobody: once what was in flight has landed, GitLab hears nothing more.
    await sleep(2_000);
    await upstream.read();
    const settled = upstream.lastSeq;
    await sleep(3_000);
    await upstream.read();
    const afterLeaving = upstream.since(settled);

    // Memory: forced collections until it is back within the margins (a collection may leave some for the next).
    let after = await gw.memory();
    await until(
      async () => {
        after = await gw.memory();
        return after.heapUsedBytes <= baseline.heapUsedBytes + HEAP_MARGIN && after.rssBytes <= baseline.rssBytes + RSS_MARGIN ? true : undefined;
      },
      'memory back within its margins',
      30_000,
      1_000,
    ).catch(() => {});
    const report = {
      heap: `${MB(baseline.heapUsedBytes)} at the start, ${MB(held.heapUsedBytes)} after the corpus, ${MB(after.heapUsedBytes)} after the client left`,
      rss: `${MB(baseline.rssBytes)} at the start, ${MB(held.rssBytes)} after the corpus, ${MB(after.rssBytes)} after the client left`,
    };
    expect({ ...counts, callsToGitLabAfterLeaving: afterLeaving.length, upstreamProblems: upstream.takeProblems() }, JSON.stringify(report)).toEqual({
      subscriptions: 0,
      sockets: 0,
      callsToGitLabAfterLeaving: 0,
      upstreamProblems: [],
    });
    expect(after.heapUsedBytes - baseline.heapUsedBytes, report.heap).toBeLessThanOrEqual(HEAP_MARGIN);
    expect(after.rssBytes - baseline.rssBytes, report.rss).toBeLessThanOrEqual(RSS_MARGIN);
  }, 900_000);
});
