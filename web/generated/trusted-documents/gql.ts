/* eslint-disable */
import * as types from './graphql';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "fragment MonitorSummaryParts on ModelVerificationSummary {\n  model\n  total\n  totalExact\n  verificationEnabled\n  states {\n    state\n    count\n    exact\n  }\n  observedAt\n  verifiedPerMinute\n  estimatedCompletionAt\n}\n\nfragment MonitorRecordParts on ModelRecord {\n  id\n  recordIdentifier\n  fileSize\n  checksumInformation {\n    checksumState\n    checksumFailure\n    checksumRetryCount\n    checksumRetryAt\n    lastChecksum\n  }\n}\n\nquery MonitorSummary {\n  verificationSummary {\n    ...MonitorSummaryParts\n  }\n}\n\nsubscription MonitorSummaryChanged {\n  verificationSummaryChanged {\n    ...MonitorSummaryParts\n  }\n}\n\nquery MonitorRecords($model: ModelName!, $state: ChecksumState!, $first: Int!, $after: String) {\n  modelRecords(model: $model, checksumState: $state, first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      ...MonitorRecordParts\n    }\n  }\n}\n\nsubscription MonitorRecordChanges($model: ModelName!, $state: ChecksumState!) {\n  checksumStateChangeBatches(model: $model, checksumState: $state) {\n    truncated\n    changes {\n      state\n      record {\n        ...MonitorRecordParts\n      }\n    }\n  }\n}\n\nmutation MonitorRecalculate($model: ModelName!, $recordIdentifier: ID!) {\n  recalculateChecksum(model: $model, recordIdentifier: $recordIdentifier) {\n    errors\n    record {\n      ...MonitorRecordParts\n    }\n  }\n}\n\nmutation MonitorRecalculateMany($model: ModelName!, $checksumState: ChecksumState, $identifiers: [ID!]) {\n  recalculateAllChecksums(\n    model: $model\n    checksumState: $checksumState\n    identifiers: $identifiers\n  ) {\n    status\n    message\n    errors\n  }\n}": typeof types.MonitorSummaryPartsFragmentDoc,
};
const documents: Documents = {
    "fragment MonitorSummaryParts on ModelVerificationSummary {\n  model\n  total\n  totalExact\n  verificationEnabled\n  states {\n    state\n    count\n    exact\n  }\n  observedAt\n  verifiedPerMinute\n  estimatedCompletionAt\n}\n\nfragment MonitorRecordParts on ModelRecord {\n  id\n  recordIdentifier\n  fileSize\n  checksumInformation {\n    checksumState\n    checksumFailure\n    checksumRetryCount\n    checksumRetryAt\n    lastChecksum\n  }\n}\n\nquery MonitorSummary {\n  verificationSummary {\n    ...MonitorSummaryParts\n  }\n}\n\nsubscription MonitorSummaryChanged {\n  verificationSummaryChanged {\n    ...MonitorSummaryParts\n  }\n}\n\nquery MonitorRecords($model: ModelName!, $state: ChecksumState!, $first: Int!, $after: String) {\n  modelRecords(model: $model, checksumState: $state, first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      ...MonitorRecordParts\n    }\n  }\n}\n\nsubscription MonitorRecordChanges($model: ModelName!, $state: ChecksumState!) {\n  checksumStateChangeBatches(model: $model, checksumState: $state) {\n    truncated\n    changes {\n      state\n      record {\n        ...MonitorRecordParts\n      }\n    }\n  }\n}\n\nmutation MonitorRecalculate($model: ModelName!, $recordIdentifier: ID!) {\n  recalculateChecksum(model: $model, recordIdentifier: $recordIdentifier) {\n    errors\n    record {\n      ...MonitorRecordParts\n    }\n  }\n}\n\nmutation MonitorRecalculateMany($model: ModelName!, $checksumState: ChecksumState, $identifiers: [ID!]) {\n  recalculateAllChecksums(\n    model: $model\n    checksumState: $checksumState\n    identifiers: $identifiers\n  ) {\n    status\n    message\n    errors\n  }\n}": types.MonitorSummaryPartsFragmentDoc,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment MonitorSummaryParts on ModelVerificationSummary {\n  model\n  total\n  totalExact\n  verificationEnabled\n  states {\n    state\n    count\n    exact\n  }\n  observedAt\n  verifiedPerMinute\n  estimatedCompletionAt\n}\n\nfragment MonitorRecordParts on ModelRecord {\n  id\n  recordIdentifier\n  fileSize\n  checksumInformation {\n    checksumState\n    checksumFailure\n    checksumRetryCount\n    checksumRetryAt\n    lastChecksum\n  }\n}\n\nquery MonitorSummary {\n  verificationSummary {\n    ...MonitorSummaryParts\n  }\n}\n\nsubscription MonitorSummaryChanged {\n  verificationSummaryChanged {\n    ...MonitorSummaryParts\n  }\n}\n\nquery MonitorRecords($model: ModelName!, $state: ChecksumState!, $first: Int!, $after: String) {\n  modelRecords(model: $model, checksumState: $state, first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      ...MonitorRecordParts\n    }\n  }\n}\n\nsubscription MonitorRecordChanges($model: ModelName!, $state: ChecksumState!) {\n  checksumStateChangeBatches(model: $model, checksumState: $state) {\n    truncated\n    changes {\n      state\n      record {\n        ...MonitorRecordParts\n      }\n    }\n  }\n}\n\nmutation MonitorRecalculate($model: ModelName!, $recordIdentifier: ID!) {\n  recalculateChecksum(model: $model, recordIdentifier: $recordIdentifier) {\n    errors\n    record {\n      ...MonitorRecordParts\n    }\n  }\n}\n\nmutation MonitorRecalculateMany($model: ModelName!, $checksumState: ChecksumState, $identifiers: [ID!]) {\n  recalculateAllChecksums(\n    model: $model\n    checksumState: $checksumState\n    identifiers: $identifiers\n  ) {\n    status\n    message\n    errors\n  }\n}"): typeof import('./graphql').MonitorSummaryPartsFragmentDoc;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
