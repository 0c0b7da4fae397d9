import { useState } from 'react';
import { Button, CheckboxButton, CheckboxField, CheckboxGroup, Form, Label, RadioButton, RadioField, RadioGroup } from 'react-aria-components';
import type { BackupClass } from '../../../shared/backupStream.ts';
import type { AppError } from '../../../shared/errors.ts';
import { useBridge } from '../api/hooks.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { ModalDialog } from '../ui/ModalDialog.tsx';
import { backupClasses } from './backupRows.ts';
import { classDescriptions, classLabels, plural } from './backupText.ts';

/** What "Back up" covers: the devices ticked in the table, one site, or every device. */
export type BackupScope = { kind: 'selected'; deviceIds: readonly string[] } | { kind: 'site'; site: string } | { kind: 'all' };

type ScopeChoice = { id: string; label: string; scope: BackupScope };

/**
 * Back up: which devices (selected / a site / all) and which classes, then one job. The
 * service refuses what it cannot do (no restic, a device out of reach) with what to do.
 */
export function BackUpDialog({ selected, sites, deviceCount, onClose, onStarted }: { selected: readonly string[]; sites: readonly string[]; deviceCount: number; onClose: () => void; onStarted: () => void }) {
  const bridge = useBridge();
  const choices: ScopeChoice[] = [
    ...(selected.length > 0 ? [{ id: 'selected', label: `Selected devices (${String(selected.length)})`, scope: { kind: 'selected', deviceIds: selected } as const }] : []),
    ...sites.map((site) => ({ id: `site:${site}`, label: `Site ${site}`, scope: { kind: 'site', site } as const })),
    { id: 'all', label: `All devices (${String(deviceCount)})`, scope: { kind: 'all' } as const },
  ];
  const [choice, setChoice] = useState(choices[0]?.id ?? 'all');
  const [classes, setClasses] = useState<readonly BackupClass[]>(backupClasses);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const scope = choices.find((c) => c.id === choice)?.scope ?? { kind: 'all' };

  function start(): void {
    setPending(true);
    setError(null);
    const which = scope.kind === 'selected' ? { deviceIds: [...scope.deviceIds] } : scope.kind === 'site' ? { site: scope.site } : { all: true };
    const only = classes.length === backupClasses.length ? {} : { classes: [...classes] };
    void bridge.invoke('backup.start', { ...which, ...only }).then((result) => {
      setPending(false);
      if (result.ok) onStarted();
      else setError(result.error);
    });
  }

  return (
    <ModalDialog title="Back up devices" onClose={onClose} testId="backup-dialog">
      <Form
        className="dialog-form"
        onSubmit={(event) => {
          event.preventDefault();
          start();
        }}
      >
        <RadioGroup className="backup-scope" value={choice} onChange={setChoice}>
          <Label className="form-label">Devices</Label>
          <div className="segmented">
            {choices.map((c) => (
              <RadioField key={c.id} value={c.id} className="segment-field">
                <RadioButton className="segment">{c.label}</RadioButton>
              </RadioField>
            ))}
          </div>
        </RadioGroup>
        <CheckboxGroup
          className="backup-classes"
          value={[...classes]}
          onChange={(picked) => {
            setClasses(backupClasses.filter((c) => picked.includes(c)));
          }}
        >
          <Label className="form-label">Classes</Label>
          {backupClasses.map((c) => (
            <CheckboxField key={c} value={c} className="backup-class-choice">
              <CheckboxButton className="plain-checkbox">
                <span className="checkbox-box" aria-hidden="true" />
                <span>
                  <strong>{classLabels[c]}</strong> <span className="muted">— {classDescriptions[c]}</span>
                </span>
              </CheckboxButton>
            </CheckboxField>
          ))}
        </CheckboxGroup>
        <p className="form-description">
          Each device streams each class straight into the encrypted repository on this laptop; nothing is written unencrypted. Over a serial cable only Config and Secrets are sent; the rest waits for a network link.
        </p>
        {error !== null && <ErrorNotice error={error} announce />}
        <div className="dialog-actions">
          <Button className="button" onPress={onClose}>
            Cancel
          </Button>
          <Button className="button is-primary" type="submit" isPending={pending} isDisabled={classes.length === 0}>
            {pending ? 'Starting…' : classes.length === 0 ? 'Pick a class' : `Back up ${plural(classes.length, 'class', 'classes')}`}
          </Button>
        </div>
      </Form>
    </ModalDialog>
  );
}
