// Typed documents generated from schema.graphql: the operations the tests and README examples use, and the monitor
// page's (as plain strings with their types, so the page does not bundle the graphql package).
import type { CodegenConfig } from '@graphql-codegen/cli';

const shared = {
  enumsAsTypes: true,
  useTypeImports: true,
  scalars: { DateTime: 'string', BigInt: 'string', ID: 'string' },
};

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
  },
};

export default config;
