// Prints schema.graphql from the Pothos schema; with --check, fails when the committed file is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from '../src/schema/index.js';

const file = new URL('../schema.graphql', import.meta.url);
const printed = `${printSchema(lexicographicSortSchema(schema))}\n`;

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(file, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (committed !== printed) {
    process.stderr.write('schema.graphql is stale: run `npm run generate` and commit the result.\n');
    process.exit(1);
  }
} else {
  writeFileSync(file, printed);
}
