import { Button, FieldError, Label, Text, TextArea, TextField } from 'react-aria-components';
import { formatBytes } from '../../../shared/format.ts';
import { FormField } from '../ui/FormField.tsx';
import { checkIdentity, duplicateDeviceIds, emptyIdentity, sshKeyError, sshKeyLines, withDeviceId, type IdentityDraft, type PickedDrive } from './flashForm.ts';

export type IdentityFieldsProps = {
  picked: readonly PickedDrive[];
  drafts: Readonly<Record<string, IdentityDraft>>;
  onDraft: (device: string, draft: IdentityDraft) => void;
  onNumberFromFirst: () => void;
  sshKeys: string;
  onSshKeys: (text: string) => void;
  /** Show errors only once the technician tried to go on. */
  showErrors: boolean;
};

/**
 * Who each Pi will be on first boot: device id, hostname (follows the id until edited) and
 * site per drive, and the technician's SSH key for all. Everything is optional; a drive with
 * nothing typed gets the image as it is.
 */
export function IdentityFields(props: IdentityFieldsProps) {
  const { picked, drafts, showErrors } = props;
  const keys = sshKeyLines(props.sshKeys);
  const twice = duplicateDeviceIds(
    picked.map((d) => d.device),
    drafts,
  );
  const keyError = sshKeyError(props.sshKeys);
  return (
    <div className="identity-fields" data-testid="identity-fields">
      <table className="identity-table">
        <thead>
          <tr>
            <th scope="col">Drive</th>
            <th scope="col">Device id</th>
            <th scope="col">Hostname</th>
            <th scope="col">Site</th>
          </tr>
        </thead>
        <tbody>
          {picked.map((drive) => {
            const draft = drafts[drive.device] ?? emptyIdentity;
            const { errors } = checkIdentity(draft, keys.length > 0 && keyError === null ? keys : []);
            const duplicate = twice.has(draft.deviceId.trim()) ? 'another drive has this device id' : undefined;
            return (
              <tr key={drive.device} data-testid="identity-row" data-device={drive.device}>
                <th scope="row" className="identity-drive">
                  <span className="device-path">{drive.device}</span>
                  <span className="muted num"> {formatBytes(drive.sizeBytes)}</span>
                </th>
                <td>
                  <FormField
                    label={`Device id for ${drive.device}`}
                    className="is-label-hidden"
                    value={draft.deviceId}
                    onChange={(value) => { props.onDraft(drive.device, withDeviceId(draft, value)); }}
                    placeholder="e.g. pi-07"
                    mono
                    error={showErrors ? (errors.deviceId ?? duplicate) : duplicate}
                  />
                </td>
                <td>
                  <FormField
                    label={`Hostname for ${drive.device}`}
                    className="is-label-hidden"
                    value={draft.hostname}
                    onChange={(value) => { props.onDraft(drive.device, { ...draft, hostname: value, hostnameEdited: value !== '' }); }}
                    placeholder="from the device id"
                    mono
                    error={showErrors ? errors.hostname : undefined}
                  />
                </td>
                <td>
                  <FormField
                    label={`Site for ${drive.device}`}
                    className="is-label-hidden"
                    value={draft.site}
                    onChange={(value) => { props.onDraft(drive.device, { ...draft, site: value }); }}
                    placeholder="e.g. depot-north"
                    error={showErrors ? errors.site : undefined}
                  />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {picked.length > 1 && (
        <div className="identity-actions">
          <Button className="button is-small" onPress={props.onNumberFromFirst} isDisabled={(drafts[picked[0]?.device ?? '']?.deviceId.trim() ?? '') === ''}>
            Number the rest from the first
          </Button>
          <span className="muted">pi-07 on the first drive gives pi-08, pi-09… and the same site on the others.</span>
        </div>
      )}
      <TextField className="form-field is-wide" value={props.sshKeys} onChange={props.onSshKeys} isInvalid={keyError !== null}>
        <Label className="form-label">Your SSH public key (optional, written to every drive)</Label>
        <TextArea className="input is-mono ssh-keys" rows={2} placeholder="ssh-ed25519 AAAA… you@laptop" spellCheck={false} data-testid="ssh-keys" />
        <Text slot="description" className="form-description">
          fieldkit always adds its own key so it can reach the Pi; this lets you log in too.
        </Text>
        <FieldError className="field-error">{keyError}</FieldError>
      </TextField>
    </div>
  );
}
