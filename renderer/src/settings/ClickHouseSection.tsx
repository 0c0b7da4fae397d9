import { useState } from 'react';
import { Button, Form } from 'react-aria-components';
import type { ClickHouseSettingsView, ClickHouseTestResult } from '../../../shared/clickhouseSettings.ts';
import type { AppError } from '../../../shared/errors.ts';
import { useApi, useBridge } from '../api/hooks.ts';
import { FormField } from '../ui/FormField.tsx';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { memoryKey, useRememberedState } from '../ui/ScreenMemory.tsx';
import { checkForm, formFromSettings, isDirty, isEdited, patchFromForm, placeError, type ClickHouseField, type ClickHouseForm } from './clickhouseForm.ts';

type Outcome = { kind: 'saved' } | { kind: 'tested'; result: ClickHouseTestResult; unsaved: boolean } | { kind: 'failed'; action: 'save' | 'test'; error: AppError };

/** Kept while the technician is on other screens: what was saved when the form was filled, the form as typed, the last outcome. */
const savedMemory = memoryKey<ClickHouseSettingsView | null>('settings.clickhouse.saved');
const formMemory = memoryKey<ClickHouseForm>('settings.clickhouse.form');
const outcomeMemory = memoryKey<Outcome | null>('settings.clickhouse.outcome');

/**
 * Where the courier forwards to. The password is write-only: the service says whether one
 * is set and never sends it back, so this form never shows it.
 */
export function ClickHouseSection() {
  const { loaded, saved, form, fieldErrors, busy, outcome, dirty, set, onSave, onTest, onClearPassword } = useClickHouseForm();
  const passwordSet = saved?.passwordSet ?? false;
  const field = (name: ClickHouseField): FieldBinding => ({ value: form[name], onChange: set(name), error: fieldErrors[name] });
  return (
    <section aria-labelledby="clickhouse-heading" className="settings-section" data-testid="clickhouse-settings">
      <h2 id="clickhouse-heading">ClickHouse</h2>
      <p className="settings-lead">
        Where the courier forwards the journals it carries. The first forward creates the table if it is missing. Saved on this laptop; the password goes to the
        system&apos;s secret store and is never shown again.
      </p>
      {loaded.error !== null && <ErrorNotice error={loaded.error} announce />}
      <Form
        className="settings-form"
        validationBehavior="aria"
        onSubmit={(event) => {
          event.preventDefault();
          onSave();
        }}
      >
        <ServerFields field={field} passwordSet={passwordSet} clearingPassword={busy === 'clear-password'} onClearPassword={onClearPassword} />
        <TlsFields field={field} />
        <div className="settings-actions">
          <Button type="submit" className="button is-primary" isPending={busy === 'save'} isDisabled={!dirty && saved !== null}>
            {busy === 'save' ? 'Saving…' : 'Save'}
          </Button>
          <Button className="button" onPress={onTest} isPending={busy === 'test'} isDisabled={saved === null && form.url.trim() === ''}>
            {busy === 'test' ? 'Testing…' : 'Test connection'}
          </Button>
          {dirty && saved !== null && <span className="unsaved-note">Unsaved changes</span>}
        </div>
      </Form>
      <TestOutcome outcome={outcome} />
    </section>
  );
}

/** The form's state and what Save, Test and Remove password do; filled from what is saved. */
function useClickHouseForm() {
  const bridge = useBridge();
  const loaded = useApi('settings.clickhouse.get', {});
  const [saved, setSaved] = useRememberedState<ClickHouseSettingsView | null>(savedMemory, null);
  const [form, setForm] = useRememberedState<ClickHouseForm>(formMemory, formFromSettings(null));
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<ClickHouseField, string>>>({});
  const [busy, setBusy] = useState<'save' | 'test' | 'clear-password' | null>(null);
  const [outcome, setOutcome] = useRememberedState<Outcome | null>(outcomeMemory, null);

  // Fill the form from what is saved, once per answer from the service (adjusted during
  // render, React's way to follow a prop without an effect).
  const answer = loaded.value;
  const [filledFrom, setFilledFrom] = useState<typeof answer>(null);
  if (answer !== filledFrom) {
    setFilledFrom(answer);
    if (answer !== null) {
      setSaved(answer.settings);
      // Unsaved edits (typed before a visit to another screen, or a reconnect) stay; the rest follows what is saved.
      if (!isEdited(form, saved)) setForm(formFromSettings(answer.settings));
    }
  }

  const dirty = isDirty(form, saved);
  const set = (field: ClickHouseField) => (value: string) => {
    setForm((f) => ({ ...f, [field]: value }));
    setFieldErrors((e) => ({ ...e, [field]: undefined }));
  };

  /** Checks the form in the window; false (and the field's one error shown) when it cannot be sent. */
  function formIsSendable(): boolean {
    const errors = checkForm(form);
    setFieldErrors(errors);
    return Object.keys(errors).length === 0;
  }

  /** A refusal under its field, or in the outcome below the form: never both. */
  function showError(action: 'save' | 'test', error: AppError): void {
    const placed = placeError(action, error);
    if (placed === null) setOutcome({ kind: 'failed', action, error });
    else setFieldErrors({ [placed.field]: placed.text });
  }

  function onSave(): void {
    if (busy !== null) return;
    setOutcome(null);
    if (!formIsSendable()) return;
    if (!isDirty(form, saved)) return;
    setBusy('save');
    void bridge.invoke('settings.clickhouse.set', patchFromForm(form, saved)).then((result) => {
      setBusy(null);
      if (!result.ok) {
        showError('save', result.error);
        return;
      }
      setSaved(result.value.settings);
      setForm(formFromSettings(result.value.settings));
      setOutcome({ kind: 'saved' });
    });
  }

  /** Tests what the form says, typed password included, without saving it: Save keeps it. */
  function onTest(): void {
    if (busy !== null) return;
    setOutcome(null);
    if (!formIsSendable()) return;
    setBusy('test');
    const unsaved = isDirty(form, saved);
    void bridge.invoke('settings.clickhouse.test', patchFromForm(form, saved)).then((result) => {
      setBusy(null);
      if (result.ok) setOutcome({ kind: 'tested', result: result.value, unsaved });
      else showError('test', result.error);
    });
  }

  function onClearPassword(): void {
    if (busy !== null) return;
    setBusy('clear-password');
    void bridge.invoke('settings.clickhouse.set', { password: null }).then((result) => {
      setBusy(null);
      if (result.ok) setSaved(result.value.settings);
      else setOutcome({ kind: 'failed', action: 'save', error: result.error });
    });
  }
  return { loaded, saved, form, fieldErrors, busy, outcome, dirty, set, onSave, onTest, onClearPassword };
}

/** What one field of the form shows and does: its value, its change, its one error. */
type FieldBinding = { value: string; onChange: (value: string) => void; error: string | undefined };

type FieldsProps = {
  /** Binds a FormField to `field` of the form: `<FormField label="URL" {...field('url')} />`. */
  field: (name: ClickHouseField) => FieldBinding;
};

/** URL, user, password (write-only: whether one is set, and Remove), database, table, cluster. */
function ServerFields({ field, passwordSet, clearingPassword, onClearPassword }: FieldsProps & { passwordSet: boolean; clearingPassword: boolean; onClearPassword: () => void }) {
  return (
    <fieldset className="settings-group">
      <legend>Server</legend>
      <FormField
        label="URL"
        {...field('url')}
        placeholder="https://clickhouse.example.com:8443"
        description="The HTTP interface (port 8123, or 8443 with TLS), without user or password in it."
        mono
        className="is-wide"
      />
      <div className="form-row">
        <FormField label="User" {...field('user')} className="is-grow" mono />
        <div className="password-field is-grow">
          <FormField
            label="Password"
            type="password"
            {...field('password')}
            placeholder={passwordSet ? 'leave empty to keep the saved one' : 'none'}
          />
          <p className="password-state" data-testid="password-state">
            {passwordSet ? (
              <>
                <span className="tag is-set">set</span>
                <Button className="button is-quiet is-small" onPress={onClearPassword} isPending={clearingPassword}>
                  Remove password
                </Button>
              </>
            ) : (
              <span className="tag">not set</span>
            )}
          </p>
        </div>
      </div>
      <div className="form-row">
        <FormField label="Database" {...field('database')} className="is-grow" mono />
        <FormField label="Table" {...field('table')} description="Loss records go to <table>_loss beside it." className="is-grow" mono />
        <FormField
          label="Cluster (optional)"
          {...field('cluster')}
          description="Set to create replicated tables ON CLUSTER with a Distributed table."
          className="is-grow"
          mono
        />
      </div>
    </fieldset>
  );
}

/** A private CA, and a client certificate and key for mutual TLS. */
function TlsFields({ field }: FieldsProps) {
  return (
    <fieldset className="settings-group">
      <legend>TLS (optional, https:// only)</legend>
      <FormField
        label="CA certificate file"
        {...field('caFile')}
        placeholder="/etc/ssl/private-ca.pem"
        description="PEM. Only for a server signed by a private CA; the system's CAs are used otherwise."
        mono
        className="is-wide"
      />
      <div className="form-row">
        <FormField label="Client certificate file" {...field('certFile')} placeholder="/home/tech/fieldkit.crt" className="is-grow" mono />
        <FormField label="Client key file" {...field('keyFile')} placeholder="/home/tech/fieldkit.key" className="is-grow" mono />
      </div>
      <p className="form-description">For mutual TLS give both the certificate and its key (PEM), or neither.</p>
    </fieldset>
  );
}

function TestOutcome({ outcome }: { outcome: Outcome | null }) {
  if (outcome === null) return null;
  switch (outcome.kind) {
    case 'saved':
      return (
        <p className="settings-saved" role="status">
          Saved. Test the connection to see that the server answers.
        </p>
      );
    case 'failed':
      return (
        <div className="clickhouse-test is-failed" data-testid="clickhouse-test-result" data-ok="false">
          <p className="clickhouse-test-title">{outcome.action === 'test' ? 'The connection test failed' : 'Not saved'}</p>
          <ErrorNotice error={outcome.error} announce />
        </div>
      );
    case 'tested': {
      const r = outcome.result;
      return (
        <div className="clickhouse-test is-ok" data-testid="clickhouse-test-result" data-ok="true" role="status">
          <p className="clickhouse-test-title">
            <span aria-hidden="true">✓ </span>Connected to ClickHouse {r.version}
          </p>
          {outcome.unsaved && (
            <p className="clickhouse-test-unsaved" data-testid="clickhouse-test-unsaved">
              Tested as typed; not saved yet. Press Save to keep these settings.
            </p>
          )}
          <dl className="facts">
            <dt>Server</dt>
            <dd className="is-mono">{r.url}</dd>
            <dt>Version</dt>
            <dd data-testid="clickhouse-version">{r.version}</dd>
            <dt>Round trip</dt>
            <dd className="num">{r.roundTripMs} ms</dd>
            <dt>Deduplication tokens</dt>
            <dd data-testid="clickhouse-dedup">
              {r.dedupTokens
                ? 'supported: each batch carries a token, so a batch sent twice is stored once'
                : 'not supported by this version (22.2 and later have them): a batch sent twice is merged away by the table key'}
            </dd>
            <dt>Tables</dt>
            <dd>{r.tablesExist ? 'exist' : 'not there yet: the first forward creates them'}</dd>
          </dl>
        </div>
      );
    }
  }
}
