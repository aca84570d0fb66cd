// The start-up lines are JSON like every other line, with a readable `msg`, and are written whatever LOG_LEVEL says:
// the ready line (url, graphiql) always; in demo mode a line before it with the stand-in's URL and its public admin
// token. Outside demo mode no token appears. GRAPHIQL=true without introspection is a warn line at start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from '../../src/stand-in/index.js';
import { ADMIN, spawnGateway, type Exit, type GatewayProcess, type LogLine } from './helpers.js';

const lines = (stdout: string): LogLine[] =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogLine);

/** Stops a gateway process gracefully and returns everything it wrote. */
async function stopped(gateway: GatewayProcess): Promise<Exit> {
  gateway.child.kill('SIGTERM');
  return gateway.exited;
}

let standIn: StandIn;
let demoSilent: GatewayProcess;
let realWarn: GatewayProcess;
let realInfo: GatewayProcess;

beforeAll(async () => {
  standIn = await startStandIn({ records: 5 });
  // All at once: start-up is most of this file's time.
  [demoSilent, realWarn, realInfo] = await Promise.all([
    spawnGateway({ LOG_LEVEL: 'silent' }),
    spawnGateway({ GITLAB_URL: standIn.url, LOG_LEVEL: 'warn', GRAPHIQL: 'true' }),
    spawnGateway({ GITLAB_URL: standIn.url }),
  ]);
}, 150_000);

afterAll(async () => {
  for (const g of [demoSilent, realWarn, realInfo]) g?.kill();
  await standIn?.stop();
});

describe('start-up lines', () => {
  it('demo mode, LOG_LEVEL=silent: the demo line and the ready line, JSON, and nothing else up to the exit', async () => {
    const exit = await stopped(demoSilent);
    expect({ code: exit.code, stderr: exit.stderr }).toEqual({ code: 0, stderr: '' });
    const [demo, ready, ...rest] = lines(exit.stdout);
    expect(rest).toEqual([]);
    expect(demo).toEqual({
      level: 30,
      time: expect.any(Number),
      service: 'data-management-gateway',
      standInUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      dialect: 'plural',
      adminToken: ADMIN,
      msg: expect.any(String),
    });
    const standInUrl = demo.standInUrl as string;
    expect(demo.msg).toBe(
      `Demo mode: no GITLAB_URL, so an embedded GitLab stand-in (plural dialect) at ${standInUrl} serves as upstream; its control API, /-/stand-in/, ` +
        `injects faults and runs verification (see the README). Admin token: ${ADMIN} (already in GraphiQL's headers)`,
    );
    expect(ready).toEqual({
      level: 30,
      time: expect.any(Number),
      service: 'data-management-gateway',
      url: demoSilent.url,
      graphiql: true,
      monitor: demoSilent.url.replace(/graphql$/, ''),
      msg: `Gateway ready: ${demoSilent.url} (GraphiQL in a browser); the monitor page at ${demoSilent.url.replace(/graphql$/, '')}`,
    });
  });

  it('GITLAB_URL set, LOG_LEVEL=warn, GRAPHIQL=true without introspection: a warn line, then the ready line; no token', async () => {
    const exit = await stopped(realWarn);
    expect({ code: exit.code, stderr: exit.stderr }).toEqual({ code: 0, stderr: '' });
    expect(lines(exit.stdout).map((l) => ({ level: l.level, msg: l.msg, url: l.url, graphiql: l.graphiql }))).toEqual([
      {
        level: 40,
        msg: 'GRAPHIQL is on but GRAPHQL_INTROSPECTION is off: GraphiQL cannot load the schema ("Error fetching schema"), so it offers no completion, checks or docs; set GRAPHQL_INTROSPECTION=true as well',
        url: undefined,
        graphiql: undefined,
      },
      { level: 30, msg: `Gateway ready: ${realWarn.url} (GraphiQL in a browser)`, url: realWarn.url, graphiql: true },
    ]);
    expect(exit.stdout).not.toContain(ADMIN);
    expect(exit.stdout).not.toContain('Demo mode');
  });

  it('GITLAB_URL set, default level: the ready line (GraphiQL off), then the shutdown lines', async () => {
    const exit = await stopped(realInfo);
    expect(lines(exit.stdout).map((l) => ({ level: l.level, msg: l.msg, url: l.url, graphiql: l.graphiql }))).toEqual([
      { level: 30, msg: `Gateway ready: ${realInfo.url}`, url: realInfo.url, graphiql: false },
      { level: 30, msg: 'shutting down', url: undefined, graphiql: undefined },
      { level: 30, msg: 'stopped', url: undefined, graphiql: undefined },
    ]);
    expect(exit.stdout).not.toContain(ADMIN);
  });
});
