// Relay connections over either of GitLab's pagination flavours: opaque cursors that remember where GitLab was.
import type { GatewayContext } from '../context.js';
import type { ListPage, ListQuery, RecordJson } from '../gitlab/client.js';
import { gatewayError } from '../errors.js';
import type { ChecksumStateName, ModelInfo } from '../models.js';

const GITLAB_PAGE_LIMIT = 100;

/** Offset cursors name a position; keyset cursors name GitLab's page cursor and how many records of it were read. */
type Position = { o: number } | { k: string | null; s: number };

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
  identifiers: readonly string[] | null;
  first: number;
  after: string | null;
}

const encode = (position: Position) => Buffer.from(JSON.stringify(position)).toString('base64url');

function decode(cursor: string): Position {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (Number.isInteger(value.o) && (value.o as number) >= 0) return { o: value.o as number };
    if ((typeof value.k === 'string' || value.k === null) && Number.isInteger(value.s) && (value.s as number) >= 0) {
      return { k: value.k as string | null, s: value.s as number };
    }
  } catch {
    // fall through
  }
  throw gatewayError('BAD_USER_INPUT', '`after` is not a cursor this gateway gave out.');
}

export async function loadConnection(ctx: GatewayContext, model: ModelInfo, args: ConnectionArgs): Promise<RecordConnection> {
  const position = args.after ? decode(args.after) : null;
  const filters = { checksumState: args.checksumState, identifiers: args.identifiers };
  const list = (query: Omit<ListQuery, 'checksumState' | 'identifiers'>) => ctx.client.list(ctx.caller, model, { ...filters, ...query });
  let totalFromPage: number | null = null;
  // An offset page already says whether GitLab counts (X-Total): asking again would only repeat its answer.
  let offsetRead = position !== null && 'o' in position;
  let window: Window;
  if (position && 'o' in position) {
    window = await offsetWindow(list, position.o + 1, args.first);
  } else if (position) {
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
