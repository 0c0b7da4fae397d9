import { useEffect, useState } from 'react';
import { Button } from 'react-aria-components';
import type { Device } from '../../../shared/devices.ts';
import type { AppError } from '../../../shared/errors.ts';
import { useBridge } from '../api/hooks.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { fingerprintCommand, linkLabel } from './deviceText.ts';
import { HostKeyChangedWarning } from './HostKeyChangedWarning.tsx';
import { ModalDialog } from '../ui/ModalDialog.tsx';

type Scan =
  | { state: 'scanning' }
  | { state: 'failed'; error: AppError }
  | { state: 'read'; fingerprint: string; pinned: string | null };

/**
 * First contact made explicit: read the key the device presents, have the technician
 * compare it with the Pi's own, and pin exactly that key. Nothing is trusted by default:
 * focus starts on the dialog, not on the trust button, so Enter does not accept.
 */
export function HostKeyDialog({
  device,
  onClose,
  onTrusted,
  onForgetRequested,
}: {
  device: Device;
  onClose: () => void;
  onTrusted: (device: Device) => void;
  onForgetRequested: (device: Device) => void;
}) {
  const bridge = useBridge();
  const [scan, setScan] = useState<Scan>({ state: 'scanning' });
  const [scans, setScans] = useState(0);
  const [trusting, setTrusting] = useState(false);
  const [trustError, setTrustError] = useState<AppError | null>(null);

  useEffect(() => {
    let current = true;
    void bridge.invoke('devices.scanHostKey', { id: device.id }).then((result) => {
      if (!current) return;
      setScan(result.ok ? { state: 'read', ...result.value } : { state: 'failed', error: result.error });
    });
    return () => {
      current = false;
    };
  }, [bridge, device.id, scans]);

  function scanAgain(): void {
    setScan({ state: 'scanning' });
    setTrustError(null);
    setScans((n) => n + 1);
  }

  function trust(fingerprint: string): void {
    setTrusting(true);
    setTrustError(null);
    void bridge.invoke('devices.trustHostKey', { id: device.id, fingerprint }).then((result) => {
      setTrusting(false);
      if (result.ok) onTrusted(result.value.device);
      else setTrustError(result.error);
    });
  }

  const where = linkLabel(device.link);
  return (
    <ModalDialog title={`Check the host key of ${device.name}`} onClose={onClose} wide testId="host-key-dialog">
      <p className="dialog-lead">
        Reading the SSH host key that <span className="mono">{where}</span> presents. Compare it with the Pi&apos;s own before trusting it:
        a wrong key means you would be talking to another machine.
      </p>
      {scan.state === 'scanning' && (
        <p className="host-key-scanning" role="status">
          Asking {where} for its host key…
        </p>
      )}
      {scan.state === 'failed' && (
        <>
          <ErrorNotice error={scan.error} announce />
          <div className="dialog-actions">
            <Button className="button" onPress={onClose}>
              Close
            </Button>
            <Button className="button is-primary" onPress={scanAgain}>
              Try again
            </Button>
          </div>
        </>
      )}
      {scan.state === 'read' && (
        <>
          <figure className="fingerprint-figure">
            <figcaption>SHA-256 fingerprint shown by {where}</figcaption>
            <output className="fingerprint" data-testid="host-key-fingerprint">
              {scan.fingerprint}
            </output>
          </figure>
          {scan.pinned === null ? (
            <CompareAndTrust device={device} fingerprint={scan.fingerprint} trustError={trustError} trusting={trusting} onTrust={trust} onScanAgain={scanAgain} onClose={onClose} />
          ) : scan.pinned === scan.fingerprint ? (
            <>
              <p className="host-key-match" role="status">
                <span aria-hidden="true">✓ </span>This is the key pinned for {device.name}; fieldkit connects to it without asking.
              </p>
              <div className="dialog-actions">
                <Button className="button" onPress={onClose}>
                  Close
                </Button>
              </div>
            </>
          ) : (
            <PinnedKeyChanged device={device} where={where} seen={scan.fingerprint} pinned={scan.pinned} onForgetRequested={onForgetRequested} onClose={onClose} />
          )}
        </>
      )}
    </ModalDialog>
  );
}

type CompareAndTrustProps = {
  device: Device;
  fingerprint: string;
  trustError: AppError | null;
  trusting: boolean;
  onTrust: (fingerprint: string) => void;
  onScanAgain: () => void;
  onClose: () => void;
};

/** No key pinned yet: how to compare on the Pi, then trust exactly the key read. */
function CompareAndTrust({ device, fingerprint, trustError, trusting, onTrust, onScanAgain, onClose }: CompareAndTrustProps) {
  return (
    <>
      <ol className="compare-steps">
        <li>
          On the Pi itself (its screen and keyboard, or a serial console), run
          <code className="command-line">{fingerprintCommand}</code>
        </li>
        <li>Check that the <code>SHA256:…</code> part it prints is the same as above, character for character.</li>
        <li>If anything differs, press Cancel: something on the network may be answering in the Pi&apos;s place.</li>
      </ol>
      {trustError !== null && (trustError.code === 'HOST_KEY_CHANGED' ? <HostKeyChangedWarning error={trustError} deviceName={device.name} /> : <ErrorNotice error={trustError} announce />)}
      <div className="dialog-actions">
        {trustError?.code === 'HOST_KEY_CHANGED' && (
          <Button className="button is-quiet" onPress={onScanAgain}>
            Read the key again
          </Button>
        )}
        <Button className="button" onPress={onClose}>
          Cancel
        </Button>
        <Button
          className="button is-primary"
          onPress={() => {
            onTrust(fingerprint);
          }}
          isPending={trusting}
          isDisabled={trustError?.code === 'HOST_KEY_CHANGED'}
        >
          {trusting ? 'Trusting…' : 'It matches — trust'}
        </Button>
      </div>
    </>
  );
}

type PinnedKeyChangedProps = { device: Device; where: string; seen: string; pinned: string; onForgetRequested: (device: Device) => void; onClose: () => void };

/** The device shows another key than the pinned one: the warning, and forgetting the old key as a separate step. */
function PinnedKeyChanged({ device, where, seen, pinned, onForgetRequested, onClose }: PinnedKeyChangedProps) {
  return (
    <>
      <HostKeyChangedWarning
        deviceName={device.name}
        error={{
          code: 'HOST_KEY_CHANGED',
          message: `The host key of ${where} has CHANGED: it is now ${seen}, but ${pinned} was pinned.`,
          hint: `If the Pi was reinstalled or its SD card replaced, forget its pinned key and check the new one on the Pi (${fingerprintCommand}). Otherwise something may be impersonating it: do not connect.`,
        }}
      />
      <div className="dialog-actions">
        <Button
          className="button is-quiet"
          onPress={() => {
            onForgetRequested(device);
          }}
        >
          Forget pinned key…
        </Button>
        <Button className="button" onPress={onClose}>
          Close
        </Button>
      </div>
    </>
  );
}
