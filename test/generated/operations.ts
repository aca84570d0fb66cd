/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** Whether GitLab queued the records. */
export type BulkStatus =
  /** Not (or not all) queued (GitLab's "error", or any other answer): `message` says why. */
  | 'ERROR'
  /** Queued (GitLab's "success"): the background job re-verifies them. */
  | 'SUCCESS';

/** Where a record stands in GitLab's verification state machine. */
export type ChecksumState =
  /** Verification is disabled for this record. */
  | 'DISABLED'
  /** Verification failed; `checksumFailure` says why and `checksumRetryAt` when it is retried. */
  | 'FAILED'
  /** Waiting for the background job to verify it. */
  | 'PENDING'
  /** Being verified now. */
  | 'STARTED'
  /** Verified: `checksum` is current. */
  | 'SUCCEEDED';

/** What a record of a model is on disk; it decides how GitLab checksums it and whether it has a size. */
export type ModelKind =
  /** A file (`fileSize` is its size). */
  | 'BLOB'
  /** A container registry repository. */
  | 'CONTAINER'
  /** A Git repository (no `fileSize`). */
  | 'REPOSITORY';

/** A kind of data GitLab Geo replicates and verifies. */
export type ModelName =
  /** Ci::JobArtifact (`ci_job_artifact` / `ci_job_artifacts` in GitLab's REST API). */
  | 'CI_JOB_ARTIFACT'
  /** Ci::PipelineArtifact (`ci_pipeline_artifact` / `ci_pipeline_artifacts` in GitLab's REST API). */
  | 'CI_PIPELINE_ARTIFACT'
  /** Ci::SecureFile (`ci_secure_file` / `ci_secure_files` in GitLab's REST API). */
  | 'CI_SECURE_FILE'
  /** ContainerRepository (`container_repository` / `container_repositories` in GitLab's REST API). */
  | 'CONTAINER_REPOSITORY'
  /** DependencyProxy::Blob (`dependency_proxy_blob` / `dependency_proxy_blobs` in GitLab's REST API). */
  | 'DEPENDENCY_PROXY_BLOB'
  /** DependencyProxy::Manifest (`dependency_proxy_manifest` / `dependency_proxy_manifests` in GitLab's REST API). */
  | 'DEPENDENCY_PROXY_MANIFEST'
  /** DesignManagement::Repository (`design_management_repository` / `design_management_repositories` in GitLab's REST API). */
  | 'DESIGN_MANAGEMENT_REPOSITORY'
  /** GroupWikiRepository (`group_wiki_repository` / `group_wiki_repositories` in GitLab's REST API). */
  | 'GROUP_WIKI_REPOSITORY'
  /** LfsObject (`lfs_object` / `lfs_objects` in GitLab's REST API). */
  | 'LFS_OBJECT'
  /** MergeRequestDiff (`merge_request_diff` / `merge_request_diffs` in GitLab's REST API). */
  | 'MERGE_REQUEST_DIFF'
  /** Packages::Debian::ProjectComponentFile. Newer model: only GitLab 18.8 and later (`packages_debian_project_component_files`) know it. */
  | 'PACKAGES_DEBIAN_PROJECT_COMPONENT_FILE'
  /** Packages::Nuget::Symbol. Newer model: only GitLab 18.8 and later (`packages_nuget_symbols`) know it. */
  | 'PACKAGES_NUGET_SYMBOL'
  /** Packages::PackageFile (`packages_package_file` / `packages_package_files` in GitLab's REST API). */
  | 'PACKAGES_PACKAGE_FILE'
  /** PagesDeployment (`pages_deployment` / `pages_deployments` in GitLab's REST API). */
  | 'PAGES_DEPLOYMENT'
  /** Project (`project` / `projects` in GitLab's REST API). */
  | 'PROJECT'
  /** Projects::WikiRepository (`projects_wiki_repository` / `projects_wiki_repositories` in GitLab's REST API). */
  | 'PROJECTS_WIKI_REPOSITORY'
  /** SnippetRepository (`snippet_repository` / `snippet_repositories` in GitLab's REST API). */
  | 'SNIPPET_REPOSITORY'
  /** SupplyChain::Attestation. Newer model: only GitLab 18.8 and later (`supply_chain_attestations`) know it. */
  | 'SUPPLY_CHAIN_ATTESTATION'
  /** Terraform::StateVersion (`terraform_state_version` / `terraform_state_versions` in GitLab's REST API). */
  | 'TERRAFORM_STATE_VERSION'
  /** Upload (`upload` / `uploads` in GitLab's REST API). */
  | 'UPLOAD';

export type RecordPageQueryVariables = Exact<{
  model: ModelName;
  checksumState?: ChecksumState | null | undefined;
  identifiers?: Array<string> | string | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type RecordPageQuery = { modelRecords: { pageInfo: { hasNextPage: boolean, hasPreviousPage: boolean, startCursor: string | null, endCursor: string | null }, edges: Array<{ cursor: string, node: { id: string, recordIdentifier: string, checksumInformation: { checksumState: ChecksumState } | null } }> } | null };

export type RecordCountQueryVariables = Exact<{
  model: ModelName;
  checksumState?: ChecksumState | null | undefined;
  identifiers?: Array<string> | string | null | undefined;
}>;


export type RecordCountQuery = { modelRecords: { totalCount: number | null } | null };

export type NodeQueryVariables = Exact<{
  id: string;
}>;


export type NodeQuery = { node: { __typename: 'ModelRecord', model: ModelName, recordIdentifier: string, id: string, checksumInformation: { checksumState: ChecksumState } | null } | null };

export type ModelsQueryVariables = Exact<{ [key: string]: never; }>;


export type ModelsQuery = { models: Array<{ name: ModelName, modelClass: string, kind: ModelKind, restName: string, singularName: string | null, pluralName: string }> | null };

export type RecordsOfTwoModelsQueryVariables = Exact<{ [key: string]: never; }>;


export type RecordsOfTwoModelsQuery = { a: { checksumInformation: { checksum: string | null, checksumState: ChecksumState } | null } | null, b: { checksumInformation: { checksum: string | null, checksumState: ChecksumState } | null } | null, c: { fileSize: string | null } | null };

export type RecalculateMutationVariables = Exact<{ [key: string]: never; }>;


export type RecalculateMutation = { recalculateChecksum: { errors: Array<string>, record: { checksumInformation: { checksumState: ChecksumState, checksum: string | null, checksumFailure: string | null } | null } | null } | null, recalculateAllChecksums: { status: BulkStatus, message: string, errors: Array<string> } | null };

export type WatchProjectsSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type WatchProjectsSubscription = { checksumStateChanged: { previousState: ChecksumState | null, state: ChecksumState, observedAt: string, record: { recordIdentifier: string, checksumInformation: { checksum: string | null, checksumFailure: string | null, checksumRetryCount: number | null } | null } } };

export type WatchProjectsInBatchesSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type WatchProjectsInBatchesSubscription = { checksumStateChangeBatches: { changes: Array<{ previousState: ChecksumState | null, state: ChecksumState, observedAt: string, record: { recordIdentifier: string } }> } };

export type RecalculateChecksumMutationVariables = Exact<{
  model: ModelName;
  recordIdentifier: string;
}>;


export type RecalculateChecksumMutation = { recalculateChecksum: { errors: Array<string>, record: { id: string, model: ModelName, recordIdentifier: string, modelClass: string, createdAt: string | null, fileSize: string | null, checksumInformation: { checksum: string | null, lastChecksum: string | null, checksumState: ChecksumState, checksumRetryCount: number | null, checksumRetryAt: string | null, checksumFailure: string | null } | null } | null } | null };

export type RecalculateAllChecksumsMutationVariables = Exact<{
  model: ModelName;
  checksumState?: ChecksumState | null | undefined;
  identifiers?: Array<string> | string | null | undefined;
}>;


export type RecalculateAllChecksumsMutation = { recalculateAllChecksums: { model: ModelName, status: BulkStatus, message: string, errors: Array<string> } | null };

export type ModelRecordsQueryVariables = Exact<{
  model: ModelName;
  checksumState?: ChecksumState | null | undefined;
  identifiers?: Array<string> | string | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type ModelRecordsQuery = { modelRecords: { totalCount: number | null, pageInfo: { hasNextPage: boolean, hasPreviousPage: boolean, startCursor: string | null, endCursor: string | null }, edges: Array<{ cursor: string, node: { id: string, recordIdentifier: string } }>, nodes: Array<{ id: string, model: ModelName, recordIdentifier: string, modelClass: string, createdAt: string | null, fileSize: string | null, checksumInformation: { checksum: string | null, lastChecksum: string | null, checksumState: ChecksumState, checksumRetryCount: number | null, checksumRetryAt: string | null, checksumFailure: string | null } | null }> } | null };

export type ModelRecordQueryVariables = Exact<{
  model: ModelName;
  recordIdentifier: string;
}>;


export type ModelRecordQuery = { modelRecord: { id: string, model: ModelName, recordIdentifier: string, modelClass: string, createdAt: string | null, fileSize: string | null, checksumInformation: { checksum: string | null, lastChecksum: string | null, checksumState: ChecksumState, checksumRetryCount: number | null, checksumRetryAt: string | null, checksumFailure: string | null } | null } | null };

export type RecordFieldsFragment = { id: string, model: ModelName, recordIdentifier: string, modelClass: string, createdAt: string | null, fileSize: string | null, checksumInformation: { checksum: string | null, lastChecksum: string | null, checksumState: ChecksumState, checksumRetryCount: number | null, checksumRetryAt: string | null, checksumFailure: string | null } | null };

export const RecordFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"RecordFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ModelRecord"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"recordIdentifier"}},{"kind":"Field","name":{"kind":"Name","value":"modelClass"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"fileSize"}},{"kind":"Field","name":{"kind":"Name","value":"checksumInformation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksum"}},{"kind":"Field","name":{"kind":"Name","value":"lastChecksum"}},{"kind":"Field","name":{"kind":"Name","value":"checksumState"}},{"kind":"Field","name":{"kind":"Name","value":"checksumRetryCount"}},{"kind":"Field","name":{"kind":"Name","value":"checksumRetryAt"}},{"kind":"Field","name":{"kind":"Name","value":"checksumFailure"}}]}}]}}]} as unknown as DocumentNode<RecordFieldsFragment, unknown>;
export const RecordPageDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"RecordPage"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"model"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ModelName"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"checksumState"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ChecksumState"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"identifiers"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"modelRecords"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"model"},"value":{"kind":"Variable","name":{"kind":"Name","value":"model"}}},{"kind":"Argument","name":{"kind":"Name","value":"checksumState"},"value":{"kind":"Variable","name":{"kind":"Name","value":"checksumState"}}},{"kind":"Argument","name":{"kind":"Name","value":"identifiers"},"value":{"kind":"Variable","name":{"kind":"Name","value":"identifiers"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"hasPreviousPage"}},{"kind":"Field","name":{"kind":"Name","value":"startCursor"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"recordIdentifier"}},{"kind":"Field","name":{"kind":"Name","value":"checksumInformation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksumState"}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<RecordPageQuery, RecordPageQueryVariables>;
export const RecordCountDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"RecordCount"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"model"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ModelName"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"checksumState"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ChecksumState"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"identifiers"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"modelRecords"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"model"},"value":{"kind":"Variable","name":{"kind":"Name","value":"model"}}},{"kind":"Argument","name":{"kind":"Name","value":"checksumState"},"value":{"kind":"Variable","name":{"kind":"Name","value":"checksumState"}}},{"kind":"Argument","name":{"kind":"Name","value":"identifiers"},"value":{"kind":"Variable","name":{"kind":"Name","value":"identifiers"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"1"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}}]}}]}}]} as unknown as DocumentNode<RecordCountQuery, RecordCountQueryVariables>;
export const NodeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Node"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ModelRecord"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"recordIdentifier"}},{"kind":"Field","name":{"kind":"Name","value":"checksumInformation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksumState"}}]}}]}}]}}]}}]} as unknown as DocumentNode<NodeQuery, NodeQueryVariables>;
export const ModelsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Models"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"models"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"modelClass"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"restName"}},{"kind":"Field","name":{"kind":"Name","value":"singularName"}},{"kind":"Field","name":{"kind":"Name","value":"pluralName"}}]}}]}}]} as unknown as DocumentNode<ModelsQuery, ModelsQueryVariables>;
export const RecordsOfTwoModelsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"RecordsOfTwoModels"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","alias":{"kind":"Name","value":"a"},"name":{"kind":"Name","value":"modelRecord"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"model"},"value":{"kind":"EnumValue","value":"PROJECT"}},{"kind":"Argument","name":{"kind":"Name","value":"recordIdentifier"},"value":{"kind":"StringValue","value":"1","block":false}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksumInformation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksum"}},{"kind":"Field","name":{"kind":"Name","value":"checksumState"}}]}}]}},{"kind":"Field","alias":{"kind":"Name","value":"b"},"name":{"kind":"Name","value":"modelRecord"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"model"},"value":{"kind":"EnumValue","value":"PROJECT"}},{"kind":"Argument","name":{"kind":"Name","value":"recordIdentifier"},"value":{"kind":"StringValue","value":"2","block":false}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksumInformation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksum"}},{"kind":"Field","name":{"kind":"Name","value":"checksumState"}}]}}]}},{"kind":"Field","alias":{"kind":"Name","value":"c"},"name":{"kind":"Name","value":"modelRecord"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"model"},"value":{"kind":"EnumValue","value":"LFS_OBJECT"}},{"kind":"Argument","name":{"kind":"Name","value":"recordIdentifier"},"value":{"kind":"StringValue","value":"7","block":false}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"fileSize"}}]}}]}}]} as unknown as DocumentNode<RecordsOfTwoModelsQuery, RecordsOfTwoModelsQueryVariables>;
export const RecalculateDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Recalculate"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recalculateChecksum"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"model"},"value":{"kind":"EnumValue","value":"PROJECT"}},{"kind":"Argument","name":{"kind":"Name","value":"recordIdentifier"},"value":{"kind":"StringValue","value":"3","block":false}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"errors"}},{"kind":"Field","name":{"kind":"Name","value":"record"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksumInformation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksumState"}},{"kind":"Field","name":{"kind":"Name","value":"checksum"}},{"kind":"Field","name":{"kind":"Name","value":"checksumFailure"}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"recalculateAllChecksums"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"model"},"value":{"kind":"EnumValue","value":"LFS_OBJECT"}},{"kind":"Argument","name":{"kind":"Name","value":"checksumState"},"value":{"kind":"EnumValue","value":"FAILED"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"errors"}}]}}]}}]} as unknown as DocumentNode<RecalculateMutation, RecalculateMutationVariables>;
export const WatchProjectsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"WatchProjects"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksumStateChanged"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"model"},"value":{"kind":"EnumValue","value":"PROJECT"}},{"kind":"Argument","name":{"kind":"Name","value":"identifiers"},"value":{"kind":"ListValue","values":[{"kind":"StringValue","value":"1","block":false},{"kind":"StringValue","value":"2","block":false},{"kind":"StringValue","value":"3","block":false}]}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"previousState"}},{"kind":"Field","name":{"kind":"Name","value":"state"}},{"kind":"Field","name":{"kind":"Name","value":"observedAt"}},{"kind":"Field","name":{"kind":"Name","value":"record"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recordIdentifier"}},{"kind":"Field","name":{"kind":"Name","value":"checksumInformation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksum"}},{"kind":"Field","name":{"kind":"Name","value":"checksumFailure"}},{"kind":"Field","name":{"kind":"Name","value":"checksumRetryCount"}}]}}]}}]}}]}}]} as unknown as DocumentNode<WatchProjectsSubscription, WatchProjectsSubscriptionVariables>;
export const WatchProjectsInBatchesDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"WatchProjectsInBatches"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksumStateChangeBatches"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"model"},"value":{"kind":"EnumValue","value":"PROJECT"}},{"kind":"Argument","name":{"kind":"Name","value":"identifiers"},"value":{"kind":"ListValue","values":[{"kind":"StringValue","value":"1","block":false},{"kind":"StringValue","value":"2","block":false},{"kind":"StringValue","value":"3","block":false}]}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"changes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"previousState"}},{"kind":"Field","name":{"kind":"Name","value":"state"}},{"kind":"Field","name":{"kind":"Name","value":"observedAt"}},{"kind":"Field","name":{"kind":"Name","value":"record"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recordIdentifier"}}]}}]}}]}}]}}]} as unknown as DocumentNode<WatchProjectsInBatchesSubscription, WatchProjectsInBatchesSubscriptionVariables>;
export const RecalculateChecksumDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RecalculateChecksum"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"model"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ModelName"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"recordIdentifier"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recalculateChecksum"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"model"},"value":{"kind":"Variable","name":{"kind":"Name","value":"model"}}},{"kind":"Argument","name":{"kind":"Name","value":"recordIdentifier"},"value":{"kind":"Variable","name":{"kind":"Name","value":"recordIdentifier"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"errors"}},{"kind":"Field","name":{"kind":"Name","value":"record"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"RecordFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"RecordFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ModelRecord"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"recordIdentifier"}},{"kind":"Field","name":{"kind":"Name","value":"modelClass"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"fileSize"}},{"kind":"Field","name":{"kind":"Name","value":"checksumInformation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksum"}},{"kind":"Field","name":{"kind":"Name","value":"lastChecksum"}},{"kind":"Field","name":{"kind":"Name","value":"checksumState"}},{"kind":"Field","name":{"kind":"Name","value":"checksumRetryCount"}},{"kind":"Field","name":{"kind":"Name","value":"checksumRetryAt"}},{"kind":"Field","name":{"kind":"Name","value":"checksumFailure"}}]}}]}}]} as unknown as DocumentNode<RecalculateChecksumMutation, RecalculateChecksumMutationVariables>;
export const RecalculateAllChecksumsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RecalculateAllChecksums"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"model"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ModelName"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"checksumState"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ChecksumState"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"identifiers"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recalculateAllChecksums"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"model"},"value":{"kind":"Variable","name":{"kind":"Name","value":"model"}}},{"kind":"Argument","name":{"kind":"Name","value":"checksumState"},"value":{"kind":"Variable","name":{"kind":"Name","value":"checksumState"}}},{"kind":"Argument","name":{"kind":"Name","value":"identifiers"},"value":{"kind":"Variable","name":{"kind":"Name","value":"identifiers"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"errors"}}]}}]}}]} as unknown as DocumentNode<RecalculateAllChecksumsMutation, RecalculateAllChecksumsMutationVariables>;
export const ModelRecordsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ModelRecords"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"model"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ModelName"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"checksumState"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ChecksumState"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"identifiers"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"modelRecords"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"model"},"value":{"kind":"Variable","name":{"kind":"Name","value":"model"}}},{"kind":"Argument","name":{"kind":"Name","value":"checksumState"},"value":{"kind":"Variable","name":{"kind":"Name","value":"checksumState"}}},{"kind":"Argument","name":{"kind":"Name","value":"identifiers"},"value":{"kind":"Variable","name":{"kind":"Name","value":"identifiers"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"hasPreviousPage"}},{"kind":"Field","name":{"kind":"Name","value":"startCursor"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"recordIdentifier"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"RecordFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"RecordFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ModelRecord"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"recordIdentifier"}},{"kind":"Field","name":{"kind":"Name","value":"modelClass"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"fileSize"}},{"kind":"Field","name":{"kind":"Name","value":"checksumInformation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksum"}},{"kind":"Field","name":{"kind":"Name","value":"lastChecksum"}},{"kind":"Field","name":{"kind":"Name","value":"checksumState"}},{"kind":"Field","name":{"kind":"Name","value":"checksumRetryCount"}},{"kind":"Field","name":{"kind":"Name","value":"checksumRetryAt"}},{"kind":"Field","name":{"kind":"Name","value":"checksumFailure"}}]}}]}}]} as unknown as DocumentNode<ModelRecordsQuery, ModelRecordsQueryVariables>;
export const ModelRecordDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ModelRecord"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"model"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ModelName"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"recordIdentifier"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"modelRecord"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"model"},"value":{"kind":"Variable","name":{"kind":"Name","value":"model"}}},{"kind":"Argument","name":{"kind":"Name","value":"recordIdentifier"},"value":{"kind":"Variable","name":{"kind":"Name","value":"recordIdentifier"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"RecordFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"RecordFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ModelRecord"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"recordIdentifier"}},{"kind":"Field","name":{"kind":"Name","value":"modelClass"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"fileSize"}},{"kind":"Field","name":{"kind":"Name","value":"checksumInformation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checksum"}},{"kind":"Field","name":{"kind":"Name","value":"lastChecksum"}},{"kind":"Field","name":{"kind":"Name","value":"checksumState"}},{"kind":"Field","name":{"kind":"Name","value":"checksumRetryCount"}},{"kind":"Field","name":{"kind":"Name","value":"checksumRetryAt"}},{"kind":"Field","name":{"kind":"Name","value":"checksumFailure"}}]}}]}}]} as unknown as DocumentNode<ModelRecordQuery, ModelRecordQueryVariables>;