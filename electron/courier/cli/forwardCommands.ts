/**
 * `fieldkit forward`, `fieldkit reconcile` and `fieldkit quarantine`: carry what the laptop
 * holds on to ClickHouse, check that it all arrived, and deal with the rows the server
 * refused. Where forward sends them is `fieldkit settings clickhouse`
 * (clickhouseSettingsCommand.ts).
 */
import { Option, type Command } from 'commander';
import { FORWARD_BATCH_ROWS } from '../../../shared/clickhouseSettings.ts';
import type { ForwardResult, QuarantineEntry, ReconcileJournal } from '../../../shared/courier.ts';
import { ForwardResultSchema } from '../../../shared/courier.ts';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { contractNumber, UsageError } from '../../kernel/cli/cliArguments.ts';
import { resolveDevice } from '../../devices/index.ts';
import { formatTable } from '../../kernel/cli/formatTable.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { exitCodes } from '../../kernel/cli/cliIo.ts';
import { followJob } from '../../kernel/cli/jobProgress.ts';
import { batchRows } from './clickhouseSettingsCommand.ts';

const reconcileColumns = [
  { header: 'DEVICE', value: (j: ReconcileJournal) => j.device_id },
  { header: 'JOURNAL', value: (j: ReconcileJournal) => j.journal_id.slice(0, 12) },
  { header: 'STATUS', value: (j: ReconcileJournal) => j.badge },
  { header: 'IN CLICKHOUSE', value: (j: ReconcileJournal) => `${j.clickhouse.distinct} of ${j.expected_through}`, align: 'right' as const },
  { header: 'MISSING', value: (j: ReconcileJournal) => (j.missing_records === 0 ? '' : String(j.missing_records)), align: 'right' as const },
  { header: 'DUPLICATES', value: (j: ReconcileJournal) => (j.duplicates_awaiting_merge === 0 ? '' : String(j.duplicates_awaiting_merge)), align: 'right' as const },
];

const quarantineColumns = [
  { header: 'ID', value: (q: QuarantineEntry) => String(q.id), align: 'right' as const },
  { header: 'DEVICE', value: (q: QuarantineEntry) => q.device_id },
  { header: 'SEQ', value: (q: QuarantineEntry) => (q.kind === 'record' ? String(q.seq) : `loss ${q.seq}-${q.to_seq}`) },
  { header: 'STATE', value: (q: QuarantineEntry) => (q.state === 'discarded' ? 'discarded' : `${q.state} (${q.attempts} ${q.attempts === 1 ? 'try' : 'tries'})`) },
  // Whole, wrapped: the server's words are how the technician fixes the table (--json has them as sent).
  { header: 'WHY THE SERVER REFUSED IT', value: (q: QuarantineEntry) => (q.state === 'discarded' ? `${q.reason} — discarded: ${q.discard_reason ?? ''}` : q.reason), wrap: 80 },
];

/** `fieldkit forward` and `fieldkit reconcile`: carry on to ClickHouse, then check it all arrived. */
export function addForwardCommands(program: Command, ctx: CliContext): void {
  program
    .command('forward')
    .description('forward what this laptop holds to ClickHouse, exactly once (a job; Ctrl-C cancels between batches, the next forward resumes)')
    .addOption(new Option('--batch-rows <n>', `rows per insert (${FORWARD_BATCH_ROWS.min}-${FORWARD_BATCH_ROWS.max}; default: the saved setting)`).argParser(batchRows))
    .addOption(new Option('--retry-for <seconds>', 'keep retrying an unreachable server this long before giving up (default 60)').argParser(contractNumber('courier.forward', 'retryForSeconds')))
    .action(async (opts: { batchRows?: number; retryFor?: number }) => {
      const services = await ctx.open();
      const { jobId } = await ctx.call('courier.forward', {
        ...(opts.batchRows === undefined ? {} : { batchRows: opts.batchRows }),
        ...(opts.retryFor === undefined ? {} : { retryForSeconds: opts.retryFor }),
      });
      const record = await followJob(jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
      if (record.state === 'done') {
        const result = ForwardResultSchema.safeParse(record.result);
        if (!ctx.json() && result.success) ctx.io.stdout(describeForward(result.data) + '\n');
        return;
      }
      ctx.setExitCode(record.state === 'cancelled' ? exitCodes.cancelled : exitCodes.failed);
      if (!ctx.json()) ctx.io.stderr(`${record.error?.message ?? 'Cancelled; the next forward resumes where this one stopped.'}\n${record.error ? `what to do: ${record.error.hint}\n` : ''}`);
    });

  program
    .command('reconcile')
    .description('compare ClickHouse with what each device journaled: missing ranges and why, duplicates awaiting merge')
    .option('--device <device>', 'only this device: its name or id on this laptop, or the id its agent journals as')
    .addOption(new Option('--max-ranges <n>', 'missing ranges listed per journal (default 100, at most 10000)').argParser(contractNumber('courier.reconcile', 'maxRanges')))
    .action(async (opts: { device?: string; maxRanges?: number }) => {
      const deviceId = opts.device === undefined ? undefined : await agentDeviceIdFor(ctx, opts.device);
      const result = await ctx.call('courier.reconcile', { ...(deviceId === undefined ? {} : { deviceId }), ...(opts.maxRanges === undefined ? {} : { maxRanges: opts.maxRanges }) });
      ctx.print(result, () => {
        if (result.journals.length === 0) return 'No journals on this laptop yet. Pull a device with `fieldkit pull <device>`.';
        const lines = [`ClickHouse ${result.serverVersion}, ${result.table}`, '', formatTable(result.journals, reconcileColumns), ''];
        for (const j of result.journals) {
          lines.push(j.summary);
          for (const m of j.missing.slice(0, 10)) lines.push(`  seq ${m.from_seq}-${m.to_seq} (${m.count}): ${m.reason.replaceAll('_', ' ')}${m.detail === '' ? '' : ` — ${m.detail}`}`);
          if (j.missing_ranges_total > 10) lines.push(`  … ${j.missing_ranges_total - 10} more ranges (--json lists up to --max-ranges)`);
        }
        return lines.join('\n');
      });
    });
}

/** `fieldkit quarantine …`: the rows ClickHouse refused. */
export function addQuarantineCommands(program: Command, ctx: CliContext): void {
  const quarantine = program.command('quarantine').description('rows ClickHouse refused: list them, retry them, or discard them with a reason');
  quarantine
    .command('list', { isDefault: true })
    .description('list quarantined rows with the server\'s reason')
    .option('--all', 'include discarded rows')
    .action(async (opts: { all?: boolean }) => {
      const result = await ctx.call('courier.quarantine.list', { includeDiscarded: opts.all === true });
      ctx.print(result, () =>
        result.entries.length === 0
          ? 'Nothing in the quarantine.'
          : `${formatTable(result.entries, quarantineColumns)}\n\n${result.quarantined} quarantined, ${result.discarded} discarded. Retry: fieldkit quarantine retry [ids]; give up: fieldkit quarantine discard <ids> --reason "…"`,
      );
    });
  quarantine
    .command('retry [ids...]')
    .description('put quarantined rows (all when no ids are given) back in the queue and forward')
    .action(async (ids: string[]) => {
      const parsed = ids.map(quarantineId);
      const result = await ctx.call('courier.quarantine.retry', parsed.length === 0 ? {} : { ids: parsed });
      if (result.jobId === null) {
        ctx.print(result, () => 'Nothing to retry.');
        return;
      }
      const services = await ctx.open();
      if (!ctx.json()) ctx.io.stderr(`Requeued ${result.requeued} row(s); forwarding.\n`);
      const record = await followJob(result.jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
      const forward = ForwardResultSchema.safeParse(record.result);
      if (record.state === 'done' && forward.success) {
        if (!ctx.json()) ctx.io.stdout(describeForward(forward.data) + '\n');
        return;
      }
      ctx.setExitCode(record.state === 'cancelled' ? exitCodes.cancelled : exitCodes.failed);
      if (!ctx.json() && record.error) ctx.io.stderr(`${record.error.message}\nwhat to do: ${record.error.hint}\n`);
    });
  quarantine
    .command('discard <ids...>')
    .description('give up on quarantined rows for good; the reason is recorded and reconcile shows them as discarded')
    .requiredOption('--reason <text>', 'why these rows are given up (kept with them)')
    .action(async (ids: string[], opts: { reason: string }) => {
      const result = await ctx.call('courier.quarantine.discard', { ids: ids.map(quarantineId), reason: opts.reason });
      ctx.print(result, () => `Discarded ${result.discarded} row(s).`);
    });
}

function describeForward(r: ForwardResult): string {
  const lines = [
    `Forwarded ${r.forwarded.toLocaleString('en-US')} records and ${r.lossesForwarded} loss records in ${r.batches} batches to ClickHouse ${r.serverVersion} (${r.rowsPerSec.toLocaleString('en-US')} rows/s${r.retries > 0 ? `, ${r.retries} retries` : ''}).`,
  ];
  if (r.quarantined > 0) lines.push(`${r.quarantined} row(s) refused by the server were set aside: fieldkit quarantine`);
  if (r.pending > 0) lines.push(`${r.pending.toLocaleString('en-US')} records still wait; forward again.`);
  lines.push('Check with: fieldkit reconcile');
  return lines.join('\n');
}

function quarantineId(value: string): number {
  const n = Number(value);
  // Read in the action, after commander: a usage error of its own, or the message would be lost.
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(appError('BAD_REQUEST', `"${value}" is not a quarantine id.`, 'Quarantine ids are the numbers in the ID column of `fieldkit quarantine list`.', 'ids'));
  return n;
}

/**
 * The id a device's agent journals as (what reconcile groups by), from the name or id of a
 * device on this laptop, or that agent id itself (a device removed from this laptop).
 */
async function agentDeviceIdFor(ctx: CliContext, wanted: string): Promise<string> {
  // One after the other: the first call opens the app's services.
  const { devices } = await ctx.call('devices.list', {});
  const { journals } = await ctx.call('courier.status', {});
  let device;
  try {
    device = resolveDevice(devices, wanted);
  } catch (error) {
    if (error instanceof UsageError && error.appError.code === 'NOT_FOUND' && journals.some((j) => j.device_id === wanted)) return wanted;
    throw error;
  }
  const agentId = journals.find((j) => j.device_ref === device.id)?.device_id ?? device.agentDeviceId;
  if (agentId === null) throw new FieldkitError(appError('NOT_FOUND', `Nothing of ${device.name} is on this laptop yet, so there is nothing to reconcile.`, `Pull it first: fieldkit pull ${device.name}`, 'device'));
  return agentId;
}
