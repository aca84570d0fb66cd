// Reads the config, starts the gateway (and, with no GITLAB_URL, the embedded GitLab stand-in), handles signals.
import { ConfigError, loadConfig, type Config } from './config.js';
import type { StandIn } from './stand-in/index.js';

/** The embedded default: a seeded stand-in verifying every second, so live changes show up quickly. */
const DEMO_STAND_IN = {
  records: 200,
  verifyIntervalMs: 1000,
  verifyBatchSize: 10,
  compositeKeyModels: ['supply_chain_attestations'],
};

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`config error: ${error.message}\n`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  // Loaded after the config is known good: a bad variable exits at once, without loading the GraphQL stack.
  const [{ createLogger }, { startGateway }, { startStandIn }] = await Promise.all([import('./logger.js'), import('./server.js'), import('./stand-in/index.js')]);
  let standIn: StandIn | null = null;
  if (!config.gitlabUrl) standIn = await startStandIn(DEMO_STAND_IN);
  const logger = createLogger(config.logLevel);
  const gateway = await startGateway(config, {
    gitlabUrl: config.gitlabUrl ?? standIn!.url,
    demoToken: standIn?.tokens.admin,
    logger,
  });
  if (standIn) {
    process.stdout.write(
      `Demo mode: no GITLAB_URL, so an embedded GitLab stand-in (${standIn.options.dialect} dialect) serves as upstream.\n` +
        `  admin token: ${standIn.tokens.admin} (already in GraphiQL's headers)\n`,
    );
  }
  process.stdout.write(`Gateway ready: ${gateway.url}${config.graphiql ? ' (GraphiQL in a browser)' : ''}\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await gateway.close();
    await standIn?.stop();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

await main();
