/**
 * What the Deploy screen and the jobs panel say about rollouts: counts per status, the
 * devices grouped by batch, one line for a finished rollout job. Pure, unit-tested.
 */
import { RolloutJobResultSchema, type DeviceDeployOutcome, type DeviceDeployStatus, type Rollout } from '../../../shared/deploy.ts';

export const statusLabels: Record<DeviceDeployStatus, string> = {
  pending: 'waiting',
  running: 'deploying…',
  updated: 'updated',
  unchanged: 'already current',
  'rolled-back': 'rolled back',
  refused: 'refused',
  failed: 'failed',
  skipped: 'skipped',
};

/** The tone a status is shown in (matches the notice and badge colours). */
export function statusTone(status: DeviceDeployStatus): 'ok' | 'bad' | 'warn' | 'busy' | 'idle' {
  switch (status) {
    case 'updated':
    case 'unchanged':
      return 'ok';
    case 'failed':
    case 'rolled-back':
      return 'bad';
    case 'refused':
      return 'warn';
    case 'running':
      return 'busy';
    default:
      return 'idle';
  }
}

export type StatusCounts = { done: number; failed: number; running: number; waiting: number; total: number };

export function countStatuses(devices: readonly Pick<DeviceDeployOutcome, 'status'>[]): StatusCounts {
  const counts: StatusCounts = { done: 0, failed: 0, running: 0, waiting: 0, total: devices.length };
  for (const d of devices) {
    if (d.status === 'updated' || d.status === 'unchanged') counts.done++;
    else if (d.status === 'failed' || d.status === 'rolled-back' || d.status === 'refused') counts.failed++;
    else if (d.status === 'running') counts.running++;
    else counts.waiting++;
  }
  return counts;
}

export type BatchGroup = { index: number; label: string; devices: DeviceDeployOutcome[] };

/** Devices grouped by batch in plan order; the first batch of several is the canary. */
export function groupByBatch(rollout: Pick<Rollout, 'devices'>): BatchGroup[] {
  const groups = new Map<number, DeviceDeployOutcome[]>();
  for (const d of rollout.devices) groups.set(d.batch, [...(groups.get(d.batch) ?? []), d]);
  const count = groups.size;
  return [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, devices]) => ({
      index,
      label: count > 1 && index === 0 ? `Batch 1 · canary` : `Batch ${index + 1}`,
      devices,
    }));
}

/** A rollout can be resumed when it stopped, or completed with devices still not on the version. */
export function canResume(rollout: Pick<Rollout, 'state' | 'devices'>): boolean {
  if (rollout.state === 'running') return false;
  return rollout.devices.some((d) => d.status !== 'updated' && d.status !== 'unchanged');
}

/** One line for a finished deploy.rollout job (the jobs panel). */
export function summarizeRollout(result: unknown): string | null {
  const parsed = RolloutJobResultSchema.safeParse(result);
  if (!parsed.success) return null;
  const { rollout } = parsed.data;
  const c = countStatuses(rollout.devices);
  const failed = c.failed > 0 ? `, ${c.failed} failed or rolled back` : '';
  return `${rollout.version}: ${c.done} of ${c.total} device${c.total === 1 ? '' : 's'} on it${failed}${rollout.stopReason ? `. ${rollout.stopReason}` : '.'}`;
}
