import type { ReactNode } from 'react';

/**
 * Full-window messages for when the web host cannot be used at all. Nothing else is
 * shown: without a valid token every call would fail anyway.
 */
export function AccessTokenMissing() {
  return (
    <AccessMessage testId="no-token" title={<>Open the URL that <code>fieldkit serve</code> printed (it carries the access token).</>}>
      This page was opened without its access token. In the terminal where fieldkit is serving, copy the whole address it
      printed, including the part after <code>#token=</code>, and open that.
    </AccessMessage>
  );
}

export function AccessTokenRefused() {
  return (
    <AccessMessage testId="token-refused" title={<>Access token refused — open the URL printed by <code>fieldkit serve</code> again.</>}>
      The token this page had is no longer accepted; fieldkit prints a new one each time it starts. Open the address it
      printed most recently.
    </AccessMessage>
  );
}

function AccessMessage({ title, testId, children }: { title: ReactNode; testId: string; children: ReactNode }) {
  return (
    <main className="access-screen" data-testid={testId}>
      <div className="access-card">
        <p className="brand-name">fieldkit</p>
        <h1>{title}</h1>
        <p>{children}</p>
      </div>
    </main>
  );
}
