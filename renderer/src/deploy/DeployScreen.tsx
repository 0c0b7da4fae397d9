import { useMemo, useState } from 'react';
import type { AppError } from '../../../shared/errors.ts';
import { useBridge } from '../api/hooks.ts';
import { useDevices } from '../devices/index.ts';
import { DemoNotice, demoDeployText } from '../demo/index.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { memoryKey, useRememberedState } from '../ui/ScreenMemory.tsx';
import { NewRolloutPanel } from './NewRolloutPanel.tsx';
import { RolloutDetail } from './RolloutDetail.tsx';
import { RolloutList } from './RolloutList.tsx';
import { countStatuses } from './rolloutView.ts';
import { useRollout, useRolloutList } from './useRollouts.ts';
import './deploy.css';

/** The rollout the technician opened, kept while they visit other screens. */
const chosenMemory = memoryKey<string | null>('deploy.chosenRollout');

/**
 * Deploy: send a signed agent or model bundle to devices in batches, a canary first, and
 * watch each device pass its health gates or roll itself back — with the transcript of
 * every command. A stopped rollout (a bad batch, a cancel, a closed app) resumes here.
 */
export function DeployScreen() {
  const bridge = useBridge();
  const devices = useDevices();
  const list = useRolloutList();
  const [chosen, setChosen] = useRememberedState<string | null>(chosenMemory, null);
  const [resuming, setResuming] = useState<string | null>(null);
  const [resumeError, setResumeError] = useState<AppError | null>(null);
  const rollouts = useMemo(() => list.value ?? [], [list.value]);
  // Show what was chosen, else what is running, else the newest.
  const shown = chosen ?? rollouts.find((r) => r.state === 'running')?.id ?? rollouts[0]?.id ?? null;
  const busy = useMemo(() => new Set(rollouts.filter((r) => r.state === 'running').flatMap((r) => r.devices.map((d) => d.deviceId))), [rollouts]);
  const running = rollouts.filter((r) => r.state === 'running');
  const stopped = rollouts.filter((r) => r.state === 'stopped');

  function resume(id: string): void {
    setResuming(id);
    setResumeError(null);
    void bridge.invoke('deploy.resume', { rolloutId: id }).then((result) => {
      setResuming(null);
      if (result.ok) {
        setChosen(id);
        list.reload();
      } else setResumeError(result.error);
    });
  }

  const loadError = list.error ?? devices.error;
  const demo = devices.value === null ? null : demoDeployText(devices.value);
  return (
    <div className="screen deploy-screen">
      <header className="screen-header">
        <h1>Deploy</h1>
        <p className="screen-summary num" aria-live="polite">
          {list.value === null
            ? list.loading
              ? 'Loading…'
              : ''
            : `${rollouts.length} rollout${rollouts.length === 1 ? '' : 's'}${running.length > 0 ? ` · ${running.length} running (${running.map((r) => `${countStatuses(r.devices).done} of ${r.devices.length}`).join(', ')})` : ''}${stopped.length > 0 ? ` · ${stopped.length} stopped` : ''}`}
        </p>
      </header>
      {loadError !== null && <ErrorNotice error={loadError} announce />}
      {resumeError !== null && <ErrorNotice error={resumeError} announce />}
      {demo !== null && <DemoNotice text={demo} testId="demo-deploy-notice" />}
      {shown !== null && <ShownRollout key={shown} rolloutId={shown} onResumed={list.reload} />}
      <NewRolloutPanel
        devices={devices.value ?? []}
        busyDevices={busy}
        onStarted={(id) => {
          setChosen(id);
          list.reload();
        }}
      />
      <RolloutList rollouts={rollouts} selected={shown} resuming={resuming} onSelect={setChosen} onResume={resume} />
    </div>
  );
}

function ShownRollout({ rolloutId, onResumed }: { rolloutId: string; onResumed: () => void }) {
  const rollout = useRollout(rolloutId);
  if (rollout.error !== null) return <ErrorNotice error={rollout.error} />;
  if (rollout.value === null) return <p className="muted">Loading the rollout…</p>;
  return (
    <RolloutDetail
      rollout={rollout.value}
      onResumed={() => {
        rollout.reload();
        onResumed();
      }}
    />
  );
}
