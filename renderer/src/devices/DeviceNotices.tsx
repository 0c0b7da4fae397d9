import { Button } from 'react-aria-components';
import type { ResponseOf } from '../../../shared/api.ts';
import type { AppError } from '../../../shared/errors.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { HostKeyChangedWarning } from './HostKeyChangedWarning.tsx';

/** What the technician's last action on a device came to; one per device, newest first. */
export type DeviceNotice =
  | { kind: 'connected'; deviceId: string; deviceName: string; answer: ResponseOf<'devices.connect'> }
  | { kind: 'failed'; deviceId: string; deviceName: string; action: string; error: AppError }
  | { kind: 'info'; deviceId: string; deviceName: string; text: string };

export function DeviceNotices({
  notices,
  onDismiss,
  onForgetHostKey,
}: {
  notices: readonly DeviceNotice[];
  onDismiss: (deviceId: string) => void;
  onForgetHostKey: (deviceId: string) => void;
}) {
  if (notices.length === 0) return null;
  return (
    <ul className="notices" aria-label="Results of your last actions">
      {notices.map((notice) => (
        <li key={notice.deviceId} className={`notice device-notice is-${notice.kind === 'connected' ? 'ok' : notice.kind}`} data-testid="device-notice" data-device-id={notice.deviceId}>
          <NoticeBody notice={notice} onForgetHostKey={onForgetHostKey} />
          <Button
            className="button is-quiet is-small notice-dismiss"
            onPress={() => {
              onDismiss(notice.deviceId);
            }}
            aria-label={`Dismiss the message about ${notice.deviceName}`}
          >
            <span aria-hidden="true">×</span>
          </Button>
        </li>
      ))}
    </ul>
  );
}

function NoticeBody({ notice, onForgetHostKey }: { notice: DeviceNotice; onForgetHostKey: (deviceId: string) => void }) {
  switch (notice.kind) {
    case 'connected':
      return <ConnectedSummary name={notice.deviceName} answer={notice.answer} />;
    case 'info':
      return (
        <p className="notice-text" role="status">
          {notice.text}
        </p>
      );
    case 'failed':
      if (notice.error.code === 'HOST_KEY_CHANGED') {
        return (
          <HostKeyChangedWarning error={notice.error} deviceName={notice.deviceName}>
            <div className="host-key-changed-next">
              <span>Only if you know the Pi was reinstalled or its SD card replaced:</span>
              <Button
                className="button is-small"
                onPress={() => {
                  onForgetHostKey(notice.deviceId);
                }}
              >
                Forget pinned key…
              </Button>
            </div>
          </HostKeyChangedWarning>
        );
      }
      return (
        <div className="notice-failure">
          <p className="notice-heading is-danger">
            <span aria-hidden="true">✕ </span>
            {notice.action} {notice.deviceName} failed
          </p>
          <ErrorNotice error={notice.error} compact announce />
        </div>
      );
  }
}

function ConnectedSummary({ name, answer }: { name: string; answer: ResponseOf<'devices.connect'> }) {
  const { device, roundTripMs } = answer;
  return (
    <div className="connect-result" role="status" data-testid="connect-result">
      <p className="notice-heading is-ok">
        <span aria-hidden="true">✓ </span>Connected to {name}
      </p>
      <dl className="connect-facts num">
        <div>
          <dt>agent</dt>
          <dd>{device.agentVersion ?? '—'}</dd>
        </div>
        <div>
          <dt>device id</dt>
          <dd className="mono">{device.agentDeviceId ?? '—'}</dd>
        </div>
        <div>
          <dt>journal</dt>
          <dd className="mono">{device.journalId ?? '—'}</dd>
        </div>
        <div>
          <dt>round trip</dt>
          <dd>{roundTripMs === null ? '—' : `${Math.round(roundTripMs)} ms`}</dd>
        </div>
        {device.modelVersion !== null && device.modelVersion !== '' && (
          <div>
            <dt>model</dt>
            <dd>{device.modelVersion}</dd>
          </div>
        )}
      </dl>
    </div>
  );
}
