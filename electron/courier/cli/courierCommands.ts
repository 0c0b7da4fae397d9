/** `fieldkit pull` and `fieldkit courier`: carry journals and see what is carried. */
import { Option, type Command } from 'commander';
import type { CourierJournal } from '../../../shared/courier.ts';
import { count, records } from '../../../shared/courierVerdict.ts';
import { PullResultSchema, type PullResult } from '../../../shared/courier.ts';
import { BackupRunResultSchema } from '../../../shared/backup.ts';
import type { Device } from '../../../shared/devices.ts';
import { appError } from '../../../shared/errors.ts';
import { defaultVisitParallel } from '../../../shared/siteVisit.ts';
import { resolveDevice } from '../../devices/index.ts';
import { contractNumber, UsageError } from '../../kernel/cli/cliArguments.ts';
import type { CliContext, CliServices } from '../../kernel/cli/cliContext.ts';
import { exitCodes } from '../../kernel/cli/cliIo.ts';
import { formatTable } from '../../kernel/cli/formatTable.ts';
import { followJob } from '../../kernel/cli/jobProgress.ts';
import { runVisitCommand } from './visitCommand.ts';

const journalColumns = [
  { header: 'DEVICE', value: (j: CourierJournal) => j.device_id },
  { header: 'JOURNAL', value: (j: CourierJournal) => j.journal_id.slice(0, 12) },
  { header: 'HELD', value: (j: CourierJournal) => count(j.held), align: 'right' as const },
  { header: 'TO FORWARD', value: (j: CourierJournal) => count(j.pending_forward), align: 'right' as const },
  // Seqs against seqs: how far the laptop holds without a gap, of the device's last seq as last heard.
  { header: 'THROUGH SEQ', value: (j: CourierJournal) => `${count(j.contiguous_seq)} of ${count(Math.max(j.agent_last_seq, j.contiguous_seq))}`, align: 'right' as const },
  { header: 'LOST ON DEVICE', value: (j: CourierJournal) => (j.lost_records === 0 ? '0' : `${count(j.lost_records)} in ${count(j.losses)} range${j.losses === 1 ? '' : 's'}`), align: 'right' as const },
  { header: 'QUARANTINED', value: (j: CourierJournal) => count(j.quarantined), align: 'right' as const },
  { header: 'LAST PULL', value: (j: CourierJournal) => new Date(j.last_pull_ms).toISOString().replace('T', ' ').slice(0, 19) },
];

/** "Pulled 1,640 records of pi-07 (1,200 new), safety events first; holds seq 1–1,640 of 1,640 …": what a pull did, in a sentence. */
export function describePull(name: string, result: PullResult): string {
  const pulled = result.journals.reduce((n, j) => n + j.pulled, 0);
  const fresh = result.journals.reduce((n, j) => n + j.new_records, 0);
  const lines = [`Pulled ${records(pulled)} from ${name}${pulled === fresh ? '' : ` (${count(fresh)} new to this laptop)`}, safety events first.`];
  for (const j of result.journals) {
    const rest = Math.max(0, j.agent_last_seq - j.contiguous_seq);
    const journal = result.journals.length > 1 ? `Journal ${j.journal_id.slice(0, 8)}: ` : '';
    lines.push(
      `${journal}this laptop holds every seq through ${count(j.contiguous_seq)} of the device's ${count(j.agent_last_seq)}${rest === 0 ? '' : ` (${records(rest)} still on the device: pull again)`}` +
        `${j.losses === 0 ? '' : `; ${count(j.losses)} loss record${j.losses === 1 ? '' : 's'} from the device`}.`,
    );
  }
  if (result.healthMinutes > 0) lines.push(`${count(result.healthMinutes)} minute${result.healthMinutes === 1 ? '' : 's'} of health history came along.`);
  lines.push('Next: fieldkit forward, then fieldkit reconcile.');
  return lines.join('\n');
}

export function addCourierCommands(program: Command, ctx: CliContext): void {
  program
    .command('pull [device]')
    .description("pull a device's journals to this laptop, safety events first (a job; Ctrl-C cancels, the next pull resumes); the device by name or id, or every device of a site (--site) or all of them (--all) in one visit")
    .option('--site <site>', 'pull every device of this site in one job')
    .option('--all', 'pull every device on this laptop in one job')
    .addOption(new Option('--parallel <n>', `with --site or --all: devices pulled at once (default ${defaultVisitParallel})`).argParser(contractNumber('courier.visit', 'parallel')))
    .option('--backup', 'one device: then back it up too (every class; see `fieldkit backup`): pull + backup in one visit')
    .action(async (wanted: string | undefined, opts: { site?: string; all?: boolean; parallel?: number; backup?: boolean }) => {
      const visit = opts.site !== undefined || opts.all === true;
      if ((wanted === undefined) === !visit || (opts.site !== undefined && opts.all === true) || (!visit && opts.parallel !== undefined)) {
        throw new UsageError(appError('BAD_REQUEST', 'Say what to pull: one device, or --site <site>, or --all (--parallel goes with the last two).', 'fieldkit pull pi-07 · fieldkit pull --site north-field --parallel 6 · fieldkit pull --all'));
      }
      if (visit && opts.backup === true) {
        throw new UsageError(appError('BAD_REQUEST', '--backup goes with one device; a site is backed up on its own after the visit.', 'fieldkit pull --site north-field, then fieldkit backup --site north-field'));
      }
      if (visit) {
        const { backup: _backup, ...visitOpts } = opts;
        await runVisitCommand(ctx, { ...visitOpts, parallel: opts.parallel ?? defaultVisitParallel });
        return;
      }
      const services = await ctx.open();
      const { devices } = await ctx.call('devices.list', {});
      const device = resolveDevice(devices, wanted ?? '');
      const { jobId } = await ctx.call('courier.pull', { id: device.id });
      const record = await followJob(jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
      if (record.state === 'done') {
        const result = PullResultSchema.safeParse(record.result);
        if (!ctx.json()) ctx.io.stdout(`${result.success ? describePull(device.name, result.data) : `Pulled ${device.name}.`}\n`);
        // The visit's backup runs after the pull, over a fresh link: a failed pull never starts it.
        if (opts.backup === true) await backupAfterPull(ctx, services, device);
        return;
      }
      ctx.setExitCode(record.state === 'cancelled' ? exitCodes.cancelled : exitCodes.failed);
      if (!ctx.json()) ctx.io.stderr(`${record.error?.message ?? 'Cancelled; the next pull resumes where this one stopped.'}\n${record.error ? `what to do: ${record.error.hint}\n` : ''}${opts.backup === true ? 'The backup was not started: pull first, then back up.\n' : ''}`);
    });

  program
    .command('courier')
    .description('what this laptop carries: per device and journal, held, to forward, losses')
    .action(async () => {
      const { journals } = await ctx.call('courier.status', {});
      ctx.print({ journals }, () => (journals.length === 0 ? 'Nothing carried yet. Pull a device with `fieldkit pull <device>` (its name or id).' : formatTable(journals, journalColumns)));
    });
}

/** The backup half of `pull --backup`: the backup job of the device, followed like any job. */
async function backupAfterPull(ctx: CliContext, services: CliServices, device: Device): Promise<void> {
  const { jobId } = await ctx.call('backup.start', { deviceIds: [device.id] });
  const record = await followJob(jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
  const result = BackupRunResultSchema.safeParse(record.result);
  if (!ctx.json() && result.success) {
    for (const item of result.data.items) ctx.io.stdout(`backup ${item.deviceName} ${item.class}: ${item.status === 'done' ? `snapshot ${item.snapshotId?.slice(0, 8) ?? ''}` : item.status === 'skipped' ? `skipped${item.error === null ? '' : ` — ${item.error.message}`}` : `FAILED — ${item.error?.message ?? ''}`}\n`);
  }
  if (record.state === 'done') return;
  ctx.setExitCode(record.state === 'cancelled' ? exitCodes.cancelled : exitCodes.failed);
  if (!ctx.json()) ctx.io.stderr(`The pull completed; the backup did not: ${record.error?.message ?? 'cancelled'}\nwhat to do: ${record.error?.hint ?? `fieldkit backup ${device.name}`}\n`);
}
