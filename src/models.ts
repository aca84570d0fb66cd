// The catalogue of GitLab models the Data management API knows, shared by the gateway and the stand-in.

/** What a record is on disk decides its checksum and whether it has a size. */
export type ModelKind = 'blob' | 'repository' | 'container';

export type Dialect = 'singular' | 'plural';

export interface ModelInfo {
  /** GraphQL enum value, e.g. LFS_OBJECT. */
  enumName: string;
  /** Path segment in the singular dialect (GitLab 18.3 to about 18.7); null when the model is plural-only. */
  singular: string | null;
  /** Path segment in the plural dialect (about 18.8 and later). */
  plural: string;
  /** GitLab's Ruby class name, as in `model_class`. */
  modelClass: string;
  kind: ModelKind;
}

function model(enumName: string, singular: string | null, plural: string, modelClass: string, kind: ModelKind): ModelInfo {
  return { enumName, singular, plural, modelClass, kind };
}

export const MODELS: readonly ModelInfo[] = [
  model('CI_JOB_ARTIFACT', 'ci_job_artifact', 'ci_job_artifacts', 'Ci::JobArtifact', 'blob'),
  model('CI_PIPELINE_ARTIFACT', 'ci_pipeline_artifact', 'ci_pipeline_artifacts', 'Ci::PipelineArtifact', 'blob'),
  model('CI_SECURE_FILE', 'ci_secure_file', 'ci_secure_files', 'Ci::SecureFile', 'blob'),
  model('CONTAINER_REPOSITORY', 'container_repository', 'container_repositories', 'ContainerRepository', 'container'),
  model('DEPENDENCY_PROXY_BLOB', 'dependency_proxy_blob', 'dependency_proxy_blobs', 'DependencyProxy::Blob', 'blob'),
  model('DEPENDENCY_PROXY_MANIFEST', 'dependency_proxy_manifest', 'dependency_proxy_manifests', 'DependencyProxy::Manifest', 'blob'),
  model('DESIGN_MANAGEMENT_REPOSITORY', 'design_management_repository', 'design_management_repositories', 'DesignManagement::Repository', 'repository'),
  model('GROUP_WIKI_REPOSITORY', 'group_wiki_repository', 'group_wiki_repositories', 'GroupWikiRepository', 'repository'),
  model('LFS_OBJECT', 'lfs_object', 'lfs_objects', 'LfsObject', 'blob'),
  model('MERGE_REQUEST_DIFF', 'merge_request_diff', 'merge_request_diffs', 'MergeRequestDiff', 'blob'),
  model('PACKAGES_PACKAGE_FILE', 'packages_package_file', 'packages_package_files', 'Packages::PackageFile', 'blob'),
  model('PAGES_DEPLOYMENT', 'pages_deployment', 'pages_deployments', 'PagesDeployment', 'blob'),
  model('PROJECT', 'project', 'projects', 'Project', 'repository'),
  model('PROJECTS_WIKI_REPOSITORY', 'projects_wiki_repository', 'projects_wiki_repositories', 'Projects::WikiRepository', 'repository'),
  model('SNIPPET_REPOSITORY', 'snippet_repository', 'snippet_repositories', 'SnippetRepository', 'repository'),
  model('TERRAFORM_STATE_VERSION', 'terraform_state_version', 'terraform_state_versions', 'Terraform::StateVersion', 'blob'),
  model('UPLOAD', 'upload', 'uploads', 'Upload', 'blob'),
  // Newer models, known to the plural dialect only.
  model('PACKAGES_NUGET_SYMBOL', null, 'packages_nuget_symbols', 'Packages::Nuget::Symbol', 'blob'),
  model('PACKAGES_DEBIAN_PROJECT_COMPONENT_FILE', null, 'packages_debian_project_component_files', 'Packages::Debian::ProjectComponentFile', 'blob'),
  model('SUPPLY_CHAIN_ATTESTATION', null, 'supply_chain_attestations', 'SupplyChain::Attestation', 'blob'),
];

export const MODELS_BY_ENUM: ReadonlyMap<string, ModelInfo> = new Map(MODELS.map((m) => [m.enumName, m]));

/** The path segment naming a model in a dialect, or null when that dialect does not know the model. */
export function pathName(model: ModelInfo, dialect: Dialect): string | null {
  return dialect === 'singular' ? model.singular : model.plural;
}

export function modelsOf(dialect: Dialect): ModelInfo[] {
  return MODELS.filter((m) => pathName(m, dialect) !== null);
}

export const CHECKSUM_STATES = ['pending', 'started', 'succeeded', 'failed', 'disabled'] as const;
export type ChecksumStateName = (typeof CHECKSUM_STATES)[number];

/** A record as GitLab's entity serialises it (keys in GitLab's order). */
export interface RecordJson {
  record_identifier: number | string;
  model_class: string;
  created_at: string | null;
  file_size: number | null;
  checksum_information?: {
    checksum: string | null;
    last_checksum: string | null;
    checksum_state: ChecksumStateName;
    checksum_retry_count: number | null;
    checksum_retry_at: string | null;
    checksum_failure: string | null;
  };
}
