import { useMemo, useState } from 'react';
import { Button } from 'react-aria-components';
import type { BackupPolicies, RecoveryKey } from '../../../shared/backup.ts';
import { isFinalJobEvent } from '../../../shared/jobs.ts';
import { useEvent } from '../api/hooks.ts';
import { useJobStore } from '../jobs/useJobs.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { BackupJobs } from './BackupJobProgress.tsx';
import { BackupNotices } from './BackupNotices.tsx';
import { backupJobNotice, type BackupNotice } from './backupOutcomes.ts';
import { backupClasses, backupSummary, neverBackedUp, repositoryProblems } from './backupRows.ts';
import { classLabels } from './backupText.ts';
import { BackupTable } from './BackupTable.tsx';
import { BackUpDialog } from './BackUpDialog.tsx';
import { ReplaceWizard } from '../recovery/index.ts';
import { RecoveryKeyDialog } from './RecoveryKeyDialog.tsx';
import { RepositoriesPanel } from './RepositoriesPanel.tsx';
import { PoliciesDialog } from './PoliciesDialog.tsx';
import { RetentionDialog } from './RetentionDialog.tsx';
import { useBackupActions } from './useBackupActions.ts';
import { runningCopies, useBackupsData, useRunningBackupJobs } from './useBackups.ts';
import './backup.css';

type Dialog = { kind: 'none' } | { kind: 'backup' } | { kind: 'retention' } | { kind: 'policies' } | { kind: 'replace' } | { kind: 'keys'; keys: readonly RecoveryKey[] };

/**
 * Backups: per device and class, the last good backup and whether it is within its window,
 * where its copies are; its snapshots and what verification found; Back up, Verify, Copy and
 * Retention, each a job with progress and Cancel; the repositories and their recovery keys.
 */
export function BackupsScreen() {
  const store = useJobStore();
  const { rows, listing, settings, devicesLoading, reload } = useBackupsData();
  const running = useRunningBackupJobs();
  const [notices, setNotices] = useState<readonly BackupNotice[]>([]);
  const [dialog, setDialog] = useState<Dialog>({ kind: 'none' });
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());

  function show(notice: BackupNotice): void {
    setNotices((all) => [notice, ...all.filter((n) => n.key !== notice.key)].slice(0, 6));
  }
  function dismiss(key: string): void {
    setNotices((all) => all.filter((n) => n.key !== key));
  }
  const actions = useBackupActions(show, dismiss);

  useEvent('job.event', (event) => {
    if (!isFinalJobEvent(event)) return;
    const job = store.get(event.jobId);
    if (job === undefined || !job.kind.startsWith('backup.')) return;
    show(backupJobNotice(job, event));
  });

  // Retention names devices as restic does: the agent's id, or the laptop's while the agent never answered.
  const names = useMemo(() => new Map((rows ?? []).flatMap((r) => [r.agentDeviceId, r.device?.id ?? null].flatMap((id) => (id === null ? [] : [[id, r.name] as const])))), [rows]);
  const sites = useMemo(() => [...new Set((rows ?? []).flatMap((r) => (r.device === null || r.site === '' ? [] : [r.site])))].sort(), [rows]);
  const backingUp = running.some((j) => j.kind === 'backup.run');
  const copying = runningCopies(running);
  const laptopDevices = (rows ?? []).filter((r) => r.device !== null).length;
  const nothingYet = rows !== null && rows.length > 0 && rows.every(neverBackedUp);
  const repoProblems = repositoryProblems(listing.value?.problems ?? []);

  return (
    <div className="screen backup-screen">
      <BackupsHeader
        summary={rows === null ? (listing.loading || devicesLoading ? 'Loading…' : '') : backupSummary(rows)}
        onRetention={() => { setDialog({ kind: 'retention' }); }}
        onPolicies={settings.value === null ? null : () => { setDialog({ kind: 'policies' }); }}
        onReplace={() => { setDialog({ kind: 'replace' }); }}
        onVerify={actions.verify}
        verifyStarting={actions.starting.has('verify')}
        verifying={running.some((j) => j.kind === 'backup.verify')}
        onBackUp={() => { setDialog({ kind: 'backup' }); }}
        backUpDisabled={backingUp || laptopDevices === 0}
      />
      {listing.error !== null && (
        <div className="backup-load-error" data-testid="backup-load-error">
          <ErrorNotice error={listing.error} announce />
        </div>
      )}
      <BackupNotices notices={notices} onDismiss={dismiss} />
      <BackupJobs jobs={running} />
      {repoProblems.map((p) => (
        <div key={`${String(p.at)}:${p.role}:${p.kind}`} className="notice is-failed backup-repo-problem" role="alert" data-testid="backup-problem">
          <p>
            <strong>{p.message}</strong> {p.hint}
          </p>
        </div>
      ))}
      {nothingYet && (
        <div className="backup-empty" data-testid="backup-empty">
          <p>No backups yet. A dead SD card takes everything on it: back up every device now.</p>
          <Button className="button is-primary" isPending={actions.starting.has('all')} isDisabled={backingUp} onPress={() => { actions.backUp({ kind: 'all' }); }}>
            Back up all
          </Button>
        </div>
      )}
      {rows !== null && rows.length === 0 && <p className="backup-empty">No devices yet. Add one on Devices (or start fieldkit with the demo site), then back it up here.</p>}
      {rows !== null && rows.length > 0 && (
        <BackupTable
          rows={rows}
          selected={selected}
          onSelect={(id, on) => { setSelected((s) => toggled(s, id, on)); }}
          expanded={expanded}
          onExpand={(key, open) => { setExpanded((s) => toggled(s, key, open)); }}
          starting={actions.startingDevices}
          busy={backingUp}
          onBackUp={(row) => {
            if (row.device !== null) actions.backUp({ kind: 'selected', deviceIds: [row.device.id] });
          }}
        />
      )}
      <BackupsRepositories settings={settings} copying={copying} onCopy={actions.copy} onSaved={(keys) => { reload(); if (keys.length > 0) setDialog({ kind: 'keys', keys }); }} />
      {dialog.kind === 'backup' && (
        <BackUpDialog
          selected={[...selected]}
          sites={sites}
          deviceCount={laptopDevices}
          onClose={() => { setDialog({ kind: 'none' }); }}
          onStarted={() => { setDialog({ kind: 'none' }); }}
        />
      )}
      {dialog.kind === 'retention' && <RetentionDialog names={names} onClose={() => { setDialog({ kind: 'none' }); }} onStarted={() => { setDialog({ kind: 'none' }); }} />}
      {dialog.kind === 'policies' && settings.value !== null && (
        <PoliciesDialog policies={settings.value.settings.policies} onClose={() => { setDialog({ kind: 'none' }); }} onSaved={() => { setDialog({ kind: 'none' }); reload(); }} />
      )}
      {dialog.kind === 'replace' && <ReplaceWizard onClose={() => { setDialog({ kind: 'none' }); }} onStarted={() => { setDialog({ kind: 'none' }); }} />}
      {dialog.kind === 'keys' && <RecoveryKeyDialog keys={dialog.keys} onClose={() => { setDialog({ kind: 'none' }); }} />}
    </div>
  );
}

function toggled(set: ReadonlySet<string>, id: string, on: boolean): ReadonlySet<string> {
  const next = new Set(set);
  if (on) next.add(id);
  else next.delete(id);
  return next;
}

/** "Config 30 d, State 7 d, Data 30 d, Secrets 30 d". */
function windowsWords(policies: BackupPolicies): string {
  return backupClasses.map((c) => `${classLabels[c]} ${String(policies[c].freshnessDays)} d`).join(', ');
}

function BackupsHeader(props: {
  summary: string;
  onRetention: () => void;
  /** Null while the settings are not loaded (nothing to edit yet). */
  onPolicies: (() => void) | null;
  onReplace: () => void;
  onVerify: () => void;
  verifyStarting: boolean;
  verifying: boolean;
  onBackUp: () => void;
  backUpDisabled: boolean;
}) {
  return (
    <header className="screen-header">
      <h1>Backups</h1>
      <p className="screen-summary num" aria-live="polite">
        {props.summary}
      </p>
      <div className="header-actions">
        <Button className="button" onPress={props.onReplace}>
          Replace a device…
        </Button>
        <Button className="button" onPress={() => props.onPolicies?.()} isDisabled={props.onPolicies === null}>
          Policies…
        </Button>
        <Button className="button" onPress={props.onRetention}>
          Retention…
        </Button>
        <Button className="button" onPress={props.onVerify} isPending={props.verifyStarting} isDisabled={props.verifying}>
          Verify
        </Button>
        <Button className="button is-primary" onPress={props.onBackUp} isDisabled={props.backUpDisabled}>
          Back up…
        </Button>
      </div>
    </header>
  );
}

type SettingsState = ReturnType<typeof useBackupsData>['settings'];

/** How freshness and verification are judged, then the repositories (or why they cannot be read). */
function BackupsRepositories(props: { settings: SettingsState; copying: ReturnType<typeof runningCopies>; onCopy: ReturnType<typeof useBackupActions>['copy']; onSaved: (keys: readonly RecoveryKey[]) => void }) {
  const { settings } = props;
  return (
    <>
      <p className="backup-how">
        {settings.value !== null && `Each class must have a good backup within its window (${windowsWords(settings.value.settings.policies)}); an overdue class raises a health alert. `}
        <strong>Verify</strong> reads a slice of each repository and restores the newest snapshot of every device and class in memory, checking every file against the device&apos;s own SHA-256 list and every database&apos;s integrity.
      </p>
      {settings.error !== null && (
        <section className="backup-section" aria-labelledby="repositories-heading">
          <h2 id="repositories-heading" className="section-heading">
            Repositories
          </h2>
          <ErrorNotice error={settings.error} />
        </section>
      )}
      {settings.value !== null && <RepositoriesPanel settings={settings.value.settings} copying={props.copying} onCopy={props.onCopy} onSaved={props.onSaved} />}
    </>
  );
}
