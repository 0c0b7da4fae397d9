import { useState } from 'react';
import { Button, Form } from 'react-aria-components';
import type { AppError } from '../../../shared/errors.ts';
import type { HealthThresholds } from '../../../shared/fleetHealth.ts';
import { useApi, useBridge } from '../api/hooks.ts';
import { FormField } from '../ui/FormField.tsx';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { formFromThresholds, isThresholdsDirty, parseThresholdsForm, thresholdFields, type ThresholdField, type ThresholdsForm } from './healthThresholdsForm.ts';

type Outcome = { kind: 'saved' } | { kind: 'failed'; error: AppError };

/** When a device's tile turns yellow or red, and when it counts as stale. */
export function HealthThresholdsSection() {
  const bridge = useBridge();
  const loaded = useApi('settings.health.get', {});
  const [saved, setSaved] = useState<HealthThresholds | null>(null);
  const [form, setForm] = useState<ThresholdsForm | null>(null);
  const [errors, setErrors] = useState<Partial<Record<ThresholdField, string>>>({});
  const [busy, setBusy] = useState<'save' | 'reset' | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);

  // Fill the form once per answer from the service (adjusted during render, as ClickHouse does).
  const answer = loaded.value;
  const [filledFrom, setFilledFrom] = useState<typeof answer>(null);
  if (answer !== filledFrom) {
    setFilledFrom(answer);
    if (answer !== null) {
      setSaved(answer.thresholds);
      setForm(formFromThresholds(answer.thresholds));
    }
  }

  function settle(result: Awaited<ReturnType<typeof bridge.invoke<'settings.health.set'>>>): void {
    setBusy(null);
    if (!result.ok) {
      const field = thresholdFields.find((spec) => spec.field === result.error.field)?.field;
      if (field !== undefined) setErrors({ [field]: result.error.message });
      setOutcome({ kind: 'failed', error: result.error });
      return;
    }
    setSaved(result.value.thresholds);
    setForm(formFromThresholds(result.value.thresholds));
    setErrors({});
    setOutcome({ kind: 'saved' });
  }

  function onSave(): void {
    if (busy !== null || form === null) return;
    const parsed = parseThresholdsForm(form);
    if (!parsed.ok) {
      setErrors(parsed.errors);
      setOutcome(null);
      return;
    }
    setBusy('save');
    setOutcome(null);
    void bridge.invoke('settings.health.set', parsed.thresholds).then(settle);
  }

  function onReset(): void {
    if (busy !== null) return;
    setBusy('reset');
    setOutcome(null);
    void bridge.invoke('settings.health.set', { reset: true }).then(settle);
  }

  const dirty = form !== null && isThresholdsDirty(form, saved);
  return (
    <section aria-labelledby="health-thresholds-heading" className="settings-section" data-testid="health-thresholds">
      <h2 id="health-thresholds-heading">Health thresholds</h2>
      <p className="settings-lead">When a device on the Health screen turns yellow (warning) or red (critical), and when it counts as stale. Applied to every device at once.</p>
      {loaded.error !== null && <ErrorNotice error={loaded.error} announce />}
      {form === null ? (
        <p className="muted">{loaded.loading ? 'Loading…' : ''}</p>
      ) : (
        <Form
          className="settings-form"
          validationBehavior="aria"
          onSubmit={(event) => {
            event.preventDefault();
            onSave();
          }}
        >
          <ThresholdFields
            form={form}
            errors={errors}
            onEdit={(field, value) => {
              setForm((f) => (f === null ? f : { ...f, [field]: value }));
              setErrors((e) => ({ ...e, [field]: undefined }));
              setOutcome(null);
            }}
          />
          <div className="settings-actions">
            <Button type="submit" className="button is-primary" isPending={busy === 'save'} isDisabled={!dirty}>
              {busy === 'save' ? 'Saving…' : 'Save thresholds'}
            </Button>
            <Button className="button" onPress={onReset} isPending={busy === 'reset'}>
              Reset to defaults
            </Button>
            {dirty && <span className="unsaved-note">Unsaved changes</span>}
          </div>
        </Form>
      )}
      {outcome?.kind === 'saved' && (
        <p className="settings-saved" role="status">
          Saved. Alerts use the new thresholds from the next sample.
        </p>
      )}
      {outcome?.kind === 'failed' && <ErrorNotice error={outcome.error} announce />}
    </section>
  );
}

type ThresholdFieldsProps = { form: ThresholdsForm; errors: Partial<Record<ThresholdField, string>>; onEdit: (field: ThresholdField, value: string) => void };

/** One numeric field per threshold, with its unit and what it means. */
function ThresholdFields({ form, errors, onEdit }: ThresholdFieldsProps) {
  return (
    <fieldset className="settings-group thresholds-grid">
      <legend>Thresholds</legend>
      {thresholdFields.map((spec) => (
        <FormField
          key={spec.field}
          label={`${spec.label} (${spec.unit})`}
          value={form[spec.field]}
          onChange={(value) => {
            onEdit(spec.field, value);
          }}
          error={errors[spec.field]}
          description={spec.description}
          numeric
        />
      ))}
    </fieldset>
  );
}
