import type { Drive } from '../../../shared/drives.ts';

/** Whether the drive may be flashed, and if not, every reason in the service's words. */
export function DriveStatus({ drive }: { drive: Drive }) {
  return (
    <div className="drive-status">
      {drive.flashable ? (
        <p className="drive-verdict is-ok">
          <span aria-hidden="true">✓ </span>Can be flashed
        </p>
      ) : (
        <>
          <p className="drive-verdict is-refused">
            <span aria-hidden="true">✕ </span>
            {drive.isSystem ? 'System drive — never a target' : 'Cannot be flashed'}
          </p>
          <ul className="drive-notes">
            {drive.refusals.map((refusal) => (
              <li key={refusal.code} className="drive-refusal" data-code={refusal.code}>
                {refusal.message}
              </li>
            ))}
          </ul>
        </>
      )}
      {drive.warnings.length > 0 && (
        <ul className="drive-notes">
          {drive.warnings.map((warning) => (
            <li key={warning.code} className="drive-warning" data-code={warning.code}>
              <span aria-hidden="true">⚠ </span>
              {warning.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
