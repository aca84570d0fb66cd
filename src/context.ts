// What every resolver sees: the caller's own GitLab credentials and this operation's loaders.
import { randomUUID } from 'node:crypto';
import type { Config } from './config.js';
import type { Caller, GitLabClient } from './gitlab/client.js';
import { RecordLoaders } from './gitlab/loaders.js';

export interface GatewayContext {
  caller: Caller;
  client: GitLabClient;
  loaders: RecordLoaders;
  config: Config;
}

type HeaderSource = { get(name: string): string | null };

/** The GitLab token of the request, taken from `Authorization: Bearer` or `PRIVATE-TOKEN`, in that order. */
export function callerFrom(headers: HeaderSource): Caller {
  const requestId = headers.get('x-request-id')?.slice(0, 128) || randomUUID();
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.get('authorization') ?? '');
  if (bearer) return { token: bearer[1], header: 'authorization', requestId };
  const privateToken = headers.get('private-token')?.trim();
  return { token: privateToken || null, header: 'private-token', requestId };
}

export function createContext(client: GitLabClient, config: Config, caller: Caller): GatewayContext {
  return { caller, client, config, loaders: new RecordLoaders(client, caller) };
}
