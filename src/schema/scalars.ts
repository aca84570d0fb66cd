// DateTime (RFC 3339, as GitLab writes it) and BigInt (sizes beyond 2^31, sent as strings like GitLab's GraphQL does).
import { GraphQLError, Kind } from 'graphql';
import { gatewayError } from '../errors.js';
import { builder } from './builder.js';

/** RFC 3339's `date-time` (section 5.6): full date, `T`, time with optional fraction, `Z` or a numeric offset. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

builder.scalarType('DateTime', {
  description: 'A date and time as RFC 3339 `date-time`, as GitLab writes them: UTC with milliseconds, e.g. 2025-02-05T11:27:10.173Z.',
  specifiedByURL: 'https://datatracker.ietf.org/doc/html/rfc3339#section-5.6',
  serialize: (value) => {
    if (value instanceof Date) return value.toISOString();
    // What GitLab sent, as it sent it, once it is known to keep this scalar's promise.
    if (typeof value === 'string' && isDateTime(value)) return value;
    throw gatewayError('UPSTREAM_ERROR', 'GitLab sent a timestamp that is not an RFC 3339 date-time.');
  },
  parseValue: (value) => parseDate(value),
  parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : null),
});

builder.scalarType('BigInt', {
  description: "An integer that may exceed 32 bits (file sizes), serialised as a decimal string, as GitLab's GraphQL API does.",
  // GitLab's own BigInt (graphql-ruby's): non-fractional signed whole numbers, encoded as strings.
  specifiedByURL: 'https://docs.gitlab.com/api/graphql/reference/#bigint',
  serialize: (value) => String(typeof value === 'number' ? BigInt(Math.trunc(value)) : value),
  parseValue: (value) => parseBigInt(value),
  parseLiteral: (ast) => parseBigInt(ast.kind === Kind.STRING || ast.kind === Kind.INT ? ast.value : null),
});

function isDateTime(value: string): boolean {
  return RFC3339.test(value) && !Number.isNaN(Date.parse(value));
}

function parseDate(value: unknown): Date {
  if (typeof value !== 'string' || !isDateTime(value)) {
    throw new GraphQLError('DateTime must be an RFC 3339 date-time, e.g. 2025-02-05T11:27:10.173Z.', { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return new Date(value);
}

function parseBigInt(value: unknown): bigint {
  if ((typeof value === 'string' && /^-?\d+$/.test(value)) || (typeof value === 'number' && Number.isInteger(value))) return BigInt(value);
  throw new GraphQLError('BigInt must be an integer or a string of digits.', { extensions: { code: 'BAD_USER_INPUT' } });
}
