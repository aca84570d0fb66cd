// The verification monitor: asks for a GitLab token once, then shows every model's verification live and, for one
// model, its records. Everything comes from the gateway's public GraphQL API.
import { render, type ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { MonitorSummaryChangedDocument, MonitorSummaryDocument, type MonitorSummaryPartsFragment } from '../generated/operations';
import { request } from './api';
import { formatTimeOfDay } from './format';
import { connectLive, type ConnectionState, type Live } from './live';
import { ModelView } from './model-view';
import { MODEL_LABELS } from './names';
import { Overview } from './overview';
import { ApiError, describeProblem, isTokenRefusal, isTransient } from './problems';
import { useRoute } from './route';
import { demoToken, storedToken, storeToken } from './token';
import './styles.css';

const TITLE = 'Verification monitor';

function TokenForm({ refusal, onSubmit }: { refusal: string | null; onSubmit(token: string): void }) {
  const demo = demoToken();
  const [value, setValue] = useState(demo ?? '');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <form
      class="token-form"
      onSubmit={(event) => {
        event.preventDefault();
        const token = value.trim();
        if (token) onSubmit(token);
      }}
    >
      <h2>Sign in with a GitLab token</h2>
      {refusal && (
        <p class="problem" role="alert">
          {refusal}
        </p>
      )}
      <label for="token">GitLab token</label>
      <input
        id="token"
        ref={input}
        type="password"
        autoComplete="off"
        spellcheck={false}
        required
        value={value}
        aria-describedby="token-help"
        onInput={(event) => setValue(event.currentTarget.value)}
      />
      <p id="token-help" class="help">
        The personal access token of a GitLab administrator (the api scope lets you recalculate). It is kept in this tab only, until you close it, and sent to
        this gateway alone.
        {demo && ' Demo mode: the embedded stand-in’s admin token is filled in.'}
      </p>
      <button type="submit" class="primary">
        Show verification
      </button>
    </form>
  );
}

function ConnectionBadge({ state }: { state: ConnectionState }) {
  const text = state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  return (
    <p class={`connection connection-${state}`} role="status">
      <span class="dot" aria-hidden="true" /> {text}
    </p>
  );
}

/** The newest summary of each model, in the API's order; a late answer older than what is shown is dropped. */
function merge(current: MonitorSummaryPartsFragment[] | null, incoming: MonitorSummaryPartsFragment[]): MonitorSummaryPartsFragment[] {
  const next = [...(current ?? [])];
  for (const summary of incoming) {
    const index = next.findIndex((s) => s.model === summary.model);
    if (index < 0) next.push(summary);
    else if (summary.observedAt >= next[index].observedAt) next[index] = summary;
  }
  return next;
}

function retryDelay(failures: number): number {
  return Math.min(30_000, 2_000 * 2 ** Math.min(failures, 4));
}

function Monitor({ token, onTokenRefused, onChangeToken }: { token: string; onTokenRefused(error: ApiError): void; onChangeToken(): void }) {
  const route = useRoute();
  const [live, setLive] = useState<Live | null>(null);
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const [summaries, setSummaries] = useState<MonitorSummaryPartsFragment[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    const connected = connectLive(token, setConnection, () => onTokenRefused(new ApiError('TOKEN_REFUSED', 'GitLab refused the token.')));
    setLive(connected);
    return () => connected.dispose();
  }, [token]);

  // First the counts from verificationSummary, then live from verificationSummaryChanged; after a failure, both again.
  useEffect(() => {
    if (!live) return;
    let stopped = false;
    let failures = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let unsubscribe = () => {};
    const failed = (error: ApiError) => {
      if (stopped) return;
      if (isTokenRefusal(error)) return onTokenRefused(error);
      setProblem(describeProblem(error));
      // GitLab's Retry-After, when it gave one, is the earliest worth trying again.
      if (isTransient(error)) timer = setTimeout(start, Math.max(retryDelay(failures++), (error.retryAfterSeconds ?? 0) * 1000));
    };
    const start = async () => {
      try {
        const data = await request(MonitorSummaryDocument, {}, token);
        if (stopped) return;
        setSummaries((current) => merge(current, data.verificationSummary ?? []));
        setProblem(null);
      } catch (error) {
        return failed(error instanceof ApiError ? error : new ApiError('UNKNOWN', String(error)));
      }
      unsubscribe = live.subscribe(
        MonitorSummaryChangedDocument,
        {},
        {
          next: (data) => {
            failures = 0;
            setProblem(null);
            setSummaries((current) => merge(current, [data.verificationSummaryChanged]));
          },
          error: failed,
        },
      );
    };
    void start();
    return () => {
      stopped = true;
      clearTimeout(timer);
      unsubscribe();
    };
  }, [live]);

  const summary = route.view === 'model' ? summaries?.find((s) => s.model === route.model) : undefined;
  useEffect(() => {
    document.title = route.view === 'model' ? `${MODEL_LABELS[route.model]} · ${TITLE}` : TITLE;
  }, [route]);
  const newest = summaries?.reduce((latest, s) => (s.observedAt > latest ? s.observedAt : latest), '') || null;

  return (
    <>
      <Header>
        <ConnectionBadge state={connection} />
        <button type="button" class="link" onClick={onChangeToken}>
          Change token
        </button>
      </Header>
      <main id="main">
        {problem && (
          <p class="problem" role="alert">
            {problem}
          </p>
        )}
        {live && route.view === 'model' ? (
          <ModelView
            key={`${route.model}/${route.state}`}
            model={route.model}
            state={route.state}
            summary={summary}
            token={token}
            live={live}
            onTokenRefused={onTokenRefused}
          />
        ) : summaries ? (
          <Overview summaries={summaries} />
        ) : problem ? null : (
          <p class="muted">Counting the records of every model…</p>
        )}
      </main>
      {newest && <footer>Counts observed at {formatTimeOfDay(newest)}, updated live as they change.</footer>}
    </>
  );
}

function Header({ children }: { children?: ComponentChildren }) {
  return (
    <header class="top">
      <div>
        <h1>{TITLE}</h1>
        <p class="subtitle">GitLab Geo data management, live through this gateway</p>
      </div>
      <div class="top-actions">{children}</div>
    </header>
  );
}

function App() {
  const [token, setToken] = useState(storedToken);
  const [refusal, setRefusal] = useState<string | null>(null);
  if (!token) {
    return (
      <>
        <Header />
        <main id="main">
          <TokenForm
            refusal={refusal}
            onSubmit={(value) => {
              storeToken(value);
              setRefusal(null);
              setToken(value);
            }}
          />
        </main>
      </>
    );
  }
  return (
    <Monitor
      key={token}
      token={token}
      onTokenRefused={(error) => {
        storeToken(null);
        setRefusal(describeProblem(error));
        setToken(null);
      }}
      onChangeToken={() => {
        storeToken(null);
        setRefusal(null);
        setToken(null);
      }}
    />
  );
}

render(<App />, document.getElementById('app')!);
