// ModelName, ChecksumState, ModelRecord and ChecksumInformation, with the queries that return them.
import { CHECKSUM_STATES, MODELS, MODELS_BY_ENUM, type ChecksumStateName, type ModelInfo } from '../models.js';
import type { RecordJson } from '../gitlab/client.js';
import { gatewayError } from '../errors.js';
import { requireIdentifier, type Identifier } from '../gitlab/identifiers.js';
import { builder } from './builder.js';
import { loadConnection, type RecordConnection, type RecordEdge } from './connection.js';
import { globalId, Node, parseGlobalId } from './node.js';

/** `first` of modelRecords when the client gives none. */
const DEFAULT_PAGE_SIZE = 20;

export interface ModelRecordSource {
  model: ModelInfo;
  record: RecordJson;
}

export const ModelName = builder.enumType('ModelName', {
  description: 'A kind of data GitLab Geo replicates and verifies.',
  values: Object.fromEntries(
    MODELS.map((m) => [
      m.enumName,
      {
        value: m.enumName,
        description: m.singular
          ? `${m.modelClass} (\`${m.singular}\` / \`${m.plural}\` in GitLab's REST API).`
          : `${m.modelClass}. Newer model: only GitLab 18.8 and later (\`${m.plural}\`) know it.`,
      },
    ]),
  ),
});

export const ChecksumState = builder.enumType('ChecksumState', {
  description: "Where a record stands in GitLab's verification state machine.",
  values: {
    PENDING: { value: 'pending', description: 'Waiting for the background job to verify it.' },
    STARTED: { value: 'started', description: 'Being verified now.' },
    SUCCEEDED: { value: 'succeeded', description: 'Verified: `checksum` is current.' },
    FAILED: { value: 'failed', description: 'Verification failed; `checksumFailure` says why and `checksumRetryAt` when it is retried.' },
    DISABLED: { value: 'disabled', description: 'Verification is disabled for this record.' },
  } as const,
});

export function modelOf(enumName: string): ModelInfo {
  const model = MODELS_BY_ENUM.get(enumName);
  if (!model) throw gatewayError('BAD_USER_INPUT', `Unknown model ${enumName}.`);
  return model;
}

/** A state GitLab sent, if this gateway knows it: a newer GitLab may have more. */
export function knownState<S extends string | null>(state: S): S {
  if (state !== null && !(CHECKSUM_STATES as readonly string[]).includes(state)) throw gatewayError('UPSTREAM_ERROR', 'GitLab sent an unknown checksum state.');
  return state;
}

const ChecksumInformation = builder.objectRef<NonNullable<RecordJson['checksum_information']>>('ChecksumInformation').implement({
  description: "Geo's checksum information of a record.",
  fields: (t) => ({
    checksum: t.string({ nullable: true, description: 'Lowercase hex checksum; null until verified, and after a failure.', resolve: (c) => c.checksum }),
    lastChecksum: t.field({ type: 'DateTime', nullable: true, description: 'When the record was last verified.', resolve: (c) => c.last_checksum }),
    checksumState: t.field({
      type: ChecksumState,
      description: 'Where verification stands.',
      resolve: (c) => knownState(c.checksum_state),
    }),
    checksumRetryCount: t.int({ nullable: true, description: 'How many verifications failed in a row; 0 after a success.', resolve: (c) => c.checksum_retry_count }),
    checksumRetryAt: t.field({ type: 'DateTime', nullable: true, description: 'When a failed verification is retried.', resolve: (c) => c.checksum_retry_at }),
    checksumFailure: t.string({ nullable: true, description: 'Why the last verification failed.', resolve: (c) => c.checksum_failure }),
  }),
});

export const ModelRecord = builder.objectRef<ModelRecordSource>('ModelRecord').implement({
  description: 'One record of a model, with its checksum information.',
  interfaces: [Node],
  fields: (t) => ({
    id: t.id({
      description: "Globally unique id, in GitLab's style: gid://gitlab/<ModelClass>/<recordIdentifier>. Stable for client caches; `node(id:)` reads the record again.",
      resolve: ({ model, record }) => globalId(model, record.record_identifier),
    }),
    model: t.field({ type: ModelName, description: 'The model this record belongs to.', resolve: ({ model }) => model.enumName }),
    recordIdentifier: t.id({ description: "GitLab's identifier as is: an integer, or URL-safe base64 of a composite key.", resolve: ({ record }) => String(record.record_identifier) }),
    modelClass: t.string({ description: "GitLab's class name of the record, e.g. LfsObject.", resolve: ({ record }) => record.model_class }),
    createdAt: t.field({ type: 'DateTime', nullable: true, description: 'When GitLab created the record.', resolve: ({ record }) => record.created_at }),
    fileSize: t.field({ type: 'BigInt', nullable: true, description: 'Size in bytes; null for repositories.', resolve: ({ record }) => record.file_size }),
    checksumInformation: t.field({
      type: ChecksumInformation,
      nullable: true,
      description: 'Null when verification is not enabled for this model.',
      resolve: ({ record }) => record.checksum_information ?? null,
    }),
  }),
});

const PageInfo = builder.objectRef<RecordConnection>('PageInfo').implement({
  description: 'Where a page of a connection stands (Relay cursor connections).',
  fields: (t) => ({
    hasNextPage: t.boolean({ description: 'Whether more records follow: pass `endCursor` as `after` to read them.', resolve: (c) => c.hasNextPage }),
    hasPreviousPage: t.boolean({ description: 'Whether this page was read from a cursor (records come before it).', resolve: (c) => c.hasPreviousPage }),
    startCursor: t.string({ nullable: true, description: "The first edge's cursor; null on an empty page.", resolve: (c) => c.edges[0]?.cursor ?? null }),
    endCursor: t.string({ nullable: true, description: "The last edge's cursor, the `after` of the next page; null on an empty page.", resolve: (c) => c.edges.at(-1)?.cursor ?? null }),
  }),
});

const ModelRecordEdge = builder.objectRef<{ model: ModelInfo; edge: RecordEdge }>('ModelRecordEdge').implement({
  description: 'A record of a page, with its cursor.',
  fields: (t) => ({
    cursor: t.string({ description: 'Opaque; as `after`, reads the records that follow this one (for the same query only).', resolve: ({ edge }) => edge.cursor }),
    node: t.field({ type: ModelRecord, description: 'The record.', resolve: ({ model, edge }) => ({ model, record: edge.record }) }),
  }),
});

const ModelRecordConnection = builder.objectRef<RecordConnection>('ModelRecordConnection').implement({
  description: 'A page of records (a Relay cursor connection).',
  fields: (t) => ({
    edges: t.field({ type: [ModelRecordEdge], description: 'The records of this page with their cursors.', resolve: (c) => c.edges.map((edge) => ({ model: c.model, edge })) }),
    nodes: t.field({ type: [ModelRecord], description: 'The records of this page, without cursors.', resolve: (c) => c.edges.map((edge) => ({ model: c.model, record: edge.record })) }),
    pageInfo: t.field({ type: PageInfo, description: 'Where this page stands.', resolve: (c) => c }),
    totalCount: t.int({ nullable: true, description: 'How many records match, when GitLab counts them (the newer API, up to 10,000).', resolve: (c) => c.totalCount() }),
  }),
});

/**
 * Checks a client's identifier list before it reaches GitLab: each one an identifier, all of one kind (GitLab refuses
 * a mix), each record once (in the client's order).
 */
export function identifierList(ids: readonly (string | number)[] | null | undefined, max: number): Identifier[] | null {
  if (!ids || ids.length === 0) return null;
  if (ids.length > max) throw gatewayError('BAD_USER_INPUT', `At most ${max} identifiers are accepted, got ${ids.length}.`);
  // GitLab reads an empty `identifiers[]=` as no filter at all: it would widen the request to the whole model.
  if (ids.some((id) => String(id).trim() === '')) throw gatewayError('BAD_USER_INPUT', 'identifiers must not contain an empty value.');
  const unique = new Map<string, Identifier>();
  for (const id of ids) {
    const identifier = requireIdentifier(id);
    if (!unique.has(identifier.key)) unique.set(identifier.key, identifier);
  }
  const list = [...unique.values()];
  if (list.some((identifier) => identifier.kind !== list[0].kind)) {
    throw gatewayError('BAD_USER_INPUT', 'identifiers must be all integers or all base64 composite keys: GitLab cannot take both in one list.');
  }
  return list;
}

builder.queryType({
  description: 'Reads: records and their checksum information, and the models this GitLab knows.',
  fields: (t) => ({
    modelRecords: t.field({
      type: ModelRecordConnection,
      // Root fields are nullable: one failing alias leaves the others' data (GraphQL's nullability guidance, GitLab's API).
      nullable: true,
      description: "A model's records, in ascending id order, optionally filtered. Null, with an error, when they could not be read (bad arguments, or GitLab refused or could not be asked).",
      args: {
        model: t.arg({ type: ModelName, required: true, description: 'The model to list.' }),
        checksumState: t.arg({ type: ChecksumState, description: 'Only records in this state.' }),
        identifiers: t.arg.idList({ description: 'Only these records (integers, or base64 composite keys; not both kinds).' }),
        first: t.arg.int({ defaultValue: DEFAULT_PAGE_SIZE, description: 'Page size, 1 to MAX_PAGE_SIZE (100 unless configured lower).' }),
        after: t.arg.string({ description: 'The `endCursor` of the previous page.' }),
      },
      resolve: (_, args, ctx) => {
        // An explicit null is no page size either.
        const first = args.first ?? DEFAULT_PAGE_SIZE;
        if (first < 1 || first > ctx.config.maxPageSize) throw gatewayError('BAD_USER_INPUT', `first must be between 1 and ${ctx.config.maxPageSize}.`);
        return loadConnection(ctx, modelOf(args.model), {
          checksumState: (args.checksumState as ChecksumStateName | null | undefined) ?? null,
          identifiers: identifierList(args.identifiers, ctx.config.maxIdentifiers),
          first,
          after: args.after ?? null,
        });
      },
    }),
    modelRecord: t.field({
      type: ModelRecord,
      nullable: true,
      description: 'One record, or null when GitLab has no such record.',
      args: {
        model: t.arg({ type: ModelName, required: true, description: 'The model of the record.' }),
        recordIdentifier: t.arg.id({ required: true, description: "GitLab's identifier of the record: an integer, or URL-safe base64 of a composite key." }),
      },
      resolve: async (_, args, ctx) => {
        const model = modelOf(args.model);
        const record = await ctx.loaders.load(model, String(args.recordIdentifier));
        return record ? { model, record } : null;
      },
    }),
    node: t.field({
      type: Node,
      nullable: true,
      description:
        'The object of a global id (`ModelRecord.id`), or null when GitLab has no such record. An id that is not a global id of one of these models is BAD_USER_INPUT. Look-ups of one document are batched with modelRecord\'s.',
      args: {
        id: t.arg.id({ required: true, description: 'A global id: gid://gitlab/<ModelClass>/<recordIdentifier>.' }),
      },
      resolve: async (_, args, ctx) => {
        const { model, identifier } = parseGlobalId(String(args.id));
        const record = await ctx.loaders.load(model, identifier.canonical);
        return record ? { model, record } : null;
      },
    }),
  }),
});
