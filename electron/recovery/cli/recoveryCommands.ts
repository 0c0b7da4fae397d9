/**
 * `fieldkit restore DEVICE --list` (restore points), `fieldkit restore DEVICE [--snapshot ID]
 * [--class C…]` (a job: backup first, restore, checks; Ctrl-C cancels), and `fieldkit drill
 * DEVICE [--onto SPARE]`, `drill --history [DEVICE]`, `drill --runbook ID`.
 */
import type { Command } from 'commander';
import { BackupClassSchema, type BackupClass } from '../../../shared/backupStream.ts';
import { appError } from '../../../shared/errors.ts';
import { DrillResultSchema, RestoreResultSchema } from '../../../shared/recovery.ts';
import { resolveDevice } from '../../devices/index.ts';
import { UsageError } from '../../kernel/cli/cliArguments.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { exitCodes } from '../../kernel/cli/cliIo.ts';
import { followJob } from '../../kernel/cli/jobProgress.ts';
import { checksText, drillText, historyText, pointsText, stepsText } from './recoveryText.ts';

function classesOf(values: readonly string[] | undefined): BackupClass[] | undefined {
  if (values === undefined || values.length === 0) return undefined;
  return values.flatMap((v) => v.split(',')).map((v) => {
    const parsed = BackupClassSchema.safeParse(v.trim());
    if (!parsed.success) throw new UsageError(appError('BAD_REQUEST', `There is no backup class "${v}".`, `Use one of ${BackupClassSchema.options.join(', ')}.`, 'class'));
    return parsed.data;
  });
}

async function follow(ctx: CliContext, jobId: string) {
  const services = await ctx.open();
  const record = await followJob(jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
  if (record.state !== 'done') ctx.setExitCode(record.state === 'cancelled' ? exitCodes.cancelled : exitCodes.failed);
  return record;
}

function addRestore(program: Command, ctx: CliContext): void {
  program
    .command('restore <device>')
    .description('restore a device from one of its restore points (backup first, snapshot checked, services stopped and started in order, then checked); --list shows the points')
    .option('--list', 'list the restore points (time, classes, size, versions, copies, last verification)')
    .option('--snapshot <id>', 'the restore point (its id, or a snapshot id it holds); the newest verified one when absent')
    .option('--class <class...>', `only these classes (${BackupClassSchema.options.join(', ')}); every class of the point when absent`)
    .action(async (wanted: string, options: { list?: boolean; snapshot?: string; class?: string[] }) => {
      const { devices } = await ctx.call('devices.list', {});
      const device = resolveDevice(devices, wanted);
      if (options.list === true) {
        const answer = await ctx.call('recovery.points', { deviceId: device.id });
        ctx.print(answer, () => pointsText(answer.points, device.name));
        return;
      }
      const classes = classesOf(options.class);
      const { jobId } = await ctx.call('recovery.restore', { deviceId: device.id, ...(options.snapshot === undefined ? {} : { pointId: options.snapshot }), ...(classes === undefined ? {} : { classes }) });
      const record = await follow(ctx, jobId);
      const result = RestoreResultSchema.safeParse(record.result);
      if (ctx.json()) return;
      if (result.success) {
        const r = result.data;
        ctx.io.stdout(`${stepsText(r.steps)}\n\n${checksText(r.checks)}\n${r.undoPointId === null ? '' : `\nUndo this restore: fieldkit restore ${device.name} --snapshot ${r.undoPointId}\n`}${r.runbookPath === null ? '' : `Runbook: ${r.runbookPath}\n`}`);
      }
      if (record.state !== 'done') ctx.io.stderr(`${record.error?.message ?? 'The restore did not finish.'}\nwhat to do: ${record.error?.hint ?? 'run it again'}\n`);
    });
}

function addDrill(program: Command, ctx: CliContext): void {
  program
    .command('drill [device]')
    .description("restore a device's latest good backup onto a spare, check it, report RTO and RPO (never touches the device itself); --history lists drills and restores")
    .option('--onto <spare>', 'the spare to restore onto (a registered device)')
    .option('--snapshot <id>', 'drill this restore point instead of the proposed one')
    .option('--history', 'restores and drills, newest first, and when each device was last drilled')
    .option('--runbook <id>', 'print the runbook of a restore or drill (its id in --history)')
    .action(async (wanted: string | undefined, options: { onto?: string; snapshot?: string; history?: boolean; runbook?: string }) => {
      if (options.runbook !== undefined) {
        const answer = await ctx.call('recovery.runbook', { runId: Number(options.runbook) });
        ctx.print(answer, () => `${answer.markdown}\n(${answer.path})`);
        return;
      }
      const { devices } = await ctx.call('devices.list', {});
      if (options.history === true) {
        const device = wanted === undefined ? undefined : resolveDevice(devices, wanted);
        const answer = await ctx.call('recovery.history', device === undefined ? {} : { deviceId: device.id });
        ctx.print(answer, () => `${historyText(answer.runs)}\n\n${answer.drills.map((d) => `${d.deviceName}: ${d.lastDrillAt === null ? 'never drilled' : `last drilled ${new Date(d.lastDrillAt).toISOString().slice(0, 16)} (${d.lastDrillOk === true ? 'passed' : 'FAILED'})`}${d.stale ? ` — DRILL OVERDUE (window ${String(d.windowDays)} d)` : ''}`).join('\n')}`);
        return;
      }
      if (wanted === undefined) throw new UsageError(appError('BAD_REQUEST', 'Name the device to drill.', 'fieldkit drill pi-7 --onto spare-1', 'device'));
      if (options.onto === undefined) throw new UsageError(appError('BAD_REQUEST', 'Name the spare to restore onto with --onto.', 'fieldkit drill pi-7 --onto spare-1 (a registered device that may be overwritten).', 'onto'));
      const device = resolveDevice(devices, wanted);
      const spare = resolveDevice(devices, options.onto, 'onto');
      const { jobId } = await ctx.call('recovery.drill', { deviceId: device.id, onto: spare.id, ...(options.snapshot === undefined ? {} : { pointId: options.snapshot }) });
      const record = await follow(ctx, jobId);
      const result = DrillResultSchema.safeParse(record.result);
      if (ctx.json()) return;
      if (result.success) ctx.io.stdout(`${drillText(result.data)}\n${result.data.runbookPath === null ? '' : `\nRunbook: ${result.data.runbookPath}\n`}`);
      if (record.state !== 'done') ctx.io.stderr(`${record.error?.message ?? 'The drill did not finish.'}\nwhat to do: ${record.error?.hint ?? 'run it again'}\n`);
    });
}

export function addRecoveryCommands(program: Command, ctx: CliContext): void {
  addRestore(program, ctx);
  addDrill(program, ctx);
}
