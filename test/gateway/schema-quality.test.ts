// What clients and code generators see of the schema, read the way they read it: by introspection over HTTP.
import { readFileSync } from 'node:fs';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isNonNullType,
  isObjectType,
  isScalarType,
  lexicographicSortSchema,
  printSchema,
  type GraphQLArgument,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from '../support/gateway.js';
import { ok, startFor } from './helpers.js';

let h: Harness;
let schema: GraphQLSchema;

beforeAll(async () => {
  h = await startFor('plural', {}, { GRAPHQL_INTROSPECTION: 'true' });
  const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, inputValueDeprecation: true });
  schema = buildClientSchema(ok(await h.request<IntrospectionQuery, Record<string, never>>(query)));
});
afterAll(() => h?.close());

const described = (thing: { description?: string | null }) => (thing.description ?? '').trim() !== '';

/** Every type, field, argument and enum value of the served schema that has no description, by its coordinate. */
function undescribed(served: GraphQLSchema): string[] {
  const missing: string[] = [];
  const args = (owner: string, list: readonly GraphQLArgument[]) => list.forEach((a) => described(a) || missing.push(`${owner}(${a.name}:)`));
  for (const type of Object.values(served.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (!described(type)) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (!described(field)) missing.push(`${type.name}.${field.name}`);
        if ('args' in field) args(`${type.name}.${field.name}`, field.args);
      }
    }
    if (isEnumType(type)) type.getValues().forEach((v) => described(v) || missing.push(`${type.name}.${v.name}`));
  }
  for (const directive of served.getDirectives()) {
    if (!described(directive)) missing.push(`@${directive.name}`);
    args(`@${directive.name}`, directive.args);
  }
  return missing;
}

describe('the schema clients and codegen see', () => {
  it('describes every type, field, argument and enum value', () => {
    expect(undescribed(schema)).toEqual([]);
  });

  it('is the committed schema.graphql, descriptions, defaults and directives included', () => {
    const committed = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(`${printSchema(lexicographicSortSchema(schema))}\n`).toBe(committed);
  });

  it('names the specifications of its scalars: RFC 3339 for DateTime, GitLab\'s BigInt for BigInt', () => {
    const dateTime = schema.getType('DateTime');
    const bigInt = schema.getType('BigInt');
    expect(isScalarType(dateTime) && dateTime.specifiedByURL).toBe('https://datatracker.ietf.org/doc/html/rfc3339#section-5.6');
    expect(isScalarType(bigInt) && bigInt.specifiedByURL).toBe('https://docs.gitlab.com/api/graphql/reference/#bigint');
  });

  it('declares the default page size of modelRecords in the schema: first: Int = 20', () => {
    const first = schema.getQueryType()!.getFields().modelRecords.args.find((a) => a.name === 'first')!;
    expect(String(first.type)).toBe('Int');
    expect(first.defaultValue).toBe(20);
  });

  it('types the bulk status as an enum', () => {
    const payload = schema.getType('RecalculateAllChecksumsPayload');
    expect(isObjectType(payload) && String(payload.getFields().status.type)).toBe('BulkStatus!');
    const status = schema.getType('BulkStatus');
    expect(isEnumType(status) && status.getValues().map((v) => v.name).sort()).toEqual(['ERROR', 'SUCCESS']);
  });

  it('makes every query and mutation root field nullable, and keeps subscription events non-null', () => {
    const nonNull = (fields: Record<string, { type: unknown }>) => Object.entries(fields).filter(([, f]) => isNonNullType(f.type)).map(([name]) => name);
    expect(nonNull(schema.getQueryType()!.getFields())).toEqual([]);
    expect(nonNull(schema.getMutationType()!.getFields())).toEqual([]);
    expect(nonNull(schema.getSubscriptionType()!.getFields()).sort()).toEqual(['checksumStateChangeBatches', 'checksumStateChanged', 'verificationSummaryChanged']);
  });

  it('has a Relay Node interface that ModelRecord implements, and node(id: ID!): Node', () => {
    const node = schema.getType('Node');
    expect(isInterfaceType(node) && Object.keys(node.getFields())).toEqual(['id']);
    const record = schema.getType('ModelRecord');
    expect(isObjectType(record) && record.getInterfaces().map((i) => i.name)).toEqual(['Node']);
    const field = schema.getQueryType()!.getFields().node;
    expect(String(field.type)).toBe('Node');
    expect(field.args.map((a) => `${a.name}: ${String(a.type)}`)).toEqual(['id: ID!']);
  });

  it('lists the models in a query of their own: models: [Model!]', () => {
    const field = schema.getQueryType()!.getFields().models;
    expect(String(field.type)).toBe('[Model!]');
    const model = getNamedType(field.type);
    expect(isObjectType(model) && Object.keys(model.getFields()).sort()).toEqual(['kind', 'modelClass', 'name', 'pluralName', 'restName', 'singularName']);
  });
});
