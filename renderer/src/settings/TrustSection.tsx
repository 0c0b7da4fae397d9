import { useState, type ChangeEvent } from 'react';
import { Button, Form, Label, SwitchButton, SwitchField, TextArea, TextField } from 'react-aria-components';
import type { AppError } from '../../../shared/errors.ts';
import type { TrustedKey } from '../../../shared/trust.ts';
import { useApi, useBridge } from '../api/hooks.ts';
import { FormField } from '../ui/FormField.tsx';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { RevokeKeyDialog } from './RevokeKeyDialog.tsx';

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The image signing keys this laptop trusts, and whether unsigned images may be flashed. */
export function TrustSection() {
  const keys = useApi('trust.list', {});
  const [revoking, setRevoking] = useState<TrustedKey | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const list = keys.value?.keys ?? [];
  return (
    <section aria-labelledby="trust-heading" className="settings-section" data-testid="trust-settings">
      <h2 id="trust-heading">Trusted image keys</h2>
      <p className="settings-lead">
        Only images signed by one of these minisign keys are flashed. Check a key&apos;s id with its publisher before importing it. A revoked key stays listed so an image it
        signed is refused by name.
      </p>
      {keys.error !== null && <ErrorNotice error={keys.error} announce />}
      {list.length === 0 ? (
        <p className="muted" data-testid="trust-empty">
          {keys.loading ? 'Loading…' : 'No image keys are trusted yet.'}
        </p>
      ) : (
        <table className="data-table trust-table" data-testid="trust-table">
          <thead>
            <tr>
              <th scope="col">Key id</th>
              <th scope="col">Label</th>
              <th scope="col">Added</th>
              <th scope="col">Revoked</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((key) => (
              <tr key={key.keyId} data-testid="trust-row" data-key-id={key.keyId} className={key.revokedMs === null ? undefined : 'is-revoked'}>
                <td className="is-mono">{key.keyId}</td>
                <td>{key.label}</td>
                <td>{day(key.addedMs)}</td>
                <td data-testid="trust-revoked">{key.revokedMs === null ? '—' : `${day(key.revokedMs)}: ${key.revokedReason ?? ''}`}</td>
                <td>
                  {key.revokedMs === null && (
                    <Button className="button is-quiet is-small" onPress={() => { setRevoking(key); }}>
                      Revoke…
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {notice !== null && (
        <p className="settings-saved" role="status">
          {notice}
        </p>
      )}
      <ImportKeyForm
        onImported={(key) => {
          setNotice(`Trusted key ${key.keyId} (${key.label}).`);
          keys.reload();
        }}
      />
      {revoking !== null && (
        <RevokeKeyDialog
          trustedKey={revoking}
          onClose={() => { setRevoking(null); }}
          onRevoked={(key) => {
            setRevoking(null);
            setNotice(`Revoked key ${key.keyId} (${key.label}).`);
            keys.reload();
          }}
        />
      )}
      <UnsignedPolicy />
    </section>
  );
}

function ImportKeyForm({ onImported }: { onImported: (key: TrustedKey) => void }) {
  const bridge = useBridge();
  const [publicKey, setPublicKey] = useState('');
  const [label, setLabel] = useState('');
  const [error, setError] = useState<AppError | null>(null);
  const [pending, setPending] = useState(false);

  function onFile(event: ChangeEvent<HTMLInputElement>): void {
    const file = event.target.files?.[0];
    if (file === undefined) return;
    void file.text().then((text) => {
      setPublicKey(text);
      if (label.trim() === '') setLabel(file.name.replace(/\.pub$/, ''));
    });
  }

  function importKey(): void {
    if (pending) return;
    setPending(true);
    setError(null);
    void bridge.invoke('trust.import', { publicKey, label: label.trim() }).then((result) => {
      setPending(false);
      if (!result.ok) {
        setError(result.error);
        return;
      }
      setPublicKey('');
      setLabel('');
      onImported(result.value.key);
    });
  }

  return (
    <Form
      className="settings-form"
      validationBehavior="aria"
      onSubmit={(event) => {
        event.preventDefault();
        importKey();
      }}
    >
      <fieldset className="settings-group">
        <legend>Import a public key</legend>
        <TextField className="form-field is-wide" value={publicKey} onChange={setPublicKey}>
          <Label>Public key (.pub file text)</Label>
          <TextArea className="trust-pub is-mono" rows={3} placeholder={'untrusted comment: minisign public key …\nRWQ…'} data-testid="trust-pub" />
        </TextField>
        <label className="trust-file">
          or choose a .pub file: <input type="file" accept=".pub,text/plain" onChange={onFile} data-testid="trust-file" />
        </label>
        <FormField label="Label" value={label} onChange={setLabel} placeholder="e.g. Acme release key 2026" description="Whose key this is." />
        {error !== null && <ErrorNotice error={error} announce />}
        <div className="settings-actions">
          <Button type="submit" className="button is-primary" isPending={pending} isDisabled={publicKey.trim() === '' || label.trim() === ''}>
            {pending ? 'Importing…' : 'Import key'}
          </Button>
        </div>
      </fieldset>
    </Form>
  );
}

function UnsignedPolicy() {
  const bridge = useBridge();
  const loaded = useApi('settings.flash.get', {});
  const [allowUnsigned, setAllowUnsigned] = useState<boolean | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const shown = allowUnsigned ?? loaded.value?.settings.allowUnsigned ?? false;

  function change(next: boolean): void {
    setError(null);
    void bridge.invoke('settings.flash.set', { allowUnsigned: next }).then((result) => {
      if (result.ok) setAllowUnsigned(result.value.settings.allowUnsigned);
      else setError(result.error);
    });
  }

  return (
    <div className="trust-policy" data-testid="unsigned-policy">
      <SwitchField isSelected={shown} onChange={change} isDisabled={loaded.value === null}>
        <SwitchButton className="switch" data-testid="unsigned-switch">
          <span className="switch-track" aria-hidden="true" />
          Allow unsigned images
        </SwitchButton>
      </SwitchField>
      {shown ? (
        <p className="trust-warning" role="alert" data-testid="unsigned-warning">
          Unsigned images will be flashed with a warning on every flash.
        </p>
      ) : (
        <p className="muted">Off: only images signed by a trusted key are flashed.</p>
      )}
      {(error ?? loaded.error) !== null && <ErrorNotice error={(error ?? loaded.error) as AppError} announce />}
    </div>
  );
}
