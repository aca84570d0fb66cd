// DateTime (ISO 8601, as GitLab writes it) and BigInt (sizes beyond 2^31, sent as strings like GitLab's GraphQL does).
import { GraphQLError, Kind } from 'graphql';
import { builder } from './builder.js';

builder.scalarType('DateTime', {
  description: 'An ISO 8601 timestamp in UTC, e.g. 2025-02-05T11:27:10.173Z.',
  serialize: (value) => (value instanceof Date ? value.toISOString() : String(value)),
  parseValue: (value) => parseDate(value),
  parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : null),
});

builder.scalarType('BigInt', {
  description: 'An integer that may exceed 32 bits (file sizes), serialised as a decimal string.',
  serialize: (value) => String(typeof value === 'number' ? BigInt(Math.trunc(value)) : value),
  parseValue: (value) => parseBigInt(value),
  parseLiteral: (ast) => parseBigInt(ast.kind === Kind.STRING || ast.kind === Kind.INT ? ast.value : null),
});

function parseDate(value: unknown): Date {
  const date = typeof value === 'string' ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO 8601 string.', { extensions: { code: 'BAD_USER_INPUT' } });
  return date;
}

function parseBigInt(value: unknown): bigint {
  if ((typeof value === 'string' && /^-?\d+$/.test(value)) || (typeof value === 'number' && Number.isInteger(value))) return BigInt(value);
  throw new GraphQLError('BigInt must be an integer or a string of digits.', { extensions: { code: 'BAD_USER_INPUT' } });
}
