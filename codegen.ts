// Typed documents generated from schema.graphql: the operations the tests and README examples use, and the monitor
// page's (as plain strings with their types, so the page does not bundle the graphql package). Each set also goes
// through the client preset with persisted documents, as a front-end team would make its trusted-documents file
// (TRUSTED_DOCUMENTS): persisted-documents.json maps `sha256:<hash>` to each document.
import type { CodegenConfig } from '@graphql-codegen/cli';

const shared = {
  enumsAsTypes: true,
  useTypeImports: true,
  scalars: { DateTime: 'string', BigInt: 'string', ID: 'string' },
};

/** The client preset's persisted documents, hashed with SHA-256; the rest of its output is typed documents carrying the hash. */
const trustedDocuments = { persistedDocuments: { hashAlgorithm: 'sha256' as const }, fragmentMasking: false as const, skipIndexFile: true };

const config: CodegenConfig = {
  schema: 'schema.graphql',
  generates: {
    'test/generated/operations.ts': {
      documents: ['test/operations/*.graphql'],
      plugins: ['typescript-operations', 'typed-document-node'],
      config: shared,
    },
    'web/generated/operations.ts': {
      documents: ['web/operations.graphql'],
      plugins: ['typescript-operations', 'typed-document-node'],
      config: { ...shared, documentMode: 'string' },
    },
    'test/generated/trusted-documents/': {
      documents: ['test/operations/*.graphql'],
      preset: 'client',
      presetConfig: trustedDocuments,
      // Imports with .js, as Node's ESM resolution wants.
      config: { ...shared, emitLegacyCommonJSImports: false },
    },
    'web/generated/trusted-documents/': {
      documents: ['web/operations.graphql'],
      preset: 'client',
      presetConfig: trustedDocuments,
      config: { ...shared, documentMode: 'string' },
    },
  },
};

export default config;
