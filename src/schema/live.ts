// The subscription: checksum state changes of the watched records, as they happen.
import { watchRecords, type LiveEvent } from '../live/subscription.js';
import { builder } from './builder.js';
import { ChecksumState, ModelName, ModelRecord, modelOf } from './model-record.js';

type ChangeEvent = Extract<LiveEvent, { change: unknown }>;

const ChecksumStateChange = builder.objectRef<ChangeEvent>('ChecksumStateChange').implement({
  description: 'A record whose checksum information changed (or, first, its current state).',
  fields: (t) => ({
    record: t.field({ type: ModelRecord, resolve: ({ model, change }) => ({ model, record: change.record }) }),
    previousState: t.field({ type: ChecksumState, nullable: true, description: 'Null in the first event of each record, which carries its current state.', resolve: ({ change }) => change.previousState }),
    state: t.field({ type: ChecksumState, resolve: ({ change }) => change.state }),
    observedAt: t.field({ type: 'DateTime', description: 'When the gateway saw this state.', resolve: ({ change }) => change.observedAt }),
  }),
});

builder.subscriptionType({
  fields: (t) => ({
    checksumStateChanged: t.field({
      type: ChecksumStateChange,
      description:
        'The current state of each watched record first (previousState null), then one event per observed change of its checksum information. The last state a record reaches is always delivered.',
      args: {
        model: t.arg({ type: ModelName, required: true }),
        identifiers: t.arg.idList({ required: true }),
      },
      subscribe: (_, args, ctx) => watchRecords(ctx, modelOf(args.model), args.identifiers.map(String), ctx.config.live.maxIdentifiers),
      resolve: (event: LiveEvent) => {
        // A token GitLab stopped accepting ends the subscription with this error.
        if ('revoked' in event) throw event.revoked;
        return event;
      },
    }),
  }),
});
