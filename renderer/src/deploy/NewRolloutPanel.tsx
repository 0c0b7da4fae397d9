import { useEffect, useEffectEvent, useState, type Dispatch, type SetStateAction } from 'react';
import { Button, CheckboxButton, CheckboxField, CheckboxGroup, Form, Label } from 'react-aria-components';
import type { BundleSummary } from '../../../shared/deploy.ts';
import type { Device } from '../../../shared/devices.ts';
import type { AppError } from '../../../shared/errors.ts';
import { useBridge } from '../api/hooks.ts';
import { FormField } from '../ui/FormField.tsx';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { memoryKey, useRememberedState } from '../ui/ScreenMemory.tsx';
import { BundleCard } from './BundleCard.tsx';
import { batchPreview, checkDeployForm, type DeployFormErrors } from './deployForm.ts';

function linkText(device: Device): string {
  const { link } = device;
  if (link.kind === 'ssh') return `ssh ${link.username}@${link.host}${link.port === 22 ? '' : `:${String(link.port)}`}`;
  if (link.kind === 'serial') return `serial ${link.path}`;
  return 'local';
}

/** The form as the technician left it for another screen: bundle path and what was read, devices, batching. */
const pathMemory = memoryKey<string>('deploy.bundlePath');
const bundleMemory = memoryKey<BundleSummary | null>('deploy.bundle');
const readErrorMemory = memoryKey<AppError | null>('deploy.readError');
const pickedMemory = memoryKey<string[]>('deploy.picked');
const batchingMemory = memoryKey<Batching>('deploy.batching');

/**
 * A new deploy or rollout in three steps: the signed bundle (read and shown before
 * anything is sent), the devices, and how to batch them.
 */
export function NewRolloutPanel({ devices, busyDevices, onStarted }: { devices: readonly Device[]; busyDevices: ReadonlySet<string>; onStarted: (rolloutId: string) => void }) {
  const bridge = useBridge();
  const [errors, setErrors] = useState<DeployFormErrors>({});
  const reader = useBundleReader(setErrors);
  const { bundle } = reader;
  const [picked, setPicked] = useRememberedState<string[]>(pickedMemory, []);
  const [batching, setBatching] = useRememberedState<Batching>(batchingMemory, { batchesText: '1, 50%', maxFailureText: '0', stableText: '10', shuffle: false });
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<AppError | null>(null);

  /** An error goes once its field is edited; the next Deploy checks again. */
  function clearError(field: keyof DeployFormErrors): void {
    setErrors(({ [field]: _dropped, ...rest }) => rest);
  }

  function start(): void {
    const checked = checkDeployForm({ bundle, deviceIds: picked, ...batching });
    if (!checked.ok) {
      setErrors(checked.errors);
      return;
    }
    setErrors({});
    setStarting(true);
    setStartError(null);
    void bridge.invoke('deploy.start', checked.request).then((result) => {
      setStarting(false);
      if (result.ok) onStarted(result.value.rolloutId);
      else setStartError(result.error);
    });
  }

  return (
    <section className="step-panel deploy-panel" aria-labelledby="new-rollout-heading">
      <h2 id="new-rollout-heading" className="panel-heading">
        New deploy
      </h2>
      <BundleStep {...reader} error={errors.bundle} />
      <DevicesStep
        devices={devices}
        busyDevices={busyDevices}
        picked={picked}
        error={errors.devices}
        onPicked={(value) => {
          setPicked(value);
          clearError('devices');
        }}
      />
      <BatchesStep
        batching={batching}
        preview={batchPreview(batching.batchesText, picked.length)}
        errors={errors}
        onEdit={(field, value) => {
          setBatching((b) => ({ ...b, [batchingFields[field]]: value }));
          clearError(field);
        }}
        onShuffle={(shuffle) => {
          setBatching((b) => ({ ...b, shuffle }));
        }}
      />
      {startError !== null && <ErrorNotice error={startError} announce />}
      <div className="deploy-actions">
        <Button className="button is-primary" onPress={start} isPending={starting} data-testid="start-rollout">
          {picked.length <= 1 ? 'Deploy' : `Deploy to ${picked.length} devices`}
        </Button>
      </div>
    </section>
  );
}

/** The bundle path as typed, and what deploy.inspect read from it; a path edited away from the bundle read drops it. */
function useBundleReader(setErrors: Dispatch<SetStateAction<DeployFormErrors>>) {
  const bridge = useBridge();
  const [path, setPath] = useRememberedState(pathMemory, '');
  const [bundle, setBundle] = useRememberedState<BundleSummary | null>(bundleMemory, null);
  const [reading, setReading] = useState(false);
  const [readError, setReadError] = useRememberedState<AppError | null>(readErrorMemory, null);
  const dropBundleError = () => {
    setErrors(({ bundle: _dropped, ...rest }) => rest);
  };

  function onRead(): void {
    if (path.trim() === '') {
      setErrors((e) => ({ ...e, bundle: 'Type the full path of a signed bundle (.tar).' }));
      return;
    }
    setReading(true);
    setReadError(null);
    inspect(path.trim());
  }

  /** Asks deploy.inspect about `bundlePath`; its answer replaces what is shown. */
  function inspect(bundlePath: string): void {
    void bridge.invoke('deploy.inspect', { bundlePath }).then((result) => {
      setReading(false);
      if (result.ok) {
        setBundle(result.value.bundle);
        dropBundleError();
      } else {
        setBundle(null);
        setReadError(result.error);
      }
    });
  }

  // Back from another screen with a bundle shown: it stays, and is read again (a key imported or
  // revoked meanwhile, a file replaced).
  const [enteredWith] = useState(bundle);
  const rereadOnEntry = useEffectEvent(() => {
    if (enteredWith !== null && path.trim() === enteredWith.path) inspect(enteredWith.path);
  });
  useEffect(() => {
    rereadOnEntry();
  }, []);

  function onPath(value: string): void {
    setPath(value);
    dropBundleError();
    if (bundle !== null && value.trim() !== bundle.path) setBundle(null);
  }

  return { path, bundle, reading, readError, onRead, onPath };
}

type BundleStepProps = ReturnType<typeof useBundleReader> & { error: string | undefined };

/** 1 Bundle: the path, Read, and what the signed bundle holds. */
function BundleStep({ path, bundle, reading, readError, error, onPath, onRead }: BundleStepProps) {
  return (
    <div className="step-section">
      <h3 className="step-title">
        <span className="step-number">1</span> Bundle <span className="step-note">a signed agent or model bundle; verified here before anything is sent</span>
      </h3>
      {/* aria validation: a field error is shown, never a native constraint that silently blocks Read. */}
      <Form
        className="path-picker"
        validationBehavior="aria"
        onSubmit={(event) => {
          event.preventDefault();
          onRead();
        }}
      >
        <FormField
          className="path-field"
          label="Bundle file"
          value={path}
          onChange={onPath}
          placeholder="/home/tech/Downloads/fieldkit-agent-1.3.0-linux-arm64.tar"
          mono
          error={error}
        />
        <Button className="button" type="submit" isPending={reading}>
          Read
        </Button>
      </Form>
      {readError !== null && <ErrorNotice error={readError} announce />}
      {bundle !== null && <BundleCard bundle={bundle} />}
    </div>
  );
}

type DevicesStepProps = {
  devices: readonly Device[];
  busyDevices: ReadonlySet<string>;
  picked: string[];
  error: string | undefined;
  onPicked: (ids: string[]) => void;
};

/** 2 Devices: every registered device; a local one (the demo) cannot be deployed to. */
function DevicesStep({ devices, busyDevices, picked, error, onPicked }: DevicesStepProps) {
  return (
    <div className="step-section">
      <h3 className="step-title">
        <span className="step-number">2</span> Devices <span className="step-note">{picked.length} of {devices.length} picked</span>
        {devices.length > 0 && (
          <Button
            className="button is-small is-quiet"
            onPress={() => {
              const pickable = devices.filter((d) => d.link.kind !== 'local').map((d) => d.id);
              onPicked(picked.length === pickable.length ? [] : pickable);
            }}
          >
            {picked.length > 0 && picked.length === devices.filter((d) => d.link.kind !== 'local').length ? 'Pick none' : 'Pick all'}
          </Button>
        )}
      </h3>
      <CheckboxGroup
        className="device-picker"
        value={picked}
        onChange={onPicked}
        isInvalid={error !== undefined}
        data-testid="device-picker"
      >
        <Label className="visually-hidden">Devices to deploy to</Label>
        {devices.length === 0 && <p className="muted">No devices registered. Add them on the Devices screen first.</p>}
        {devices.map((device) => (
          <CheckboxField key={device.id} value={device.id} className={device.link.kind === 'local' ? 'device-choice is-refused' : 'device-choice'} isDisabled={device.link.kind === 'local'} data-testid="device-choice" data-device={device.name}>
            <CheckboxButton className="plain-checkbox device-choice-button">
              <span className="checkbox-box" aria-hidden="true" />
              <span className="device-choice-name">{device.name}</span>
              <span className="device-choice-link mono">{linkText(device)}</span>
              <span className="device-choice-version">agent {device.agentVersion ?? 'unknown'}</span>
              {busyDevices.has(device.id) && <span className="tag is-caution">in a running rollout</span>}
            </CheckboxButton>
            {device.link.kind === 'local' && <span className="drive-choice-why">Runs on this computer (demo): deploys go to Pis over SSH or serial.</span>}
          </CheckboxField>
        ))}
      </CheckboxGroup>
      {error !== undefined && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** How to batch, as typed. */
type Batching = { batchesText: string; maxFailureText: string; stableText: string; shuffle: boolean };

/** Which text each batching field's error belongs to. */
const batchingFields = { batches: 'batchesText', maxFailure: 'maxFailureText', stable: 'stableText' } as const;

type BatchesStepProps = {
  batching: Batching;
  preview: string | null;
  errors: DeployFormErrors;
  onEdit: (field: keyof typeof batchingFields, value: string) => void;
  onShuffle: (shuffle: boolean) => void;
};

/** 3 Batches: sizes, the failure limit, how long a device must stay healthy, shuffle. */
function BatchesStep({ batching, preview, errors, onEdit, onShuffle }: BatchesStepProps) {
  return (
    <div className="step-section">
      <h3 className="step-title">
        <span className="step-number">3</span> Batches <span className="step-note">a canary first; a batch failing more than allowed stops the rollout before the next</span>
      </h3>
      <div className="form-row">
        <FormField
          className="batch-field"
          label="Batch sizes"
          value={batching.batchesText}
          onChange={(value) => {
            onEdit('batches', value);
          }}
          mono
          error={errors.batches}
          description={preview ?? 'Counts or percentages of all devices; the last repeats. Empty: all at once.'}
        />
        <FormField
          label="Stop when a batch fails more than (%)"
          value={batching.maxFailureText}
          onChange={(value) => {
            onEdit('maxFailure', value);
          }}
          numeric
          error={errors.maxFailure}
        />
        <FormField
          label="Healthy after (seconds)"
          value={batching.stableText}
          onChange={(value) => {
            onEdit('stable', value);
          }}
          numeric
          error={errors.stable}
          description="without a restart"
        />
      </div>
      <CheckboxField isSelected={batching.shuffle} onChange={onShuffle}>
        <CheckboxButton className="plain-checkbox">
          <span className="checkbox-box" aria-hidden="true" />
          Shuffle the devices (a random canary; the order is kept if the rollout is resumed)
        </CheckboxButton>
      </CheckboxField>
    </div>
  );
}
