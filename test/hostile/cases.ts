// The corpus of hostile inputs: for each case, what a client sends, over which transport, and the class of answer it
// must get, nothing more. hostile.test.ts sends every case to one gateway and checks what holds for all of them.
import { ADMIN } from '../support/gateway.js';

export type Transport = 'http-post' | 'http-get' | 'sse' | 'graphql-ws';

/**
 * The class of answer a case must get (every class also means: no 5xx, no INTERNAL_SERVER_ERROR, no UPSTREAM_* code,
 * no stack, a small answer, nothing upstream outside the API prefix, and nothing left running once the client leaves):
 * - `ok`: data, and no error;
 * - `served`: data, or errors that carry a code (legal input, if heavy);
 * - `refused`: errors that carry a code: a typed HTTP 4xx, a 200 with errors, a graphql-ws `error` (or a `next` with
 *   errors), or the gateway closing the socket with a code of its own (44xx, 1008, 1009);
 * - `refused-4xx`: a typed HTTP 4xx;
 * - `unauthenticated`: refused with UNAUTHENTICATED; over graphql-ws, the socket closed (4401, 4403) without a
 *   connection_ack: an unknown token never gets a session.
 */
export type Answer = 'ok' | 'served' | 'refused' | 'refused-4xx' | 'unauthenticated';

/** A GraphQL request as it goes over HTTP or in a graphql-ws subscribe message. */
export interface Request {
  query?: string;
  variables?: unknown;
  operationName?: string;
  extensions?: unknown;
}

/** `count` items made by `of(i)`: a flood, without writing it out. */
export interface Many<T> {
  count: number;
  of: (i: number) => T;
}

export const isMany = (value: unknown): value is Many<unknown> => typeof value === 'object' && value !== null && 'count' in value && 'of' in value;

/** The items of a list or of a flood. */
export const itemsOf = <T>(value: T[] | Many<T> | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : Array.from({ length: value.count }, (_, i) => value.of(i)));

interface Common {
  name: string;
  answer: Answer;
  /**
   * The client goes away while the gateway waits for GitLab's answer to it (GitLab is made slow for this case, and the
   * client leaves once GitLab has received the first call of the request).
   */
  leavesWhileGitLabAnswers?: boolean;
}

export interface HttpCase extends Common {
  transport: 'http-post' | 'http-get' | 'sse';
  /** The request, or a flood of requests sent one after the other (a few at a time). */
  request?: Request | Many<Request>;
  /** Variables as JSON text, for what JSON.stringify cannot make (100,000 nested arrays overflow it). */
  rawVariables?: string;
  /** A body sent as it is instead of the request (POST only). */
  body?: string;
  /** Default application/json on a POST, none on a GET; null sends none. */
  contentType?: string | null;
  /** Default `application/graphql-response+json, application/json`; `text/event-stream` for SSE. */
  accept?: string;
  headers?: Record<string, string>;
  /** Sent as `Authorization: Bearer <token>`; default the stand-in's admin token; null sends none. */
  token?: string | null;
  /** SSE: the stream stays open (with whatever it started) until the hostile client leaves. */
  holds?: boolean;
}

export interface WsCase extends Common {
  transport: 'graphql-ws';
  /** `connection_init` payload `{ Authorization: "Bearer <token>" }`; default the admin token; null: an empty payload. */
  token?: string | null;
  /** A `connection_init` payload of its own, instead of the token. */
  connectionParams?: unknown;
  /** Send no `connection_init` at all. */
  noInit?: boolean;
  /** After the handshake: subscribe messages (objects, given ids 0, 1, ...), raw text frames (strings), or the bytes of a text frame. */
  messages?: Array<Request | string | Uint8Array> | Many<Request | string>;
  /** The client stops reading once acknowledged, and reads again only after the gateway has dealt with everything. */
  doesNotRead?: boolean;
  /** The socket and its subscriptions stay open until the hostile client leaves. */
  holds?: boolean;
}

export type HostileCase = HttpCase | WsCase;

/** graphql-ws frames other than subscribe messages made from a request (strings, bytes): protocol abuse. */
export const hasRawFrames = (c: HostileCase) => c.transport === 'graphql-ws' && Array.isArray(c.messages) && c.messages.some((m) => typeof m === 'string' || m instanceof Uint8Array);

/**
 * Ids of records the stand-in has, read from it before the corpus runs (its ids have gaps): for cases whose point is
 * not an unknown id. Cases read them when they are sent (Many.of).
 */
export const known = { projectIds: [] as string[], attestationIds: [] as string[] };

// ---------------------------------------------------------------------------------------------------------------
// Building blocks.

/** Integer ids from `from` on: most name records of the stand-in (1,200 seeded per model, with gaps in their ids). */
const integerIds = (n: number, from = 1) => Array.from({ length: n }, (_, i) => String(from + i));
/** Integer ids no record has (each `set` another n of them). */
const unknownIds = (n: number, set = 0) => integerIds(n, 900_000_001 + set * n);
/** A composite key as GitLab writes it: URL-safe base64, without padding, of its parts joined by spaces. */
const compositeKey = (text: string) => Buffer.from(text).toString('base64url');
/** A well-formed composite key of exactly `length` characters. */
const longCompositeKey = (length: number, seed: number) => compositeKey(`${seed} ${'7'.repeat(Math.floor((length * 3) / 4) - String(seed).length - 1)}`);
const LONG_IDS_50 = Array.from({ length: 50 }, (_, i) => longCompositeKey(252, i + 1));
const LONG_IDS_250 = Array.from({ length: 50 }, (_, i) => longCompositeKey(250, i + 1));

/** A string of `bytes` characters. */
const pad = (bytes: number, char = 'x') => char.repeat(bytes);
const KB = 1024;

const COUNT = `{ totalCount }`;
const records = (model: string, argument: string) => `query Records { modelRecords(model: ${model}, ${argument}) ${COUNT} }`;
const recordsOf = (ids: string[], model = 'PROJECT') => ({ query: `query Records($ids: [ID!]) { modelRecords(model: ${model}, identifiers: $ids) ${COUNT} }`, variables: { ids } });
const recordOf = (id: string, model = 'PROJECT') => ({ query: `query Record($id: ID!) { modelRecord(model: ${model}, recordIdentifier: $id) { id } }`, variables: { id } });
const recalculateOne = (id: string, model = 'PROJECT') => ({ query: `mutation Recalculate($id: ID!) { recalculateChecksum(model: ${model}, recordIdentifier: $id) { errors } }`, variables: { id } });
const recalculateSome = (ids: string[], model = 'PROJECT') => ({ query: `mutation RecalculateSome($ids: [ID!]) { recalculateAllChecksums(model: ${model}, identifiers: $ids) { status errors } }`, variables: { ids } });
const watch = (ids: string[], model = 'PROJECT') => ({ query: `subscription Watch($ids: [ID!]!) { checksumStateChanged(model: ${model}, identifiers: $ids) { state record { recordIdentifier } } }`, variables: { ids } });
const watchBatches = (ids: string[]) => ({ query: `subscription WatchBatches($ids: [ID!]!) { checksumStateChangeBatches(model: PROJECT, identifiers: $ids) { changes { state } unknownIdentifiers } }`, variables: { ids } });

/** 2,000 nested lists around one id: 4 KB that overflowed the parser's stack. */
const NESTED_LISTS = `{ modelRecords(model: PROJECT, identifiers: ${'['.repeat(2000)}"1"${']'.repeat(2000)}) ${COUNT} }`;
/** 5,000 nested selections. */
const NESTED_SELECTIONS = `{ ${'a { '.repeat(5000)}a${' }'.repeat(5000)} }`;
/** 100,000 nested arrays in a variable: fine for JSON.parse, not for anything recursive after it. */
const NESTED_VARIABLE = `{"ids":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
/** A document every field of which is unknown: 101 validation errors (graphql stops there), about 15 KB, from 0.2 KB. */
const MANY_ERRORS = `{ ${'x '.repeat(101)}}`;
/** A cursor that decodes as a keyset position, with a 75 KB GitLab cursor in it: 100 KB. */
const LONG_CURSOR = Buffer.from(JSON.stringify({ k: pad(75 * KB), s: 0 })).toString('base64url');
/** A composite key of 900 KB: base64 that decodes to parts joined by a space. */
const HUGE_ID = longCompositeKey(900 * KB, 1);
const SUBSCRIPTION = watch(['1', '2']);
const MADE_UP = 'glpat-made-up-0000000000000000';

/** Another operation name each time, with no token: a metrics series each, unless the gateway bounds them. */
const inventedNames: Many<Request> = { count: 10_000, of: (i) => ({ query: `query Junk${i}x123 { __typename }` }) };

export const CASES: HostileCase[] = [
  // Subscriptions over a transport that cannot carry them: refused, and nothing they started outlives the refusal.
  { name: 'subscription POSTed with Accept: application/json', transport: 'http-post', request: SUBSCRIPTION, accept: 'application/json', answer: 'refused-4xx' },
  { name: 'subscription POSTed with Accept: application/graphql-response+json', transport: 'http-post', request: SUBSCRIPTION, accept: 'application/graphql-response+json', answer: 'refused-4xx' },
  { name: 'subscription POSTed with Accept: multipart/mixed', transport: 'http-post', request: SUBSCRIPTION, accept: 'multipart/mixed', answer: 'refused-4xx' },
  { name: 'subscription POSTed with Accept: application/graphql-response+json and no token', transport: 'http-post', request: SUBSCRIPTION, accept: 'application/graphql-response+json', token: null, answer: 'refused-4xx' },
  { name: 'subscription POSTed with Accept: application/json and no token', transport: 'http-post', request: SUBSCRIPTION, accept: 'application/json', token: null, answer: 'refused-4xx' },
  { name: 'subscription by GET with Accept: application/json', transport: 'http-get', request: SUBSCRIPTION, accept: 'application/json', headers: { 'x-graphql-yoga-csrf': '1' }, answer: 'refused-4xx' },
  { name: 'twenty subscriptions POSTed with Accept: application/json', transport: 'http-post', request: { count: 20, of: (i) => watch([String(i + 1)]) }, accept: 'application/json', answer: 'refused-4xx' },

  // Operation names a client invents: each one a metrics series, unless bounded.
  { name: '10,000 invented operation names, no token', transport: 'http-post', request: inventedNames, token: null, answer: 'ok' },
  { name: 'an operation name of 200 KB', transport: 'http-post', request: { query: `query ${pad(200 * KB, 'N')} { __typename }` }, token: null, answer: 'ok' },
  { name: 'an operationName of 500 KB naming no operation', transport: 'http-post', request: { query: '{ __typename }', operationName: pad(500 * KB) }, answer: 'refused' },

  // WebSocket tokens: an unknown one never gets a session; bad characters and sizes are the client's error.
  { name: 'a made-up WebSocket token', transport: 'graphql-ws', token: MADE_UP, messages: [recordOf('1')], answer: 'unauthenticated' },
  { name: 'a made-up WebSocket token sending invalid documents without reading', transport: 'graphql-ws', token: MADE_UP, doesNotRead: true, messages: { count: 4000, of: () => ({ query: MANY_ERRORS }) }, answer: 'unauthenticated' },
  { name: 'a WebSocket token of 100 KB', transport: 'graphql-ws', token: `glpat-${pad(100 * KB)}`, messages: [recordOf('1')], answer: 'unauthenticated' },
  { name: 'a WebSocket token with CR/LF', transport: 'graphql-ws', token: 'glpat-standin-admin\r\nX-Injected: 1', messages: [recordOf('1')], answer: 'unauthenticated' },
  { name: 'a WebSocket token with NUL', transport: 'graphql-ws', token: 'glpat-standin\u0000admin', messages: [recordOf('1')], answer: 'unauthenticated' },
  { name: 'a WebSocket token with non-Latin-1 characters', transport: 'graphql-ws', token: 'glpat-стенд-管理', messages: [recordOf('1')], answer: 'unauthenticated' },
  { name: 'a WebSocket token with a lone surrogate', transport: 'graphql-ws', token: 'glpat-\ud800', messages: [recordOf('1')], answer: 'unauthenticated' },
  { name: 'a WebSocket token that is not a string', transport: 'graphql-ws', connectionParams: { Authorization: { Bearer: ADMIN } }, messages: [recordOf('1')], answer: 'unauthenticated' },
  { name: 'an HTTP token of 12 KB', transport: 'http-post', request: recordOf('1'), token: `glpat-${pad(12 * KB)}`, answer: 'unauthenticated' },
  { name: 'an HTTP token with Latin-1 characters', transport: 'http-post', request: recordOf('1'), token: 'glpat-stand\u00e9n-\u00ff', answer: 'unauthenticated' },

  // A client that does not read what it is sent: the gateway holds a bounded amount for it, whatever it sends.
  { name: 'invalid documents sent by a client that does not read', transport: 'graphql-ws', doesNotRead: true, messages: { count: 4000, of: () => ({ query: MANY_ERRORS }) }, answer: 'refused' },
  { name: 'pings of 500 KB sent by a client that does not read', transport: 'graphql-ws', doesNotRead: true, messages: { count: 100, of: (i) => JSON.stringify({ type: 'ping', payload: { i, pad: pad(500 * KB) } }) }, answer: 'served' },

  // Ids GitLab does not know, ids GitLab rejects, ids too many or too long.
  { name: '1,000 unknown ids in a query', transport: 'http-post', request: recordsOf(unknownIds(1000)), answer: 'ok' },
  { name: '1,000 unknown ids in one subscription of batches, held open', transport: 'graphql-ws', holds: true, messages: [watchBatches(unknownIds(1000))], answer: 'served' },
  { name: '999 unknown ids and a known one in one subscription, held open', transport: 'graphql-ws', holds: true, messages: { count: 1, of: () => watch([known.projectIds[0], ...unknownIds(999)]) }, answer: 'served' },
  { name: '10 subscriptions of 1,000 unknown ids on one socket, held open', transport: 'graphql-ws', holds: true, messages: { count: 10, of: () => watchBatches(unknownIds(1000)) }, answer: 'served' },
  { name: '1,000 unknown ids over SSE, held open', transport: 'sse', holds: true, request: watchBatches(unknownIds(1000)), answer: 'served' },
  { name: 'a padded base64 id (MSAy==)', transport: 'http-post', request: recordOf('MSAy==', 'SUPPLY_CHAIN_ATTESTATION'), answer: 'served' },
  { name: 'a padded base64 id among others', transport: 'http-post', request: recordsOf(['MSAy==', compositeKey('1 3'), compositeKey('2 4')], 'SUPPLY_CHAIN_ATTESTATION'), answer: 'served' },
  { name: 'a padded base64 id in a subscription, held open', transport: 'graphql-ws', holds: true, messages: { count: 1, of: () => watch(['MSAy==', known.attestationIds[0]], 'SUPPLY_CHAIN_ATTESTATION') }, answer: 'served' },
  { name: '50 long base64 ids in a query', transport: 'http-post', request: recordsOf(LONG_IDS_50, 'SUPPLY_CHAIN_ATTESTATION'), answer: 'served' },
  { name: '50 long base64 ids in PROJECT subscriptions, re-subscribed, held open', transport: 'graphql-ws', holds: true, messages: { count: 5, of: () => watchBatches(LONG_IDS_50) }, answer: 'served' },
  { name: '50 ids of 250 characters in a query', transport: 'http-post', request: recordsOf(LONG_IDS_250, 'SUPPLY_CHAIN_ATTESTATION'), answer: 'ok' },
  { name: '50 ids of 250 characters in a bulk recalculation', transport: 'http-post', request: recalculateSome(LONG_IDS_250, 'SUPPLY_CHAIN_ATTESTATION'), answer: 'ok' },
  { name: '800 integer ids in a query', transport: 'http-post', request: recordsOf(integerIds(800)), answer: 'ok' },
  { name: '1,000 integer ids in a query', transport: 'http-post', request: recordsOf(integerIds(1000)), answer: 'ok' },
  { name: '1,000 integer ids in a bulk recalculation', transport: 'http-post', request: recalculateSome(integerIds(1000)), answer: 'ok' },
  { name: '1,001 integer ids in a query', transport: 'http-post', request: recordsOf(integerIds(1001)), answer: 'refused' },
  { name: '1,001 ids in a subscription', transport: 'graphql-ws', messages: [watch(integerIds(1001))], answer: 'refused' },
  { name: 'a 900 KB id in a look-up', transport: 'http-post', request: recordOf(HUGE_ID, 'SUPPLY_CHAIN_ATTESTATION'), answer: 'refused' },
  { name: 'a 900 KB id in a list', transport: 'http-post', request: recordsOf([HUGE_ID], 'SUPPLY_CHAIN_ATTESTATION'), answer: 'refused' },
  { name: 'a 900 KB id to recalculate', transport: 'http-post', request: recalculateOne(HUGE_ID, 'SUPPLY_CHAIN_ATTESTATION'), answer: 'refused' },
  { name: 'a 900 KB id in a subscription', transport: 'graphql-ws', messages: [watch([HUGE_ID], 'SUPPLY_CHAIN_ATTESTATION')], answer: 'refused' },
  { name: 'a 100 KB cursor', transport: 'http-post', request: { query: 'query Page($after: String) { modelRecords(model: PROJECT, first: 5, after: $after) { totalCount } }', variables: { after: LONG_CURSOR } }, answer: 'refused' },
  { name: 'a cursor that is not one', transport: 'http-post', request: { query: records('PROJECT', `first: 5, after: "${pad(2 * KB, '%')}"`) }, answer: 'refused' },
  ...['.', '..', '%2E', '%2e%2e', '\ud800', '', ' ', '1/../2', '1?x=1', '1#x', '-1', '01x'].flatMap((id): HostileCase[] => [
    { name: `the identifier ${JSON.stringify(id)} to recalculate`, transport: 'http-post', request: recalculateOne(id), answer: 'refused' },
    { name: `the identifier ${JSON.stringify(id)} in a look-up`, transport: 'http-post', request: recordOf(id), answer: 'served' },
  ]),
  { name: 'the identifier "." in a list', transport: 'http-post', request: recordsOf(['.']), answer: 'refused' },
  { name: 'the identifier "\\ud800" in a subscription', transport: 'graphql-ws', messages: [watch(['\ud800'])], answer: 'refused' },
  { name: 'an empty identifier in a bulk recalculation', transport: 'http-post', request: recalculateSome(['1', '']), answer: 'refused' },

  // Nesting that overflows recursive code.
  { name: '2,000 nested lists', transport: 'http-post', request: { query: NESTED_LISTS }, answer: 'refused' },
  { name: '5,000 nested selections', transport: 'http-post', request: { query: NESTED_SELECTIONS }, answer: 'refused' },
  { name: '2,000 nested lists over graphql-ws, beside a live subscription', transport: 'graphql-ws', messages: [watch(['1']), { query: NESTED_LISTS }], answer: 'refused' },
  { name: '5,000 nested selections over graphql-ws', transport: 'graphql-ws', messages: [{ query: NESTED_SELECTIONS }], answer: 'refused' },
  { name: '5,000 nested selections over SSE', transport: 'sse', request: { query: `subscription ${NESTED_SELECTIONS}` }, answer: 'refused' },
  { name: '100,000 nested arrays in a variable', transport: 'http-post', request: { query: 'query Records($ids: [ID!]) { modelRecords(model: PROJECT, identifiers: $ids) { totalCount } }' }, rawVariables: NESTED_VARIABLE, answer: 'refused' },
  { name: '100,000 nested arrays in a variable over graphql-ws', transport: 'graphql-ws', messages: [`{"id":"deep","type":"subscribe","payload":{"query":"{ __typename }","variables":${NESTED_VARIABLE}}}`], answer: 'served' },
  { name: '1,000 fragments spreading each other', transport: 'http-post', request: { query: `{ ...F0 } ${Array.from({ length: 1000 }, (_, i) => `fragment F${i} on Query { ${i < 999 ? `...F${i + 1}` : '__typename'} }`).join(' ')}` }, answer: 'served' },
  { name: 'a fragment cycle', transport: 'http-post', request: { query: '{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }' }, answer: 'refused' },

  // Bodies and requests Yoga must refuse with a code, briefly.
  { name: 'a malformed JSON body of 900 KB', transport: 'http-post', body: `{"query":"${pad(900 * KB)}`, answer: 'refused-4xx' },
  { name: 'a JSON body that is not an object', transport: 'http-post', body: '"{ __typename }"', answer: 'refused-4xx' },
  { name: 'a batch of requests', transport: 'http-post', body: '[{"query":"{ __typename }"},{"query":"{ __typename }"}]', answer: 'refused-4xx' },
  { name: 'a query that is not a string', transport: 'http-post', body: '{"query":{"kind":"Document"}}', answer: 'refused-4xx' },
  { name: 'variables that are not an object', transport: 'http-post', body: '{"query":"{ __typename }","variables":[1,2]}', answer: 'refused-4xx' },
  { name: 'an empty body with a text/plain content type', transport: 'http-post', body: '', contentType: 'text/plain', answer: 'refused-4xx' },
  { name: 'an empty body with a text/plain content type and the CSRF header', transport: 'http-post', body: '', contentType: 'text/plain', headers: { 'x-graphql-yoga-csrf': '1' }, answer: 'refused-4xx' },
  { name: 'a form body without the CSRF header', transport: 'http-post', body: 'query=%7B__typename%7D', contentType: 'application/x-www-form-urlencoded', answer: 'refused-4xx' },
  { name: 'an empty JSON body', transport: 'http-post', body: '', answer: 'refused-4xx' },
  { name: 'no query at all', transport: 'http-post', request: { variables: { a: 1 } }, answer: 'refused' },
  { name: 'a persisted-query hash without its query', transport: 'http-post', request: { extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } }, answer: 'refused' },
  { name: 'a GET without the CSRF header', transport: 'http-get', request: { query: '{ __typename }' }, answer: 'refused-4xx' },
  { name: 'a GET without the CSRF header, naming a mutation', transport: 'http-get', request: recalculateOne('1'), answer: 'refused-4xx' },
  { name: 'a mutation by GET', transport: 'http-get', request: recalculateOne('1'), headers: { 'x-graphql-yoga-csrf': '1' }, answer: 'refused-4xx' },
  { name: 'variables of the wrong type', transport: 'http-post', request: { query: 'query Page($first: Int) { modelRecords(model: PROJECT, first: $first) { totalCount } }', variables: { first: 'ten' } }, answer: 'refused' },
  { name: 'a variable of the wrong type, 500 KB long', transport: 'http-post', request: { query: 'query Page($first: Int) { modelRecords(model: PROJECT, first: $first) { totalCount } }', variables: { first: pad(500 * KB) } }, answer: 'refused' },
  { name: 'an enum variable of an unknown value', transport: 'http-post', request: { query: 'query Page($model: ModelName!) { modelRecords(model: $model) { totalCount } }', variables: { model: 'NOPE' } }, answer: 'refused' },
  { name: 'a missing variable', transport: 'http-post', request: { query: 'query Page($model: ModelName!) { modelRecords(model: $model) { totalCount } }' }, answer: 'refused' },
  { name: 'a missing variable over graphql-ws', transport: 'graphql-ws', messages: [{ query: 'subscription Watch($ids: [ID!]!) { checksumStateChanged(model: PROJECT, identifiers: $ids) { state } }' }], answer: 'refused' },
  { name: 'a missing variable over SSE', transport: 'sse', request: { query: 'subscription Watch($ids: [ID!]!) { checksumStateChanged(model: PROJECT, identifiers: $ids) { state } }' }, answer: 'refused' },
  { name: 'a field name of 500 KB', transport: 'http-post', request: { query: `{ ${pad(500 * KB, 'f')} }` }, answer: 'refused' },
  { name: 'an enum value of 500 KB', transport: 'http-post', request: { query: `{ modelRecords(model: ${pad(500 * KB, 'Q')}) { totalCount } }` }, answer: 'refused' },
  { name: 'a directive name of 500 KB', transport: 'http-post', request: { query: `{ __typename @${pad(500 * KB, 'd')} }` }, answer: 'refused' },
  { name: 'a page size out of range', transport: 'http-post', request: { query: records('PROJECT', 'first: 2147483647') }, answer: 'refused' },
  { name: 'a negative page size', transport: 'http-post', request: { query: records('PROJECT', 'first: -1') }, answer: 'refused' },
  { name: 'an X-Request-Id of 8 KB', transport: 'http-post', request: recordOf('1'), headers: { 'x-request-id': pad(8 * KB, 'r') }, answer: 'ok' },

  // graphql-armor's limits, and introspection turned off.
  { name: '301 aliases', transport: 'http-post', request: { query: `{ ${Array.from({ length: 301 }, (_, i) => `a${i}: modelRecord(model: PROJECT, recordIdentifier: "1") { id }`).join(' ')} }` }, answer: 'refused' },
  { name: 'depth 13', transport: 'http-post', request: { query: `{ modelRecords(model: PROJECT) { nodes { checksumInformation ${'{ a '.repeat(10)}{ b }${' }'.repeat(10)} } } }` }, answer: 'refused' },
  { name: '10,001 tokens', transport: 'http-post', request: { query: `{ ${'__typename '.repeat(10_001)}}` }, answer: 'refused' },
  { name: '10,001 tokens over graphql-ws', transport: 'graphql-ws', messages: [{ query: `{ ${'__typename '.repeat(10_001)}}` }], answer: 'refused' },
  { name: 'a cost over the limit', transport: 'http-post', request: { query: `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: modelRecords(model: PROJECT, first: 100) { nodes { id checksumInformation { checksum checksumState } } }`).join(' ')} }` }, answer: 'refused' },
  { name: '60 directives on a field', transport: 'http-post', request: { query: `{ __typename ${'@include(if: true) '.repeat(60)}}` }, answer: 'refused' },
  { name: 'introspection while it is off', transport: 'http-post', request: { query: '{ __schema { types { name fields { name } } } }' }, answer: 'refused' },
  { name: 'a document of 101 unknown fields', transport: 'http-post', request: { query: MANY_ERRORS }, answer: 'refused' },
  { name: 'a syntax error', transport: 'http-post', request: { query: 'subscription {' }, answer: 'refused' },

  // graphql-ws protocol abuse: the gateway closes the socket with graphql-ws's codes, never 4500.
  { name: 'a subscribe before connection_init', transport: 'graphql-ws', noInit: true, messages: [recordOf('1')], answer: 'refused' },
  { name: 'two subscribe messages with the same id', transport: 'graphql-ws', messages: [`{"id":"same","type":"subscribe","payload":${JSON.stringify(watch(['1']))}}`, `{"id":"same","type":"subscribe","payload":${JSON.stringify(watch(['2']))}}`], answer: 'refused' },
  { name: 'a frame that is not JSON', transport: 'graphql-ws', messages: ['{"id":"1","type":"subscribe","payload":'], answer: 'refused' },
  { name: 'a frame of an unknown type', transport: 'graphql-ws', messages: ['{"id":"1","type":"launch"}'], answer: 'refused' },
  { name: 'a text frame that is not UTF-8', transport: 'graphql-ws', messages: [Uint8Array.of(0x7b, 0xc3, 0x28, 0x7d)], answer: 'refused' },
  { name: 'a frame over MAX_REQUEST_BODY_BYTES', transport: 'graphql-ws', messages: [JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `{ __typename } # ${pad(1100 * KB)}` } })], answer: 'refused' },
  { name: '101 subscriptions on one socket', transport: 'graphql-ws', messages: { count: 101, of: (i) => watch([known.projectIds[i % 20]]) }, answer: 'served' },

  // Clients that leave while the gateway still works for them: what they started ends with them.
  { name: 'an SSE subscriber that leaves before its first event', transport: 'sse', request: watch(integerIds(5, 21)), leavesWhileGitLabAnswers: true, answer: 'served' },
  { name: 'a graphql-ws subscriber that leaves before its first event', transport: 'graphql-ws', messages: [watch(integerIds(5, 31))], leavesWhileGitLabAnswers: true, answer: 'served' },
  {
    name: '100 subscriptions of 1,000 distinct ids on one socket whose client leaves',
    transport: 'graphql-ws',
    messages: { count: 100, of: (i) => watchBatches(unknownIds(1000, i + 1)) },
    leavesWhileGitLabAnswers: true,
    answer: 'served',
  },
  // Last of these: the calls it leaves behind queue in the connection pool ahead of everyone else's.
  {
    name: 'a query of 140 x 1,000 ids whose client leaves',
    transport: 'http-post',
    request: { query: `query Wide($ids: [ID!]) { ${Array.from({ length: 140 }, (_, i) => `a${i}: modelRecords(model: PROJECT, identifiers: $ids, first: 100) { totalCount }`).join(' ')} }`, variables: { ids: integerIds(1000) } },
    leavesWhileGitLabAnswers: true,
    answer: 'served',
  },

  // Documents kept for later: big ones, many of them, without a token.
  { name: '200 distinct documents of 500 KB, no token', transport: 'http-post', token: null, request: { count: 200, of: (i) => ({ query: `query Big${i} { __typename } # ${pad(500 * KB)}` }) }, answer: 'ok' },
  { name: '200 distinct invalid documents of 500 KB, no token', transport: 'http-post', token: null, request: { count: 200, of: (i) => ({ query: `{ nope${i}(a: "${pad(500 * KB)}") }` }) }, answer: 'refused' },
  // 107 KB of text within MAX_TOKENS, about 5 MB of syntax tree: some 850 of these took the gateway's heap to its limit.
  { name: '50 distinct documents of 9,990 tokens, no token', transport: 'http-post', token: null, request: { count: 50, of: (i) => ({ query: `{ f${i} ${'__typename '.repeat(9_987)}}` }) }, answer: 'refused' },
];
