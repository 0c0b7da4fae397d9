import { useEffect, useEffectEvent, useState, type ActionDispatch } from 'react';
import { Button, CheckboxButton, CheckboxField, Form } from 'react-aria-components';
import type { Drive } from '../../../shared/drives.ts';
import { orderDrivesForDisplay } from '../drives/index.ts';
import { useJobs, useJobStore } from '../jobs/useJobs.ts';
import { useApi, useBridge, useEvent } from '../api/hooks.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { memoryKey, useRememberedReducer } from '../ui/ScreenMemory.tsx';
import { FormField } from '../ui/FormField.tsx';
import { BrowseDialog } from './BrowseDialog.tsx';
import { ConfirmFlashDialog } from './ConfirmFlashDialog.tsx';
import { DrivePicker } from './DrivePicker.tsx';
import { flashFlow, imageStepOpen, initialFlashFlow, isFlashable, pathToReread, type FlashEvent, type FlashFlow } from './flashFlow.ts';
import { browseStartDir, checkIdentity, duplicateDeviceIds, flashRequest, pickDrive, sshKeyError, sshKeyLines, type PickedDrive } from './flashForm.ts';
import { FlashProgress } from './FlashProgress.tsx';
import { IdentityFields } from './IdentityFields.tsx';
import { ImageSummaryCard } from './ImageSummaryCard.tsx';
import { ShortcutHint, useActionShortcut } from '../ui/actionShortcut.tsx';
import './flash.css';
import './flash-progress.css';
import './flash-dialogs.css';

type Dispatch = ActionDispatch<[event: FlashEvent]>;

/** The panel's whole flow, kept while the technician visits other screens (a flash under way included). */
const flowMemory = memoryKey<FlashFlow>('flash.flow');

/**
 * Flash: 1 pick an image and read what it is, 2 pick the drives (refused ones say why),
 * 3 give each Pi its identity, then confirm by drive name and size and watch each drive.
 * The steps are the state machine in `flashFlow.ts`; this renders its state and asks the
 * service what the events need.
 */
export function FlashPanel() {
  const bridge = useBridge();
  const store = useJobStore();
  const [flow, dispatch] = useRememberedReducer(flowMemory, flashFlow, initialFlashFlow);
  const { phase, image } = flow;
  const [enteredWith] = useState(flow);

  /** Reads the image at `typed` (the flow ignores it, and its answer, where the image step is closed). */
  function readImage(typed: string): void {
    const path = typed.trim();
    dispatch({ type: 'inspectRequested', path });
    if (path === '') return;
    void bridge.invoke('flash.inspect', { imagePath: path }).then((result) => {
      dispatch(result.ok ? { type: 'inspected', path, image: result.value.image } : { type: 'inspectFailed', path, error: result.error });
    });
  }
  function inspect(typed: string): void {
    if (imageStepOpen(flow)) readImage(typed);
  }

  // Back from another screen: the image stays shown, and is read again for what may have changed.
  const rereadOnEntry = useEffectEvent(() => {
    const path = pathToReread(enteredWith);
    if (path !== null) readImage(path);
  });
  useEffect(() => {
    rereadOnEntry();
  }, []);

  const flashable = isFlashable(image);
  const drives = useFlashDrives(flashable && phase.name !== 'flashing', flashable && image.rawBytes !== null && image.rawBytes > 0 ? image.rawBytes : null);
  const shownDrives = orderDrivesForDisplay(drives.value ?? []);
  // A drive that went away or became refused drops out of the picks by itself.
  const picked = shownDrives.filter((drive) => flow.picks.includes(drive.device)).flatMap((drive) => pickDrive(drive) ?? []);

  function start(): void {
    if (phase.name !== 'confirm' || phase.starting) return;
    dispatch({ type: 'startRequested' });
    void bridge.invoke('flash.start', flashRequest(phase.image, picked, flow.drafts, sshKeyLines(flow.sshKeys), { eject: flow.eject })).then(async (result) => {
      if (!result.ok) {
        dispatch({ type: 'startFailed', error: result.error });
        return;
      }
      const record = await bridge.invoke('jobs.get', { jobId: result.value.jobId });
      if (record.ok) store.mergeRecords([record.value.job]);
      dispatch({ type: 'started', jobId: result.value.jobId, picked });
    });
  }

  function flashAgain(): void {
    const path = image?.path;
    dispatch({ type: 'flashAgain' });
    // The trust store or the clock may have changed since: read the image again.
    if (path !== undefined) readImage(path);
  }

  return (
    <section className="step-panel" aria-labelledby="flash-heading" data-testid="flash-panel">
      <h2 id="flash-heading" className="panel-heading">
        Flash an image
      </h2>
      <ImageStep flow={flow} dispatch={dispatch} onRead={inspect} />
      {flashable && (phase.name === 'drives' || phase.name === 'confirm') && (
        <DrivesStep flow={flow} dispatch={dispatch} drives={drives} shownDrives={shownDrives} picked={picked} />
      )}
      {phase.name === 'flashing' && <FlashingStep jobId={phase.jobId} picked={phase.picked} onAgain={flashAgain} onNewImage={() => { dispatch({ type: 'newImage' }); }} />}
      {flow.browsing && <BrowseDialog startDir={browseStartDir(flow.pathInput)} onPick={inspect} onClose={() => { dispatch({ type: 'browseClosed' }); }} />}
      {phase.name === 'confirm' && (
        <ConfirmFlashDialog
          image={phase.image}
          picked={picked}
          drafts={flow.drafts}
          starting={phase.starting}
          error={phase.error}
          onConfirm={start}
          onClose={() => { dispatch({ type: 'confirmClosed' }); }}
        />
      )}
    </section>
  );
}

/** 1 Image: the path field, Browse…, Read image, and what the read found. */
function ImageStep({ flow, dispatch, onRead }: { flow: FlashFlow; dispatch: Dispatch; onRead: (path: string) => void }) {
  const flashing = flow.phase.name === 'flashing';
  const inspecting = flow.inspecting !== null;
  const canRead = flow.pathInput.trim() !== '' && !flashing && !inspecting;
  useActionShortcut('R', () => { onRead(flow.pathInput); }, canRead);
  return (
    <div className="step-section">
      <h3 className="step-title">
        <span className="step-number">1</span> Image
      </h3>
      <Form
        className="path-picker"
        onSubmit={(event) => {
          event.preventDefault();
          onRead(flow.pathInput);
        }}
      >
        <FormField label="Image file" value={flow.pathInput} onChange={(text) => { dispatch({ type: 'pathTyped', text }); }} placeholder="/home/you/Downloads/node-os-1.4.fkimg" mono className="path-field" />
        <Button className="button" onPress={() => { dispatch({ type: 'browseOpened' }); }} isDisabled={flashing}>
          Browse…
        </Button>
        <Button type="submit" className="button" isPending={inspecting} isDisabled={flow.pathInput.trim() === '' || flashing}>
          {inspecting ? 'Reading…' : 'Read image'}
          <ShortcutHint letter="R" label="Read image" />
        </Button>
      </Form>
      {flow.inspectError !== null && <ErrorNotice error={flow.inspectError} announce />}
      {flow.image !== null && <ImageSummaryCard image={flow.image} />}
    </div>
  );
}

type DrivesStepProps = {
  flow: FlashFlow;
  dispatch: Dispatch;
  drives: ReturnType<typeof useFlashDrives>;
  shownDrives: readonly Drive[];
  picked: readonly PickedDrive[];
};

/** 2 Drives and 3 First-boot identity, then Flash N drives… (which opens the confirm dialog when the form is right). */
function DrivesStep({ flow, dispatch, drives, shownDrives, picked }: DrivesStepProps) {
  const keys = sshKeyLines(flow.sshKeys);
  const order = picked.map((d) => d.device);
  const formHasProblems =
    sshKeyError(flow.sshKeys) !== null || duplicateDeviceIds(order, flow.drafts).size > 0 || picked.some((drive) => Object.keys(checkIdentity(flow.drafts[drive.device], keys).errors).length > 0);
  return (
    <>
      <div className="step-section">
        <h3 className="step-title">
          <span className="step-number">2</span> Drives
          <span className="step-note">{picked.length === 0 ? 'Tick each drive to flash; refused drives say why.' : `${picked.length} picked`}</span>
        </h3>
        {drives.error !== null && <ErrorNotice error={drives.error} announce />}
        {drives.value === null ? <p className="muted">Looking for drives…</p> : <DrivePicker drives={shownDrives} picked={flow.picks} onChange={(devices) => { dispatch({ type: 'picksChanged', devices }); }} />}
      </div>
      {picked.length > 0 && (
        <div className="step-section">
          <h3 className="step-title">
            <span className="step-number">3</span> First-boot identity <span className="step-note">optional</span>
          </h3>
          <IdentityFields
            picked={picked}
            drafts={flow.drafts}
            onDraft={(device, draft) => { dispatch({ type: 'draftChanged', device, draft }); }}
            onNumberFromFirst={() => { dispatch({ type: 'numberedFromFirst', order }); }}
            sshKeys={flow.sshKeys}
            onSshKeys={(text) => { dispatch({ type: 'sshKeysTyped', text }); }}
            showErrors={flow.showErrors}
          />
          <div className="flash-actions">
            <CheckboxField isSelected={flow.eject} onChange={(eject) => { dispatch({ type: 'ejectSet', eject }); }} className="eject-field">
              <CheckboxButton className="plain-checkbox">
                <span className="checkbox-box" aria-hidden="true" />
                Eject each drive when it is done
              </CheckboxButton>
            </CheckboxField>
            <Button className="button is-primary" onPress={() => { dispatch({ type: 'flashPressed', formHasProblems }); }}>
              Flash {picked.length} drive{picked.length === 1 ? '' : 's'}…
            </Button>
          </div>
          {flow.showErrors && formHasProblems && (
            <p className="field-error" role="alert">
              Fix the fields marked above (or clear a drive&apos;s fields to write no identity).
            </p>
          )}
        </div>
      )}
    </>
  );
}

/** 4 Flashing, then Result: each drive's progress and outcome, from the job in the store. */
function FlashingStep({ jobId, picked, onAgain, onNewImage }: { jobId: string; picked: readonly PickedDrive[]; onAgain: () => void; onNewImage: () => void }) {
  const jobs = useJobs();
  const job = jobs.find((j) => j.id === jobId) ?? null;
  return (
    <div className="step-section">
      <h3 className="step-title">
        <span className="step-number">4</span> {job?.state === 'running' || job === null ? 'Flashing' : 'Result'}
      </h3>
      <FlashProgress job={job} picked={picked} onAgain={onAgain} onNewImage={onNewImage} />
    </div>
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
