/**
 * The web host prints a URL carrying an access token in its fragment (`#token=...`; a
 * fragment never reaches server logs). The token is moved into sessionStorage so a reload
 * still works, and removed from the address bar so it is not shared by a screenshot.
 */
const storageKey = 'fieldkit.accessToken';

/** Takes the token from the URL (preferred) or this tab's session; null when there is none. */
export function takeAccessToken(): string | null {
  const fromUrl = tokenInHash();
  if (fromUrl !== null) {
    // Without storage the URL is the only copy; then it stays, or a reload would lose it.
    if (rememberToken(fromUrl)) history.replaceState(history.state, '', location.pathname + location.search);
    return fromUrl;
  }
  return readRememberedToken();
}

/**
 * Pasting a new URL that differs only after the # does not load the page again, so a
 * fresh token (after a refusal, say) would go unnoticed; reload with it instead.
 */
export function reloadWhenANewTokenArrives(): void {
  window.addEventListener('hashchange', () => {
    if (tokenInHash() === null) return;
    takeAccessToken();
    location.reload();
  });
}

function tokenInHash(): string | null {
  const token = new URLSearchParams(location.hash.replace(/^#/, '')).get('token');
  return token === '' ? null : token;
}

function rememberToken(token: string): boolean {
  try {
    sessionStorage.setItem(storageKey, token);
    return true;
  } catch {
    return false;
  }
}

function readRememberedToken(): string | null {
  try {
    const token = sessionStorage.getItem(storageKey);
    return token === '' ? null : token;
  } catch {
    return null;
  }
}
