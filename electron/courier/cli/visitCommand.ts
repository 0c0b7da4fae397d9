/**
 * `fieldkit pull --site S | --all [--parallel N]`: a site visit from the terminal. The job's
 * per-device lines (safety events carried, retries, done, failed and why) print as they
 * happen above the overall bar; the end is a table with a line per device. Ctrl-C cancels
 * every device cleanly (what was stored keeps its custody); --json prints the job's events.
 */
import { formatBytes } from '../../../shared/format.ts';
import { SiteVisitResultSchema, type SiteVisitResult, type VisitDeviceOutcome } from '../../../shared/siteVisit.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { exitCodes } from '../../kernel/cli/cliIo.ts';
import { formatTable } from '../../kernel/cli/formatTable.ts';
import { followJob } from '../../kernel/cli/jobProgress.ts';

const statusWords: Record<VisitDeviceOutcome['status'], string> = { done: 'pulled', failed: 'FAILED', cancelled: 'cancelled', not_started: 'not started' };

const deviceColumns = [
  { header: 'DEVICE', value: (d: VisitDeviceOutcome) => d.name },
  { header: 'STATUS', value: (d: VisitDeviceOutcome) => statusWords[d.status] },
  { header: 'RECORDS', value: (d: VisitDeviceOutcome) => (d.pull?.journals.reduce((n, j) => n + j.pulled, 0) ?? d.safetyRecords).toLocaleString('en-US'), align: 'right' as const },
  { header: 'SAFETY', value: (d: VisitDeviceOutcome) => d.safetyRecords.toLocaleString('en-US'), align: 'right' as const },
  { header: 'BYTES', value: (d: VisitDeviceOutcome) => formatBytes(d.bytes), align: 'right' as const },
  { header: 'RETRIES', value: (d: VisitDeviceOutcome) => String(d.retries), align: 'right' as const },
  { header: 'WHAT TO DO', value: (d: VisitDeviceOutcome) => (d.error === null ? '' : `${d.error.message} — ${d.error.hint}`), wrap: 70 },
];

export async function runVisitCommand(ctx: CliContext, options: { site?: string; all?: boolean; parallel: number }): Promise<void> {
  const services = await ctx.open();
  const request = options.site !== undefined ? { site: options.site, parallel: options.parallel } : { all: true as const, parallel: options.parallel };
  const { jobId, devices } = await ctx.call('courier.visit', request);
  if (!ctx.json()) ctx.io.stderr(`Pulling ${devices} device${devices === 1 ? '' : 's'}, ${options.parallel} at a time: safety events of every device first, then the rest. Ctrl-C cancels.\n`);
  const record = await followJob(jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
  const result = SiteVisitResultSchema.safeParse(record.result);
  if (record.state !== 'done') ctx.setExitCode(record.state === 'cancelled' ? exitCodes.cancelled : exitCodes.failed);
  if (ctx.json()) return;
  if (result.success) ctx.io.stdout(`${describeVisit(result.data)}\n`);
  if (record.state === 'cancelled') ctx.io.stderr('Cancelled: what was stored stays, with its custody; the next pull resumes there.\n');
  else if (record.error !== null) ctx.io.stderr(`${record.error.message}\nwhat to do: ${record.error.hint}\n`);
}

/** The per-device table, then one line for the whole visit. */
export function describeVisit(v: SiteVisitResult): string {
  const pulled = v.devices.filter((d) => d.status === 'done').length;
  const retries = v.devices.reduce((n, d) => n + d.retries, 0);
  const rate = v.seconds > 0 ? `, ${formatBytes(v.bytes / v.seconds)}/s` : '';
  return [
    formatTable(v.devices, deviceColumns),
    `${pulled} of ${v.devices.length} devices pulled (${v.scope}): ${v.records.toLocaleString('en-US')} records (${v.newRecords.toLocaleString('en-US')} new), ${formatBytes(v.bytes)} in ${v.seconds.toFixed(1)} s${rate}, at most ${v.maxInFlight} at once${retries > 0 ? `, ${retries} retr${retries === 1 ? 'y' : 'ies'}` : ''}.`,
    ...(pulled > 0 ? ['Next: fieldkit forward, then fieldkit reconcile.'] : []),
  ].join('\n');
}
