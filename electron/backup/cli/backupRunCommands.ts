/**
 * `fieldkit backup [DEVICE...|--site S|--all] [--class C...]` (a job: progress, rate and
 * ETA per device and class; Ctrl-C cancels and no half snapshot is kept) and
 * `fieldkit backup list [DEVICE]` (freshness per device × class, then the snapshots).
 */
import type { Command } from 'commander';
import { BackupRunResultSchema, repoRoleLabels, type BackupFreshness, type BackupItemResult, type BackupSnapshot } from '../../../shared/backup.ts';
import { BackupClassSchema, type BackupClass } from '../../../shared/backupStream.ts';
import { appError } from '../../../shared/errors.ts';
import { formatBytes, formatDuration } from '../../../shared/format.ts';
import { resolveDeviceIds } from '../../devices/index.ts';
import { UsageError } from '../../kernel/cli/cliArguments.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { exitCodes } from '../../kernel/cli/cliIo.ts';
import { formatTable } from '../../kernel/cli/formatTable.ts';
import { followJob } from '../../kernel/cli/jobProgress.ts';
import { backupCommand } from './backupRepoCommands.ts';

function classesOf(values: readonly string[] | undefined): BackupClass[] | undefined {
  if (values === undefined || values.length === 0) return undefined;
  return values.flatMap((v) => v.split(',')).map((v) => {
    const parsed = BackupClassSchema.safeParse(v.trim());
    if (!parsed.success) throw new UsageError(appError('BAD_REQUEST', `There is no backup class "${v}".`, `Use one of ${BackupClassSchema.options.join(', ')}.`, 'class'));
    return parsed.data;
  });
}

function age(seconds: number | null): string {
  if (seconds === null) return 'never';
  return `${formatDuration(seconds)} ago`;
}

const freshnessColumns = [
  { header: 'DEVICE', value: (f: BackupFreshness) => f.deviceName ?? f.deviceId },
  { header: 'CLASS', value: (f: BackupFreshness) => f.class },
  { header: 'LAST GOOD', value: (f: BackupFreshness) => (f.lastGoodAt === null ? 'never' : new Date(f.lastGoodAt).toISOString().replace('T', ' ').slice(0, 16)) },
  { header: 'AGE', value: (f: BackupFreshness) => age(f.ageSeconds), align: 'right' as const },
  { header: 'SIZE', value: (f: BackupFreshness) => (f.sizeBytes === null ? '—' : formatBytes(f.sizeBytes)), align: 'right' as const },
  { header: 'COPIES', value: (f: BackupFreshness) => (f.copies.length === 0 ? '—' : f.copies.map((c) => repoRoleLabels[c]).join(', ')) },
  { header: 'STATE', value: (f: BackupFreshness) => (f.stale ? `OVERDUE (window ${String(f.windowDays)} d)` : 'ok') + (f.lastError === null ? '' : `; last attempt failed: ${f.lastError.message}`) },
];

const snapshotColumns = [
  { header: 'SNAPSHOT', value: (s: BackupSnapshot) => s.resticId.slice(0, 8) },
  { header: 'DEVICE', value: (s: BackupSnapshot) => s.deviceId },
  { header: 'CLASS', value: (s: BackupSnapshot) => s.class },
  { header: 'TIME', value: (s: BackupSnapshot) => new Date(s.time).toISOString().replace('T', ' ').slice(0, 19) },
  { header: 'SIZE', value: (s: BackupSnapshot) => formatBytes(s.sizeBytes), align: 'right' as const },
  { header: 'FILES', value: (s: BackupSnapshot) => String(s.files), align: 'right' as const },
  { header: 'AGENT', value: (s: BackupSnapshot) => s.agentVersion ?? '—' },
  { header: 'COPIES', value: (s: BackupSnapshot) => s.copies.map((c) => repoRoleLabels[c]).join(', ') },
];

/** "pi-1 state: 212 MB read, 1.2 MB new (snapshot 3f2a9c1e)": one line per device × class. */
export function describeItem(item: BackupItemResult): string {
  const name = `${item.deviceName} ${item.class}`;
  if (item.status === 'done') return `${name}: ${formatBytes(item.bytesRead)} read, ${formatBytes(item.bytesAdded)} new in the repository (snapshot ${item.snapshotId?.slice(0, 8) ?? ''})`;
  if (item.status === 'unchanged') return `${name}: unchanged since snapshot ${item.snapshotId?.slice(0, 8) ?? ''}, confirmed now (nothing streamed)`;
  if (item.status === 'skipped') return `${name}: ${item.error === null ? `already backed up in this run (snapshot ${item.snapshotId?.slice(0, 8) ?? ''})` : `skipped — ${item.error.message}`}`;
  return `${name}: FAILED — ${item.error?.message ?? 'no snapshot'} (nothing of it counts)`;
}

export function addBackupRunCommands(program: Command, ctx: CliContext): void {
  const backup = backupCommand(program);
  backup
    .argument('[devices...]', 'devices by name or id')
    .option('--site <site>', 'every device of this site')
    .option('--all', 'every registered device')
    .option('--class <class...>', `only these classes (${BackupClassSchema.options.join(', ')}); all when absent`)
    .action(async (wanted: string[], options: { site?: string; all?: boolean; class?: string[] }) => {
      const picks = [wanted.length > 0, options.site !== undefined, options.all === true].filter(Boolean).length;
      if (picks !== 1) throw new UsageError(appError('BAD_REQUEST', 'Name the devices to back up, or --site SITE, or --all (one of them).', 'fieldkit backup pi-7, fieldkit backup --site depot, fieldkit backup --all.', 'devices'));
      const services = await ctx.open();
      const { devices } = await ctx.call('devices.list', {});
      const classes = classesOf(options.class);
      const { jobId } = await ctx.call('backup.start', {
        ...(wanted.length > 0 ? { deviceIds: resolveDeviceIds(devices, wanted) } : {}),
        ...(options.site === undefined ? {} : { site: options.site }),
        ...(options.all === true ? { all: true } : {}),
        ...(classes === undefined ? {} : { classes }),
      });
      const record = await followJob(jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
      const result = BackupRunResultSchema.safeParse(record.result);
      if (!ctx.json() && result.success) ctx.io.stdout(`${result.data.items.map(describeItem).join('\n')}\n`);
      if (record.state === 'done') return;
      ctx.setExitCode(record.state === 'cancelled' ? exitCodes.cancelled : exitCodes.failed);
      if (!ctx.json()) {
        ctx.io.stderr(record.state === 'cancelled' ? 'Cancelled: the backup in progress was discarded (no snapshot of it counts). Run it again to finish; it redoes only what did not complete.\n' : `${record.error?.message ?? 'The backup failed.'}\nwhat to do: ${record.error?.hint ?? 'run it again'}\n`);
      }
    });

  backup
    .command('list [device]')
    .description('freshness of every device and class (last good backup, age, size, copies, overdue) and the snapshots')
    .action(async (wanted: string | undefined) => {
      const { devices } = await ctx.call('devices.list', {});
      const deviceId = wanted === undefined ? undefined : resolveDeviceIds(devices, [wanted])[0];
      const answer = await ctx.call('backup.list', deviceId === undefined ? {} : { deviceId });
      ctx.print(answer, () => {
        const overdue = answer.freshness.filter((f) => f.stale);
        const lines = [answer.freshness.length === 0 ? 'No devices.' : formatTable(answer.freshness, freshnessColumns)];
        lines.push('', answer.snapshots.length === 0 ? 'No snapshots yet: run `fieldkit backup DEVICE`.' : formatTable(answer.snapshots, snapshotColumns));
        if (overdue.length > 0) lines.push('', `${String(overdue.length)} device × class overdue: run \`fieldkit backup ${[...new Set(overdue.map((f) => f.deviceName ?? f.deviceId))].join(' ')}\`.`);
        return lines.join('\n');
      });
    });
}
