// How models and states are called on the page; typed against the schema, so a new model or state fails the typecheck.
import type { ChecksumState, ModelName } from '../generated/operations';

export const MODEL_LABELS: Record<ModelName, string> = {
  CI_JOB_ARTIFACT: 'CI job artifacts',
  CI_PIPELINE_ARTIFACT: 'CI pipeline artifacts',
  CI_SECURE_FILE: 'CI secure files',
  CONTAINER_REPOSITORY: 'Container repositories',
  DEPENDENCY_PROXY_BLOB: 'Dependency proxy blobs',
  DEPENDENCY_PROXY_MANIFEST: 'Dependency proxy manifests',
  DESIGN_MANAGEMENT_REPOSITORY: 'Design management repositories',
  GROUP_WIKI_REPOSITORY: 'Group wiki repositories',
  LFS_OBJECT: 'LFS objects',
  MERGE_REQUEST_DIFF: 'Merge request diffs',
  PACKAGES_DEBIAN_PROJECT_COMPONENT_FILE: 'Debian project component files',
  PACKAGES_NUGET_SYMBOL: 'NuGet symbols',
  PACKAGES_PACKAGE_FILE: 'Package files',
  PAGES_DEPLOYMENT: 'Pages deployments',
  PROJECT: 'Projects',
  PROJECTS_WIKI_REPOSITORY: 'Project wiki repositories',
  SNIPPET_REPOSITORY: 'Snippet repositories',
  SUPPLY_CHAIN_ATTESTATION: 'Supply chain attestations',
  TERRAFORM_STATE_VERSION: 'Terraform state versions',
  UPLOAD: 'Uploads',
};

export function isModelName(value: string): value is ModelName {
  return Object.prototype.hasOwnProperty.call(MODEL_LABELS, value);
}

/** The order of the bars and columns: settled first, then what needs attention, then what is under way. */
export const STATES: readonly ChecksumState[] = ['SUCCEEDED', 'FAILED', 'PENDING', 'STARTED', 'DISABLED'];

export const STATE_LABELS: Record<ChecksumState, string> = {
  SUCCEEDED: 'Succeeded',
  FAILED: 'Failed',
  PENDING: 'Pending',
  STARTED: 'Started',
  DISABLED: 'Disabled',
};

export function isChecksumState(value: string): value is ChecksumState {
  return (STATES as readonly string[]).includes(value);
}
