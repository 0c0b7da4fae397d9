/**
 * `fieldkit backup verify|copy|forget|history|repo`: prove the backups restorable, copy them
 * to the site drive or off-site, apply retention (previewed first), and set up repositories
 * (a new repository's recovery key is printed once). All with --json.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { CopyResultSchema, ForgetResultSchema, RepoRoleSchema, VerifyResultSchema, type RecoveryKey, type RetentionGroup, type VerificationEntry } from '../../../shared/backup.ts';
import { BackupClassSchema, type BackupClass } from '../../../shared/backupStream.ts';
import type { JobRecord } from '../../../shared/jobs.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { exitCodes } from '../../kernel/cli/cliIo.ts';
import { formatTable } from '../../kernel/cli/formatTable.ts';
import { followJob } from '../../kernel/cli/jobProgress.ts';
import { describeVerification, describeRepositories } from './backupText.ts';

/** The one `backup` command, made by whichever of the domain's command groups comes first. */
export function backupCommand(program: Command): Command {
  return program.commands.find((c) => c.name() === 'backup') ?? program.command('backup').description('back up devices into restic repositories, verify, copy and prune them');
}

function oneOf<T extends string>(allowed: readonly T[]) {
  return (value: string): T => {
    if ((allowed as readonly string[]).includes(value)) return value as T;
    throw new InvalidArgumentError(`expected one of ${allowed.join(', ')}`);
  };
}

async function follow(ctx: CliContext, jobId: string): Promise<JobRecord> {
  const services = await ctx.open();
  const record = await followJob(jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
  if (record.state !== 'done') {
    ctx.setExitCode(record.state === 'cancelled' ? exitCodes.cancelled : exitCodes.failed);
    if (!ctx.json() && record.error) ctx.io.stderr(`error: ${record.error.message}\nwhat to do: ${record.error.hint}\n`);
  }
  return record;
}

const retentionColumns = [
  { header: 'DEVICE', value: (g: RetentionGroup) => g.deviceId },
  { header: 'CLASS', value: (g: RetentionGroup) => g.class },
  { header: 'KEEP', value: (g: RetentionGroup) => String(g.keep.length), align: 'right' as const },
  { header: 'REMOVE', value: (g: RetentionGroup) => String(g.remove.length), align: 'right' as const },
  { header: 'REMOVED SNAPSHOTS', value: (g: RetentionGroup) => g.remove.map((s) => `${s.resticId.slice(0, 8)} ${new Date(s.time).toISOString().slice(0, 16)}`).join(', '), wrap: 60 },
];

function printKeys(ctx: CliContext, keys: readonly RecoveryKey[]): void {
  if (ctx.json() || keys.length === 0) return;
  ctx.io.stdout('\nRECOVERY KEYS — shown once:\n');
  for (const k of keys) ctx.io.stdout(`  ${k.role} ${k.kind} (${k.location}):\n    ${k.recoveryKey}\n`);
  ctx.io.stdout(`${keys[0]?.warning ?? ''}\n`);
}

function addVerifyAndCopy(backup: Command, ctx: CliContext): void {
  backup
    .command('verify')
    .description('prove the backups restorable: restic check of a rolling slice, every latest snapshot restored in memory and compared with the device manifest, SQLite integrity')
    .addOption(new Option('--repo <role>', 'only this repository: laptop, site or offsite (default: all created)').argParser(oneOf(RepoRoleSchema.options)))
    .action(async (opts: { repo?: 'laptop' | 'site' | 'offsite' }) => {
      const { jobId } = await ctx.call('backup.verify', opts.repo === undefined ? {} : { repo: opts.repo });
      const record = await follow(ctx, jobId);
      const result = VerifyResultSchema.safeParse(record.result);
      if (ctx.json() || !result.success) return;
      ctx.io.stdout(result.data.entries.map(describeVerification).join('\n') + '\n');
      if (!result.data.ok) ctx.setExitCode(exitCodes.failed);
    });
  backup
    .command('copy')
    .description("copy this laptop's snapshots (both repositories) to the site drive or off-site with restic copy")
    .addOption(new Option('--to <place>', 'site or offsite').argParser(oneOf(['site', 'offsite'] as const)).makeOptionMandatory())
    .action(async (opts: { to: 'site' | 'offsite' }) => {
      const record = await follow(ctx, (await ctx.call('backup.copy', { to: opts.to })).jobId);
      const result = CopyResultSchema.safeParse(record.result);
      if (!ctx.json() && result.success) {
        ctx.io.stdout(result.data.repos.map((r) => `${r.kind}: ${r.copied} snapshot(s) copied; ${r.held} of this laptop's held at ${r.location}`).join('\n') + '\n');
      }
    });
}

function addForgetAndHistory(backup: Command, ctx: CliContext): void {
  backup
    .command('forget [device]')
    .description('apply retention per device and class (restic forget --prune); --dry-run shows what would go')
    .option('--dry-run', 'only show what would be kept and removed')
    .addOption(new Option('--class <class>', 'only this class').argParser(oneOf(BackupClassSchema.options)))
    .addOption(new Option('--repo <role>', 'laptop (default), site or offsite').argParser(oneOf(RepoRoleSchema.options)))
    .action(async (device: string | undefined, opts: { dryRun?: boolean; class?: BackupClass; repo?: 'laptop' | 'site' | 'offsite' }) => {
      const request = { dryRun: opts.dryRun === true, ...(device === undefined ? {} : { deviceId: device }), ...(opts.class === undefined ? {} : { class: opts.class }), ...(opts.repo === undefined ? {} : { repo: opts.repo }) };
      const answer = await ctx.call('backup.forget', request);
      if (answer.dryRun) {
        ctx.print(answer, () => (answer.preview.groups.length === 0 ? 'No snapshots to apply retention to.' : `${formatTable(answer.preview.groups, retentionColumns)}\n\nApply it: fieldkit backup forget${device === undefined ? '' : ` ${device}`}${opts.class === undefined ? '' : ` --class ${opts.class}`}`));
        return;
      }
      const record = await follow(ctx, answer.jobId);
      const result = ForgetResultSchema.safeParse(record.result);
      if (!ctx.json() && result.success) ctx.io.stdout(`Removed ${result.data.removed} snapshot(s).\n`);
    });
  backup
    .command('history')
    .description('verification history, newest first')
    .addOption(new Option('--repo <role>', 'laptop, site or offsite').argParser(oneOf(RepoRoleSchema.options)))
    .option('--device <id>', 'only verifications that restored this device')
    .action(async (opts: { repo?: 'laptop' | 'site' | 'offsite'; device?: string }) => {
      const result = await ctx.call('backup.history', { ...(opts.repo === undefined ? {} : { repo: opts.repo }), ...(opts.device === undefined ? {} : { deviceId: opts.device }) });
      ctx.print(result, () => (result.entries.length === 0 ? 'No verification yet: fieldkit backup verify' : result.entries.map((e: VerificationEntry) => describeVerification(e)).join('\n')));
    });
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

export function addBackupRepoCommands(program: Command, ctx: CliContext): void {
  const backup = backupCommand(program);
  addVerifyAndCopy(backup, ctx);
  addForgetAndHistory(backup, ctx);
  backup
    .command('repo')
    .description('show or set up the backup repositories (a new one prints its recovery key once)')
    .option('--create', "create this laptop's repositories now")
    .option('--site-drive <folder>', 'a folder on the site drive (a USB SSD)')
    .option('--no-site-drive', 'forget the site drive (its repository is left as it is)')
    .option('--offsite <url>', 'an off-site restic repository: sftp:user@host:/path, or any restic URL')
    .option('--no-offsite', 'forget the off-site repository (left as it is)')
    .option('--reveal-keys', 'print the recovery keys of repositories a backup created (once)')
    .addOption(new Option('--subset-runs <n>', 'verification reads 1/n of the data per run').argParser(positive))
    .action(async (opts: { create?: boolean; siteDrive?: string | false; offsite?: string | false; revealKeys?: boolean; subsetRuns?: number }) => {
      const patch = {
        ...(opts.create === true ? { createLaptop: true } : {}),
        ...(opts.siteDrive === undefined ? {} : { siteDrivePath: opts.siteDrive === false ? null : opts.siteDrive }),
        ...(opts.offsite === undefined ? {} : { offsiteUrl: opts.offsite === false ? null : opts.offsite }),
        ...(opts.revealKeys === true ? { revealRecoveryKeys: true } : {}),
        ...(opts.subsetRuns === undefined ? {} : { verify: { subsetRuns: opts.subsetRuns } }),
      };
      if (Object.keys(patch).length === 0) {
        const { settings } = await ctx.call('settings.backup.get', {});
        ctx.print({ settings }, () => describeRepositories(settings));
        return;
      }
      const result = await ctx.call('settings.backup.set', patch);
      ctx.print(result, () => describeRepositories(result.settings));
      printKeys(ctx, result.recoveryKeys);
    });
}
