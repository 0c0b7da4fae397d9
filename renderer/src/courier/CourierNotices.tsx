import { Button } from 'react-aria-components';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import type { CourierNotice } from './courierOutcomes.ts';


export function CourierNotices({ notices, onDismiss }: { notices: readonly CourierNotice[]; onDismiss: (key: string) => void }) {
  if (notices.length === 0) return null;
  return (
    <ul className="notices" aria-label="Results of your last courier actions">
      {notices.map((notice) => (
        <li key={notice.key} className={`notice courier-notice ${notice.kind === 'failed' ? 'is-failed' : `is-${notice.tone}`}`} data-testid="courier-notice" data-notice={notice.key}>
          {notice.kind === 'failed' ? (
            <div className="courier-notice-failure" role="alert">
              <p className="courier-notice-title">{notice.title}</p>
              <ErrorNotice error={notice.error} compact />
            </div>
          ) : (
            <p role="status">{notice.text}</p>
          )}
          <Button
            className="button is-quiet is-small"
            onPress={() => {
              onDismiss(notice.key);
            }}
            aria-label="Dismiss this message"
          >
            <span aria-hidden="true">×</span>
          </Button>
        </li>
      ))}
    </ul>
  );
}
