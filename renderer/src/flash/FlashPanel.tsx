import { useEffect, useState } from 'react';
import { Button, CheckboxButton, CheckboxField, Form } from 'react-aria-components';
import type { AppError } from '../../../shared/errors.ts';
import type { ImageSummary } from '../../../shared/flash.ts';
import { useApi, useBridge, useEvent } from '../api/hooks.ts';
import { FormField } from '../ui/FormField.tsx';
import { orderDrivesForDisplay } from '../drives/index.ts';
import { useJobs, useJobStore } from '../jobs/useJobs.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { BrowseDialog } from './BrowseDialog.tsx';
import { ConfirmFlashDialog } from './ConfirmFlashDialog.tsx';
import { DrivePicker } from './DrivePicker.tsx';
import { FlashProgress } from './FlashProgress.tsx';
import { browseStartDir, checkIdentity, duplicateDeviceIds, flashRequest, numberFromFirst, pickDrive, sshKeyError, sshKeyLines, type IdentityDraft, type PickedDrive } from './flashForm.ts';
import { IdentityFields } from './IdentityFields.tsx';
import { ImageSummaryCard } from './ImageSummaryCard.tsx';
import './flash.css';

type Running = { jobId: string; picked: readonly PickedDrive[] };

/**
 * Flash: 1 pick an image and read what it is, 2 pick the drives (refused ones say why),
 * 3 give each Pi its identity, then confirm by drive name and size and watch each drive.
 */
export function FlashPanel() {
  const bridge = useBridge();
  const store = useJobStore();
  const [pathInput, setPathInput] = useState('');
  const [browsing, setBrowsing] = useState(false);
  const [image, setImage] = useState<ImageSummary | null>(null);
  const [inspecting, setInspecting] = useState(false);
  const [inspectError, setInspectError] = useState<AppError | null>(null);
  const [picks, setPicks] = useState<readonly string[]>([]);
  const [drafts, setDrafts] = useState<Record<string, IdentityDraft>>({});
  const [sshKeys, setSshKeys] = useState('');
  const [eject, setEject] = useState(true);
  const [showErrors, setShowErrors] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<AppError | null>(null);
  const [running, setRunning] = useState<Running | null>(null);

  function inspect(path: string): void {
    const imagePath = path.trim();
    setPathInput(imagePath);
    setBrowsing(false);
    if (imagePath === '') return;
    setInspecting(true);
    setInspectError(null);
    void bridge.invoke('flash.inspect', { imagePath }).then((result) => {
      setInspecting(false);
      if (result.ok) {
        setImage(result.value.image);
      } else {
        setImage(null);
        setInspectError(result.error);
      }
    });
  }

  const flashable = image !== null && image.problems.length === 0;
  const drives = useFlashDrives(flashable && running === null, flashable && image.rawBytes !== null && image.rawBytes > 0 ? image.rawBytes : null);
  const shownDrives = orderDrivesForDisplay(drives.value ?? []);
  // A drive that went away or became refused drops out of the picks by itself.
  const picked = shownDrives.filter((drive) => picks.includes(drive.device)).flatMap((drive) => pickDrive(drive) ?? []);
  const keys = sshKeyLines(sshKeys);
  const problemsInForm =
    sshKeyError(sshKeys) !== null ||
    duplicateDeviceIds(
      picked.map((d) => d.device),
      drafts,
    ).size > 0 ||
    picked.some((drive) => Object.keys(checkIdentity(drafts[drive.device], keys).errors).length > 0);

  const jobs = useJobs();
  const job = running === null ? null : (jobs.find((j) => j.id === running.jobId) ?? null);

  function start(): void {
    if (image === null || starting) return;
    setStarting(true);
    setStartError(null);
    void bridge.invoke('flash.start', flashRequest(image, picked, drafts, keys, { eject })).then(async (result) => {
      if (!result.ok) {
        setStarting(false);
        setStartError(result.error);
        return;
      }
      const record = await bridge.invoke('jobs.get', { jobId: result.value.jobId });
      if (record.ok) store.mergeRecords([record.value.job]);
      setStarting(false);
      setConfirming(false);
      setRunning({ jobId: result.value.jobId, picked });
    });
  }

  function reset(keepImage: boolean): void {
    setRunning(null);
    setPicks([]);
    setDrafts({});
    setShowErrors(false);
    setStartError(null);
    if (!keepImage) {
      setImage(null);
      setPathInput('');
    } else if (image !== null) {
      // The trust store or the clock may have changed since: read the image again.
      inspect(image.path);
    }
  }

  return (
    <section className="flash-panel" aria-labelledby="flash-heading" data-testid="flash-panel">
      <h2 id="flash-heading" className="flash-heading">
        Flash an image
      </h2>
      <div className="flash-step">
        <h3 className="step-title">
          <span className="step-number">1</span> Image
        </h3>
        <Form
          className="image-picker"
          onSubmit={(event) => {
            event.preventDefault();
            inspect(pathInput);
          }}
        >
          <FormField label="Image file" value={pathInput} onChange={setPathInput} placeholder="/home/you/Downloads/node-os-1.4.fkimg" mono className="image-path-field" />
          <Button className="button" onPress={() => { setBrowsing(true); }} isDisabled={running !== null}>
            Browse…
          </Button>
          <Button type="submit" className="button" isPending={inspecting} isDisabled={pathInput.trim() === '' || running !== null}>
            {inspecting ? 'Reading…' : 'Read image'}
          </Button>
        </Form>
        {inspectError !== null && <ErrorNotice error={inspectError} announce />}
        {image !== null && <ImageSummaryCard image={image} />}
      </div>

      {flashable && running === null && (
        <>
          <div className="flash-step">
            <h3 className="step-title">
              <span className="step-number">2</span> Drives
              <span className="step-note">{picked.length === 0 ? 'Tick each drive to flash; refused drives say why.' : `${picked.length} picked`}</span>
            </h3>
            {drives.error !== null && <ErrorNotice error={drives.error} announce />}
            {drives.value === null ? <p className="muted">Looking for drives…</p> : <DrivePicker drives={shownDrives} picked={picks} onChange={setPicks} />}
          </div>
          {picked.length > 0 && (
            <div className="flash-step">
              <h3 className="step-title">
                <span className="step-number">3</span> First-boot identity <span className="step-note">optional</span>
              </h3>
              <IdentityFields
                picked={picked}
                drafts={drafts}
                onDraft={(device, draft) => { setDrafts((all) => ({ ...all, [device]: draft })); }}
                onNumberFromFirst={() => { setDrafts((all) => numberFromFirst(picked.map((d) => d.device), all)); }}
                sshKeys={sshKeys}
                onSshKeys={setSshKeys}
                showErrors={showErrors}
              />
              <div className="flash-actions">
                <CheckboxField isSelected={eject} onChange={setEject} className="eject-field">
                  <CheckboxButton className="plain-checkbox">
                    <span className="checkbox-box" aria-hidden="true" />
                    Eject each drive when it is done
                  </CheckboxButton>
                </CheckboxField>
                <Button
                  className="button is-primary"
                  onPress={() => {
                    setShowErrors(true);
                    if (!problemsInForm) setConfirming(true);
                  }}
                >
                  Flash {picked.length} drive{picked.length === 1 ? '' : 's'}…
                </Button>
              </div>
              {showErrors && problemsInForm && (
                <p className="field-error" role="alert">
                  Fix the fields marked above (or clear a drive&apos;s fields to write no identity).
                </p>
              )}
            </div>
          )}
        </>
      )}

      {running !== null && (
        <div className="flash-step">
          <h3 className="step-title">
            <span className="step-number">4</span> {job?.state === 'running' || job === null ? 'Flashing' : 'Result'}
          </h3>
          <FlashProgress job={job} picked={running.picked} onAgain={() => { reset(true); }} onNewImage={() => { reset(false); }} />
        </div>
      )}

      {browsing && <BrowseDialog startDir={browseStartDir(pathInput)} onPick={inspect} onClose={() => { setBrowsing(false); }} />}
      {confirming && image !== null && (
        <ConfirmFlashDialog
          image={image}
          picked={picked}
          drafts={drafts}
          starting={starting}
          error={startError}
          onConfirm={start}
          onClose={() => {
            setConfirming(false);
            setStartError(null);
          }}
        />
      )}
    </section>
  );
}

/**
 * Drives as flash targets for an image of `rawBytes`: listed with the size so too-small ones
 * come back refused, and listed again on every `drives.changed` (its list has no image size)
 * while the technician is picking drives.
 */
function useFlashDrives(active: boolean, rawBytes: number | null) {
  const query = useApi('drives.list', rawBytes === null ? {} : { imageSizeBytes: rawBytes });
  const { reload } = query;
  // Only while drives are being picked: the table below already follows drives.changed.
  useEvent('drives.changed', () => {
    if (active) reload();
  });
  useEffect(() => {
    if (active) reload();
  }, [active, reload]);
  return { value: query.value?.drives ?? null, error: query.error };
}
