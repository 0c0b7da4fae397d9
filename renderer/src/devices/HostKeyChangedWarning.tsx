import type { ReactNode } from 'react';
import type { AppError } from '../../../shared/errors.ts';

/**
 * A changed host key is the one error that may mean an attack, so it is not styled like
 * the others: a red block that says so, the service's words, and any way forward only as
 * a separate, deliberate step (`children`).
 */
export function HostKeyChangedWarning({ error, deviceName, children }: { error: AppError; deviceName: string; children?: ReactNode }) {
  return (
    <div className="host-key-changed" role="alert" data-testid="host-key-changed" data-error-code={error.code}>
      <p className="host-key-changed-title">
        <span className="host-key-changed-icon" aria-hidden="true">
          !
        </span>
        Host key changed — {deviceName} may be impersonated
      </p>
      <p className="host-key-changed-message">{error.message}</p>
      <p className="host-key-changed-hint">{error.hint}</p>
      {children}
    </div>
  );
}
