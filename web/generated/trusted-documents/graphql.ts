/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
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

export type MonitorSummaryPartsFragment = { model: ModelName, total: number, totalExact: boolean, verificationEnabled: boolean, observedAt: string, verifiedPerMinute: number | null, estimatedCompletionAt: string | null, states: Array<{ state: ChecksumState, count: number, exact: boolean }> };

export type MonitorRecordPartsFragment = { id: string, recordIdentifier: string, fileSize: string | null, checksumInformation: { checksumState: ChecksumState, checksumFailure: string | null, checksumRetryCount: number | null, checksumRetryAt: string | null, lastChecksum: string | null } | null };

export type MonitorSummaryQueryVariables = Exact<{ [key: string]: never; }>;


export type MonitorSummaryQuery = { verificationSummary: Array<{ model: ModelName, total: number, totalExact: boolean, verificationEnabled: boolean, observedAt: string, verifiedPerMinute: number | null, estimatedCompletionAt: string | null, states: Array<{ state: ChecksumState, count: number, exact: boolean }> }> | null };

export type MonitorSummaryChangedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type MonitorSummaryChangedSubscription = { verificationSummaryChanged: { model: ModelName, total: number, totalExact: boolean, verificationEnabled: boolean, observedAt: string, verifiedPerMinute: number | null, estimatedCompletionAt: string | null, states: Array<{ state: ChecksumState, count: number, exact: boolean }> } };

export type MonitorRecordsQueryVariables = Exact<{
  model: ModelName;
  state: ChecksumState;
  first: number;
  after?: string | null | undefined;
}>;


export type MonitorRecordsQuery = { modelRecords: { totalCount: number | null, pageInfo: { hasNextPage: boolean, endCursor: string | null }, nodes: Array<{ id: string, recordIdentifier: string, fileSize: string | null, checksumInformation: { checksumState: ChecksumState, checksumFailure: string | null, checksumRetryCount: number | null, checksumRetryAt: string | null, lastChecksum: string | null } | null }> } | null };

export type MonitorRecordChangesSubscriptionVariables = Exact<{
  model: ModelName;
  state: ChecksumState;
}>;


export type MonitorRecordChangesSubscription = { checksumStateChangeBatches: { truncated: boolean, changes: Array<{ state: ChecksumState, record: { id: string, recordIdentifier: string, fileSize: string | null, checksumInformation: { checksumState: ChecksumState, checksumFailure: string | null, checksumRetryCount: number | null, checksumRetryAt: string | null, lastChecksum: string | null } | null } }> } };

export type MonitorRecalculateMutationVariables = Exact<{
  model: ModelName;
  recordIdentifier: string;
}>;


export type MonitorRecalculateMutation = { recalculateChecksum: { errors: Array<string>, record: { id: string, recordIdentifier: string, fileSize: string | null, checksumInformation: { checksumState: ChecksumState, checksumFailure: string | null, checksumRetryCount: number | null, checksumRetryAt: string | null, lastChecksum: string | null } | null } | null } | null };

export type MonitorRecalculateManyMutationVariables = Exact<{
  model: ModelName;
  checksumState?: ChecksumState | null | undefined;
  identifiers?: Array<string> | string | null | undefined;
}>;


export type MonitorRecalculateManyMutation = { recalculateAllChecksums: { status: BulkStatus, message: string, errors: Array<string> } | null };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const MonitorSummaryPartsFragmentDoc = new TypedDocumentString(`
    fragment MonitorSummaryParts on ModelVerificationSummary {
  model
  total
  totalExact
  verificationEnabled
  states {
    state
    count
    exact
  }
  observedAt
  verifiedPerMinute
  estimatedCompletionAt
}
    `, {"fragmentName":"MonitorSummaryParts"}) as unknown as TypedDocumentString<MonitorSummaryPartsFragment, unknown>;
export const MonitorRecordPartsFragmentDoc = new TypedDocumentString(`
    fragment MonitorRecordParts on ModelRecord {
  id
  recordIdentifier
  fileSize
  checksumInformation {
    checksumState
    checksumFailure
    checksumRetryCount
    checksumRetryAt
    lastChecksum
  }
}
    `, {"fragmentName":"MonitorRecordParts"}) as unknown as TypedDocumentString<MonitorRecordPartsFragment, unknown>;
export const MonitorSummaryDocument = new TypedDocumentString(`
    query MonitorSummary {
  verificationSummary {
    ...MonitorSummaryParts
  }
}
    fragment MonitorSummaryParts on ModelVerificationSummary {
  model
  total
  totalExact
  verificationEnabled
  states {
    state
    count
    exact
  }
  observedAt
  verifiedPerMinute
  estimatedCompletionAt
}`, {"hash":"sha256:1bceea281ec48f3ee8cb9fd22d7fc193bb2541c6aac0ea1a03544937e59e736e"}) as unknown as TypedDocumentString<MonitorSummaryQuery, MonitorSummaryQueryVariables>;
export const MonitorSummaryChangedDocument = new TypedDocumentString(`
    subscription MonitorSummaryChanged {
  verificationSummaryChanged {
    ...MonitorSummaryParts
  }
}
    fragment MonitorSummaryParts on ModelVerificationSummary {
  model
  total
  totalExact
  verificationEnabled
  states {
    state
    count
    exact
  }
  observedAt
  verifiedPerMinute
  estimatedCompletionAt
}`, {"hash":"sha256:2dfa9f614d128a045f78ea7fe11ff7a07e40bb90fb0e5b15046873b6e9d84f2a"}) as unknown as TypedDocumentString<MonitorSummaryChangedSubscription, MonitorSummaryChangedSubscriptionVariables>;
export const MonitorRecordsDocument = new TypedDocumentString(`
    query MonitorRecords($model: ModelName!, $state: ChecksumState!, $first: Int!, $after: String) {
  modelRecords(model: $model, checksumState: $state, first: $first, after: $after) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    nodes {
      ...MonitorRecordParts
    }
  }
}
    fragment MonitorRecordParts on ModelRecord {
  id
  recordIdentifier
  fileSize
  checksumInformation {
    checksumState
    checksumFailure
    checksumRetryCount
    checksumRetryAt
    lastChecksum
  }
}`, {"hash":"sha256:684d68bb9ec8663f2773aa21239d15e479849665e546a68ce792cd790be7caa0"}) as unknown as TypedDocumentString<MonitorRecordsQuery, MonitorRecordsQueryVariables>;
export const MonitorRecordChangesDocument = new TypedDocumentString(`
    subscription MonitorRecordChanges($model: ModelName!, $state: ChecksumState!) {
  checksumStateChangeBatches(model: $model, checksumState: $state) {
    truncated
    changes {
      state
      record {
        ...MonitorRecordParts
      }
    }
  }
}
    fragment MonitorRecordParts on ModelRecord {
  id
  recordIdentifier
  fileSize
  checksumInformation {
    checksumState
    checksumFailure
    checksumRetryCount
    checksumRetryAt
    lastChecksum
  }
}`, {"hash":"sha256:d62007f68581389d60a5f104811ef2a30d077853efff6621b640f2c6c781154d"}) as unknown as TypedDocumentString<MonitorRecordChangesSubscription, MonitorRecordChangesSubscriptionVariables>;
export const MonitorRecalculateDocument = new TypedDocumentString(`
    mutation MonitorRecalculate($model: ModelName!, $recordIdentifier: ID!) {
  recalculateChecksum(model: $model, recordIdentifier: $recordIdentifier) {
    errors
    record {
      ...MonitorRecordParts
    }
  }
}
    fragment MonitorRecordParts on ModelRecord {
  id
  recordIdentifier
  fileSize
  checksumInformation {
    checksumState
    checksumFailure
    checksumRetryCount
    checksumRetryAt
    lastChecksum
  }
}`, {"hash":"sha256:e327aa34e8613357831af8db330800dd7b46d70e44cd0f66d877ebec763915bc"}) as unknown as TypedDocumentString<MonitorRecalculateMutation, MonitorRecalculateMutationVariables>;
export const MonitorRecalculateManyDocument = new TypedDocumentString(`
    mutation MonitorRecalculateMany($model: ModelName!, $checksumState: ChecksumState, $identifiers: [ID!]) {
  recalculateAllChecksums(
    model: $model
    checksumState: $checksumState
    identifiers: $identifiers
  ) {
    status
    message
    errors
  }
}
    `, {"hash":"sha256:bd6bf1b3c58d432efb5d1bedcedfa559a04335acad895f6dcb338ae71ba2e0c1"}) as unknown as TypedDocumentString<MonitorRecalculateManyMutation, MonitorRecalculateManyMutationVariables>;