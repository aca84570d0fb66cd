// JSON logs (pino). Tokens never reach a log line: nothing logs them, and these paths are redacted should one try.
import pino, { type Logger } from 'pino';

export const REDACTED_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  '*["private-token"]',
  'headers.authorization',
  'headers["private-token"]',
  'connectionParams',
  '*.connectionParams',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'data-management-gateway' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, destination);
}

export type { Logger };
export { pino };
