// Starts the stand-in in-process: the embedded default upstream of `npm start` and of the tests.
import type { AddressInfo } from 'node:net';
import { MODELS, type ModelInfo } from '../models.js';
import { resolveOptions, type Faults, type StandInOptions, type StandInOverrides, type Tokens } from './options.js';
import { createStandInServer, type Role, type StandInState } from './server.js';
import { ModelStore } from './store.js';
import { VerificationWorker } from './worker.js';

export type { Faults, StandInOptions, StandInOverrides, Tokens } from './options.js';
export type { ModelCounts, RequestLogEntry } from './server.js';

export interface StandIn {
  /** Base URL, e.g. http://127.0.0.1:3001 (the API lives under /api/v4). */
  url: string;
  port: number;
  options: StandInOptions;
  tokens: Tokens;
  stop(): Promise<void>;
}

const named = (names: string[], m: ModelInfo) => names.includes(m.plural) || (m.singular !== null && names.includes(m.singular)) || names.includes(m.enumName);

function seedStores(options: StandInOptions): Map<ModelInfo, ModelStore> {
  const stores = new Map<ModelInfo, ModelStore>();
  for (const m of MODELS) {
    const override = Object.entries(options.modelRecords).find(([name]) => named([name], m));
    const size = override ? override[1] : options.records;
    stores.set(m, new ModelStore(m, !named(options.unverifiableModels, m), named(options.compositeKeyModels, m), size, options.seed, options.failRate));
  }
  return stores;
}

/** Every model name an option may use: either dialect's path name, or the GraphQL enum name. */
export function isKnownModelName(name: string): boolean {
  return MODELS.some((m) => named([name], m));
}

export async function startStandIn(overrides: StandInOverrides = {}): Promise<StandIn> {
  const options = resolveOptions(overrides);
  const stores = seedStores(options);
  const durationMs = options.verifyDurationMs ?? Math.max(1, Math.floor(options.verifyIntervalMs / 2));
  const worker = new VerificationWorker(() => stores.values(), options.verifyIntervalMs, options.verifyBatchSize, durationMs);
  const tokens = new Map<string, Role>([
    [options.tokens.admin, 'admin'],
    [options.tokens.user, 'user'],
    [options.tokens.readOnly, 'readOnly'],
  ]);
  const state: StandInState = {
    options,
    dialect: options.dialect,
    featureFlag: options.featureFlag,
    primary: options.primary,
    maxOffset: options.maxOffset,
    faults: { ...options.faults },
    tokens,
    stores,
    worker,
    log: [],
    seq: 0,
  };
  const server = createStandInServer(state);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  worker.start();
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    port,
    options,
    tokens: options.tokens,
    async stop() {
      worker.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
