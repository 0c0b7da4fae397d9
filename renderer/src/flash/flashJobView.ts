/**
 * A flash job as the Flash screen shows it: one line per drive, live from the job's
 * progress (`JobProgress.targets`) while it runs, then from its result (`FlashResult`).
 */
import { FlashResultSchema, type FlashResult, type FlashTargetProgress, type FlashTargetResult, type FlashTargetState } from '../../../shared/flash.ts';
import { formatBytes, formatDuration, formatRate } from '../../../shared/format.ts';
import type { JobView } from '../jobs/jobStore.ts';

/** Words for each state, as the technician reads them next to the bar. */
export const targetStateLabels: Record<FlashTargetState, string> = {
  queued: 'waiting',
  preparing: 'preparing (unmounting)',
  checking: 'checking image',
  writing: 'writing',
  verifying: 'verifying (reading back)',
  customising: 'writing first-boot files',
  ejecting: 'ejecting',
  success: 'done',
  incomplete: 'incomplete — do not use',
  refused: 'refused',
};

/** The flash job's result, when the job has one (done, or failed/cancelled with per-drive results). */
export function flashResultOf(job: Pick<JobView, 'result'>): FlashResult | null {
  const parsed = FlashResultSchema.safeParse(job.result);
  return parsed.success ? parsed.data : null;
}

/** Each drive's progress in a running flash; empty until the job reports it. */
export function targetProgressOf(job: Pick<JobView, 'progress'>): readonly FlashTargetProgress[] {
  return job.progress?.targets ?? [];
}

/** "412.3 MB of 1.2 GB · 85.1 MB/s · 0:09 left" for one drive. */
export function targetFigures(target: FlashTargetProgress): string {
  const known = target.bytesTotal !== null && target.bytesTotal > 0;
  const parts = [known ? `${formatBytes(target.bytesDone)} of ${formatBytes(target.bytesTotal ?? 0)}` : formatBytes(target.bytesDone)];
  if (target.rateBytesPerSec !== null) parts.push(formatRate(target.rateBytesPerSec));
  if (target.etaSeconds !== null) parts.push(`${formatDuration(target.etaSeconds)} left`);
  return parts.join(' · ');
}

/** Percent of one drive's current phase, or null when its total is not known yet. */
export function targetPercent(target: FlashTargetProgress): number | null {
  if (target.bytesTotal === null || target.bytesTotal <= 0) return null;
  return Math.min(100, Math.floor((100 * target.bytesDone) / target.bytesTotal));
}

export type DrivePhase = 'write' | 'verify' | 'firstBoot' | 'eject';
export type PhaseStatus = 'waiting' | 'active' | 'done';

/** Where each of a drive's phases stands, from the one state the job reports for it. */
const phaseOrder: Record<FlashTargetState, number> = {
  queued: 0,
  preparing: 0,
  checking: 0,
  writing: 1,
  verifying: 2,
  customising: 3,
  ejecting: 4,
  success: 5,
  incomplete: 0,
  refused: 0,
};
const phaseRank: Record<DrivePhase, number> = { write: 1, verify: 2, firstBoot: 3, eject: 4 };

export function phaseStatus(state: FlashTargetState, phase: DrivePhase): PhaseStatus {
  const reached = phaseOrder[state];
  return reached === phaseRank[phase] ? 'active' : reached > phaseRank[phase] ? 'done' : 'waiting';
}

/**
 * A byte phase (write or read-back) of one drive as its bar shows it: its own percent, and
 * its own rate and time left while it runs. Null percent while the total is unknown.
 */
export function bytePhaseView(target: FlashTargetProgress, phase: 'write' | 'verify'): { status: PhaseStatus; percent: number | null; figures: string } {
  const status = phaseStatus(target.state, phase);
  if (status === 'done') return { status, percent: 100, figures: phase === 'write' ? 'written' : 'verified' };
  if (status === 'waiting') return { status, percent: 0, figures: phase === 'write' ? 'waiting' : 'after writing' };
  return { status, percent: targetPercent(target), figures: targetFigures(target) };
}

/** One line for a drive's outcome: what was verified, or why it must not be used. */
export function targetOutcome(result: FlashTargetResult): string {
  if (result.status === 'success') {
    const files = result.firstBootFiles.length === 0 ? 'no first-boot files' : `first-boot files ${result.firstBootFiles.map((f) => f.name).join(', ')}`;
    const free = result.freeSpace === undefined ? '' : `; ${formatBytes(result.freeSpace.bytes)} of free space left unwritten${result.freeSpace.discarded ? ' and discarded' : ` (${result.freeSpace.note ?? 'not discarded'})`}`;
    return `${formatBytes(result.bytesVerified)} written and read back in ${tookTime(result.seconds)}${free}; ${files}${result.ejected ? '; ejected' : ''}.`;
  }
  if (result.status === 'refused') return result.error?.message ?? 'Refused before anything was written.';
  return result.error?.message ?? 'Stopped before the image was complete.';
}

/** One line for the jobs panel: how many drives succeeded, and which did not. */
export function summarizeFlash(result: unknown): string | null {
  const parsed = FlashResultSchema.safeParse(result);
  if (!parsed.success) return null;
  const targets = parsed.data.targets;
  const good = targets.filter((t) => t.status === 'success');
  const bad = targets.filter((t) => t.status !== 'success');
  const what = parsed.data.image.product === null ? 'the image' : `${parsed.data.image.product} ${parsed.data.image.version ?? ''}`.trim();
  const head = `Flashed ${what} to ${good.length} of ${targets.length} drive${targets.length === 1 ? '' : 's'}`;
  if (bad.length === 0) return `${head}, each verified.`;
  return `${head}; ${bad.map((t) => `${t.device} ${t.status === 'refused' ? 'refused' : 'incomplete — do not use'}`).join(', ')}.`;
}

/** "3.2 s" for a quick flash, "4:05" for a long one. */
function tookTime(seconds: number): string {
  return seconds < 60 ? `${seconds.toFixed(1)} s` : formatDuration(seconds);
}
