// The gateway's reading of record identifiers, as strict as GitLab's: integers, or URL-safe base64 of composite keys.
import { gatewayError } from '../errors.js';

/**
 * Longest identifier a client may send, not counting base64's `=` padding: generous for GitLab's composite keys, and
 * it keeps a URL's size predictable.
 */
export const MAX_IDENTIFIER_LENGTH = 255;

const INTEGER = /^\d{1,18}$/;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;
const ZERO = '0'.charCodeAt(0);

export type KeyKind = 'integer' | 'base64';

export interface Identifier {
  kind: KeyKind;
  /** The record's identity whatever the spelling: `i:<integer>` or `b:<decoded composite key>`. */
  key: string;
  /** The spelling sent to GitLab: an integer without leading zeros, or base64 padded as GitLab encodes it. */
  canonical: string;
}

/**
 * Reads an identifier as GitLab would, or null for a value GitLab could not read. Base64 is decoded leniently
 * (padded, unpadded or wrongly padded) and re-encoded canonically, so a spelling GitLab's strict decoder refuses
 * (`MSAy==`) still names its record instead of failing every look-up batched with it.
 */
export function readIdentifier(value: string | number): Identifier | null {
  const text = typeof value === 'string' ? value : String(value);
  if (tooLong(text)) return null;
  if (INTEGER.test(text)) {
    // Read on every look-up, several times: an integer without leading zeros is its own canonical spelling.
    const canonical = text.length === 1 || text.charCodeAt(0) !== ZERO ? text : BigInt(text).toString();
    return { kind: 'integer', key: `i:${canonical}`, canonical };
  }
  if (!BASE64URL.test(text)) return null;
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return null;
  const bytes = Buffer.from(unpadded, 'base64url');
  const decoded = bytes.toString('utf8');
  // GitLab refuses bytes that are not UTF-8, and a key without a space is not a composite key.
  if (!Buffer.from(decoded, 'utf8').equals(bytes) || !decoded.includes(' ')) return null;
  return { kind: 'base64', key: `b:${decoded}`, canonical: bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_') };
}

/** Over MAX_IDENTIFIER_LENGTH: a client error, never sent. */
export function tooLong(text: string): boolean {
  // Padding only shortens: a text within the length needs no stripping.
  return text.length > MAX_IDENTIFIER_LENGTH && (text.length > MAX_IDENTIFIER_LENGTH + 2 || text.replace(/=+$/, '').length > MAX_IDENTIFIER_LENGTH);
}

/** Why a value is not an identifier, as the client error to answer; null when it is one. */
export function identifierProblem(value: string | number): string | null {
  const text = String(value);
  if (tooLong(text)) return `An identifier is at most ${MAX_IDENTIFIER_LENGTH} characters long (without base64 padding), got one of ${text.length}.`;
  if (readIdentifier(text)) return null;
  return `${JSON.stringify(text.slice(0, 64))} is not a record identifier (an integer, or URL-safe base64 of a composite key).`;
}

/** The identifier, or BAD_USER_INPUT before anything reaches GitLab. */
export function requireIdentifier(value: string | number): Identifier {
  const identifier = readIdentifier(value);
  if (!identifier) throw gatewayError('BAD_USER_INPUT', identifierProblem(value)!);
  return identifier;
}

/**
 * GitLab's order of records: ascending primary key. Integers numerically; composite keys value by value, numbers
 * numerically. Both arguments are `key`s of the same kind.
 */
export function compareKeys(a: string, b: string): number {
  if (a.startsWith('i:') && b.startsWith('i:')) return compareNumbers(a.slice(2), b.slice(2));
  const left = a.slice(2).split(' ');
  const right = b.slice(2).split(' ');
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const order = /^\d+$/.test(left[i]) && /^\d+$/.test(right[i]) ? compareNumbers(left[i], right[i]) : left[i] < right[i] ? -1 : left[i] > right[i] ? 1 : 0;
    if (order !== 0) return order;
  }
  return left.length - right.length;
}

function compareNumbers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
