// JSON logs (pino). Tokens never reach a log line: nothing logs them, and the keys of a logged object that could hold one are censored
// should something try.
import pino, { type Logger } from 'pino';

/** Keys censored at a log object's top level and one level down (`headers.authorization`, `req.connectionParams`). */
export const REDACTED_KEYS = new Set(['token', 'authorization', 'private-token', 'connectionParams']);
const CENSOR = '[redacted]';

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Error);

/** One level of a log object with its secret keys censored: the same object when it holds none (the usual case). */
function censorKeys(object: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | null = null;
  for (const key in object) {
    if (REDACTED_KEYS.has(key)) (copy ??= { ...object })[key] = CENSOR;
  }
  return copy ?? object;
}

/**
 * Censors the log object before pino writes it. pino's own `redact` copies every logged object to scan wildcard
 * paths: about 14 KB and 11 us a line, on every operation. This walks the keys once and copies only on a hit.
 */
export function censored(object: Record<string, unknown>): Record<string, unknown> {
  let result = censorKeys(object);
  for (const key in result) {
    const value = result[key];
    if (!isPlainObject(value)) continue;
    const inner = censorKeys(value);
    if (inner !== value) (result === object ? (result = { ...object }) : result)[key] = inner;
  }
  return result;
}

/** How long a log line may wait for others to share its write. */
const LOG_FLUSH_MS = 5;
/** Characters held at most: past them, the lines go out at once. */
const LOG_FLUSH_CHARS = 32 * 1024;

/**
 * The lines of a few milliseconds written together (and at the process's exit): under load one system call, and one
 * wake-up of whatever reads the log, for dozens of operations rather than one or a few.
 */
export function linesBatched(out: pino.DestinationStream): pino.DestinationStream {
  let lines: string[] = [];
  let chars = 0;
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (lines.length === 0) return;
    const text = lines.length === 1 ? lines[0] : lines.join('');
    lines = [];
    chars = 0;
    out.write(text);
  };
  process.once('exit', flush);
  return {
    write(line: string) {
      lines.push(line);
      chars += line.length;
      if (chars >= LOG_FLUSH_CHARS) flush();
      // Unref'd: a pending line keeps nothing alive; the exit handler writes it.
      else if (!timer) timer = setTimeout(flush, LOG_FLUSH_MS).unref();
    },
  };
}

/** The fields of the line every GraphQL operation writes (telemetry.ts), in their order; none of them holds a secret. */
export interface OperationLine {
  requestId: string | undefined;
  operation: string;
  type: string;
  durationMs: number;
  upstreamCalls: number;
  errorCodes: readonly string[];
  phase?: string;
}

/**
 * Writes an operation's line at info as `logger.info(fields, msg)` would, byte for byte (the logger's level, time and
 * bindings first, the message last), from one template instead of pino's walk of the object's keys: under load in
 * the gateway that walk cost about 10 us an operation (see the README's Performance section).
 */
export function operationLineWriter(logger: Logger): (fields: OperationLine, msg: string) => void {
  const { lsCacheSym, timeSym, chindingsSym, endSym, streamSym } = pino.symbols;
  // Read on each line, as pino does: a level set later, and a child's bindings, are the logger's own.
  const own = logger as unknown as Record<symbol, never>;
  return (fields, msg) => {
    if (!logger.isLevelEnabled('info')) return;
    const { requestId, operation, type, durationMs, upstreamCalls, errorCodes, phase } = fields;
    let line = `${(own[lsCacheSym] as string[])[logger.levels.values.info]}${(own[timeSym] as () => string)()}${own[chindingsSym] as string}`;
    if (requestId !== undefined) line += `,"requestId":${JSON.stringify(requestId)}`;
    line += `,"operation":${JSON.stringify(operation)},"type":${JSON.stringify(type)},"durationMs":${durationMs},"upstreamCalls":${upstreamCalls},"errorCodes":${JSON.stringify(errorCodes)}`;
    if (phase !== undefined) line += `,"phase":${JSON.stringify(phase)}`;
    (own[streamSym] as pino.DestinationStream).write(`${line},"msg":${JSON.stringify(msg)}${own[endSym] as string}`);
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'data-management-gateway' }, formatters: { log: censored } }, destination);
}

export type { Logger };
export { pino };
