/** What a site visit came to, in one line (the jobs panel, the Courier notice). */
import { SiteVisitResultSchema } from '../../../shared/siteVisit.ts';
import { formatBytes, formatDuration } from '../../../shared/format.ts';
import { count, records } from './courierText.ts';

/** "Visited site north-field: 8 of 8 devices pulled, 812,000 records (800,000 new), 310 MB in 1:40; 2 retries." or null when the result is not a visit's. */
export function visitOutcome(result: unknown): { text: string; tone: 'ok' | 'warn' } | null {
  const parsed = SiteVisitResultSchema.safeParse(result);
  if (!parsed.success) return null;
  const v = parsed.data;
  const pulled = v.devices.filter((d) => d.status === 'done').length;
  const failed = v.devices.filter((d) => d.status === 'failed');
  const retries = v.devices.reduce((n, d) => n + d.retries, 0);
  let text = `Visited ${v.scope}: ${count(pulled)} of ${count(v.devices.length)} devices pulled, ${records(v.records)} (${count(v.newRecords)} new), ${formatBytes(v.bytes)} in ${formatDuration(Math.round(v.seconds))}`;
  text += retries > 0 ? `; ${count(retries)} retr${retries === 1 ? 'y' : 'ies'}.` : '.';
  if (failed.length > 0) text += ` Not pulled: ${failed.map((d) => d.name).join(', ')}.`;
  const stopped = v.devices.length - pulled - failed.length;
  if (stopped > 0) text += ` ${count(stopped)} stopped before the end: pull again to finish.`;
  return { text, tone: pulled === v.devices.length ? 'ok' : 'warn' };
}
