// `npm run upstream -- --port 3001 ...`: the stand-in as a process of its own.
import { parseArgs } from 'node:util';
import { startStandIn, isKnownModelName, type StandInOverrides } from './index.js';
import { listenFailure } from '../listen-error.js';

const FLAGS = {
  host: { type: 'string', help: 'address to listen on', default: '127.0.0.1' },
  port: { type: 'string', help: 'port (0 picks a free one)', default: '3001' },
  records: { type: 'string', help: 'records seeded per model', default: '50' },
  'model-records': { type: 'string', help: 'per-model counts, e.g. lfs_objects=1000000,projects=250', default: '' },
  dialect: { type: 'string', help: 'singular (GitLab 18.3-18.7) or plural (18.8+)', default: 'plural' },
  seed: { type: 'string', help: 'seed of the deterministic data', default: '1' },
  'verify-interval-ms': { type: 'string', help: 'period of the background verification job (GitLab: 60000)', default: '60000' },
  'verify-batch-size': { type: 'string', help: 'records verified per model and period (GitLab: 10)', default: '10' },
  'verify-duration-ms': { type: 'string', help: 'time a record stays started (default: half the period)', default: '' },
  'fail-rate': { type: 'string', help: 'share of records whose file is missing, so verification always fails', default: '0.05' },
  unverifiable: { type: 'string', help: 'comma-separated models whose verification is off', default: '' },
  composite: { type: 'string', help: 'comma-separated models identified by base64 composite keys', default: '' },
  'feature-flag': { type: 'string', help: 'geo_primary_verification_view: on or off (singular dialect only)', default: 'on' },
  secondary: { type: 'boolean', help: 'act as a secondary site: both PUTs answer 400', default: false },
  'max-offset': { type: 'string', help: 'answer 405 past this offset (page x per_page), as GitLab.com does at 50000', default: '' },
  'admin-token': { type: 'string', help: 'token of an administrator', default: 'glpat-standin-admin' },
  'user-token': { type: 'string', help: 'token of a non-admin user (403)', default: 'glpat-standin-user' },
  'read-only-token': { type: 'string', help: 'read_api-scoped admin token (GET only)', default: 'glpat-standin-read-api' },
  'latency-ms': { type: 'string', help: 'fixed delay before every API answer', default: '0' },
  'latency-jitter-ms': { type: 'string', help: 'extra random delay, up to this many ms', default: '0' },
  'error-rate': { type: 'string', help: 'share of answers that are 500/502/503', default: '0' },
  'rate-limit-rate': { type: 'string', help: 'share of answers that are 429', default: '0' },
  'retry-after-s': { type: 'string', help: 'Retry-After of those 429s', default: '1' },
  'reset-rate': { type: 'string', help: 'share of connections reset mid-response', default: '0' },
  'malformed-rate': { type: 'string', help: 'share of answers with a malformed JSON body', default: '0' },
  'max-request-line-bytes': { type: 'string', help: 'a longer request line is answered 414, as by nginx', default: '8192' },
  help: { type: 'boolean', help: 'print this help', default: false },
} as const;

function usage(): string {
  const lines = Object.entries(FLAGS).map(([name, f]) => `  --${name.padEnd(24)} ${f.help}${f.type === 'string' && f.default !== '' ? ` (default ${f.default})` : ''}`);
  return `Usage: npm run upstream -- [flags]\n\nA stand-in of GitLab's Data management API.\n\n${lines.join('\n')}\n`;
}

class UsageError extends Error {}

function number(name: string, value: string, { min = 0, max = Infinity, integer = true } = {}): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}, got "${value}"`);
  }
  return n;
}

function modelList(name: string, value: string): string[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.find((n) => !isKnownModelName(n));
  if (unknown) throw new UsageError(`--${name}: unknown model "${unknown}"`);
  return names;
}

function parse(argv: string[]): StandInOverrides | 'help' {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const rate = (name: keyof typeof values) => number(name, String(values[name]), { max: 1, integer: false });
  const modelRecords: Record<string, number> = {};
  for (const pair of values['model-records'].split(',').filter((p) => p.trim())) {
    const [model, count = ''] = pair.split('=').map((s) => s.trim());
    modelList('model-records', model);
    modelRecords[model] = number('model-records', count, { max: 10_000_000 });
  }
  if (values.dialect !== 'singular' && values.dialect !== 'plural') throw new UsageError(`--dialect must be singular or plural, got "${values.dialect}"`);
  if (values['feature-flag'] !== 'on' && values['feature-flag'] !== 'off') throw new UsageError(`--feature-flag must be on or off, got "${values['feature-flag']}"`);
  return {
    host: values.host,
    port: number('port', values.port, { max: 65_535 }),
    records: number('records', values.records, { max: 10_000_000 }),
    modelRecords,
    dialect: values.dialect,
    seed: number('seed', values.seed, { max: 2 ** 31 }),
    verifyIntervalMs: number('verify-interval-ms', values['verify-interval-ms']),
    verifyBatchSize: number('verify-batch-size', values['verify-batch-size'], { min: 1 }),
    verifyDurationMs: values['verify-duration-ms'] === '' ? null : number('verify-duration-ms', values['verify-duration-ms']),
    failRate: rate('fail-rate'),
    unverifiableModels: modelList('unverifiable', values.unverifiable),
    compositeKeyModels: modelList('composite', values.composite),
    featureFlag: values['feature-flag'] === 'on',
    primary: !values.secondary,
    maxOffset: values['max-offset'] === '' ? null : number('max-offset', values['max-offset'], { min: 1 }),
    maxRequestLineBytes: number('max-request-line-bytes', values['max-request-line-bytes'], { min: 256, max: 1_048_576 }),
    tokens: { admin: values['admin-token'], user: values['user-token'], readOnly: values['read-only-token'] },
    faults: {
      latencyMs: number('latency-ms', values['latency-ms']),
      latencyJitterMs: number('latency-jitter-ms', values['latency-jitter-ms']),
      errorRate: rate('error-rate'),
      rateLimitRate: rate('rate-limit-rate'),
      retryAfterSeconds: number('retry-after-s', values['retry-after-s']),
      resetRate: rate('reset-rate'),
      malformedRate: rate('malformed-rate'),
    },
  };
}

async function main(): Promise<void> {
  let options;
  try {
    options = parse(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`stand-in: ${error.message}\nRun with --help to list the flags.\n`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(usage());
    return;
  }
  const started = Date.now();
  const standIn = await startStandIn(options).catch((error: unknown) => {
    // A port in use or an address this machine lacks is a bad flag like any other, not a crash.
    const line = listenFailure(error, { port: '--port', host: '--host' }, options.port ?? 0, options.host ?? '');
    if (!line) throw error;
    process.stderr.write(`stand-in: ${line}\n`);
    return process.exit(2);
  });
  // Before the URL is printed: whoever reads it may signal at once, and a signal with no handler yet would kill it.
  const stop = () => void standIn.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const { tokens } = standIn;
  process.stdout.write(
    `GitLab stand-in (${standIn.options.dialect} dialect) listening on ${standIn.url} after ${Date.now() - started} ms\n` +
      `  admin token:     ${tokens.admin}\n  non-admin token: ${tokens.user}\n  read_api token:  ${tokens.readOnly}\n`,
  );
}

await main();
