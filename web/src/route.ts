// Where the page is, in the URL's fragment: `#/` (every model) or `#/model/LFS_OBJECT?state=FAILED` (one model's
// records in a state), so a view can be shared and reloaded; the server serves the same page for any fragment.
import { useEffect, useState } from 'preact/hooks';
import type { ChecksumState, ModelName } from '../generated/operations';
import { isChecksumState, isModelName } from './names';

export type Route = { view: 'overview' } | { view: 'model'; model: ModelName; state: ChecksumState };

export const DEFAULT_STATE: ChecksumState = 'FAILED';

export function parseRoute(hash: string): Route {
  const match = /^#\/model\/([A-Z_]+)(?:\?(.*))?$/.exec(hash);
  if (!match || !isModelName(match[1])) return { view: 'overview' };
  const state = new URLSearchParams(match[2] ?? '').get('state') ?? DEFAULT_STATE;
  return { view: 'model', model: match[1], state: isChecksumState(state) ? state : DEFAULT_STATE };
}

export function routeHref(route: Route): string {
  return route.view === 'overview' ? '#/' : `#/model/${route.model}?state=${route.state}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
