import type { JobProgress } from '../../../shared/jobs.ts';
import { formatBytes, formatDuration, formatRate } from '../../../shared/format.ts';

export type ProgressFigures = {
  /** "42%", or null when the total is unknown. */
  percent: string | null;
  /** "13.4 GB of 31.9 GB", or just the amount done. */
  amount: string;
  /** Null until the service has measured enough to say. */
  rate: string | null;
  eta: string | null;
};

/** A job's progress as the words and numbers shown next to its bar. */
export function progressFigures(progress: JobProgress | null): ProgressFigures {
  if (progress === null) return { percent: null, amount: 'starting…', rate: null, eta: null };
  const { bytesDone, bytesTotal, rateBytesPerSec, etaSeconds, unit, bytesReceived } = progress;
  const known = bytesTotal !== null && bytesTotal > 0;
  const amount = unit === 'items' ? (n: number) => n.toLocaleString('en-US') : formatBytes;
  // Items carried over a link (a pull's records) also say how many bytes carried them.
  const carried = bytesReceived === undefined ? '' : ` (${formatBytes(bytesReceived)})`;
  return {
    percent: known ? `${Math.floor((100 * bytesDone) / bytesTotal)}%` : null,
    amount: `${known ? `${amount(bytesDone)} of ${amount(bytesTotal)}` : amount(bytesDone)}${carried}`,
    rate: rateBytesPerSec === null ? null : unit === 'items' ? `${Math.round(rateBytesPerSec).toLocaleString('en-US')}/s` : formatRate(rateBytesPerSec),
    eta: etaSeconds === null ? null : formatDuration(etaSeconds),
  };
}
