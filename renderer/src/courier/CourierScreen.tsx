import { useEffect, useEffectEvent, useMemo, useState } from 'react';
import { Button, SwitchButton, SwitchField } from 'react-aria-components';
import type { ReconcileResult } from '../../../shared/courier.ts';
import type { AppError } from '../../../shared/errors.ts';
import { isFinalJobEvent } from '../../../shared/jobs.ts';
import { useApi, useBridge, useEvent } from '../api/hooks.ts';
import { useJobStore } from '../jobs/useJobs.ts';
import { DemoNotice, demoClickHouseText } from '../demo/index.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { memoryKey, useRememberedState } from '../ui/ScreenMemory.tsx';
import { CourierJobProgress } from './CourierJobProgress.tsx';
import { CourierNotices } from './CourierNotices.tsx';
import { courierJobNotice, type CourierNotice } from './courierOutcomes.ts';
import { courierRows, type CourierDeviceRow } from './courierRows.ts';
import { CourierTable } from './CourierTable.tsx';
import { count, records } from './courierText.ts';
import { usePullThenBackup } from './pullThenBackup.ts';
import { QuarantinePanel } from './QuarantinePanel.tsx';
import { ReconcilePanel } from './ReconcilePanel.tsx';
import { SiteVisitButtons, SiteVisitPanel, sitesOf, useVisitAction } from './SiteVisit.tsx';
import { useCourierData, useRunningCourierJobs } from './useCourier.ts';
import { ShortcutHint, useActionShortcut } from '../ui/actionShortcut.tsx';
import './courier.css';

type Reconcile = { result: ReconcileResult | null; error: AppError | null; checking: boolean; stale: boolean };

/** Kept while the technician is on other screens: the notices, and the last reconcile (asked again on return). */
const noticesMemory = memoryKey<readonly CourierNotice[]>('courier.notices');
const reconcileMemory = memoryKey<Reconcile>('courier.reconcile');

/**
 * Courier: the laptop as data mule. Pull each device's journals, forward what is held to
 * ClickHouse, and reconcile: every record there once, every gap explained.
 */
export function CourierScreen() {
  const store = useJobStore();
  const { journals, devices } = useCourierData();
  const quarantine = useApi('courier.quarantine.list', {});
  const appInfo = useApi('app.info', {});
  const running = useRunningCourierJobs();
  const [notices, setNotices] = useRememberedState(noticesMemory, []);

  const rows = useMemo(() => courierRows(devices.value ?? [], journals.value ?? []), [devices.value, journals.value]);
  const names = useMemo(() => new Map(rows.flatMap((row) => (row.agentDeviceId === null ? [] : [[row.agentDeviceId, row.name] as const]))), [rows]);

  function show(notice: CourierNotice): void {
    setNotices((all) => [notice, ...all.filter((n) => n.key !== notice.key)].slice(0, 6));
  }
  function dismiss(key: string): void {
    setNotices((all) => all.filter((n) => n.key !== key));
  }
  const thenBackup = usePullThenBackup(show);
  const { startingPulls, startingForward, reconcile, setReconcile, pull, forward, runReconcile, retry } = useCourierActions(show, dismiss, quarantine.reload, thenBackup.started);
  const visits = useVisitAction(show, dismiss, thenBackup.started);
  const sites = useMemo(() => sitesOf(devices.value ?? []), [devices.value]);

  // Say what each courier job came to, and refresh what depends on it.
  useEvent('job.event', (event) => {
    if (!isFinalJobEvent(event)) return;
    const job = store.get(event.jobId);
    if (job?.kind === 'backup.run') {
      const after = thenBackup.backupEnded(job, event);
      if (after !== null) show(after);
      return;
    }
    if (job === undefined || !job.kind.startsWith('courier.')) return;
    quarantine.reload();
    setReconcile((r) => (r.result === null ? r : { ...r, stale: true }));
    show(thenBackup.courierEnded(job, event, courierJobNotice(job, event)));
  });

  const totals = rows.reduce((t, row) => ({ held: t.held + row.held, pending: t.pending + row.pending, quarantined: t.quarantined + row.quarantined }), { held: 0, pending: 0, quarantined: 0 });
  const loadError = journals.error ?? devices.error;
  const demoClickHouse = demoClickHouseText(appInfo.value);
  const forwardJob = running.forward;
  return (
    <div className="screen courier-screen">
      <CourierHeader
        summary={
          journals.value === null || devices.value === null
            ? journals.loading || devices.loading
              ? 'Loading…'
              : ''
            : `${rows.length} device${rows.length === 1 ? '' : 's'} · ${records(totals.held)} held · ${count(totals.pending)} to forward${totals.quarantined > 0 ? ` · ${count(totals.quarantined)} quarantined` : ''}`
        }
        reconciling={reconcile.checking}
        startingForward={startingForward}
        forwarding={forwardJob !== null}
        onReconcile={runReconcile}
        onForward={forward}
        pullAll={{ starting: visits.starting === '', busy: running.visit !== null || (devices.value ?? []).length === 0, onPress: () => { visits.visit(null); } }}
      />
      {loadError !== null && (
        <div className="courier-load-error">
          <ErrorNotice error={loadError} announce />
        </div>
      )}
      <CourierNotices notices={notices} onDismiss={dismiss} />
      {demoClickHouse !== null && <DemoNotice text={demoClickHouse} testId="demo-clickhouse-notice" />}
      {forwardJob !== null && (
        <section className="courier-forward" aria-label="Forward to ClickHouse in progress">
          <h2>Forwarding to ClickHouse</h2>
          <CourierJobProgress job={forwardJob} label="the forward to ClickHouse" />
        </section>
      )}
      {running.visit !== null && <SiteVisitPanel job={running.visit} />}
      <VisitRow sites={sites} busy={running.visit !== null} starting={visits.starting} onVisit={visits.visit} thenBackup={thenBackup} />
      <CourierTable rows={rows} pulls={running.pulls} starting={startingPulls} reconciled={reconcile.result?.journals ?? null} onPull={pull} />
      <p className="courier-how">
        <strong>Pull</strong> copies a device&apos;s journal to this laptop (safety events first); the device keeps its copy until ClickHouse has it.{' '}
        <strong>Pull all</strong> (or a site) pulls many devices in one job, a few at a time, safety events of every device before the rest.{' '}
        With <strong>Back up after pulling</strong> on, each device pulled completely is then backed up (see Backups), and its line says both.{' '}
        <strong>Forward all</strong> sends everything held to ClickHouse, each record once. <strong>Reconcile</strong> asks ClickHouse what it has and explains every gap.
      </p>
      {(reconcile.result !== null || reconcile.error !== null || reconcile.checking) && (
        <ReconcilePanel result={reconcile.result} error={reconcile.error} checking={reconcile.checking} stale={reconcile.stale} names={names} />
      )}
      <QuarantinePanel
        entries={quarantine.value?.entries ?? null}
        total={quarantine.value?.quarantined ?? 0}
        error={quarantine.error}
        forwarding={forwardJob !== null}
        names={names}
        onRetry={retry}
        onDiscarded={(discarded) => {
          quarantine.reload();
          journals.reload();
          show({ key: 'quarantine', kind: 'info', tone: 'neutral', text: `${count(discarded)} row${discarded === 1 ? '' : 's'} discarded; reconcile shows ${discarded === 1 ? 'it' : 'them'} with your reason.` });
        }}
      />
    </div>
  );
}

/** Pull, Forward all, Reconcile and Retry: each starts at once and leaves a notice when it cannot. */
function useCourierActions(show: (notice: CourierNotice) => void, dismiss: (key: string) => void, reloadQuarantine: () => void, onPullStarted: (jobId: string, key: string) => void) {
  const bridge = useBridge();
  const [startingPulls, setStartingPulls] = useState<ReadonlySet<string>>(new Set());
  const [startingForward, setStartingForward] = useState(false);
  const [reconcile, setReconcile] = useRememberedState<Reconcile>(reconcileMemory, { result: null, error: null, checking: false, stale: false });
  const [enteredWith] = useState(reconcile);

  function pull(row: CourierDeviceRow): void {
    const device = row.device;
    if (device === null) return;
    setStartingPulls((ids) => new Set(ids).add(device.id));
    void bridge.invoke('courier.pull', { id: device.id }).then((result) => {
      setStartingPulls((ids) => {
        const next = new Set(ids);
        next.delete(device.id);
        return next;
      });
      if (result.ok) {
        dismiss(`pull:${device.id}`);
        onPullStarted(result.value.jobId, `pull:${device.id}`);
      } else show({ key: `pull:${device.id}`, kind: 'failed', title: `Could not start a pull from ${device.name}`, error: result.error });
    });
  }

  function forward(): void {
    setStartingForward(true);
    void bridge.invoke('courier.forward', {}).then((result) => {
      setStartingForward(false);
      if (result.ok) dismiss('forward');
      else show({ key: 'forward', kind: 'failed', title: 'Could not start the forward', error: result.error });
    });
  }

  function runReconcile(): void {
    setReconcile((r) => ({ ...r, checking: true, error: null }));
    void bridge.invoke('courier.reconcile', {}).then((result) => {
      setReconcile((r) => (result.ok ? { result: result.value, error: null, checking: false, stale: false } : { ...r, error: result.error, checking: false }));
    });
  }

  // Back on the screen with a verdict shown (or one asked for while away): the verdicts stay
  // and are asked for again, as pulls and forwards may have ended meanwhile.
  const refreshOnEntry = useEffectEvent(() => {
    if (enteredWith.result !== null || enteredWith.checking) runReconcile();
  });
  useEffect(() => {
    refreshOnEntry();
  }, []);

  function retry(ids: number[] | null): void {
    void bridge.invoke('courier.quarantine.retry', ids === null ? {} : { ids }).then((result) => {
      reloadQuarantine();
      if (!result.ok) {
        show({ key: 'quarantine', kind: 'failed', title: 'Could not retry the refused rows', error: result.error });
        return;
      }
      const { requeued, jobId } = result.value;
      show({
        key: 'quarantine',
        kind: 'info',
        tone: 'neutral',
        text: requeued === 0 ? 'Nothing to retry.' : `${count(requeued)} row${requeued === 1 ? '' : 's'} back in the queue${jobId === null ? '.' : '; forwarding them now.'}`,
      });
    });
  }

  return { startingPulls, startingForward, reconcile, setReconcile, pull, forward, runReconcile, retry };
}

type CourierHeaderProps = {
  summary: string;
  reconciling: boolean;
  startingForward: boolean;
  forwarding: boolean;
  onReconcile: () => void;
  onForward: () => void;
  /** Pull all: every device in one visit. */
  pullAll: { starting: boolean; busy: boolean; onPress: () => void };
};

/** The title, what is held and waiting, Reconcile and Forward all. */
function CourierHeader({ summary, reconciling, startingForward, forwarding, onReconcile, onForward, pullAll }: CourierHeaderProps) {
  const canPullAll = !pullAll.busy && !pullAll.starting;
  const canForward = !forwarding && !startingForward;
  useActionShortcut('P', pullAll.onPress, canPullAll);
  useActionShortcut('R', onReconcile, !reconciling);
  useActionShortcut('F', onForward, canForward);
  return (
    <header className="screen-header">
      <h1>Courier</h1>
      <p className="screen-summary num" aria-live="polite">
        {summary}
      </p>
      <div className="header-actions">
        <Button className="button" onPress={pullAll.onPress} isPending={pullAll.starting} isDisabled={pullAll.busy}>
          Pull all
          <ShortcutHint letter="P" label="Pull all" />
        </Button>
        <Button className="button" onPress={onReconcile} isPending={reconciling}>
          {reconciling ? 'Reconciling…' : 'Reconcile'}
          <ShortcutHint letter="R" label="Reconcile" />
        </Button>
        <Button className="button is-primary" onPress={onForward} isPending={startingForward} isDisabled={forwarding}>
          Forward all
          <ShortcutHint letter="F" label="Forward all" />
        </Button>
      </div>
    </header>
  );
}

/** Pull a site (one button per site) and the switch that backs up what each pull completed. */
function VisitRow(props: {
  sites: Parameters<typeof SiteVisitButtons>[0]['sites'];
  busy: boolean;
  starting: Parameters<typeof SiteVisitButtons>[0]['starting'];
  onVisit: Parameters<typeof SiteVisitButtons>[0]['onVisit'];
  thenBackup: { enabled: boolean; setEnabled: (on: boolean) => void };
}) {
  return (
    <div className="courier-visit-row">
      <SiteVisitButtons sites={props.sites} busy={props.busy} starting={props.starting} onVisit={props.onVisit} />
      <SwitchField className="courier-then-backup" isSelected={props.thenBackup.enabled} onChange={props.thenBackup.setEnabled}>
        <SwitchButton className="switch" data-testid="pull-then-backup">
          <span className="switch-track" aria-hidden="true" />
          Back up after pulling
        </SwitchButton>
      </SwitchField>
    </div>
  );
}
