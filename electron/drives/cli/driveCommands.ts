/** `fieldkit drives …`: the attached drives, and a read check of one. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { driveModel, type Drive } from '../../../shared/drives.ts';
import { formatBytes } from '../../../shared/format.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { formatTable } from '../../kernel/cli/formatTable.ts';
import { followJob } from '../../kernel/cli/jobProgress.ts';
import { reportJob } from '../../kernel/cli/jobReport.ts';

const driveColumns = [
  { header: 'DEVICE', value: (d: Drive) => d.device },
  { header: 'SIZE', value: (d: Drive) => (d.sizeBytes === null ? '?' : formatBytes(d.sizeBytes)), align: 'right' as const },
  { header: 'BUS', value: (d: Drive) => d.busType },
  { header: 'DESCRIPTION', value: (d: Drive) => driveModel(d) ?? '-' },
  {
    header: 'FLASH',
    value: (d: Drive) =>
      d.flashable ? ['yes.', ...d.warnings.map((w) => w.message)].join(' ') : `no. ${d.refusals.map((r) => r.message).join(' ')}`,
  },
];

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number.');
  return n;
}

export function addDriveCommands(program: Command, ctx: CliContext): void {
  const drives = program.command('drives').description('list drives and check them');
  drives
    .command('list', { isDefault: true })
    .description('list drives and whether each may be flashed')
    .addOption(new Option('--image-size <bytes>', 'refuse drives smaller than this').argParser(positiveInt))
    .action(async (opts: { imageSize?: number }) => {
      const { drives: list } = await ctx.call('drives.list', opts.imageSize === undefined ? {} : { imageSizeBytes: opts.imageSize });
      ctx.print({ drives: list }, () => (list.length === 0 ? 'No drives found.' : formatTable(list, driveColumns)));
    });
  drives
    .command('check <device>')
    .description('read a whole drive once: real read speed, unreadable regions, SHA-256 (a job; Ctrl-C cancels)')
    .addOption(new Option('--max-bytes <bytes>', 'stop after this many bytes (a quick check)').argParser(positiveInt))
    .action(async (device: string, opts: { maxBytes?: number }) => {
      const s = await ctx.open();
      const { jobId } = await ctx.call('drives.readCheck', { device, ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}) });
      const record = await followJob(jobId, { events: s.events, jobs: s.jobs, io: ctx.io, json: ctx.json() });
      ctx.setExitCode(reportJob(record, ctx.io, ctx.json()));
    });
}
