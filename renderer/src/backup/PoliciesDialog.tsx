import { useState } from 'react';
import { Button, FieldError, Form, Input, Label, Text, TextArea, TextField } from 'react-aria-components';
import type { BackupPolicies } from '../../../shared/backup.ts';
import type { BackupClass } from '../../../shared/backupStream.ts';
import type { AppError } from '../../../shared/errors.ts';
import { useBridge } from '../api/hooks.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { ModalDialog } from '../ui/ModalDialog.tsx';
import { backupClasses } from './backupRows.ts';
import { classDescriptions, classLabels } from './backupText.ts';
import { checkPolicyForm, formOf, pathClasses, retentionKeys, retentionLabels, type ClassForm, type PolicyErrors, type PolicyForm } from './policyForm.ts';

/**
 * Each class's policy: its window (a class with no good backup for longer raises the health
 * alert), its retention (what `restic forget` keeps) and, for config and data, the paths on
 * the device added to it. Checked here field by field, then saved with settings.backup.set.
 */
export function PoliciesDialog({ policies, onClose, onSaved }: { policies: BackupPolicies; onClose: () => void; onSaved: () => void }) {
  const bridge = useBridge();
  const [form, setForm] = useState<PolicyForm>(() => formOf(policies));
  const [errors, setErrors] = useState<PolicyErrors>({});
  const [failed, setFailed] = useState<AppError | null>(null);
  const [saving, setSaving] = useState(false);

  /** A field typed in: its value, and its error gone until the next Save checks again. */
  function edit(c: BackupClass, field: string, change: (f: ClassForm) => ClassForm): void {
    setForm((all) => ({ ...all, [c]: change(all[c]) }));
    setErrors((all) => {
      const { [`${c}.${field}`]: _gone, ...rest } = all;
      return rest;
    });
  }

  function save(): void {
    const checked = checkPolicyForm(form);
    setFailed(null);
    if ('errors' in checked) {
      setErrors(checked.errors);
      return;
    }
    setErrors({});
    setSaving(true);
    void bridge.invoke('settings.backup.set', { policies: checked.policies }).then((result) => {
      setSaving(false);
      if (result.ok) onSaved();
      else setFailed(result.error);
    });
  }

  const wrong = Object.keys(errors).length;
  return (
    <ModalDialog title="Backup policies" onClose={onClose} wide testId="backup-policies">
      <Form
        className="policies-form"
        // Errors are this dialog's (said beside each field); the browser must not block the next Save on them.
        validationBehavior="aria"
        onSubmit={(event) => {
          event.preventDefault();
          save();
        }}
      >
        <div className="dialog-body">
          <p className="dialog-lead">The window is how long a class may go without a good backup before its device shows an alert. Retention is what restic keeps when it is applied (Retention…): the last N snapshots, and one per hour, day, week and month for the last N of each.</p>
          <PolicyTable form={form} errors={errors} edit={edit} />
          <div className="policies-paths">
            {pathClasses.map((c) => (
              <TextField key={c} className="form-field is-grow" value={form[c].extraPaths} onChange={(v) => { edit(c, 'extraPaths', (f) => ({ ...f, extraPaths: v })); }} isInvalid={errors[`${c}.extraPaths`] !== undefined}>
                <Label className="form-label">{classLabels[c]}: paths added on each device</Label>
                <TextArea className="input is-mono" rows={3} spellCheck={false} placeholder={c === 'data' ? '/srv/inference/data' : '/etc/myapp/settings.conf'} />
                <Text slot="description" className="form-description">
                  One absolute path a line, a file or a folder ({c === 'data' ? 'an inference app’s data folder' : 'more of /etc fieldkit did not write'}).
                </Text>
                <FieldError className="field-error">{errors[`${c}.extraPaths`]}</FieldError>
              </TextField>
            ))}
          </div>
          {wrong > 0 && (
            <p className="inline-warning" role="alert" data-testid="policies-invalid">
              {wrong === 1 ? 'One field needs' : `${String(wrong)} fields need`} another value (said beside {wrong === 1 ? 'it' : 'each'}); nothing was saved.
            </p>
          )}
          {failed !== null && <ErrorNotice error={failed} announce />}
        </div>
        <div className="dialog-actions">
          <Button className="button" onPress={onClose}>
            Cancel
          </Button>
          <Button className="button is-primary" type="submit" isPending={saving}>
            Save policies
          </Button>
        </div>
      </Form>
    </ModalDialog>
  );
}

type Edit = (c: BackupClass, field: string, change: (f: ClassForm) => ClassForm) => void;

/** One row a class: its window, then the five retention figures. */
function PolicyTable({ form, errors, edit }: { form: PolicyForm; errors: PolicyErrors; edit: Edit }) {
  return (
    <table className="policies-table">
      <thead>
        <tr>
          <th scope="col">Class</th>
          <th scope="col">Window (days)</th>
          {retentionKeys.map((k) => (
            <th key={k} scope="col">
              Keep {retentionLabels[k].toLowerCase()}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {backupClasses.map((c) => (
          <tr key={c} data-testid="policy-row" data-class={c}>
            <th scope="row" title={classDescriptions[c]}>
              {classLabels[c]}
            </th>
            <td>
              <NumberCell label={`${classLabels[c]} window in days`} value={form[c].freshnessDays} error={errors[`${c}.freshnessDays`]} onChange={(v) => { edit(c, 'freshnessDays', (f) => ({ ...f, freshnessDays: v })); }} />
            </td>
            {retentionKeys.map((k) => (
              <td key={k}>
                <NumberCell label={`${classLabels[c]} keep ${retentionLabels[k].toLowerCase()}`} value={form[c].retention[k]} error={errors[`${c}.${k}`]} onChange={(v) => { edit(c, k, (f) => ({ ...f, retention: { ...f.retention, [k]: v } })); }} />
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function NumberCell({ label, value, error, onChange }: { label: string; value: string; error: string | undefined; onChange: (value: string) => void }) {
  return (
    <TextField className="policy-cell" aria-label={label} value={value} onChange={onChange} isInvalid={error !== undefined} inputMode="numeric" autoComplete="off">
      <Input className="input num" />
      <FieldError className="field-error">{error}</FieldError>
    </TextField>
  );
}
