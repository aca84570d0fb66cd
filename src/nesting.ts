// A nesting bound on what a client sends, checked before anything recursive (GraphQL's parser, JSON.stringify) sees it:
// 2,000 nested lists in a 4 KB document would overflow the parser's stack.
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACE = 0x7d; // }
const OPEN_BRACKET = 0x5b; // [
const CLOSE_BRACKET = 0x5d; // ]
const OPEN_PAREN = 0x28; // (
const CLOSE_PAREN = 0x29; // )
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const HASH = 0x23; // #
const NEWLINE = 0x0a;
const RETURN = 0x0d;

/**
 * Whether a GraphQL document nests `{`, `[` and `(` more than `max` levels deep, counting outside strings, block strings
 * and comments. One pass over the text, no recursion; what does not lex is left to the parser to report.
 */
export function documentNestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  const end = text.length;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === OPEN_BRACE || c === OPEN_BRACKET || c === OPEN_PAREN) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET || c === CLOSE_PAREN) {
      depth--;
    } else if (c === HASH) {
      while (i + 1 < end && text.charCodeAt(i + 1) !== NEWLINE && text.charCodeAt(i + 1) !== RETURN) i++;
    } else if (c === QUOTE) {
      if (text.startsWith('"""', i)) {
        // A block string ends at the next """ not escaped as \""".
        i += 3;
        while (i < end && !(text.startsWith('"""', i) && text.charCodeAt(i - 1) !== BACKSLASH)) i++;
        i += 2;
      } else {
        i++;
        while (i < end && text.charCodeAt(i) !== QUOTE && text.charCodeAt(i) !== NEWLINE && text.charCodeAt(i) !== RETURN) {
          if (text.charCodeAt(i) === BACKSLASH) i++;
          i++;
        }
      }
    }
  }
  return false;
}

/** Whether a JSON value (parsed) nests arrays and objects more than `max` levels deep; walked without recursion. */
export function valueNestsDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  let level: object[] = [value];
  for (let depth = 1; level.length > 0; depth++) {
    if (depth > max) return true;
    const next: object[] = [];
    for (const node of level) {
      for (const child of Array.isArray(node) ? node : Object.values(node)) {
        if (typeof child === 'object' && child !== null) next.push(child);
      }
    }
    level = next;
  }
  return false;
}

/**
 * Refuses a document (GRAPHQL_PARSE_FAILED, like the token limit) or variables (BAD_USER_INPUT) nested deeper than
 * MAX_NESTING, on every transport: HTTP, SSE and graphql-ws all parse through here. The document is checked only when
 * it is really parsed (Yoga's parse cache answers repeats, and remembers the refusal).
 */
export function useNestingLimit(max: number): Plugin {
  return {
    onParse({ context, parseFn, setParseFn }) {
      const variables = (context as { params?: { variables?: unknown } }).params?.variables;
      if (valueNestsDeeperThan(variables, max)) {
        throw new GraphQLError(`Variables nesting limit of ${max} exceeded.`, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
      }
      setParseFn((source, options) => {
        if (documentNestsDeeperThan(typeof source === 'string' ? source : source.body, max)) {
          throw new GraphQLError(`Nesting limit of ${max} exceeded.`, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
        }
        return parseFn(source, options);
      });
    },
  };
}
