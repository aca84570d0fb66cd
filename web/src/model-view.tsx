// One model: its bar, the records of one state a page at a time (modelRecords), kept current by the records entering,
// changing in and leaving that state (checksumStateChangeBatches by state), and the recalculations to start from here.
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  MonitorRecalculateDocument,
  MonitorRecalculateManyDocument,
  MonitorRecordChangesDocument,
  MonitorRecordsDocument,
  type ChecksumState,
  type ModelName,
  type MonitorRecordChangesSubscription,
  type MonitorRecordPartsFragment,
  type MonitorSummaryPartsFragment,
} from '../generated/operations';
import { request } from './api';
import { ConfirmDialog } from './confirm';
import { formatBytes, formatBytesExact, formatCount, formatDateTime, formatRelative } from './format';
import { compareIdentifiers, isIntegerIdentifier } from './identifiers';
import type { Live } from './live';
import { MODEL_LABELS, STATE_LABELS, STATES } from './names';
import { Completion, Pace } from './overview';
import { ApiError, describeProblem, isTokenRefusal, isTransient } from './problems';
import { routeHref } from './route';
import { StateBar, stateCount, Swatch } from './state-bar';

const PAGE_SIZE = 20;
const RETRY_MS = 5_000;

type RecordParts = MonitorRecordPartsFragment;

interface Row {
  record: RecordParts;
  /** The state it moved to after leaving the one shown (kept in view, so the effect of an action shows). */
  left: ChecksumState | null;
  busy: boolean;
  /** Bumped whenever the row changes, to draw the eye to it. */
  version: number;
}

interface Page {
  rows: Row[];
  /** The cursor this page was read with, and the last identifier before it (null on the first page). */
  after: string | null;
  lowerId: string | null;
  /** The last identifier read for this page when more follow; a record entering the state up to it belongs here. */
  upperId: string | null;
  hasNext: boolean;
  endCursor: string | null;
}

interface Props {
  model: ModelName;
  state: ChecksumState;
  summary: MonitorSummaryPartsFragment | undefined;
  token: string;
  live: Live;
  onTokenRefused(error: ApiError): void;
}

type Bulk = 'failed' | 'all';

function stateOf(record: RecordParts): ChecksumState | null {
  return record.checksumInformation?.checksumState ?? null;
}

function inRange(page: Page, identifier: string): boolean {
  if (page.lowerId !== null && compareIdentifiers(identifier, page.lowerId) <= 0) return false;
  return page.upperId === null || compareIdentifiers(identifier, page.upperId) <= 0;
}

/** A batch of changes applied to the rows on show: updated, entered (when they belong on this page), or left. */
function applyBatch(page: Page, batch: MonitorRecordChangesSubscription['checksumStateChangeBatches'], shown: ChecksumState): Page {
  let rows = page.rows;
  for (const change of batch.changes) {
    const id = change.record.recordIdentifier;
    const index = rows.findIndex((row) => row.record.recordIdentifier === id);
    const left = change.state === shown ? null : change.state;
    if (index >= 0) {
      rows = rows.map((row, i) => (i === index ? { ...row, record: change.record, left, version: row.version + 1 } : row));
    } else if (left === null && inRange(page, id)) {
      const at = rows.findIndex((row) => compareIdentifiers(row.record.recordIdentifier, id) > 0);
      const row: Row = { record: change.record, left: null, busy: false, version: 1 };
      rows = at < 0 ? [...rows, row] : [...rows.slice(0, at), row, ...rows.slice(at)];
    }
  }
  return rows === page.rows ? page : { ...page, rows };
}

function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError('UNKNOWN', String(error));
}

export function ModelView({ model, state, summary, token, live, onTokenRefused }: Props) {
  const [page, setPage] = useState<Page | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [liveProblem, setLiveProblem] = useState<string | null>(null);
  const [notice, setNotice] = useState('');
  const [history, setHistory] = useState<{ after: string | null; lowerId: string | null }[]>([]);
  const [confirming, setConfirming] = useState<Bulk | null>(null);
  const [bulkBusy, setBulkBusy] = useState(false);
  const [subscription, setSubscription] = useState(0);
  const heading = useRef<HTMLHeadingElement>(null);
  /** The newest page asked for: an older answer arriving late is dropped. */
  const asked = useRef(0);
  const retryTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const label = MODEL_LABELS[model];
  const stateLabel = STATE_LABELS[state].toLowerCase();
  const verificationOff = summary?.verificationEnabled === false;

  const fail = (error: ApiError, retry?: () => void): string | null => {
    if (isTokenRefusal(error)) {
      onTokenRefused(error);
      return null;
    }
    if (retry && isTransient(error)) {
      clearTimeout(retryTimer.current);
      retryTimer.current = setTimeout(retry, RETRY_MS);
    }
    return describeProblem(error);
  };

  const load = async (after: string | null, lowerId: string | null) => {
    const ticket = ++asked.current;
    try {
      const data = await request(MonitorRecordsDocument, { model, state, first: PAGE_SIZE, after }, token);
      if (ticket !== asked.current) return;
      const connection = data.modelRecords;
      const nodes = connection?.nodes ?? [];
      const hasNext = connection?.pageInfo.hasNextPage ?? false;
      setPage({
        rows: nodes.map((record) => ({ record, left: stateOf(record) === state ? null : stateOf(record), busy: false, version: 0 })),
        after,
        lowerId,
        upperId: hasNext && nodes.length > 0 ? nodes[nodes.length - 1].recordIdentifier : null,
        hasNext,
        endCursor: connection?.pageInfo.endCursor ?? null,
      });
      setProblem(null);
    } catch (error) {
      if (ticket === asked.current) setProblem(fail(asApiError(error), () => void load(after, lowerId)));
    }
  };

  // The page's current position, for reloads from the subscription's callbacks.
  const position = useRef({ after: null as string | null, lowerId: null as string | null });
  position.current = { after: page?.after ?? null, lowerId: page?.lowerId ?? null };

  useEffect(() => {
    heading.current?.focus();
    if (!verificationOff) void load(null, null);
    return () => clearTimeout(retryTimer.current);
  }, []);

  useEffect(() => {
    if (verificationOff) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = live.subscribe(
      MonitorRecordChangesDocument,
      { model, state },
      {
        next: (data, first) => {
          setLiveProblem(null);
          // The first batch (again after a reconnection) holds every record in the state: read the page afresh instead,
          // so that nothing that happened before the subscription began, or while it was away, is missed.
          if (first) void load(position.current.after, position.current.lowerId);
          else setPage((current) => (current ? applyBatch(current, data.checksumStateChangeBatches, state) : current));
        },
        error: (error) => {
          setLiveProblem(fail(error));
          if (isTransient(error)) timer = setTimeout(() => setSubscription((n) => n + 1), RETRY_MS);
        },
      },
    );
    return () => {
      clearTimeout(timer);
      stop();
    };
  }, [live, subscription, verificationOff]);

  const updateRow = (id: string, change: (row: Row) => Row) =>
    setPage((current) => current && { ...current, rows: current.rows.map((row) => (row.record.recordIdentifier === id ? change(row) : row)) });

  const recalculate = async (record: RecordParts) => {
    const id = record.recordIdentifier;
    updateRow(id, (row) => ({ ...row, busy: true }));
    try {
      if (isIntegerIdentifier(id)) {
        const data = await request(MonitorRecalculateDocument, { model, recordIdentifier: id }, token);
        const result = data.recalculateChecksum;
        const after = result?.record ?? null;
        if (after) {
          const now = stateOf(after);
          updateRow(id, (row) => ({ ...row, record: after, left: now === state ? null : now, version: row.version + 1 }));
        }
        // A failed verification is data: its message is in the row.
        setNotice(`Record ${id} was verified again: ${result?.errors.length ? 'it failed' : 'it succeeded'}.`);
      } else {
        // GitLab verifies one record at once by integer id only; a composite key is queued like a bulk recalculation.
        const data = await request(MonitorRecalculateManyDocument, { model, identifiers: [id] }, token);
        const result = data.recalculateAllChecksums;
        setNotice(
          result?.status === 'SUCCESS'
            ? `GitLab queued record ${id} for verification.`
            : `GitLab did not queue record ${id}: ${result?.message ?? 'no answer'}`,
        );
      }
    } catch (error) {
      setNotice(fail(asApiError(error)) ?? '');
    } finally {
      updateRow(id, (row) => ({ ...row, busy: false }));
    }
  };

  const recalculateMany = async (which: Bulk) => {
    setConfirming(null);
    setBulkBusy(true);
    const what = which === 'failed' ? `the failed records of ${label}` : `every record of ${label}`;
    try {
      const data = await request(MonitorRecalculateManyDocument, { model, checksumState: which === 'failed' ? 'FAILED' : null }, token);
      const result = data.recalculateAllChecksums;
      setNotice(
        result?.status === 'SUCCESS'
          ? `GitLab queued ${what} for verification. Their progress shows above as it happens.`
          : `GitLab did not queue ${what}: ${result?.message || result?.errors.join(' ') || 'no answer'}`,
      );
    } catch (error) {
      setNotice(fail(asApiError(error)) ?? '');
    } finally {
      setBulkBusy(false);
    }
  };

  const failed = summary ? stateCount(summary, 'FAILED') : null;
  const inState = summary ? stateCount(summary, state) : null;
  const pageNumber = history.length + 1;
  const leftCount = page?.rows.filter((row) => row.left !== null).length ?? 0;

  return (
    <section aria-labelledby="model-title" class="model-view">
      <p class="back">
        <a href={routeHref({ view: 'overview' })}>← All models</a>
      </p>
      <div class="model-head">
        <h2 id="model-title" ref={heading} tabIndex={-1}>
          {label} <code class="enum">{model}</code>
        </h2>
        <div class="bulk-actions">
          <button type="button" class="secondary" disabled={bulkBusy || verificationOff || failed?.count === 0} onClick={() => setConfirming('failed')}>
            Recalculate failed
          </button>
          <button type="button" class="secondary" disabled={bulkBusy || verificationOff} onClick={() => setConfirming('all')}>
            Recalculate all
          </button>
        </div>
      </div>

      {summary ? (
        <div class="model-summary">
          {summary.verificationEnabled ? <StateBar summary={summary} large /> : null}
          <dl class="counts">
            <div>
              <dt>Records</dt>
              <dd>{formatCount(summary.total, summary.totalExact)}</dd>
            </div>
            {STATES.map((s) => {
              const { count, exact } = stateCount(summary, s);
              return (
                <div key={s} data-state={s}>
                  <dt>
                    <Swatch state={s} /> {STATE_LABELS[s]}
                  </dt>
                  <dd>{formatCount(count, exact)}</dd>
                </div>
              );
            })}
            <div>
              <dt>Pace</dt>
              <dd>
                <Pace summary={summary} />
              </dd>
            </div>
            <div>
              <dt>Done</dt>
              <dd>
                <Completion summary={summary} />
              </dd>
            </div>
          </dl>
        </div>
      ) : null}

      <p class="notice" role="status">
        {notice}
      </p>

      {verificationOff ? (
        <p class="empty">Verification is off for this model in GitLab: its records have no checksum state, and all of them count as disabled.</p>
      ) : (
        <>
          <nav class="state-tabs" aria-label="Records by state">
            {STATES.map((s) => (
              <a key={s} href={routeHref({ view: 'model', model, state: s })} aria-current={s === state ? 'page' : undefined}>
                <Swatch state={s} /> {STATE_LABELS[s]}
                {summary ? <span class="tab-count">{formatCount(stateCount(summary, s).count, stateCount(summary, s).exact)}</span> : null}
              </a>
            ))}
          </nav>
          {problem && (
            <p class="problem" role="alert">
              {problem}
            </p>
          )}
          {liveProblem && (
            <p class="problem" role="alert">
              {liveProblem}
            </p>
          )}
          {page && leftCount > 0 && (
            <p class="left-note">
              {leftCount === 1 ? 'One record' : `${leftCount} records`} on this page moved out of {stateLabel}.{' '}
              <button type="button" class="link" onClick={() => void load(page.after, page.lowerId)}>
                Refresh the list
              </button>
            </p>
          )}
          {page === null ? (
            problem ? null : (
              <p class="muted">Loading the {stateLabel} records…</p>
            )
          ) : page.rows.length === 0 ? (
            <p class="empty">
              No {stateLabel} records{pageNumber > 1 ? ' on this page' : ''} right now.
            </p>
          ) : (
            <table class="records">
              <caption>
                {STATE_LABELS[state]} records, page {pageNumber}
                {inState ? ` (${formatCount(inState.count, inState.exact)} in all)` : ''}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Identifier</th>
                  <th scope="col" class="num">
                    Size
                  </th>
                  <th scope="col">Last checksum</th>
                  <th scope="col" class="num">
                    Retries
                  </th>
                  <th scope="col">Next retry</th>
                  <th scope="col">Failure</th>
                  <th scope="col">
                    <span class="visually-hidden">Action</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {page.rows.map((row) => (
                  <RecordRow key={row.record.recordIdentifier} row={row} onRecalculate={() => void recalculate(row.record)} />
                ))}
              </tbody>
            </table>
          )}
          {page && (page.hasNext || history.length > 0) && (
            <div class="pager">
              <button
                type="button"
                class="secondary"
                disabled={history.length === 0}
                onClick={() => {
                  const previous = history[history.length - 1];
                  setHistory(history.slice(0, -1));
                  void load(previous.after, previous.lowerId);
                }}
              >
                Previous page
              </button>
              <span>Page {pageNumber}</span>
              <button
                type="button"
                class="secondary"
                disabled={!page.hasNext}
                onClick={() => {
                  setHistory([...history, { after: page.after, lowerId: page.lowerId }]);
                  void load(page.endCursor, page.upperId);
                }}
              >
                Next page
              </button>
            </div>
          )}
        </>
      )}

      {confirming && (
        <ConfirmDialog
          title={confirming === 'failed' ? `Recalculate the failed records of ${label}?` : `Recalculate every record of ${label}?`}
          confirmLabel={
            confirming === 'failed'
              ? `Recalculate ${failed ? `${formatCount(failed.count, failed.exact)} ` : ''}failed records`
              : `Recalculate all ${summary ? `${formatCount(summary.total, summary.totalExact)} ` : ''}records`
          }
          onConfirm={() => void recalculateMany(confirming)}
          onCancel={() => setConfirming(null)}
        >
          {confirming === 'failed' ? (
            <p>GitLab puts them back to pending, and its background job verifies them again over the next minutes. Records whose file is missing fail again.</p>
          ) : (
            <p>
              GitLab puts every record of the model back to pending, and its background job verifies them all again. On a large model this takes a long time and
              loads GitLab's storage.
            </p>
          )}
        </ConfirmDialog>
      )}
    </section>
  );
}

function RecordRow({ row, onRecalculate }: { row: Row; onRecalculate(): void }) {
  const element = useRef<HTMLTableRowElement>(null);
  const info = row.record.checksumInformation;
  useEffect(() => {
    // A short highlight when a live change or an action updates the row; none for those who ask for less motion.
    if (row.version > 0 && !matchMedia('(prefers-reduced-motion: reduce)').matches) {
      element.current?.animate([{ backgroundColor: '#fff1c2' }, { backgroundColor: 'transparent' }], { duration: 1600, easing: 'ease-out' });
    }
  }, [row.version]);
  return (
    <tr ref={element} class={row.left ? 'left' : undefined} data-identifier={row.record.recordIdentifier}>
      <td class="identifier">
        <code>{row.record.recordIdentifier}</code>
        {row.left && (
          <span class="moved">
            now <Swatch state={row.left} />
            {STATE_LABELS[row.left].toLowerCase()}
          </span>
        )}
      </td>
      <td class="num" title={formatBytesExact(row.record.fileSize)}>
        {formatBytes(row.record.fileSize)}
      </td>
      <td>{info?.lastChecksum ? <time dateTime={info.lastChecksum}>{formatDateTime(info.lastChecksum)}</time> : <span class="muted">never</span>}</td>
      <td class="num retries">{info?.checksumRetryCount ?? 0}</td>
      <td>
        {info?.checksumRetryAt ? (
          <time dateTime={info.checksumRetryAt} title={formatDateTime(info.checksumRetryAt)}>
            {formatRelative(info.checksumRetryAt)}
          </time>
        ) : (
          <span class="muted">—</span>
        )}
      </td>
      <td class="failure">{info?.checksumFailure ?? <span class="muted">—</span>}</td>
      <td class="action">
        <button type="button" class="small" disabled={row.busy} aria-busy={row.busy} onClick={onRecalculate}>
          Recalculate
        </button>
      </td>
    </tr>
  );
}
