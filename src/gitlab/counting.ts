// How many records a model has, in all and per checksum state: from GitLab's X-Total where it sends one, else from a
// logarithmic number of page probes (the last non-empty page, then its size), never from a full listing.
import { CHECKSUM_STATES, type ChecksumStateName, type Dialect } from '../models.js';
import { isOffsetRefused, isUnverifiableModel, type ListPage, type ListQuery } from './client.js';

/** Records per probed page: the most GitLab returns in one. */
export const PROBE_PAGE_SIZE = 100;
/** The newer dialect sends X-Total up to this many matching records; the older one never does. */
export const HEADER_COUNT_LIMIT = 10_000;
/** Probes one search makes at most, whatever GitLab answers: 2 x 64 pages could not be counted anyway. */
const MAX_PROBES_PER_SEARCH = 64;

export interface Count {
  count: number;
  /** False: `count` is a lower bound (GitLab refused a deeper page, or records moved while it was searched). */
  exact: boolean;
}

export interface ModelCounts {
  /** False: GitLab refused `checksum_state` (verification is off for this model): every record counts as disabled. */
  verifiable: boolean;
  total: Count;
  states: Record<ChecksumStateName, Count>;
}

/** One list call of the model being counted (the caller, the model and any budget are the caller's business). */
export type ListCall = (query: ListQuery) => Promise<ListPage>;

export interface CountOptions {
  /** The dialect GitLab speaks, as known when each round starts (it is learnt from the first answer when not pinned). */
  dialect: () => Dialect;
  /** Whether the dialect is known yet: if not, one call goes first, alone, to learn it. */
  dialectKnown: () => boolean;
  /** The state that was largest last time: counted as total minus the others, which saves its search. */
  largestBefore?: ChecksumStateName | null;
}

/** What one probe of page `page` (of PROBE_PAGE_SIZE records) found. */
type Probe = { at: 'past' } | { at: 'inside' } | { at: 'last'; count: number };

/** A count still to be found: the last page lies in [fromPage, toPage] (toPage null: not known yet). */
interface OpenCount {
  fromPage: number;
  toPage: number | null;
  /** What is known for sure: at least this many records. */
  atLeast: number;
}

type FirstLook = { count: Count } | { open: OpenCount };

/**
 * Counts a model. Calls, with P = ceil(total / 100) pages: 5 (one per state, all at once) when every state fits in a
 * header (newer dialect, up to 10,000 each) or on one page (older dialect, up to 100 each); above that, the total's
 * search (exponential, then binary: at most 2 x ceil(log2 P)) and at most ceil(log2 P) per further large state, the
 * largest one being the total minus the others: 6 x ceil(log2 P) + 6 at most. A model whose verification is off: 5
 * refused calls, then the total alone.
 */
export async function countModel(list: ListCall, options: CountOptions): Promise<ModelCounts> {
  const plural = () => options.dialect() === 'plural';
  /** The first look at one count, in the dialect known when it is sent. */
  const firstLook = async (checksumState: ChecksumStateName | null): Promise<FirstLook> => {
    const headerCounts = plural();
    const page = await list({ perPage: headerCounts ? 1 : PROBE_PAGE_SIZE, checksumState, page: { flavour: 'offset', page: 1 } });
    if (page.total !== null) return { count: { count: page.total, exact: true } };
    if (page.nextPage === null) return { count: { count: page.records.length, exact: true } };
    // More than one page: on the newer dialect, only a count above its limit comes without X-Total.
    if (headerCounts && options.dialect() === 'plural') {
      return { open: { fromPage: HEADER_COUNT_LIMIT / PROBE_PAGE_SIZE + 1, toPage: null, atLeast: HEADER_COUNT_LIMIT + 1 } };
    }
    return { open: { fromPage: 2, toPage: null, atLeast: page.records.length + 1 } };
  };

  const looks = new Map<ChecksumStateName, FirstLook | Error>();
  const lookAt = async (state: ChecksumStateName) => {
    try {
      looks.set(state, await firstLook(state));
    } catch (error) {
      if (!isUnverifiableModel(error)) throw error;
      looks.set(state, error as Error);
    }
  };
  const [first, ...rest] = CHECKSUM_STATES;
  if (!options.dialectKnown()) {
    // The first answer teaches the dialect; a look made in the wrong one is made again.
    const before = options.dialect();
    await lookAt(first);
    if (options.dialect() !== before) await lookAt(first);
    await Promise.all(rest.map(lookAt));
  } else {
    await Promise.all(CHECKSUM_STATES.map(lookAt));
  }

  if ([...looks.values()].some((look) => look instanceof Error)) {
    // Verification is off: no state can be asked for, and every record is disabled.
    const look = await firstLook(null);
    const total = 'count' in look ? look.count : await search(list, null, look.open);
    const states = Object.fromEntries(CHECKSUM_STATES.map((s) => [s, { count: s === 'disabled' ? total.count : 0, exact: total.exact }])) as ModelCounts['states'];
    return { verifiable: false, total, states };
  }

  const states = {} as Record<ChecksumStateName, Count>;
  const open = new Map<ChecksumStateName, OpenCount>();
  for (const [state, look] of looks as Map<ChecksumStateName, FirstLook>) {
    if ('count' in look) states[state] = look.count;
    else open.set(state, look.open);
  }
  if (open.size === 0) return { verifiable: true, total: sumOf(states), states };

  // Some states are large: the total bounds their searches, and the largest is what the others leave of it.
  const total = await search(list, null, {
    fromPage: Math.max(...[...open.values()].map((o) => o.fromPage)),
    toPage: null,
    atLeast: [...open.values()].reduce((sum, o) => sum + o.atLeast, 0) + Object.values(states).reduce((sum, c) => sum + c.count, 0),
  });
  const derived = total.exact ? largestOf([...open.keys()], options.largestBefore ?? null) : null;
  const lastPage = total.exact ? Math.max(1, Math.ceil(total.count / PROBE_PAGE_SIZE)) : null;
  await Promise.all(
    [...open].map(async ([state, o]) => {
      if (state === derived) return;
      states[state] = await search(list, state, { ...o, toPage: lastPage });
    }),
  );
  if (derived) {
    const others = CHECKSUM_STATES.filter((s) => s !== derived);
    const rest = others.reduce((sum, s) => sum + states[s].count, 0);
    const atLeast = open.get(derived)!.atLeast;
    const count = total.count - rest;
    // Below what its first look proved, records moved between the counts: what was proved is all that is sure.
    states[derived] = count >= atLeast ? { count, exact: others.every((s) => states[s].exact) } : { count: atLeast, exact: false };
  }
  const sum = sumOf(states);
  // Every state counted exactly: their sum is the count. Otherwise the total is at least what its states prove.
  if (sum.exact) return { verifiable: true, total: sum, states };
  return { verifiable: true, total: total.exact || total.count >= sum.count ? total : { count: sum.count, exact: false }, states };
}

/** Every state's count added up: exact when every one is. */
function sumOf(states: Record<ChecksumStateName, Count>): Count {
  let count = 0;
  let exact = true;
  for (const state of CHECKSUM_STATES) {
    count += states[state].count;
    exact &&= states[state].exact;
  }
  return { count, exact };
}

/** The state to derive from the total: the one largest last time if it is large now, else the usual largest. */
function largestOf(large: ChecksumStateName[], before: ChecksumStateName | null): ChecksumStateName {
  for (const state of [before, 'succeeded', 'pending', 'failed', 'started', 'disabled'] as const) {
    if (state && large.includes(state)) return state;
  }
  return large[0];
}

/**
 * Finds the last non-empty page of a count in [fromPage, toPage]: doubling from fromPage while the end is not known,
 * then halving. The last page's size gives the count at once (X-Next-Page is empty there).
 */
async function search(list: ListCall, checksumState: ChecksumStateName | null, known: OpenCount): Promise<Count> {
  let { fromPage: lo, toPage: hi, atLeast } = known;
  const probe = async (page: number): Promise<Probe> => {
    const answer = await list({ perPage: PROBE_PAGE_SIZE, checksumState, page: { flavour: 'offset', page } });
    if (answer.records.length === 0) return page === 1 ? { at: 'last', count: 0 } : { at: 'past' };
    if (answer.nextPage === null) return { at: 'last', count: (page - 1) * PROBE_PAGE_SIZE + answer.records.length };
    return { at: 'inside' };
  };
  for (let probes = 0; probes < MAX_PROBES_PER_SEARCH && (hi === null || lo <= hi); probes++) {
    // While the end is unknown, jump to twice the last page known full; then probe the middle of what is left.
    const page = hi === null ? Math.max(lo, 2 * (lo - 1)) : lo + Math.floor((hi - lo) / 2);
    let found: Probe;
    try {
      found = await probe(page);
    } catch (error) {
      if (!isOffsetRefused(error)) throw error;
      // Too deep for GitLab: the search goes on below it, and can only prove what lies there.
      hi = page - 1;
      continue;
    }
    if (found.at === 'last') return { count: found.count, exact: true };
    if (found.at === 'past') {
      hi = page - 1;
    } else {
      lo = page + 1;
      atLeast = Math.max(atLeast, page * PROBE_PAGE_SIZE + 1);
    }
  }
  // Refused deeper pages, or records moved while it searched: what was seen is a lower bound.
  return { count: atLeast, exact: false };
}
