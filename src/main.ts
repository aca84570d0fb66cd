// Reads the config, starts the gateway (and, with no GITLAB_URL, the embedded GitLab stand-in), handles signals.
import { ConfigError, loadConfig, type Config } from './config.js';
import { listenFailure } from './listen-error.js';
import type { StandIn } from './stand-in/index.js';

/** The embedded default: a seeded stand-in verifying every second, so live changes show up quickly. */
const DEMO_STAND_IN = {
  records: 200,
  verifyIntervalMs: 1000,
  verifyBatchSize: 10,
  compositeKeyModels: ['supply_chain_attestations'],
};

function configError(message: string): never {
  process.stderr.write(`config error: ${message}\n`);
  process.exit(2);
}

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    configError(error.message);
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  // Loaded after the config is known good: a bad variable exits at once, without loading the GraphQL stack.
  const [{ createLogger, linesBatched, pino }, { startGateway }, { startStandIn }] = await Promise.all([import('./logger.js'), import('./server.js'), import('./stand-in/index.js')]);
  let standIn: StandIn | null = null;
  if (!config.gitlabUrl) standIn = await startStandIn(DEMO_STAND_IN);
  // Written synchronously, as Node writes to a pipe or a file, a few milliseconds' lines at a time: lines go out in
  // order, the last ones at exit too (pino's default writes in a thread and, at exit, could put a later line before
  // one still in flight).
  const logger = createLogger(config.logLevel, linesBatched(pino.destination({ dest: 1, sync: true })));
  const gateway = await startGateway(config, {
    gitlabUrl: config.gitlabUrl ?? standIn!.url,
    demoToken: standIn?.tokens.admin,
    logger,
  }).catch(async (error: unknown) => {
    // A port in use or an address this machine lacks is a bad setting like any other, not a crash; so is a file a
    // setting names (TRUSTED_DOCUMENTS) that cannot be used.
    const line = error instanceof ConfigError ? error.message : listenFailure(error, { port: 'PORT', host: 'HOST' }, config.port, config.host);
    if (!line) throw error;
    await standIn?.stop();
    return configError(line);
  });
  let stoppingSince = 0;
  const stop = async (signal: string) => {
    if (stoppingSince) {
      // A second Ctrl-C does not wait for the graceful shutdown; one within a second is the same Ctrl-C, which a
      // terminal sends to the whole process group and npm forwards once more.
      if (Date.now() - stoppingSince < 1_000) return;
      logger.warn({ signal }, 'forced exit');
      process.exit(1);
    }
    stoppingSince = Date.now();
    logger.info({ signal }, 'shutting down');
    await gateway.close();
    await standIn?.stop();
    logger.info('stopped');
    process.exit(0);
  };
  // Before the ready line: whoever reads it may signal at once, and a signal with no handler yet would kill the process.
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // Whatever LOG_LEVEL says, the start-up lines are written: they carry the URL that people and scripts wait for.
  const lifecycle = logger.isLevelEnabled('info') ? logger : logger.child({}, { level: 'info' });
  if (standIn) {
    // The stand-in's token is public (it is in the README): shown so that a person can use it at once.
    lifecycle.info(
      { standInUrl: standIn.url, dialect: standIn.options.dialect, adminToken: standIn.tokens.admin },
      `Demo mode: no GITLAB_URL, so an embedded GitLab stand-in (${standIn.options.dialect} dialect) at ${standIn.url} serves as upstream; ` +
        `its control API, /-/stand-in/, injects faults and runs verification (see the README). Admin token: ${standIn.tokens.admin} (already in GraphiQL's headers)`,
    );
  }
  const monitor = config.monitor ? gateway.url.replace(/graphql$/, '') : undefined;
  lifecycle.info(
    { url: gateway.url, graphiql: config.graphiql, monitor },
    `Gateway ready: ${gateway.url}${config.graphiql ? ' (GraphiQL in a browser)' : ''}${monitor ? `; the monitor page at ${monitor}` : ''}`,
  );
}

await main();
