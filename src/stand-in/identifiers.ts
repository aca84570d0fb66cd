// GitLab's reading of record identifiers: integers, or URL-safe base64 of composite key values joined by a space.

export type ParsedIdentifier = { kind: 'integer'; id: number } | { kind: 'composite'; key: string };

export class IdentifierError extends Error {}

const INTEGER = /^\d+$/;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/** Strict URL-safe base64 decoding, padded or not; throws on anything else. */
function decodeBase64(value: string): string {
  const unpadded = value.replace(/=+$/, '');
  if (!BASE64URL.test(value) || unpadded.length % 4 === 1) throw new IdentifierError('invalid base64');
  if (value.length !== unpadded.length && value.length % 4 !== 0) throw new IdentifierError('invalid base64');
  const decoded = Buffer.from(unpadded, 'base64url');
  const text = decoded.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(decoded)) throw new IdentifierError('invalid base64');
  return text;
}

export function parseIdentifier(value: string): ParsedIdentifier {
  if (INTEGER.test(value)) return { kind: 'integer', id: Number(value) };
  const key = decodeBase64(value);
  if (!key.includes(' ')) throw new IdentifierError('Invalid composite key format');
  return { kind: 'composite', key };
}

/** A list must be all integers or all base64: a mix is rejected as invalid base64, as GitLab does. */
export function parseIdentifierList(values: string[]): ParsedIdentifier[] {
  const present = values.filter((v) => v !== '');
  const integers = present.filter((v) => INTEGER.test(v)).length;
  if (integers > 0 && integers < present.length) throw new IdentifierError('invalid base64');
  return present.map(parseIdentifier);
}
