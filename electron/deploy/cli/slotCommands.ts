/** `fieldkit slot-update`: an OS update of one A/B Pi over SSH, or a rehearsal of its rollback. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { formatBytes, formatDuration } from '../../../shared/format.ts';
import { SlotUpdateOutcomeSchema, summarizeSlotUpdate } from '../../../shared/slots.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { deviceFor } from '../../devices/index.ts';
import { exitCodes } from '../../kernel/cli/cliIo.ts';
import { followJob } from '../../kernel/cli/jobProgress.ts';

function bootSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 10 || n > 1800) throw new InvalidArgumentError('whole seconds from 10 to 1800.');
  return n;
}

export function addSlotCommands(program: Command, ctx: CliContext): void {
  program
    .command('slot-update <device> <image>')
    .description('OS update of an A/B Pi over SSH: write the inactive slot, boot it on trial, commit only when healthy (a job; Ctrl-C cancels)')
    .option('--rehearse', 'boot the new slot on trial but do not commit: prove the device returns to its old slot')
    .addOption(new Option('--boot-timeout <seconds>', 'how long each reboot may take (default 180)').argParser(bootSeconds))
    .action(async (deviceRef: string, imagePath: string, opts: { rehearse?: boolean; bootTimeout?: number }) => {
      const services = await ctx.open();
      const { id: deviceId } = await deviceFor(ctx, deviceRef);
      const { jobId } = await ctx.call('slots.update', {
        deviceId,
        imagePath,
        rehearse: opts.rehearse === true,
        ...(opts.bootTimeout === undefined ? {} : { bootTimeoutSeconds: opts.bootTimeout }),
      });
      const record = await followJob(jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
      const outcome = SlotUpdateOutcomeSchema.safeParse(record.result);
      const ok = record.state === 'done' && outcome.success && (outcome.data.status === 'committed' || outcome.data.status === 'rehearsed');
      ctx.setExitCode(ok ? exitCodes.ok : record.state === 'cancelled' ? exitCodes.cancelled : exitCodes.failed);
      if (ctx.json()) {
        ctx.io.stdout(JSON.stringify({ jobId, state: record.state, outcome: outcome.success ? outcome.data : null, error: record.error }, null, 2) + '\n');
        return;
      }
      if (!outcome.success) {
        ctx.io.stderr(`${record.error?.message ?? record.state}\n${record.error ? `what to do: ${record.error.hint}\n` : ''}`);
        return;
      }
      const o = outcome.data;
      const lines = [
        `outcome: ${o.status}`,
        // Said already when it went well (the job's last info line); a failure is said here only.
        ...(ok ? [] : [summarizeSlotUpdate(o)]),
        `slots: ${o.fromSlot?.toUpperCase() ?? '?'} → ${o.toSlot?.toUpperCase() ?? '?'}, now on ${o.endSlot?.toUpperCase() ?? 'unknown'}; ${formatBytes(o.bytesSent)} sent in ${formatDuration(o.durationMs / 1000)}`,
      ];
      // The summary carries the error's message already.
      if (o.error) lines.push(`what to do: ${o.error.hint}`);
      lines.push(`transcript: fieldkit jobs show ${jobId}`);
      (ok ? ctx.io.stdout : ctx.io.stderr)(lines.join('\n') + '\n');
    });
}
