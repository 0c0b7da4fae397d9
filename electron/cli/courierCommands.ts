/** `fieldkit pull` and `fieldkit courier`: carry journals and see what is carried. */
import type { Command } from 'commander';
import type { CourierJournal } from '../../shared/courier.ts';
import type { CliContext } from './cliContext.ts';
import { exitCodes } from './cliIo.ts';
import { formatTable } from './formatTable.ts';
import { followJob } from './jobProgress.ts';

const journalColumns = [
  { header: 'DEVICE', value: (j: CourierJournal) => j.device_id },
  { header: 'JOURNAL', value: (j: CourierJournal) => j.journal_id.slice(0, 12) },
  { header: 'HELD', value: (j: CourierJournal) => String(j.held), align: 'right' as const },
  { header: 'TO FORWARD', value: (j: CourierJournal) => String(j.pending_forward), align: 'right' as const },
  { header: 'THROUGH SEQ', value: (j: CourierJournal) => `${j.contiguous_seq} of ${j.agent_last_seq}`, align: 'right' as const },
  { header: 'LOST ON DEVICE', value: (j: CourierJournal) => (j.lost_records === 0 ? '' : `${j.lost_records} in ${j.losses} ranges`) },
  { header: 'LAST PULL', value: (j: CourierJournal) => new Date(j.last_pull_ms).toISOString().replace('T', ' ').slice(0, 19) },
];

export function addCourierCommands(program: Command, ctx: CliContext): void {
  program
    .command('pull <deviceId>')
    .description("pull a device's journals to this laptop, safety events first (a job; Ctrl-C cancels, the next pull resumes)")
    .action(async (id: string) => {
      const services = await ctx.open();
      const { jobId } = await ctx.call('courier.pull', { id });
      const record = await followJob(jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
      if (record.state === 'done') {
        if (!ctx.json()) ctx.io.stdout(`Pulled: ${JSON.stringify(record.result, null, 2)}\n`);
        return;
      }
      ctx.setExitCode(record.state === 'cancelled' ? exitCodes.cancelled : exitCodes.failed);
      if (!ctx.json()) ctx.io.stderr(`${record.error?.message ?? 'cancelled'}\n${record.error ? `what to do: ${record.error.hint}\n` : ''}`);
    });

  program
    .command('courier')
    .description('what this laptop carries: per device and journal, held, to forward, losses')
    .action(async () => {
      const { journals } = await ctx.call('courier.status', {});
      ctx.print({ journals }, () => (journals.length === 0 ? 'Nothing carried yet. Pull a device with `fieldkit pull <device id>`.' : formatTable(journals, journalColumns)));
    });
}
