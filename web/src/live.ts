// Subscriptions over graphql-ws on the gateway's /graphql: the token in connectionParams, reconnection by the client.
import { createClient, type Client } from 'graphql-ws/client';
import type { TypedDocumentString } from '../generated/operations';
import { GRAPHQL_PATH } from './api';
import { ApiError, fromGraphQLError } from './problems';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting';

/** The gateway closes a socket whose token GitLab refuses (or that has none) with this code. */
const TOKEN_REFUSED_CLOSE = 4403;

export interface LiveSink<R> {
  /** `first`: the first event since the subscription began, or began again after a reconnection. */
  next(data: R, first: boolean): void;
  /** The subscription is over: resubscribe later if the error is transient. */
  error(error: ApiError): void;
}

export interface Live {
  subscribe<R, V>(document: TypedDocumentString<R, V>, variables: V, sink: LiveSink<R>): () => void;
  dispose(): void;
}

function closeCode(value: unknown): number | null {
  return typeof value === 'object' && value !== null && 'code' in value && typeof value.code === 'number' ? value.code : null;
}

function websocketUrl(): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${GRAPHQL_PATH}`;
}

/** Waits 1, 2, 4... up to 15 s between attempts, with jitter so that many pages do not come back at once. */
function retryWait(retries: number): Promise<void> {
  const ms = Math.min(15_000, 1_000 * 2 ** retries) * (0.75 + Math.random() / 2);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function connectLive(token: string, onState: (state: ConnectionState) => void, onTokenRefused: () => void): Live {
  let disposed = false;
  /** Each active subscription's flag: its next event is the first of a (new) subscription on the server. */
  const awaitingFirst = new Set<{ first: boolean }>();
  const client: Client = createClient({
    url: websocketUrl(),
    connectionParams: { Authorization: `Bearer ${token}` },
    // Reconnect for as long as the page is open; only a refused token stops it.
    retryAttempts: Infinity,
    retryWait,
    shouldRetry: (event) => closeCode(event) !== TOKEN_REFUSED_CLOSE,
    on: {
      connecting: (isRetry) => onState(isRetry ? 'reconnecting' : 'connecting'),
      connected: () => {
        // The client subscribes again on a new socket (after this event): what comes next starts afresh.
        for (const flag of awaitingFirst) flag.first = true;
        onState('live');
      },
      closed: (event) => {
        if (disposed) return;
        if (closeCode(event) === TOKEN_REFUSED_CLOSE) onTokenRefused();
        else onState('reconnecting');
      },
    },
  });

  return {
    subscribe(document, variables, sink) {
      let over = false;
      const flag = { first: true };
      awaitingFirst.add(flag);
      let stop = (): void => {};
      const end = () => {
        over = true;
        awaitingFirst.delete(flag);
        stop();
      };
      const fail = (error: ApiError) => {
        if (over) return;
        end();
        sink.error(error);
      };
      stop = client.subscribe(
        { query: document.toString(), variables: variables as Record<string, unknown> },
        {
          next: (result) => {
            if (over) return;
            if (result.errors?.length) return fail(fromGraphQLError(result.errors[0]));
            if (!result.data) return;
            const first = flag.first;
            flag.first = false;
            sink.next(result.data as never, first);
          },
          error: (error: unknown) => {
            if (Array.isArray(error) && error.length > 0) return fail(fromGraphQLError(error[0] as { message?: string }));
            if (closeCode(error) === TOKEN_REFUSED_CLOSE) return fail(new ApiError('TOKEN_REFUSED', 'GitLab refused the token.'));
            fail(new ApiError('NETWORK', 'The live connection to the gateway was lost.'));
          },
          // The gateway ends a subscription only with an error or when it shuts down: either way, subscribe again.
          complete: () => fail(new ApiError('NETWORK', 'The gateway ended the live updates.')),
        },
      );
      return end;
    },
    dispose() {
      disposed = true;
      void client.dispose();
    },
  };
}
