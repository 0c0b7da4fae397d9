import { Button } from 'react-aria-components';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import type { BackupNotice } from './backupOutcomes.ts';

/** What the technician's last backup actions came to, newest first, each dismissable. */
export function BackupNotices({ notices, onDismiss }: { notices: readonly BackupNotice[]; onDismiss: (key: string) => void }) {
  if (notices.length === 0) return null;
  return (
    <ul className="notices" aria-label="Results of your last backup actions">
      {notices.map((notice) => (
        <li key={notice.key} className={`notice backup-notice ${notice.kind === 'failed' ? 'is-failed' : `is-${notice.tone}`}`} data-testid="backup-notice" data-notice={notice.key}>
          {notice.kind === 'failed' ? (
            <div role="alert">
              <p className="backup-notice-title">{notice.title}</p>
              <ErrorNotice error={notice.error} compact />
            </div>
          ) : (
            <div role="status">
              <p>{notice.text}</p>
              {notice.details.length > 0 && (
                <ul className="backup-notice-details">
                  {notice.details.map((d) => (
                    <li key={d}>{d}</li>
                  ))}
                </ul>
              )}
            </div>
          )}
          <Button className="button is-quiet is-small" onPress={() => { onDismiss(notice.key); }} aria-label="Dismiss this message">
            <span aria-hidden="true">×</span>
          </Button>
        </li>
      ))}
    </ul>
  );
}
