// The Relay Node interface and GitLab-style global ids: gid://gitlab/<ModelClass>/<recordIdentifier>.
import { gatewayError } from '../errors.js';
import { readIdentifier, type Identifier } from '../gitlab/identifiers.js';
import { MODELS, type ModelInfo } from '../models.js';
import { builder } from './builder.js';

const PREFIX = 'gid://gitlab/';

const MODELS_BY_CLASS: ReadonlyMap<string, ModelInfo> = new Map(MODELS.map((m) => [m.modelClass, m]));

export function globalId(model: ModelInfo, recordIdentifier: string | number): string {
  return `${PREFIX}${model.modelClass}/${recordIdentifier}`;
}

/**
 * The model and record a global id names. As GitLab's GraphQL API does, an id that is not a global id of a model this
 * gateway serves is the client's error (BAD_USER_INPUT); whether the record exists is for GitLab to say.
 */
export function parseGlobalId(id: string): { model: ModelInfo; identifier: Identifier } {
  const slash = id.lastIndexOf('/');
  const model = id.startsWith(PREFIX) && slash > PREFIX.length ? MODELS_BY_CLASS.get(id.slice(PREFIX.length, slash)) : undefined;
  const identifier = model ? readIdentifier(id.slice(slash + 1)) : null;
  if (!model || !identifier) {
    throw gatewayError('BAD_USER_INPUT', `${JSON.stringify(id.slice(0, 300))} is not a global id of this gateway: gid://gitlab/<ModelClass>/<recordIdentifier>, of a model the \`models\` query lists.`);
  }
  return { model, identifier };
}

export const Node = builder.interfaceRef<{ model: ModelInfo }>('Node').implement({
  description: 'An object with a globally unique id, fetched again with `node(id:)` (the Relay convention).',
  // Records are the only nodes.
  resolveType: () => 'ModelRecord',
  fields: (t) => ({
    id: t.id({ description: 'Globally unique id: gid://gitlab/<ModelClass>/<recordIdentifier>, as GitLab writes its own.' }),
  }),
});
