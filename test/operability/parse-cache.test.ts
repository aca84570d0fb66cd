// The parse cache is bounded by the heap its documents hold, not by their number: distinct large documents sent
// without a token leave the gateway's heap (a process of its own, read after a full collection) where it was, and
// documents small enough to keep stay within PARSE_CACHE_MAX_BYTES. Repeated documents are still parsed once
// (gateway_parse_cache_lookups_total), over HTTP and graphql-ws alike.
import { Agent, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ParseCache, type ParseCacheOutcome } from '../../src/parse-cache.js';
import { startStandIn, type StandIn } from '../../src/stand-in/index.js';
import { startHostileGateway, type HostileGateway } from '../hostile/gateway.js';
import { ADMIN, until } from './helpers.js';

const KB = 1_000;
const MB = 1 << 20;
/** The defaults under test. */
const MAX_BYTES = 32 * MB;
const MAX_QUERY_LENGTH = 16_384;
/**
 * Heap a case of documents that are not kept may leave: noise of a collected heap is a few MB. Without the bound, 200
 * documents of 500 KB kept ~100 MB, 50 of 10,000 tokens ~250 MB.
 */
const NOT_KEPT_MARGIN = 16 * MB;

describe('the gateway (a process of its own), sent distinct documents without a token', () => {
  let standIn: StandIn;
  let gw: HostileGateway;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });

  /** POSTs each document without a token, four at a time; answers every status seen. */
  async function sendAll(count: number, documentOf: (i: number) => string): Promise<Set<number>> {
    const statuses = new Set<number>();
    let next = 0;
    const url = new URL(gw.url);
    const worker = async () => {
      while (next < count) {
        const body = JSON.stringify({ query: documentOf(next++) });
        statuses.add(
          await new Promise<number>((resolve, reject) => {
            const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' } }, (res) => {
              res.resume().once('end', () => resolve(res.statusCode ?? 0));
            });
            req.once('error', reject);
            req.end(body);
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    return statuses;
  }

  const lookups = (outcome: ParseCacheOutcome) => gw.metric('gateway_parse_cache_lookups_total', { outcome });
  const lookupCounts = async () => ({ hit: await lookups('hit'), miss: await lookups('miss'), too_long: await lookups('too_long') });

  beforeAll(async () => {
    standIn = await startStandIn({ records: 10 });
    gw = await startHostileGateway(standIn.url, { LOG_LEVEL: 'warn', GITLAB_API_DIALECT: 'plural' });
    // Code compiled and pools grown before the first reading.
    await sendAll(20, (i) => `query Warm${i} { __typename } # ${'w'.repeat(100 * KB)}`);
  }, 180_000);
  afterAll(async () => {
    agent.destroy();
    await gw?.close();
    await standIn?.stop();
  }, 60_000);

  it('a document sent again is not parsed again: over HTTP, over graphql-ws, and a syntax error too; a long one is parsed each time', async () => {
    const before = await lookupCounts();
    await sendAll(1, () => '{ __typename }');
    await sendAll(4, () => '{ __typename }');
    await sendAll(2, () => '{ __typename');
    const long = `{ __typename } # ${'l'.repeat(MAX_QUERY_LENGTH)}`;
    await sendAll(2, () => long);
    // The same cache serves graphql-ws: the document parsed over HTTP is a hit there.
    const socket = new WebSocket(gw.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const messages: string[] = [];
    socket.on('message', (data) => messages.push(String(data)));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${ADMIN}` } }));
    await until(() => (messages.some((m) => m.includes('"connection_ack"')) ? true : undefined), 'connection_ack');
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ __typename }' } }));
    await until(() => (messages.some((m) => m.includes('"complete"')) ? true : undefined), 'the answer over graphql-ws');
    socket.close(1000);
    const after = await lookupCounts();
    expect({ hit: after.hit - before.hit, miss: after.miss - before.miss, too_long: after.too_long - before.too_long }).toEqual({ hit: 4 + 1 + 1, miss: 2, too_long: 2 });
  });

  it('200 distinct documents of 500 KB leave the heap where it was', async () => {
    const start = await gw.memory();
    const statuses = await sendAll(200, (i) => `query Big${i} { __typename } # ${'x'.repeat(500 * KB)}`);
    expect(statuses.has(500)).toBe(false);
    const end = await gw.memory();
    expect(end.heapUsedBytes - start.heapUsedBytes).toBeLessThan(NOT_KEPT_MARGIN);
  });

  it('200 distinct invalid documents of 500 KB (an argument quoted by their error) too', async () => {
    const start = await gw.memory();
    await sendAll(200, (i) => `{ nope${i}(a: "${'x'.repeat(500 * KB)}") }`);
    const end = await gw.memory();
    expect(end.heapUsedBytes - start.heapUsedBytes).toBeLessThan(NOT_KEPT_MARGIN);
  });

  it('50 distinct documents of 9,990 tokens (107 KB, 5 MB each once parsed) too', async () => {
    const start = await gw.memory();
    await sendAll(50, (i) => `{ f${i} ${'__typename '.repeat(9_987)}}`);
    const end = await gw.memory();
    expect(end.heapUsedBytes - start.heapUsedBytes).toBeLessThan(NOT_KEPT_MARGIN);
  });

  it('100 distinct documents short enough to keep, of 8,000 tokens (2 MB each once parsed), stay within PARSE_CACHE_MAX_BYTES', async () => {
    const start = await gw.memory();
    // A list of 8,000 one-character values: the densest text there is, all of it tokens, under 16,384 characters.
    const statuses = await sendAll(100, (i) => `{ modelRecords(model: PROJECT, identifiers: [${'1 '.repeat(7_985)}]) { totalCount } } # ${i}`);
    expect(statuses.has(500)).toBe(false);
    const end = await gw.memory();
    expect(await gw.metric('gateway_parse_cache_bytes')).toBeLessThanOrEqual(MAX_BYTES);
    expect(end.heapUsedBytes - start.heapUsedBytes).toBeLessThan(MAX_BYTES + NOT_KEPT_MARGIN);
  });
});

describe('the cache itself', () => {
  /** A document as Yoga's parser gives it, with `tokens` tokens linked from its location. */
  function documentOf(tokens: number) {
    const first = { next: null as unknown };
    let last = first;
    for (let i = 1; i < tokens; i++) last = (last.next = { next: null }) as typeof first;
    return { kind: 'Document', definitions: [], loc: { startToken: first } } as never;
  }

  it('keeps the most recently used entries within its budget, and nothing longer than its longest text', () => {
    const outcomes: ParseCacheOutcome[] = [];
    let held = 0;
    // Room for two entries of 100 tokens and 2 characters, not three.
    const cache = new ParseCache({ maxBytes: 2.5 * (1_024 + 6 * 2 + 500 * 100), maxQueryLength: 10 }, { lookup: (o) => outcomes.push(o), held: (bytes) => (held = bytes) });
    const [a, b, c] = [documentOf(100), documentOf(100), documentOf(100)];
    cache.documentCache.set('aa', a);
    cache.documentCache.set('bb', b);
    expect(cache.documentCache.get('aa')).toBe(a);
    cache.documentCache.set('cc', c);
    // 'bb' was the least recently used.
    expect(cache.documentCache.get('bb')).toBeUndefined();
    expect(cache.documentCache.get('aa')).toBe(a);
    expect(cache.documentCache.get('cc')).toBe(c);
    // A parse failure costs its text only: it fits beside them.
    const failure = new Error('Syntax Error');
    cache.errorCache.set('dd', failure);
    expect(cache.documentCache.get('dd')).toBeUndefined();
    expect(cache.errorCache.get('dd')).toBe(failure);
    cache.documentCache.set('a text longer than ten', documentOf(1));
    expect(cache.documentCache.get('a text longer than ten')).toBeUndefined();
    expect(outcomes).toEqual(['hit', 'miss', 'hit', 'hit', 'hit', 'too_long']);
    expect(held).toBe(3 * (1_024 + 6 * 2) + 2 * 500 * 100);
  });
});
