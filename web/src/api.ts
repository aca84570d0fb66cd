// Queries and mutations: plain fetch to the gateway's own /graphql, the token as `Authorization: Bearer`.
import type { TypedDocumentString } from '../generated/operations';
import { ApiError, fromGraphQLError } from './problems';

export const GRAPHQL_PATH = '/graphql';

interface GraphQLResponse<R> {
  data?: R | null;
  errors?: { message?: string; extensions?: Record<string, unknown> }[];
}

/** Runs one operation; any error in the answer fails it (each operation here asks for one root field). */
export async function request<R, V>(document: TypedDocumentString<R, V>, variables: V, token: string): Promise<R> {
  let response: Response;
  try {
    response = await fetch(GRAPHQL_PATH, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: document.toString(), variables }),
    });
  } catch {
    throw new ApiError('NETWORK', 'The gateway did not answer.');
  }
  let body: GraphQLResponse<R>;
  try {
    body = (await response.json()) as GraphQLResponse<R>;
  } catch {
    // A proxy's error page, or a gateway going away mid-answer.
    throw new ApiError('NETWORK', `The gateway answered ${response.status} without a GraphQL response.`);
  }
  if (body.errors?.length) throw fromGraphQLError(body.errors[0]);
  if (!body.data) throw new ApiError('UNKNOWN', `The gateway answered ${response.status} without data.`);
  return body.data;
}
