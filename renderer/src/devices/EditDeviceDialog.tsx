import { useState } from 'react';
import { Button, Form } from 'react-aria-components';
import type { Device } from '../../../shared/devices.ts';
import type { AppError } from '../../../shared/errors.ts';
import { useBridge } from '../api/hooks.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { fieldErrorText } from './deviceForm.ts';
import { FormField } from '../ui/FormField.tsx';
import { ModalDialog } from '../ui/ModalDialog.tsx';

type Errors = { name?: string; site?: string };

/** Rename a device or move it to another site; how it is reached stays as it is. */
export function EditDeviceDialog({ device, onClose, onSaved }: { device: Device; onClose: () => void; onSaved: (device: Device) => void }) {
  const bridge = useBridge();
  const [name, setName] = useState(device.name);
  const [site, setSite] = useState(device.site);
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<AppError | null>(null);
  const [saving, setSaving] = useState(false);

  function submit(): void {
    if (saving) return;
    const next: Errors = {};
    if (name.trim() === '') next.name = 'A device needs a name people recognise, such as pi-07.';
    else if (name.trim().length > 64) next.name = 'At most 64 characters.';
    if (site.trim().length > 64) next.site = 'At most 64 characters.';
    setErrors(next);
    setFormError(null);
    if (next.name !== undefined || next.site !== undefined) return;
    setSaving(true);
    void bridge.invoke('devices.update', { id: device.id, name: name.trim(), site: site.trim() }).then((result) => {
      setSaving(false);
      if (result.ok) {
        onSaved(result.value.device);
        return;
      }
      const field = result.error.field;
      if (field === 'name' || field === 'site') setErrors({ [field]: fieldErrorText(result.error) });
      else setFormError(result.error);
    });
  }

  return (
    <ModalDialog title={`Edit ${device.name}`} onClose={onClose} testId="edit-device-dialog">
      <Form
        className="dialog-form"
        validationBehavior="aria"
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
      >
        <div className="form-row">
          <FormField
            label="Name"
            value={name}
            onChange={(value) => {
              setName(value);
              setErrors((e) => ({ ...e, name: undefined }));
            }}
            error={errors.name}
            autoFocus
            className="is-grow"
          />
          <FormField
            label="Site"
            value={site}
            onChange={(value) => {
              setSite(value);
              setErrors((e) => ({ ...e, site: undefined }));
            }}
            error={errors.site}
            placeholder="depot, line 3 …"
            className="is-grow"
          />
        </div>
        {formError !== null && <ErrorNotice error={formError} announce />}
        <div className="dialog-actions">
          <Button className="button" onPress={onClose}>
            Cancel
          </Button>
          <Button type="submit" className="button is-primary" isPending={saving}>
            {saving ? 'Saving…' : 'Save'}
          </Button>
        </div>
      </Form>
    </ModalDialog>
  );
}
