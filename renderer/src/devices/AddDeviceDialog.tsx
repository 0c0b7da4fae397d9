import { useState } from 'react';
import { Button, Disclosure, DisclosurePanel, Form, Heading, Label, RadioButton, RadioField, RadioGroup } from 'react-aria-components';
import type { Device } from '../../../shared/devices.ts';
import type { AppError } from '../../../shared/errors.ts';
import { useBridge } from '../api/hooks.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import {
  checkDeviceForm,
  defaultAgentPrefix,
  fieldErrorText,
  formFieldOfError,
  initialFormValues,
  type AddDevicePrefill,
  type DeviceFormField,
  type DeviceFormValues,
  type FieldErrors,
} from './deviceForm.ts';
import { FormField } from '../ui/FormField.tsx';
import { ModalDialog } from '../ui/ModalDialog.tsx';

/**
 * Register a device by SSH address or serial port. Enter submits, Escape cancels; an
 * error the service pins on a field shows under that field.
 */
export function AddDeviceDialog({ prefill, onClose, onAdded }: { prefill: AddDevicePrefill | null; onClose: () => void; onAdded: (device: Device) => void }) {
  const bridge = useBridge();
  const [values, setValues] = useState<DeviceFormValues>(() => initialFormValues(prefill));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<AppError | null>(null);
  const [adding, setAdding] = useState(false);
  const [advancedOpen, setAdvancedOpen] = useState(false);

  function set(field: DeviceFormField) {
    return (value: string) => {
      setValues((v) => ({ ...v, [field]: value }));
      // An error belongs to the value it was about; editing the field answers it.
      setErrors(({ [field]: _answered, ...rest }) => rest);
    };
  }

  function showErrors(next: FieldErrors): void {
    setErrors(next);
    if (next.agentPrefix !== undefined) setAdvancedOpen(true);
  }

  function submit(): void {
    if (adding) return;
    setFormError(null);
    const checked = checkDeviceForm(values);
    if ('errors' in checked) {
      showErrors(checked.errors);
      return;
    }
    setAdding(true);
    void bridge.invoke('devices.add', checked.request).then((result) => {
      setAdding(false);
      if (result.ok) {
        onAdded(result.value.device);
        return;
      }
      const field = formFieldOfError(result.error, values.kind);
      if (field === null) setFormError(result.error);
      else showErrors({ [field]: fieldErrorText(result.error) });
    });
  }

  return (
    <ModalDialog title="Add device" onClose={onClose} testId="add-device-dialog">
      <Form
        className="dialog-form"
        validationBehavior="aria"
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
      >
        <RadioGroup
          className="link-kind"
          orientation="horizontal"
          value={values.kind}
          onChange={(kind) => {
            setValues((v) => ({ ...v, kind: kind === 'serial' ? 'serial' : 'ssh' }));
            setErrors({});
          }}
        >
          <Label className="form-label">Reach it over</Label>
          <div className="segmented">
            <RadioField value="ssh" className="segment-field">
              <RadioButton className="segment">SSH (network)</RadioButton>
            </RadioField>
            <RadioField value="serial" className="segment-field">
              <RadioButton className="segment">Serial cable</RadioButton>
            </RadioField>
          </div>
        </RadioGroup>

        <LinkFields values={values} errors={errors} set={set} />

        <div className="form-row">
          <FormField label="Name" value={values.name} onChange={set('name')} error={errors.name} placeholder="pi-07 (the address when empty)" className="is-grow" />
          <FormField label="Site" value={values.site} onChange={set('site')} error={errors.site} placeholder="depot, line 3 …" className="is-grow" />
        </div>

        <AdvancedFields values={values} errors={errors} set={set} open={advancedOpen} onOpen={setAdvancedOpen} />

        {formError !== null && <ErrorNotice error={formError} announce />}

        <div className="dialog-actions">
          <Button className="button" onPress={onClose}>
            Cancel
          </Button>
          <Button type="submit" className="button is-primary" isPending={adding}>
            {adding ? 'Adding…' : 'Add device'}
          </Button>
        </div>
      </Form>
    </ModalDialog>
  );
}

type FieldsProps = { values: DeviceFormValues; errors: FieldErrors; set: (field: DeviceFormField) => (value: string) => void };

/** How to reach it: host, port and user over SSH, or serial port, baud and user. */
function LinkFields({ values, errors, set }: FieldsProps) {
  return values.kind === 'ssh' ? (
    <div className="form-row">
      <FormField label="Host" value={values.host} onChange={set('host')} error={errors.host} placeholder="10.0.0.7, pi-07.local or pi@10.0.0.7:22" autoFocus mono className="is-grow" />
      <FormField label="Port" value={values.port} onChange={set('port')} error={errors.port} numeric className="is-port" />
      <FormField label="User" value={values.username} onChange={set('username')} error={errors.username} mono className="is-user" />
    </div>
  ) : (
    <div className="form-row">
      <FormField label="Serial port" value={values.path} onChange={set('path')} error={errors.path} placeholder="/dev/ttyUSB0" autoFocus mono className="is-grow" />
      <FormField label="Baud" value={values.baudRate} onChange={set('baudRate')} error={errors.baudRate} numeric className="is-baud" />
      <FormField label="User" value={values.username} onChange={set('username')} error={errors.username} mono className="is-user" />
    </div>
  );
}

/** The agent's install prefix, folded away unless it differs from the default or has an error. */
function AdvancedFields({ values, errors, set, open, onOpen }: FieldsProps & { open: boolean; onOpen: (open: boolean) => void }) {
  return (
  <Disclosure className="advanced" isExpanded={open} onExpandedChange={onOpen}>
    <Heading className="advanced-heading">
      <Button slot="trigger" className="disclosure-trigger">
        <span className="disclosure-chevron" aria-hidden="true">
          ▸
        </span>
        Advanced
        {!open && values.agentPrefix.trim() !== defaultAgentPrefix && <span className="muted"> · agent in {values.agentPrefix}</span>}
      </Button>
    </Heading>
    <DisclosurePanel className="advanced-panel">
      <FormField
        label="Agent install prefix"
        value={values.agentPrefix}
        onChange={set('agentPrefix')}
        error={errors.agentPrefix}
        mono
        description={<>Where deploy put the agent; fieldkit runs <code>&lt;prefix&gt;/current/bin/fieldkit-agent</code>.</>}
      />
    </DisclosurePanel>
  </Disclosure>
  );
}
