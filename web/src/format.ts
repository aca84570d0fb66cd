// Numbers, sizes and times as a person reads them, in the browser's language.

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOfDay = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });

export function formatCount(n: number, exact = true): string {
  return exact ? integer.format(n) : `≥ ${integer.format(n)}`;
}

export function formatPercent(part: number, whole: number): string {
  return whole > 0 ? `${decimal.format((100 * part) / whole)} %` : '0 %';
}

const UNITS = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** Decimal units (as GitLab shows sizes); the exact count of bytes goes in a title. */
export function formatBytes(value: string | null): string {
  if (value === null) return '—';
  let n = Number(value);
  let unit = 0;
  while (n >= 1000 && unit < UNITS.length - 1) {
    n /= 1000;
    unit++;
  }
  return unit === 0 ? `${integer.format(n)} bytes` : `${decimal.format(n)} ${UNITS[unit]}`;
}

export function formatBytesExact(value: string | null): string | undefined {
  return value === null ? undefined : `${BigInt(value).toLocaleString()} bytes`;
}

export function formatDateTime(iso: string | null): string {
  return iso === null ? '—' : dateTime.format(new Date(iso));
}

export function formatTimeOfDay(iso: string): string {
  return timeOfDay.format(new Date(iso));
}

/** "in 3 minutes", "2 hours ago": the largest unit that keeps the number small. */
export function formatRelative(iso: string, now = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(seconds, 'second');
  if (abs < 3600) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), 'hour');
  return relative.format(Math.round(seconds / 86_400), 'day');
}

export function formatPace(perMinute: number): string {
  return `${perMinute < 100 ? decimal.format(perMinute) : integer.format(perMinute)}/min`;
}
