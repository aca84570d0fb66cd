// The GitLab token: asked once, kept in this tab's sessionStorage only (gone when the tab closes), never in a cookie.

const KEY = 'data-management-monitor.token';

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null; // storage disabled: the token lives as long as the page
  }
}

export function storeToken(token: string | null): void {
  try {
    if (token === null) sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, token);
  } catch {
    // storage disabled: nothing to keep or forget
  }
}

/** In demo mode the gateway puts the embedded stand-in's public admin token in the page, to be offered. */
export function demoToken(): string | null {
  return document.querySelector<HTMLMetaElement>('meta[name="demo-token"]')?.content || null;
}
