import { ReadCheckResultSchema } from '../../../shared/drives.ts';
import { formatBytes, formatDuration, formatRate } from '../../../shared/format.ts';

/** One line for a finished read check's result, or null when the result is not one. */
export function summarizeReadCheck(result: unknown): string | null {
  const check = ReadCheckResultSchema.safeParse(result);
  if (!check.success) return null;
  const { bytesRead, seconds, averageBytesPerSecond, badRegions } = check.data;
  return `Read ${formatBytes(bytesRead)} in ${formatDuration(seconds)} at ${formatRate(averageBytesPerSecond)}, ${regionsPhrase(badRegions.length)}`;
}

/** The same, short enough for a table cell: rate and unreadable regions. */
export function summarizeReadCheckBriefly(result: unknown): string | null {
  const check = ReadCheckResultSchema.safeParse(result);
  if (!check.success) return null;
  return `${formatRate(check.data.averageBytesPerSecond)}, ${regionsPhrase(check.data.badRegions.length)}`;
}

function regionsPhrase(bad: number): string {
  return bad === 0 ? 'no unreadable regions' : `${bad} unreadable region${bad === 1 ? '' : 's'}`;
}
