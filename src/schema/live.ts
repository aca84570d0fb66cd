// The subscriptions: checksum state changes of the watched records as they happen, one by one or one batch per observation.
import type { GatewayContext } from '../context.js';
import { gatewayError } from '../errors.js';
import { NO_IDENTIFIERS, watchByState, watchRecords, type BatchEvent, type ChangeEvent, type Delivery, type LiveEvent } from '../live/subscription.js';
import type { ChecksumStateName } from '../models.js';
import { builder } from './builder.js';
import { ChecksumState, knownState, ModelName, ModelRecord, modelOf } from './model-record.js';

const TRUNCATED =
  'Watching by checksumState: true when, at this observation, more records were in the state than the subscription watches (LIVE_MAX_IDENTIFIERS); the ones with the lowest identifiers are watched, and others come in as they leave. Always false when watching by identifiers.';

const ChecksumStateChange = builder.objectRef<ChangeEvent>('ChecksumStateChange').implement({
  description: 'A record whose checksum information changed (or, first, its current state).',
  fields: (t) => ({
    record: t.field({ type: ModelRecord, description: 'The record as observed, with all of its checksum information.', resolve: ({ model, change }) => ({ model, record: change.record }) }),
    previousState: t.field({
      type: ChecksumState,
      nullable: true,
      description: 'Null in the first event of each record, which carries its current state; when a record GitLab did not know appears; and, watching by checksumState, when a record enters the state (where it was before is not known).',
      resolve: ({ change }) => knownState(change.previousState),
    }),
    state: t.field({ type: ChecksumState, description: 'The state observed now.', resolve: ({ change }) => knownState(change.state) }),
    observedAt: t.field({ type: 'DateTime', description: 'When the gateway saw this state.', resolve: ({ change }) => change.observedAt }),
    unknownIdentifiers: t.idList({
      description:
        'checksumStateChanged only (always empty in a batch, which has its own): the watched identifiers, as the subscription spelt them, that GitLab answered as absent since the previous event. The first event carries every one known by then; no event is sent for them alone, so while GitLab knows none of the watched records nothing arrives (checksumStateChangeBatches says so at once).',
      resolve: ({ unknownIdentifiers }) => unknownIdentifiers,
    }),
    truncated: t.boolean({
      description: TRUNCATED,
      resolve: ({ truncated }) => truncated,
    }),
  }),
});

const ChecksumStateChangeBatch = builder.objectRef<BatchEvent>('ChecksumStateChangeBatch').implement({
  description: 'The changes of the watched records that one observation found (or, first, the current state of every one).',
  fields: (t) => ({
    changes: t.field({
      type: [ChecksumStateChange],
      description: 'In the order of the observation; at most one per record.',
      resolve: ({ model, batch }) => batch.changes.map((change) => ({ model, change, unknownIdentifiers: NO_IDENTIFIERS, truncated: batch.truncated })),
    }),
    unknownIdentifiers: t.idList({
      description:
        'The watched identifiers, as the subscription spelt them, that GitLab answered as absent: every one in the first batch, then those whose record disappeared in this observation (a batch is sent for them even without changes). A record that appears later arrives as a change with previousState null.',
      resolve: ({ batch }) => batch.unknownIdentifiers,
    }),
    truncated: t.boolean({ description: TRUNCATED, resolve: ({ batch }) => batch.truncated }),
  }),
});

/** Watches the records named, or the records in a state: exactly one of the two. */
function watch(ctx: GatewayContext, args: { model: string; identifiers?: readonly (string | number)[] | null; checksumState?: string | null }, delivery: Delivery) {
  const model = modelOf(args.model);
  if ((args.identifiers == null) === (args.checksumState == null)) {
    throw gatewayError('BAD_USER_INPUT', 'Give either identifiers (the records to watch) or checksumState (the records in that state), not both and not neither.');
  }
  if (args.checksumState != null) return watchByState(ctx, model, args.checksumState as ChecksumStateName, delivery);
  return watchRecords(ctx, model, args.identifiers!.map(String), delivery);
}

/** A stream's event as its field's type; a token GitLab stopped accepting, or an identifier it refuses, ends the subscription with this error. */
function eventOf<E extends ChangeEvent | BatchEvent>(event: LiveEvent): E {
  if ('failed' in event) throw event.failed;
  return event as E;
}

// Subscription root fields stay non-null: a subscription has exactly one root field, so a null could save no sibling,
// and an event that cannot be delivered ends the subscription with its error (data: null) rather than send a hole.
builder.subscriptionType({
  description: 'Live checksum states of watched records, fed by one shared poll per model.',
  fields: (t) => {
    const watchArgs = {
      model: t.arg({ type: ModelName, required: true, description: 'The model of the watched records.' }),
      identifiers: t.arg.idList({ required: false, description: 'The records to watch (integers, or base64 composite keys), 1 to LIVE_MAX_IDENTIFIERS (1000 unless configured). Give this or checksumState.' }),
      checksumState: t.arg({
        type: ChecksumState,
        required: false,
        description:
          'Instead of identifiers: watch the records that are in this state now and every record that enters it later; one that leaves it is delivered once more, with its new state, and is then no longer watched. At most the first LIVE_MAX_IDENTIFIERS records in the state (GitLab\'s order) are watched: `truncated` says when more are in it.',
      }),
    };
    return {
      checksumStateChanged: t.field({
        type: ChecksumStateChange,
        description:
          'The current state of each watched record first (previousState null), then one event per observed change of its checksum information. The last state a record reaches is always delivered.',
        args: watchArgs,
        subscribe: (_, args, ctx) => watch(ctx, args, 'each'),
        resolve: (event: LiveEvent) => eventOf<ChangeEvent>(event),
      }),
      checksumStateChangeBatches: t.field({
        type: ChecksumStateChangeBatch,
        description:
          'The same changes as checksumStateChanged, one event per observation instead of one per record: first one batch with the current state of every watched record, then a batch whenever an observation finds any of them changed. Fewer, larger messages for clients that watch many records.',
        args: watchArgs,
        subscribe: (_, args, ctx) => watch(ctx, args, 'batch'),
        resolve: (event: LiveEvent) => eventOf<BatchEvent>(event),
      }),
    };
  },
});
