/**
 * What the agent's own state snapshots (issue 14: the recovery point between visits) mean to
 * a technician: failing snapshots, or a newest good one much older than the interval, are a
 * warning with what to do. A sample without the field (an older agent, or one not taken by
 * the daemon) raises nothing: the laptop's own backups and their freshness still speak.
 */
import type { HealthAlert } from './fleetHealth.ts';
import type { HealthSample } from './health.ts';

type Draft = Omit<HealthAlert, 'sinceMs'>;

/** A newest good snapshot older than this many intervals (plus a margin) means the timer stopped or fails. */
export const SNAPSHOT_LATE_INTERVALS = 2;
const MARGIN_MS = 5 * 60_000;

function age(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 90) return `${String(minutes)} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${String(hours)} h` : `${String(Math.round(hours / 24))} days`;
}

export function deviceSnapshotAlerts(sample: HealthSample): Draft[] {
  const s = sample.backup_snapshots;
  if (s === undefined) return [];
  const newest = s.newestGoodAt === null ? 'there is no good one yet' : `the newest good one is ${age(Math.max(0, sample.at_ms - s.newestGoodAt))} old`;
  const takeOne = 'Meanwhile `fieldkit backup <device> --class state` keeps a copy on the laptop.';
  if (s.lastError !== null) {
    return [
      {
        code: 'device-snapshots-failing',
        severity: 'warning',
        title: 'On-device snapshots failing',
        explanation: `The agent's hourly state snapshot into ${s.folder} failed: ${s.lastError}; ${newest}. Until it works, a dead card loses everything since then.`,
        action: `Free space on the data partition, or check the snapshot drive is plugged in and writable (folder ${s.folder}). ${takeOne}`,
      },
    ];
  }
  if (s.newestGoodAt === null) return [];
  const lateAfterMs = SNAPSHOT_LATE_INTERVALS * s.intervalSeconds * 1000 + MARGIN_MS;
  if (sample.at_ms - s.newestGoodAt <= lateAfterMs) return [];
  return [
    {
      code: 'device-snapshots-failing',
      severity: 'warning',
      title: 'On-device snapshot overdue',
      explanation: `The agent takes a state snapshot every ${age(s.intervalSeconds * 1000)}, but ${newest} (in ${s.folder}).`,
      action: `Check the agent's log on the Pi (\`journalctl -u fieldkit-agent -n 100\`) for snapshot errors; restart the agent if its timer stopped. ${takeOne}`,
    },
  ];
}
