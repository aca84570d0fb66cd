// The graphql-ws connection check asks GitLab about a token it has no verdict on; a client that makes up a token per
// socket gets at most MAX_CHECKS_IN_FLIGHT such calls under way at once, and its other sockets are closed with 1013
// (try again later) at once, not queued. GitLab here holds every call until the test lets it through, so the checks
// under way stay under way for as long as the test needs: no timing is assumed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.js';
import { MAX_CHECKS_IN_FLIGHT } from '../../src/live/token-checker.js';
import { startGateway, type Gateway } from '../../src/server.js';
import { startStandIn, type RequestLogEntry, type StandIn } from '../../src/stand-in/index.js';
import { ADMIN, API } from '../support/gateway.js';
import { until } from './helpers.js';

/** The stand-in behind a door: while it is shut, requests wait at it; opening it lets them all through. */
interface Door {
  url: string;
  shut(): void;
  open(): void;
  /** Requests waiting now. */
  readonly waiting: number;
  close(): Promise<void>;
}

async function startDoor(standInUrl: string): Promise<Door> {
  let shut = false;
  const waiting: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    const forward = () => {
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'private-token', 'x-request-id', 'accept']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      fetch(`${standInUrl}${req.url}`, { method: req.method, headers }).then(
        async (answer) => {
          const out: Record<string, string> = {};
          answer.headers.forEach((value, name) => {
            if (!['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding'].includes(name)) out[name] = value;
          });
          res.writeHead(answer.status, out).end(Buffer.from(await answer.arrayBuffer()));
        },
        () => res.destroy(),
      );
    };
    if (shut) waiting.push(forward);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    shut: () => void (shut = true),
    open: () => {
      shut = false;
      for (const forward of waiting.splice(0)) forward();
    },
    get waiting() {
      return waiting.length;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Outcome = { acked: true } | { acked: false; code: number; reason: string };

let standIn: StandIn;
let door: Door;
let gateway: Gateway;

/** Opens a graphql-transport-ws socket with this token and reports how it ended (an acknowledged one is closed). */
function connect(token: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    socket.once('error', reject);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } })));
    socket.on('message', (raw) => {
      if (!String(raw).includes('"connection_ack"')) return;
      resolve({ acked: true });
      socket.close();
    });
    socket.once('close', (code, reason) => resolve({ acked: false, code, reason: String(reason) }));
  });
}

async function standInLog(): Promise<RequestLogEntry[]> {
  const res = await fetch(`${standIn.url}/-/stand-in/requests?after=0`);
  return ((await res.json()) as { requests: RequestLogEntry[] }).requests;
}

beforeAll(async () => {
  standIn = await startStandIn({ records: 20, verifyIntervalMs: 0 });
  door = await startDoor(standIn.url);
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', GITLAB_URL: door.url, GITLAB_API_DIALECT: 'plural', LOG_LEVEL: 'silent' });
  gateway = await startGateway(config, { gitlabUrl: door.url });
});
afterAll(async () => {
  door?.open();
  await gateway?.close();
  await door?.close();
  await standIn?.stop();
});

const BUSY = { acked: false, code: 1013, reason: 'Too many connections are being checked; try again later.' };
const REFUSED = { acked: false, code: 4403, reason: 'Forbidden' };

it(`sockets with made-up tokens while GitLab is slow: ${MAX_CHECKS_IN_FLIGHT} checks under way, the other sockets 1013 at once`, async () => {
  // A token GitLab accepted before the flood: its verdict is kept, so the flood does not lock it out.
  expect(await connect(ADMIN)).toEqual({ acked: true });
  door.shut();
  const SOCKETS = MAX_CHECKS_IN_FLIGHT + 16;
  const tokens = Array.from({ length: SOCKETS }, (_, i) => `glpat-made-up-${i}-${Date.now()}`);
  const outcomes: (Outcome | null)[] = tokens.map(() => null);
  const done = Promise.all(tokens.map((token, i) => connect(token).then((o) => (outcomes[i] = o))));
  const busy = () => outcomes.filter((o) => o !== null && !o.acked && o.code === 1013).length;
  // Every socket accounted for: a check under way at GitLab's door, or closed with 1013.
  await until(() => door.waiting + busy() === SOCKETS, `${SOCKETS} sockets checked or turned away`, 15_000);
  expect(door.waiting).toBe(MAX_CHECKS_IN_FLIGHT);
  expect(outcomes.filter((o) => o !== null)).toEqual(Array.from({ length: 16 }, () => BUSY));
  // While the checks are under way: a new made-up token is turned away too, a known one is let in without a call.
  expect(await connect(`glpat-one-more-${Date.now()}`)).toEqual(BUSY);
  expect(await connect(ADMIN)).toEqual({ acked: true });
  expect(door.waiting).toBe(MAX_CHECKS_IN_FLIGHT);

  door.open();
  await done;
  expect(outcomes.filter((o) => o!.acked === false && o!.code === 4403)).toHaveLength(MAX_CHECKS_IN_FLIGHT);
  const checks = (await standInLog()).filter((e) => e.method === 'GET' && e.path === `${API}projects` && e.authorization?.startsWith('Bearer glpat-made-up-'));
  expect(checks).toHaveLength(MAX_CHECKS_IN_FLIGHT);

  // The checks are over: a new token is checked again.
  expect(await connect(`glpat-after-${Date.now()}`)).toEqual(REFUSED);
});
