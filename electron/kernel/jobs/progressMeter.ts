/**
 * Turns raw byte counts into what a technician reads: rate over a recent window (not
 * since the start, so a slow patch shows) and an ETA from that rate.
 */
import type { JobProgress } from '../../../shared/jobs.ts';
import type { WorkerProgress } from './jobProtocol.ts';

const windowMs = 3000;

export type ProgressMeter = { update(progress: WorkerProgress, now: number): JobProgress };

/** A meter for one job; phases share one window so a phase change does not reset the rate. */
export function createProgressMeter(): ProgressMeter {
  let samples: { at: number; bytes: number }[] = [];
  let phase = '';
  return {
    update(progress, now) {
      if (progress.phase !== phase || (samples.length > 0 && progress.bytesDone < (samples.at(-1)?.bytes ?? 0))) {
        // A new phase (or a restart of the count) measures a new stream of bytes.
        samples = [];
        phase = progress.phase;
      }
      samples.push({ at: now, bytes: progress.bytesDone });
      while (samples.length > 2 && (samples[0]?.at ?? now) < now - windowMs) samples.shift();
      const first = samples[0];
      const elapsedMs = first ? now - first.at : 0;
      const rate = first && elapsedMs >= 200 ? ((progress.bytesDone - first.bytes) * 1000) / elapsedMs : null;
      const remaining = progress.bytesTotal === null ? null : Math.max(0, progress.bytesTotal - progress.bytesDone);
      const eta = rate !== null && rate > 0 && remaining !== null ? remaining / rate : null;
      return {
        phase: progress.phase,
        bytesDone: progress.bytesDone,
        bytesTotal: progress.bytesTotal,
        unit: progress.unit ?? 'bytes',
        rateBytesPerSec: rate,
        etaSeconds: eta === null ? null : Math.round(eta),
        ...(progress.bytesReceived === undefined ? {} : { bytesReceived: progress.bytesReceived }),
        ...(progress.targets === undefined ? {} : { targets: progress.targets }),
        ...(progress.visit === undefined ? {} : { visit: progress.visit }),
      };
    },
  };
}
