// GitLab's reading of record identifiers: integers, or URL-safe base64 of composite key values joined by a space.

export type ParsedIdentifier = { kind: 'integer'; id: number } | { kind: 'composite'; key: string };

export class IdentifierError extends Error {}

const INTEGER = /^\d+$/;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/**
 * Ruby's Base64.urlsafe_decode64: padded or unpadded, but strict: wrong padding (`MSAy==`) and bits left over in the
 * last character (`QR` for `QQ`) are invalid base64.
 */
function decodeBase64(value: string): string {
  const unpadded = value.replace(/=+$/, '');
  if (!BASE64URL.test(value) || unpadded.length % 4 === 1) throw new IdentifierError('invalid base64');
  if (value.length !== unpadded.length && value.length % 4 !== 0) throw new IdentifierError('invalid base64');
  const decoded = Buffer.from(unpadded, 'base64url');
  const canonical = decoded.toString('base64url');
  if (canonical !== unpadded) throw new IdentifierError('invalid base64');
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
