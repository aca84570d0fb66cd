// The stacked bar of a model's checksum states: Okabe-Ito colours, each state with a pattern of its own, so that it
// reads without telling colours apart; the numbers are in the title of each part and in the bar's accessible name.
import type { ChecksumState, MonitorSummaryPartsFragment } from '../generated/operations';
import { formatCount, formatPercent } from './format';
import { STATE_LABELS, STATES } from './names';

export function stateCount(summary: MonitorSummaryPartsFragment, state: ChecksumState): { count: number; exact: boolean } {
  return summary.states.find((s) => s.state === state) ?? { count: 0, exact: true };
}

export function describeCounts(summary: MonitorSummaryPartsFragment): string {
  return STATES.map((state) => {
    const { count, exact } = stateCount(summary, state);
    return `${STATE_LABELS[state]} ${formatCount(count, exact)}`;
  }).join(', ');
}

export function Swatch({ state }: { state: ChecksumState }) {
  return <span class={`swatch state-${state.toLowerCase()}`} aria-hidden="true" />;
}

export function StateBar({ summary, large = false }: { summary: MonitorSummaryPartsFragment; large?: boolean }) {
  const total = summary.states.reduce((sum, s) => sum + s.count, 0);
  return (
    <div
      class={large ? 'bar bar-large' : 'bar'}
      role="img"
      aria-label={`${describeCounts(summary)} of ${formatCount(summary.total, summary.totalExact)} records`}
    >
      {total === 0 ? (
        <span class="bar-empty">no records</span>
      ) : (
        STATES.map((state) => {
          const { count, exact } = stateCount(summary, state);
          if (count === 0) return null;
          return (
            <span
              key={state}
              class={`bar-part state-${state.toLowerCase()}`}
              style={{ flexGrow: count }}
              title={`${STATE_LABELS[state]}: ${formatCount(count, exact)} (${formatPercent(count, total)})`}
            />
          );
        })
      )}
    </div>
  );
}

export function Legend() {
  return (
    <ul class="legend" aria-label="States">
      {STATES.map((state) => (
        <li key={state}>
          <Swatch state={state} /> {STATE_LABELS[state]}
        </li>
      ))}
    </ul>
  );
}
