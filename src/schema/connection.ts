// Relay connections over either of GitLab's pagination flavours: opaque cursors that remember where GitLab was.
// An identifier list too long for one URL is read in several calls and paged here, over the merged records.
import type { GatewayContext } from '../context.js';
import { MAX_KEYSET_CURSOR_LENGTH, type ListPage, type ListQuery, type RecordJson } from '../gitlab/client.js';
import { compareKeys, MAX_IDENTIFIER_LENGTH, readIdentifier, type Identifier } from '../gitlab/identifiers.js';
import { gatewayError } from '../errors.js';
import type { ChecksumStateName, ModelInfo } from '../models.js';

const GITLAB_PAGE_LIMIT = 100;

/** Longest `after` accepted: this gateway's cursors hold at most a GitLab cursor or a record's key. */
const MAX_CURSOR_LENGTH = 4096;

/**
 * Offset cursors name a position; keyset cursors name GitLab's page cursor and how many records of it were read;
 * cursors over a merged identifier list name the key of the last record read.
 */
type Position = { o: number } | { k: string | null; s: number } | { r: string };

export interface RecordEdge {
  cursor: string;
  record: RecordJson;
}

export interface RecordConnection {
  model: ModelInfo;
  edges: RecordEdge[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  totalCount: () => Promise<number | null>;
}

export interface ConnectionArgs {
  checksumState: ChecksumStateName | null;
  /** Checked, of one kind, each record once (identifierList). */
  identifiers: readonly Identifier[] | null;
  first: number;
  after: string | null;
}

const encode = (position: Position) => Buffer.from(JSON.stringify(position)).toString('base64url');

const notOurs = () => gatewayError('BAD_USER_INPUT', '`after` is not a cursor this gateway gave out for this query.');

function decode(cursor: string): Position {
  // Bounded before decoding: whatever a cursor holds goes into GitLab's URL.
  if (cursor.length > MAX_CURSOR_LENGTH) throw notOurs();
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (Number.isSafeInteger(value.o) && (value.o as number) >= 0) return { o: value.o as number };
    const k = value.k;
    if ((k === null || (typeof k === 'string' && k.length <= MAX_KEYSET_CURSOR_LENGTH)) && Number.isSafeInteger(value.s) && (value.s as number) >= 0) {
      return { k: k as string | null, s: value.s as number };
    }
    if (typeof value.r === 'string' && /^[ib]:/.test(value.r) && value.r.length <= MAX_IDENTIFIER_LENGTH + 2) return { r: value.r };
  } catch {
    // fall through
  }
  throw notOurs();
}

export async function loadConnection(ctx: GatewayContext, model: ModelInfo, args: ConnectionArgs): Promise<RecordConnection> {
  const position = args.after ? decode(args.after) : null;
  const canonical = args.identifiers?.map((id) => id.canonical) ?? null;
  // Fits one URL on any page of either flavour: GitLab filters and pages as usual. Else this gateway merges and pages.
  const merged = canonical !== null && ctx.client.splitIdentifiers(model, canonical, { method: 'GET', checksumState: args.checksumState, pages: 'any' }).length > 1;
  if (merged !== (position !== null && 'r' in position) && position !== null) throw notOurs();
  if (merged) return mergedConnection(ctx, model, args.identifiers!, args, position as { r: string } | null);
  const filters = { checksumState: args.checksumState, identifiers: canonical };
  // Through the operation's loaders: aliases that ask GitLab the same share one call, and each call counts in its budget.
  const list = (query: Omit<ListQuery, 'checksumState' | 'identifiers'>) => ctx.loaders.list(model, { ...filters, ...query });
  let totalFromPage: number | null = null;
  // An offset page already says whether GitLab counts (X-Total): asking again would only repeat its answer.
  let offsetRead = position !== null && 'o' in position;
  let window: Window;
  if (position && 'o' in position) {
    window = await offsetWindow(list, position.o + 1, args.first);
  } else if (position && 'k' in position) {
    window = await keysetWindow(list, position.k, position.s, args.first);
  } else {
    // No cursor yet: let the client pick the dialect's preferred flavour.
    const firstPage = await list({ perPage: Math.min(args.first, GITLAB_PAGE_LIMIT) });
    totalFromPage = firstPage.total;
    offsetRead = firstPage.flavour === 'offset';
    window =
      firstPage.flavour === 'keyset'
        ? await keysetWindow(list, null, 0, args.first, firstPage)
        : await offsetWindow(list, 0, args.first, firstPage);
  }
  totalFromPage ??= window.total;
  return {
    model,
    edges: window.edges,
    hasNextPage: window.hasNextPage,
    hasPreviousPage: position !== null,
    totalCount: async () => {
      if (totalFromPage !== null || offsetRead) return totalFromPage;
      // Keyset pages carry no count: ask for the smallest offset page, only when the client wants the total.
      const counted = await list({ perPage: 1, page: { flavour: 'offset', page: 1 } });
      return counted.total;
    },
  };
}

interface Window {
  edges: RecordEdge[];
  hasNextPage: boolean;
  total: number | null;
}

type Lister = (query: Omit<ListQuery, 'checksumState' | 'identifiers'>) => Promise<ListPage>;

/** Records [start, start + first) by page number; one call when the window lines up with GitLab's pages. */
async function offsetWindow(list: Lister, start: number, first: number, firstPage?: ListPage): Promise<Window> {
  const perPage = start % first === 0 ? first : GITLAB_PAGE_LIMIT;
  let pageNumber = Math.floor(start / perPage) + 1;
  let skip = start % perPage;
  const edges: RecordEdge[] = [];
  let page = firstPage && firstPage.page === pageNumber && perPage === first ? firstPage : await list({ perPage, page: { flavour: 'offset', page: pageNumber } });
  const total = page.total;
  for (;;) {
    const taken = page.records.slice(skip, skip + first - edges.length);
    taken.forEach((record, i) => edges.push({ record, cursor: encode({ o: (pageNumber - 1) * perPage + skip + i }) }));
    const leftover = page.records.length > skip + taken.length;
    if (edges.length === first) return { edges, hasNextPage: leftover || page.nextPage !== null, total };
    if (page.nextPage === null) return { edges, hasNextPage: false, total };
    pageNumber = page.nextPage;
    skip = 0;
    page = await list({ perPage, page: { flavour: 'offset', page: pageNumber } });
  }
}

/** Records after the first `skip` of GitLab's keyset page at `cursor`, following rel="next" as needed. */
async function keysetWindow(list: Lister, cursor: string | null, skip: number, first: number, firstPage?: ListPage): Promise<Window> {
  const edges: RecordEdge[] = [];
  let pageCursor = cursor;
  let page = firstPage ?? (await list({ perPage: Math.min(GITLAB_PAGE_LIMIT, skip + first), page: { flavour: 'keyset', cursor } }));
  for (;;) {
    const taken = page.records.slice(skip, skip + first - edges.length);
    const at = pageCursor;
    taken.forEach((record, i) => edges.push({ record, cursor: encode({ k: at, s: skip + i + 1 }) }));
    const leftover = page.records.length > skip + taken.length;
    if (!leftover && page.nextCursor && edges.length > 0) {
      // The last record closes its page: point straight at the next page, so the next request is a clean one.
      edges[edges.length - 1].cursor = encode({ k: page.nextCursor, s: 0 });
    }
    if (edges.length === first) return { edges, hasNextPage: leftover || page.nextCursor !== null, total: null };
    if (page.nextCursor === null) return { edges, hasNextPage: false, total: null };
    pageCursor = page.nextCursor;
    skip = 0;
    page = await list({ perPage: Math.min(GITLAB_PAGE_LIMIT, first - edges.length), page: { flavour: 'keyset', cursor: pageCursor } });
  }
}

/**
 * A list of identifiers too long for one URL: sorted in GitLab's order and split into calls of at most 100 that fit
 * (each answered in one page), read in order from the cursor until the page is full and one more record shows
 * whether there is a next page. totalCount adds up GitLab's counts of every call, when it counts.
 */
async function mergedConnection(ctx: GatewayContext, model: ModelInfo, identifiers: readonly Identifier[], args: ConnectionArgs, position: { r: string } | null): Promise<RecordConnection> {
  const sorted = [...identifiers].sort((a, b) => compareKeys(a.key, b.key));
  const wanted = new Set(sorted.map((id) => id.key));
  const chunks = ctx.client.splitIdentifiers(model, sorted.map((id) => id.canonical), { method: 'GET', checksumState: args.checksumState, pages: 'first', maxCount: GITLAB_PAGE_LIMIT });
  const lastKeys = chunks.map((chunk) => readIdentifier(chunk[chunk.length - 1])!.key);
  const reads = new Map<number, Promise<{ records: { key: string; record: RecordJson }[]; total: number | null }>>();
  const read = (i: number) => {
    let pending = reads.get(i);
    if (!pending) {
      pending = readChunk(ctx, model, chunks[i], args.checksumState, wanted);
      reads.set(i, pending);
    }
    return pending;
  };
  const after = position?.r ?? null;
  const edges: RecordEdge[] = [];
  let hasNextPage = false;
  const start = after === null ? 0 : lastKeys.findIndex((key) => compareKeys(key, after) > 0);
  for (let i = start; i >= 0 && i < chunks.length && !hasNextPage; i++) {
    for (const { key, record } of (await read(i)).records) {
      if (after !== null && compareKeys(key, after) <= 0) continue;
      if (edges.length === args.first) {
        hasNextPage = true;
        break;
      }
      edges.push({ record, cursor: encode({ r: key }) });
    }
  }
  return {
    model,
    edges,
    hasNextPage,
    hasPreviousPage: position !== null,
    totalCount: async () => {
      // One call already shows whether GitLab counts (the newer API does): only then are the others asked.
      if ((await read(0)).total === null) return null;
      const totals = await Promise.all(chunks.map((_, i) => read(i).then((chunk) => chunk.total)));
      return totals.some((t) => t === null) ? null : totals.reduce<number>((sum, t) => sum + t!, 0);
    },
  };
}

/** Every record of one call's identifiers, in GitLab's order, with GitLab's count. */
async function readChunk(ctx: GatewayContext, model: ModelInfo, identifiers: string[], checksumState: ChecksumStateName | null, wanted: ReadonlySet<string>) {
  const records: { key: string; record: RecordJson }[] = [];
  let total: number | null = null;
  for (let pageNumber: number | null = 1; pageNumber !== null; ) {
    const page: ListPage = await ctx.loaders.list(model, { perPage: GITLAB_PAGE_LIMIT, checksumState, identifiers, page: { flavour: 'offset', page: pageNumber } });
    if (pageNumber === 1) total = page.total;
    for (const record of page.records) {
      const key = readIdentifier(record.record_identifier)?.key;
      if (key !== undefined && wanted.has(key)) records.push({ key, record });
    }
    // A GitLab that pages below 100 would say so: follow it rather than lose records.
    pageNumber = page.nextPage !== null && page.nextPage > pageNumber ? page.nextPage : null;
  }
  records.sort((a, b) => compareKeys(a.key, b.key));
  return { records, total };
}
