import type { AppError } from '../../../shared/errors.ts';
import './error-notice.css';

/**
 * What happened and what to do about it, exactly as the service worded it. `announce`
 * makes screen readers read it at once; use it for errors the user just caused.
 */
export function ErrorNotice({ error, announce = false, compact = false }: { error: AppError; announce?: boolean; compact?: boolean }) {
  return (
    <div className={compact ? 'error-notice is-compact' : 'error-notice'} role={announce ? 'alert' : undefined} data-error-code={error.code}>
      <p className="error-message">{error.message}</p>
      <p className="error-hint">{error.hint}</p>
    </div>
  );
}
