// Verification at model scale: counts per checksum state of whole models, as a query and live, with the pace of
// verification measured from them.
import { gatewayError, missingToken } from '../errors.js';
import { isUnknownModel, type Caller, type GitLabClient } from '../gitlab/client.js';
import type { Count } from '../gitlab/counting.js';
import { SummaryStream, type SummaryEvent } from '../live/summary-stream.js';
import type { ModelSummary, SummaryWatcher } from '../live/summary-watch.js';
import { OperationEnd } from '../operation-end.js';
import { CHECKSUM_STATES, MODELS_BY_ENUM, modelsOf, type ChecksumStateName, type ModelInfo } from '../models.js';
import { builder } from './builder.js';
import { ChecksumState, ModelName, modelOf } from './model-record.js';

const ChecksumStateCount = builder.objectRef<{ state: ChecksumStateName; count: Count }>('ChecksumStateCount').implement({
  description: 'How many records of a model are in one checksum state.',
  fields: (t) => ({
    state: t.field({ type: ChecksumState, description: 'The state.', resolve: ({ state }) => state }),
    count: t.int({ description: 'Records in it; a lower bound when `exact` is false.', resolve: ({ count }) => count.count }),
    exact: t.boolean({
      description: 'False when GitLab would not let it be counted to the end (it refused deeper pages), or records moved while it was counted: `count` is then what is certain.',
      resolve: ({ count }) => count.exact,
    }),
  }),
});

const ModelVerificationSummary = builder.objectRef<ModelSummary>('ModelVerificationSummary').implement({
  description:
    'Counts per checksum state of all records of a model, as GitLab answered them at `observedAt`. They come from several calls made within moments of each other: a record that moves meanwhile may be counted in its old or its new state; when every count is exact, `total` is the sum of `states`.',
  fields: (t) => ({
    model: t.field({ type: ModelName, description: 'The model counted.', resolve: (s) => s.model.enumName }),
    total: t.int({ description: 'Records of the model.', resolve: (s) => s.total.count }),
    totalExact: t.boolean({ description: 'False: `total` is a lower bound (see ChecksumStateCount.exact).', resolve: (s) => s.total.exact }),
    verificationEnabled: t.boolean({
      description: 'False when verification is off for this model in GitLab: its records have no checksum state, and all of them count as DISABLED.',
      resolve: (s) => s.verifiable,
    }),
    states: t.field({
      type: [ChecksumStateCount],
      description: 'One count per ChecksumState, in the order of the enum.',
      resolve: (s) => CHECKSUM_STATES.map((state) => ({ state, count: s.states[state] })),
    }),
    observedAt: t.field({ type: 'DateTime', description: 'When the gateway began to count.', resolve: (s) => s.observedAt }),
    verifiedPerMinute: t.float({
      nullable: true,
      description:
        'Records per minute leaving PENDING/STARTED over the last 5 minutes (the falls of PENDING + STARTED between the counts the gateway made); null when not measurable yet (fewer than two counts a second apart).',
      resolve: (s) => s.verifiedPerMinute,
    }),
    estimatedCompletionAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When PENDING + STARTED should reach zero at that pace; null when nothing is pending or the pace is unknown (or zero).',
      resolve: (s) => s.estimatedCompletionAt,
    }),
  }),
});

const PROJECT = MODELS_BY_ENUM.get('PROJECT')!;

/**
 * The models asked for, each once and in the order given; by default every model this GitLab knows. While the dialect
 * is not known yet, PROJECT (a model of both) is counted first: its first call teaches it, and its summary is kept.
 */
async function modelsToCount(
  summaries: SummaryWatcher,
  client: GitLabClient,
  caller: Caller,
  names: readonly string[] | null | undefined,
): Promise<{ models: ModelInfo[]; counted: Map<ModelInfo, Promise<ModelSummary>> }> {
  const counted = new Map<ModelInfo, Promise<ModelSummary>>();
  if (names) return { models: [...new Set(names)].map(modelOf), counted };
  if (!client.dialect.known) {
    const project = summaries.summarize(caller, PROJECT);
    await project;
    counted.set(PROJECT, project);
  }
  return { models: modelsOf(client.dialect.dialect), counted };
}

builder.queryField('verificationSummary', (t) =>
  t.field({
    type: [ModelVerificationSummary],
    nullable: true,
    description:
      'Counts per checksum state, for the given models (default: every model this GitLab knows), in that order. Each model is counted by one computation at a time for the whole gateway, shared by every query and subscriber that asks meanwhile; what it costs GitLab is in the README ("Verification at model scale").',
    args: {
      models: t.arg({ type: [ModelName], required: false, description: 'The models to count, each once; all that this GitLab knows when omitted.' }),
    },
    resolve: async (_, args, ctx) => {
      if (!ctx.caller.token) throw missingToken(ctx.caller);
      // Once this field has its answer or its error, it waits for no model any more (see SummaryWatcher.summarize).
      const field = OperationEnd.within(ctx.caller.end);
      const caller = { ...ctx.caller, end: field };
      try {
        const { models, counted } = await modelsToCount(ctx.live.summaries, ctx.client, caller, args.models);
        const summaries = await Promise.all(
          models.map(async (model) => {
            try {
              return await (counted.get(model) ?? ctx.live.summaries.summarize(caller, model));
            } catch (error) {
              // Every model this GitLab knows: a newer model an older GitLab of the same dialect lacks is not one of them.
              if (!args.models && isUnknownModel(error)) return null;
              throw error;
            }
          }),
        );
        return summaries.filter((summary): summary is ModelSummary => summary !== null);
      } finally {
        field.end();
      }
    },
  }),
);

builder.subscriptionField('verificationSummaryChanged', (t) =>
  t.field({
    type: ModelVerificationSummary,
    description:
      'The summary of each model first, then a new one whenever a count changes. Polled once per model for the whole gateway, however many subscribe: fast (LIVE_FAST_POLL_MS) while anything is pending or started or just after a recalculation through the gateway, slow (LIVE_SLOW_POLL_MS) otherwise, backing off while GitLab fails. A client that reads slowly gets the latest summary of each model, not every one in between.',
    args: {
      models: t.arg({ type: [ModelName], required: false, description: 'The models to watch, each once; all that this GitLab knows when omitted.' }),
    },
    subscribe: async (_, args, ctx) => {
      if (!ctx.caller.token) throw missingToken(ctx.caller);
      if (args.models?.length === 0) throw gatewayError('BAD_USER_INPUT', 'models must name at least one model (or be omitted for all of them).');
      const { models } = await modelsToCount(ctx.live.summaries, ctx.client, ctx.caller, args.models);
      // The polls serve every subscriber: none of them is cut off when this one leaves.
      const { token, header, requestId, end } = ctx.caller;
      return new SummaryStream(ctx.live.summaries, models, !args.models).start({ token, header, requestId }, end);
    },
    resolve: (event: SummaryEvent) => {
      if ('failed' in event) throw event.failed;
      return event.summary;
    },
  }),
);
