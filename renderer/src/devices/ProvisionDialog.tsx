import { useState } from 'react';
import { Button, Form, Label, RadioButton, RadioField, RadioGroup } from 'react-aria-components';
import type { Device } from '../../../shared/devices.ts';
import type { AppError } from '../../../shared/errors.ts';
import { useBridge } from '../api/hooks.ts';
import type { JobView } from '../jobs/jobStore.ts';
import { resultNotReadable } from '../jobs/jobSummary.ts';
import { useJobs } from '../jobs/useJobs.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { FormField } from '../ui/FormField.tsx';
import { ModalDialog } from '../ui/ModalDialog.tsx';
import { emptyProvisionForm, provisionRequestFromForm, provisionSteps, stepLabel, stepsFromLog, summarizeProvision, type ProvisionFormValues } from './provisionView.ts';

type Errors = Partial<Record<keyof ProvisionFormValues, string>>;

const modes: { value: ProvisionFormValues['mode']; label: string }[] = [
  { value: 'dhcp', label: 'DHCP' },
  { value: 'static', label: 'Static' },
  { value: 'wifi', label: 'Wi-Fi' },
  { value: 'usb-gadget', label: 'USB gadget' },
];

/**
 * Provision a fresh Pi over the serial device's console: who it is and how it reaches the
 * network; then the steps as the job reports them, and the SSH device it became.
 */
export function ProvisionDialog({ device, onClose }: { device: Device; onClose: () => void }) {
  const bridge = useBridge();
  const [values, setValues] = useState<ProvisionFormValues>(emptyProvisionForm);
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<AppError | null>(null);
  const [jobId, setJobId] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const job = useJobs().find((j) => j.id === jobId) ?? null;

  const set = (field: keyof ProvisionFormValues) => (value: string) => {
    setValues((v) => ({ ...v, [field]: value }));
    setErrors((e) => ({ ...e, [field]: undefined }));
  };

  function submit(): void {
    if (starting || jobId !== null) return;
    const built = provisionRequestFromForm(device.id, values);
    setFormError(null);
    if ('errors' in built) {
      setErrors(built.errors);
      return;
    }
    setStarting(true);
    void bridge.invoke('devices.provision', built.request).then((result) => {
      setStarting(false);
      if (result.ok) setJobId(result.value.jobId);
      else setFormError(result.error);
    });
  }

  if (jobId !== null) {
    return (
      <ModalDialog title={`Provisioning over ${device.name}`} onClose={onClose} testId="provision-dialog" wide>
        <ProvisionSteps job={job} onClose={onClose} />
      </ModalDialog>
    );
  }

  const m = values.mode;
  return (
    <ModalDialog title={`Provision over ${device.name}`} onClose={onClose} testId="provision-dialog">
      <Form
        className="dialog-form"
        validationBehavior="aria"
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
      >
        <div className="form-row">
          <FormField label="Hostname" value={values.hostname} onChange={set('hostname')} error={errors.hostname} placeholder="pi-017" autoFocus mono className="is-grow" />
          <FormField label="Device id" value={values.deviceId} onChange={set('deviceId')} error={errors.deviceId} placeholder="pi-017" mono className="is-grow" />
          <FormField label="Site" value={values.site} onChange={set('site')} error={errors.site} placeholder="north-yard" className="is-grow" />
        </div>
        <RadioGroup
          className="link-kind"
          orientation="horizontal"
          value={m}
          onChange={(mode) => {
            setValues((v) => ({ ...v, mode: modes.find((x) => x.value === mode)?.value ?? 'dhcp' }));
            setErrors({});
          }}
        >
          <Label className="form-label">Network</Label>
          <div className="segmented">
            {modes.map((mode) => (
              <RadioField key={mode.value} value={mode.value} className="segment-field">
                <RadioButton className="segment">{mode.label}</RadioButton>
              </RadioField>
            ))}
          </div>
        </RadioGroup>
        <NetworkFields values={values} errors={errors} set={set} />
        <div className="form-row">
          <FormField label="Confirm SSH at" value={values.sshHost} onChange={set('sshHost')} error={errors.sshHost} placeholder="the address it gets" mono className="is-grow" />
          <FormField label="Console password" value={values.password} onChange={set('password')} type="password" description="Only if the console asks and none is saved." className="is-grow" />
        </div>
        {formError !== null && <ErrorNotice error={formError} announce />}
        <div className="dialog-actions">
          <Button className="button" onPress={onClose}>
            Cancel
          </Button>
          <Button type="submit" className="button is-primary" isPending={starting}>
            {starting ? 'Starting…' : 'Provision'}
          </Button>
        </div>
      </Form>
    </ModalDialog>
  );
}

/** The steps as the job reports them (its log while it runs, its result after), and how it ended. */
function ProvisionSteps({ job, onClose }: { job: JobView | null; onClose: () => void }) {
  const steps = job === null ? [] : job.state === 'running' ? stepsFromLog(job.log) : provisionSteps(job.result);
  return (
    <>
      <ol className="provision-steps" aria-live="polite">
        {steps.map((step) => (
          <li key={step.name} className={step.changed ? 'is-changed' : 'is-unchanged'}>
            <strong>{stepLabel(step.name)}</strong> <span className="muted">{step.changed ? 'changed' : 'unchanged'}</span> — {step.detail}
          </li>
        ))}
        {job?.state === 'running' && <li className="muted">{job.progress?.phase ?? 'starting'}…</li>}
      </ol>
      {job?.state === 'done' && <p role="status">{summarizeProvision(job.result) ?? resultNotReadable('Provisioning')}</p>}
      {job?.error && <ErrorNotice error={job.error} announce />}
      <div className="dialog-actions">
        <Button className="button" onPress={onClose}>
          {job?.state === 'running' ? 'Hide (keeps running)' : 'Close'}
        </Button>
      </div>
    </>
  );
}

type NetworkFieldsProps = { values: ProvisionFormValues; errors: Errors; set: (field: keyof ProvisionFormValues) => (value: string) => void };

/** What the chosen network mode needs: a static address, Wi-Fi credentials, or usb0's address. */
function NetworkFields({ values, errors, set }: NetworkFieldsProps) {
  return (
    <>
      {values.mode === 'static' && (
        <div className="form-row">
          <FormField label="Address" value={values.address} onChange={set('address')} error={errors.address} placeholder="192.168.1.17/24" mono className="is-grow" />
          <FormField label="Gateway" value={values.gateway} onChange={set('gateway')} error={errors.gateway} placeholder="192.168.1.1" mono className="is-grow" />
          <FormField label="DNS" value={values.dns} onChange={set('dns')} error={errors.dns} placeholder="192.168.1.1" mono className="is-grow" />
        </div>
      )}
      {values.mode === 'wifi' && (
        <div className="form-row">
          <FormField label="SSID" value={values.ssid} onChange={set('ssid')} error={errors.ssid} className="is-grow" />
          <FormField label="Passphrase" value={values.psk} onChange={set('psk')} error={errors.psk} type="password" className="is-grow" />
          <FormField label="Country" value={values.country} onChange={set('country')} error={errors.country} placeholder="DE" mono />
        </div>
      )}
      {values.mode === 'usb-gadget' && (
        <FormField label="usb0 address" value={values.address} onChange={set('address')} error={errors.address} placeholder="10.55.0.1/24 (empty: link-local)" mono />
      )}
    </>
  );
}
