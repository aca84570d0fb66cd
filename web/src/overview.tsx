// Every model at a glance: one row each, its total, its bar, the count of each state, and while verification is under
// way its pace and when it should be done.
import type { MonitorSummaryPartsFragment } from '../generated/operations';
import { formatCount, formatPace, formatRelative, formatTimeOfDay } from './format';
import { MODEL_LABELS, STATE_LABELS, STATES } from './names';
import { DEFAULT_STATE, routeHref } from './route';
import { Legend, StateBar, stateCount, Swatch } from './state-bar';

/** Records PENDING or STARTED: verification is under way. */
export function inFlight(summary: MonitorSummaryPartsFragment): number {
  return stateCount(summary, 'PENDING').count + stateCount(summary, 'STARTED').count;
}

export function Pace({ summary }: { summary: MonitorSummaryPartsFragment }) {
  if (inFlight(summary) === 0) return <span class="muted">—</span>;
  if (summary.verifiedPerMinute === null) return <span class="muted">measuring…</span>;
  return <>{formatPace(summary.verifiedPerMinute)}</>;
}

export function Completion({ summary }: { summary: MonitorSummaryPartsFragment }) {
  const at = summary.estimatedCompletionAt;
  if (inFlight(summary) === 0) return <span class="muted">—</span>;
  if (at === null)
    return (
      <span class="muted" title="Estimated once the pace is measured">
        …
      </span>
    );
  return (
    <time dateTime={at} title={`Estimated at ${formatTimeOfDay(at)}`}>
      {/* An estimate that has passed while records are still in flight: the next count will say. */}
      {new Date(at).getTime() <= Date.now() ? 'any moment' : formatRelative(at)}
    </time>
  );
}

function totals(summaries: MonitorSummaryPartsFragment[]): MonitorSummaryPartsFragment {
  return {
    model: summaries[0].model,
    total: summaries.reduce((n, s) => n + s.total, 0),
    totalExact: summaries.every((s) => s.totalExact),
    verificationEnabled: true,
    states: STATES.map((state) => ({
      state,
      count: summaries.reduce((n, s) => n + stateCount(s, state).count, 0),
      exact: summaries.every((s) => stateCount(s, state).exact),
    })),
    observedAt: summaries[0].observedAt,
    verifiedPerMinute: null,
    estimatedCompletionAt: null,
  };
}

function open(href: string) {
  location.hash = href;
}

export function Overview({ summaries }: { summaries: MonitorSummaryPartsFragment[] }) {
  const all = summaries.length > 0 ? totals(summaries) : null;
  return (
    <section aria-labelledby="overview-title">
      <div class="section-head">
        <h2 id="overview-title">Verification by model</h2>
        <Legend />
      </div>
      <div class="table-scroll">
        <table class="overview">
          <caption class="visually-hidden">Records of each model per checksum state, updated live. Open a model to see its records.</caption>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col" class="num">
                Records
              </th>
              <th scope="col" class="bar-col">
                States
              </th>
              {STATES.map((state) => (
                <th scope="col" class="num" key={state}>
                  <Swatch state={state} /> {STATE_LABELS[state]}
                </th>
              ))}
              <th scope="col" class="num">
                Pace
              </th>
              <th scope="col">Done</th>
            </tr>
          </thead>
          <tbody>
            {summaries.map((summary) => {
              const href = routeHref({ view: 'model', model: summary.model, state: DEFAULT_STATE });
              return (
                <tr
                  key={summary.model}
                  class="clickable"
                  data-model={summary.model}
                  onClick={(event) => {
                    // The link handles its own clicks (and middle clicks, and keyboard); the rest of the row opens it too.
                    if (!(event.target as Element).closest('a')) open(href);
                  }}
                >
                  <th scope="row">
                    <a href={href} title={summary.model}>
                      {MODEL_LABELS[summary.model]}
                    </a>
                  </th>
                  <td class="num">{formatCount(summary.total, summary.totalExact)}</td>
                  <td class="bar-col">
                    {summary.verificationEnabled ? <StateBar summary={summary} /> : <span class="muted">verification off in GitLab</span>}
                  </td>
                  {STATES.map((state) => {
                    const { count, exact } = stateCount(summary, state);
                    return (
                      <td class={count === 0 ? 'num zero' : 'num'} key={state} data-state={state}>
                        {formatCount(count, exact)}
                      </td>
                    );
                  })}
                  <td class="num">
                    <Pace summary={summary} />
                  </td>
                  <td class="done">
                    <Completion summary={summary} />
                  </td>
                </tr>
              );
            })}
          </tbody>
          {all && (
            <tfoot>
              <tr>
                <th scope="row">All models</th>
                <td class="num">{formatCount(all.total, all.totalExact)}</td>
                <td class="bar-col">
                  <StateBar summary={all} />
                </td>
                {STATES.map((state) => {
                  const { count, exact } = stateCount(all, state);
                  return (
                    <td class="num" key={state}>
                      {formatCount(count, exact)}
                    </td>
                  );
                })}
                <td />
                <td />
              </tr>
            </tfoot>
          )}
        </table>
      </div>
    </section>
  );
}
