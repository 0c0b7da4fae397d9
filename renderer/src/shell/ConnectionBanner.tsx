import { Button } from 'react-aria-components';
import { useConnection, useConnectionSnapshot } from '../api/hooks.ts';
import { useNow } from '../ui/useNow.ts';

/** Shown while the web host is unreachable; everything else stays on screen, greyed by staleness. */
export function ConnectionBanner() {
  const connection = useConnection();
  const { state } = useConnectionSnapshot();
  const now = useNow(500);
  if (state.kind !== 'retrying') return null;
  const seconds = state.nextAttemptAt === null ? null : Math.max(1, Math.ceil((state.nextAttemptAt - now) / 1000));
  return (
    <div className="connection-banner" role="status" data-testid="connection-banner">
      <p>
        <strong>{state.everOpened ? 'Connection lost — reconnecting' : `Cannot reach fieldkit at ${location.host} — retrying`}</strong>
        <span className="connection-banner-detail num">
          {seconds === null ? ' Trying now…' : ` Next try in ${seconds} s (attempt ${state.attempt}).`} Is <code>fieldkit serve</code> still running?
        </span>
      </p>
      <Button className="button is-small" onPress={connection.retryNow} isPending={state.nextAttemptAt === null}>
        Reconnect now
      </Button>
    </div>
  );
}
