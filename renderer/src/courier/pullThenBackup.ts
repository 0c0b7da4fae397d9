/**
 * Pull + backup in one go from the Courier screen (as `fieldkit pull DEVICE --backup`): with
 * "Back up after pulling" on, a pull or a visit that completes starts the backup job of the
 * devices it pulled (a failed pull starts none), and the device's (or the visit's) one notice
 * line says both parts: what the pull brought, then what the backup came to.
 */
import { useRef, useState } from 'react';
import { SiteVisitResultSchema } from '../../../shared/siteVisit.ts';
import type { FinalJobEvent } from '../../../shared/jobs.ts';
import { useBridge } from '../api/hooks.ts';
import { backupJobSummaries } from '../backup/index.ts';
import type { JobView } from '../jobs/jobStore.ts';
import { jobParam, type CourierNotice } from './courierOutcomes.ts';

type Followed = { key: string };
type BackingUp = { key: string; pulled: string };

function pulledText(notice: CourierNotice): string {
  return notice.kind === 'info' ? notice.text : notice.title;
}

/** The devices a finished pull or visit pulled completely: those the backup takes. */
function pulledDevices(job: Pick<JobView, 'kind' | 'params'>, result: unknown): string[] {
  if (job.kind === 'courier.pull') {
    const ref = jobParam(job, 'deviceRef');
    return ref === null ? [] : [ref];
  }
  const visit = SiteVisitResultSchema.safeParse(result);
  return visit.success ? visit.data.devices.filter((d) => d.status === 'done').map((d) => d.deviceRef) : [];
}

export function usePullThenBackup(show: (notice: CourierNotice) => void) {
  const bridge = useBridge();
  const [enabled, setEnabled] = useState(false);
  const followed = useRef(new Map<string, Followed>());
  const backups = useRef(new Map<string, BackingUp>());

  /** A pull or visit just started: back its devices up when it completes (if the switch is on). */
  function started(jobId: string, key: string): void {
    if (enabled) followed.current.set(jobId, { key });
  }

  /** The notice for a finished courier job, with the backup it starts (or why none starts). */
  function courierEnded(job: Pick<JobView, 'id' | 'kind' | 'params'>, event: FinalJobEvent, notice: CourierNotice): CourierNotice {
    const follow = followed.current.get(job.id);
    if (follow === undefined) return notice;
    followed.current.delete(job.id);
    const devices = event.type === 'done' ? pulledDevices(job, event.result) : [];
    if (devices.length === 0) {
      const why = 'The backup was not started: nothing was pulled completely (pull first, then back up).';
      return notice.kind === 'failed' ? { ...notice, title: `${notice.title}. ${why}` } : { ...notice, tone: 'warn', text: `${notice.text} ${why}` };
    }
    const pulled = pulledText(notice);
    void bridge.invoke('backup.start', { deviceIds: devices }).then((result) => {
      if (result.ok) backups.current.set(result.value.jobId, { key: follow.key, pulled });
      else show({ key: follow.key, kind: 'failed', title: `${pulled} The backup could not start`, error: result.error });
    });
    return { key: follow.key, kind: 'info', tone: 'neutral', text: `${pulled} Backing up…` };
  }

  /** The notice for a backup this screen started after a pull, or null for any other backup. */
  function backupEnded(job: Pick<JobView, 'id' | 'kind' | 'title' | 'params'>, event: FinalJobEvent): CourierNotice | null {
    const backing = backups.current.get(job.id);
    if (backing === undefined) return null;
    backups.current.delete(job.id);
    if (event.type === 'failed') return { key: backing.key, kind: 'failed', title: `${backing.pulled} The backup failed`, error: event.error };
    if (event.type === 'cancelled') return { key: backing.key, kind: 'info', tone: 'warn', text: `${backing.pulled} The backup was cancelled (${event.reason}): back up again from Backups.` };
    const summary = backupJobSummaries['backup.run']({ ...job, result: event.result });
    return { key: backing.key, kind: 'info', tone: 'ok', text: `${backing.pulled} ${summary ?? 'Backed up.'}` };
  }

  return { enabled, setEnabled, started, courierEnded, backupEnded };
}
