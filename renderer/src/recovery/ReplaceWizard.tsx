import { useState } from 'react';
import { Button, CheckboxButton, CheckboxField, Form, Label, RadioButton, RadioField, RadioGroup } from 'react-aria-components';
import type { Device } from '../../../shared/devices.ts';
import type { AppError } from '../../../shared/errors.ts';
import { parseSshAddress } from '../../../shared/sshAddress.ts';
import { useApi, useBridge } from '../api/hooks.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { FormField } from '../ui/FormField.tsx';
import { ModalDialog } from '../ui/ModalDialog.tsx';
import './replace.css';

/** What the replace will do, in the order the job runs it (electron/recovery/replaceJob.ts). */
function plannedSteps(device: Device | undefined, rotate: boolean, bundle: string, drive: string): string[] {
  const name = device?.name ?? 'the device';
  const flash = drive.trim() === '' ? [] : [`Flash the image ${name} last ran (from the image library, still trusted) onto ${drive.trim()} with ${name}'s first-boot identity; wait for the spare booted from it to answer`];
  return [
    ...flash,
    bundle.trim() === '' ? `Confirm the spare runs agent ${device?.agentVersion ?? '(the version backed up)'}` : `Deploy agent ${device?.agentVersion ?? ''} from the bundle (gated, as any deploy)`,
    `Restore ${name}'s secrets, config and state from its newest good backup (checked before anything is written)`,
    rotate ? 'Make new SSH host keys; pin the new one; the old key is refused from then on' : `Put ${name}'s own SSH host key in force, so its pinned key matches without a prompt`,
    `Close ${name}'s old journal on this laptop; start the new one naming it (records after the last pull: lost with the failed device)`,
    `Point ${name} at the spare; check hello, journal, an ingest round trip and a health sample`,
  ];
}

/** Checks in the window before asking the service; the service checks again and names its field. */
function problems(draft: { device: string; address: string; key: string; drive: string }): Partial<Record<'device' | 'address' | 'key', string>> {
  const out: Partial<Record<'device' | 'address' | 'key', string>> = {};
  if (draft.device === '') out.device = 'Choose the device that died.';
  const address = parseSshAddress(draft.address.trim());
  if (draft.address.trim() === '') out.address = "Give the spare's SSH address, such as pi@10.0.0.41.";
  else if (!address.ok) out.address = address.message;
  // A freshly flashed card makes its host key at first boot: the replace names it once the spare answers.
  const keyOptional = draft.drive.trim() !== '' && draft.key.trim() === '';
  if (!keyOptional && !/^SHA256:[A-Za-z0-9+/]{20,}$/.test(draft.key.trim())) out.key = 'Paste the fingerprint as the spare prints it: SHA256:…';
  return out;
}

/**
 * Replace a dead device: a spare already running on the network becomes it (same id, keys,
 * config, agent; its journal continued). One resumable job: if anything stops it, starting
 * the same replace again finishes what is left.
 */
export function ReplaceWizard({ onClose, onStarted }: { onClose: () => void; onStarted: (jobId: string) => void }) {
  const bridge = useBridge();
  const devices = useApi('devices.list', {});
  const [device, setDevice] = useState('');
  const [address, setAddress] = useState('');
  const [key, setKey] = useState('');
  const [bundle, setBundle] = useState('');
  const [drive, setDrive] = useState('');
  const [rotate, setRotate] = useState(false);
  const [shown, setShown] = useState(false);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const list = devices.value?.devices ?? [];
  const chosen = list.find((d) => d.id === device);
  const found = problems({ device, address, key, drive });

  function start(): void {
    setShown(true);
    if (Object.keys(found).length > 0) return;
    const parsed = parseSshAddress(address.trim());
    if (!parsed.ok) return;
    setPending(true);
    setError(null);
    const onto = { host: parsed.address.host, port: parsed.address.port ?? 22, username: parsed.address.username ?? 'pi' };
    void bridge.invoke('recovery.replace', { deviceId: device, onto, rotateCredentials: rotate, ...(key.trim() === '' ? {} : { spareHostKey: key.trim() }), ...(drive.trim() === '' ? {} : { drive: drive.trim() }), ...(bundle.trim() === '' ? {} : { agentBundlePath: bundle.trim() }) }).then((result) => {
      setPending(false);
      if (result.ok) onStarted(result.value.jobId);
      else setError(result.error);
    });
  }

  return (
    <ModalDialog title="Replace a dead device" onClose={onClose} testId="replace-wizard" wide>
      <Form className="dialog-form replace-form" onSubmit={(event) => { event.preventDefault(); start(); }}>
        <p className="replace-intro">A spare becomes the device that died — one already running on the network, or one booted from a card flashed here — with the same device id, hostname, keys, configuration and agent, and its journal continues the old one.</p>
        <div className="replace-columns">
          <div className="replace-inputs">
            <RadioGroup className="replace-device" value={device} onChange={setDevice} isInvalid={shown && found.device !== undefined}>
              <Label className="form-label">Device that died</Label>
              <div className="segmented">
                {list.map((d) => (
                  <RadioField key={d.id} value={d.id} className="segment-field">
                    <RadioButton className="segment">{d.name}</RadioButton>
                  </RadioField>
                ))}
              </div>
              {chosen !== undefined && <p className="muted">{chosen.site === '' ? 'no site' : `site ${chosen.site}`}, agent {chosen.agentVersion ?? 'unknown'}, host key {chosen.hostKeyFingerprint ?? 'not pinned'}</p>}
              {shown && found.device !== undefined && <p className="field-error">{found.device}</p>}
            </RadioGroup>
            <FormField label="Spare's SSH address" value={address} onChange={setAddress} placeholder="pi@10.0.0.41" mono error={shown ? found.address : undefined} />
            <FormField
              label="Spare's SSH host key"
              value={key}
              onChange={setKey}
              placeholder="SHA256:…"
              mono
              error={shown ? found.key : undefined}
              description={<>On the spare&apos;s console: <code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code>. Compare before you trust it.</>}
            />
            <FormField label="Spare's card to flash first (optional)" value={drive} onChange={setDrive} placeholder="/dev/sdb" mono description="The image the device last ran is flashed onto it with the device's first-boot identity. Then boot the spare from it at the address above; its host key can be given when the replace names it." />
            <FormField label="Agent bundle (optional)" value={bundle} onChange={setBundle} placeholder="/media/usb/fieldkit-agent-1.4.2.tar" mono description="Needed only when the spare does not already run the agent version the device ran." />
            <CheckboxField className="replace-rotate" isSelected={rotate} onChange={setRotate}>
              <CheckboxButton className="plain-checkbox">
                <span className="checkbox-box" aria-hidden="true" />
                <span>
                  <strong>Rotate credentials</strong> <span className="muted">— after a compromise: new SSH host keys are pinned and the old key is refused from now on.</span>
                </span>
              </CheckboxButton>
            </CheckboxField>
          </div>
          <div className="replace-plan" data-testid="replace-plan">
            <p className="form-label">What will happen</p>
            <ol>
              {plannedSteps(chosen, rotate, bundle, drive).map((s) => (
                <li key={s}>{s}</li>
              ))}
            </ol>
            <p className="muted">If the link drops or fieldkit is closed, start the same replace again: finished steps are skipped (nothing is flashed or journaled twice). The time from start to healthy is reported as the RTO.</p>
          </div>
        </div>
        {error !== null && <ErrorNotice error={error} />}
        <div className="dialog-actions">
          <Button className="button" onPress={onClose}>
            Cancel
          </Button>
          <Button className="button is-primary" type="submit" isPending={pending}>
            Replace {chosen?.name ?? ''}
          </Button>
        </div>
      </Form>
    </ModalDialog>
  );
}
