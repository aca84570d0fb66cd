// The mutations: re-verify one record now, or queue a whole model (optionally filtered) for re-verification.
import { VerificationFailedError } from '../gitlab/client.js';
import { gatewayError } from '../errors.js';
import { requireIdentifier } from '../gitlab/identifiers.js';
import type { ChecksumStateName } from '../models.js';
import { builder } from './builder.js';
import { ChecksumState, identifierList, ModelName, ModelRecord, modelOf, type ModelRecordSource } from './model-record.js';

interface RecalculateChecksumResult {
  record: ModelRecordSource | null;
  errors: string[];
}

const RecalculateChecksumPayload = builder.objectRef<RecalculateChecksumResult>('RecalculateChecksumPayload').implement({
  description: 'What one verification found.',
  fields: (t) => ({
    record: t.field({ type: ModelRecord, nullable: true, description: 'The record after verification, succeeded or failed.', resolve: (p) => p.record }),
    errors: t.stringList({ description: 'Why verification failed; empty on success.', resolve: (p) => p.errors }),
  }),
});

interface RecalculateAllResult {
  model: string;
  status: string;
  message: string;
}

const BulkStatus = builder.enumType('BulkStatus', {
  description: 'Whether GitLab queued the records.',
  values: {
    SUCCESS: { value: 'success', description: 'Queued (GitLab\'s "success"): the background job re-verifies them.' },
    ERROR: { value: 'error', description: 'Not (or not all) queued (GitLab\'s "error", or any other answer): `message` says why.' },
  } as const,
});

const RecalculateAllChecksumsPayload = builder.objectRef<RecalculateAllResult>('RecalculateAllChecksumsPayload').implement({
  description: 'What GitLab answered to a bulk re-verification.',
  fields: (t) => ({
    model: t.field({ type: ModelName, description: 'The model whose records were queued.', resolve: (p) => p.model }),
    status: t.field({
      type: BulkStatus,
      description: "GitLab's status. Anything but SUCCESS comes with the reason in `message` and `errors`.",
      resolve: (p) => (p.status === 'success' ? 'success' : 'error'),
    }),
    message: t.string({ description: "GitLab's message.", resolve: (p) => p.message }),
    errors: t.stringList({ description: 'GitLab\'s message when its status is "error"; empty otherwise.', resolve: (p) => (p.status === 'success' ? [] : [p.message]) }),
  }),
});

builder.mutationType({
  description: 'Re-verification of records by GitLab.',
  fields: (t) => ({
    recalculateChecksum: t.field({
      type: RecalculateChecksumPayload,
      // Nullable, like every root field: one failing alias leaves the others' results.
      nullable: true,
      description:
        'Verifies one record now (synchronously, in GitLab). A failed verification is data: the payload has the record in its failed state and `errors` says why. Null, with an error, when it was not done (bad arguments, or GitLab refused or could not be asked).',
      args: {
        model: t.arg({ type: ModelName, required: true, description: 'The model of the record.' }),
        recordIdentifier: t.arg.id({ required: true, description: "The record's integer identifier: GitLab's single-record verification takes integers only (records with composite keys are re-verified in bulk)." }),
      },
      resolve: async (_, args, ctx) => {
        const model = modelOf(args.model);
        // Refused before any path is built: only an integer or a base64 key may become a path segment.
        const identifier = requireIdentifier(String(args.recordIdentifier)).canonical;
        ctx.loaders.spend(1);
        try {
          const record = await ctx.client.recalculateOne(ctx.caller, model, identifier);
          ctx.loaders.prime(model, record);
          ctx.live.observe(model, [record]);
          ctx.live.hurry(model);
          return { record: { model, record }, errors: [] };
        } catch (error) {
          if (!(error instanceof VerificationFailedError)) throw error;
          // GitLab saved the failed state but did not send it back: read it once.
          const record = await ctx.loaders.load(model, identifier);
          if (record) ctx.live.observe(model, [record]);
          ctx.live.hurry(model);
          const reason = record?.checksum_information?.checksum_failure;
          return { record: record ? { model, record } : null, errors: [reason ? `Verification failed: ${reason}` : 'Verification failed.'] };
        }
      },
    }),
    recalculateAllChecksums: t.field({
      type: RecalculateAllChecksumsPayload,
      nullable: true,
      description:
        "Queues records of a model for re-verification by GitLab's background job (asynchronous). Filters need GitLab 18.8 or later. Null, with an error, when it was not done (bad arguments, or GitLab refused or could not be asked).",
      args: {
        model: t.arg({ type: ModelName, required: true, description: 'The model whose records to queue.' }),
        checksumState: t.arg({ type: ChecksumState, description: 'Only records in this state (not PENDING: those are queued already).' }),
        identifiers: t.arg.idList({ description: 'Only these records.' }),
      },
      resolve: async (_, args, ctx) => {
        const model = modelOf(args.model);
        const checksumState = (args.checksumState as ChecksumStateName | null | undefined) ?? null;
        if (checksumState === 'pending') throw gatewayError('BAD_USER_INPUT', 'checksumState cannot be PENDING: pending records are queued already.');
        const identifiers = identifierList(args.identifiers, ctx.config.maxIdentifiers)?.map((id) => id.canonical) ?? null;
        // A long list goes in several PUTs, each within UPSTREAM_MAX_URL_BYTES (see GitLabClient.recalculateAll): all
        // counted against the operation's budget before the first is sent.
        ctx.loaders.spend(identifiers ? ctx.client.splitIdentifiers(model, identifiers, { method: 'PUT', checksumState }).length : 1);
        const result = await ctx.client.recalculateAll(ctx.caller, model, { checksumState, identifiers });
        // GitLab queues the work: the watched records of this model are about to move, so poll them closely.
        ctx.live.hurry(model);
        return { model: model.enumName, ...result };
      },
    }),
  }),
});
