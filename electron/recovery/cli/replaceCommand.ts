/**
 * `fieldkit replace DEVICE --onto [user@]host[:port] [--drive PATH] [--spare-host-key SHA256:…]
 * [--agent-bundle F] [--rotate-credentials]`: a spare becomes DEVICE (the recovery.replace job) —
 * one already running, or one booted from PATH, flashed first with the image DEVICE ran.
 * Killed and run again with the same arguments, it skips what is done and finishes. Prints the
 * steps with their timings, the checks, the journal continuity and the RTO.
 */
import type { Command } from 'commander';
import { appError } from '../../../shared/errors.ts';
import { ReplaceResultSchema, type ReplaceResult } from '../../../shared/recoveryReplace.ts';
import { parseSshAddress } from '../../../shared/sshAddress.ts';
import { formatDuration } from '../../../shared/format.ts';
import { resolveDeviceIds } from '../../devices/index.ts';
import { UsageError } from '../../kernel/cli/cliArguments.ts';
import type { CliContext } from '../../kernel/cli/cliContext.ts';
import { exitCodes } from '../../kernel/cli/cliIo.ts';
import { followJob } from '../../kernel/cli/jobProgress.ts';

/** The report, for people. */
export function describeReplace(r: ReplaceResult): string {
  const lines = [`Replace ${r.deviceName} with ${r.spare}: ${r.ok ? 'healthy' : 'NOT healthy'}${r.rtoMs === null ? '' : `, RTO ${formatDuration(r.rtoMs / 1000)} (start to healthy)`}`];
  for (const s of r.steps) lines.push(`  ${s.status === 'done' ? 'done   ' : s.status === 'skipped' ? 'skipped' : 'FAILED '} ${s.title} (${(s.durationMs / 1000).toFixed(1)} s)${s.detail === null ? '' : `: ${s.detail}`}`);
  for (const c of r.checks) lines.push(`  check ${c.name}: ${c.ok ? 'ok' : 'FAILED'} — ${c.detail}`);
  const j = r.continuity;
  if (j !== null) {
    lines.push(`Journal: ${j.oldJournalId ?? '(none pulled)'} complete through seq ${String(j.throughSeq)}${j.lostRecords > 0 ? `; ${String(j.lostRecords)} records after it lost with the failed device` : ''}; continued by ${j.newJournalId}`);
  }
  if (r.hostKey !== null) lines.push(`Host key pinned: ${r.hostKey.fingerprint}${r.hostKey.rotated ? ` (new; ${r.hostKey.revoked ?? 'the old key'} is refused from now on)` : ' (the device\'s own, restored)'}`);
  if (r.runbookPath !== null) lines.push(`Runbook: ${r.runbookPath}`);
  return lines.join('\n');
}

export function addReplaceCommand(program: Command, ctx: CliContext): void {
  program
    .command('replace <device>')
    .description('make a spare become a dead device (same id, keys, config, agent; its journal continued): a spare already running over SSH, or a card flashed with the image the device ran; resumable')
    .option('--onto <address>', "the spare's SSH address ([user@]host[:port]); with --drive, where it answers once booted from the card")
    .option('--drive <path>', 'first flash the image the device last ran (from the image library, still trusted) onto this drive, with its first-boot identity; then wait for the spare booted from it')
    .option('--boot-wait <seconds>', 'with --drive: how long to wait for the booted spare to answer SSH (default 600)', (v) => Number.parseInt(v, 10))
    .option('--spare-host-key <fingerprint>', "the spare's SSH host key as you checked it (SHA256:…); a flashed card's is named by the replace once it boots")
    .option('--agent-bundle <file>', 'the signed agent bundle of the version the device ran (when the spare does not run it)')
    .option('--rotate-credentials', 'new SSH host keys pinned, the old one refused (after a compromise)')
    .action(async (wanted: string, options: { onto?: string; drive?: string; bootWait?: number; spareHostKey?: string; agentBundle?: string; rotateCredentials?: boolean }) => {
      const services = await ctx.open();
      const { devices } = await ctx.call('devices.list', {});
      const [deviceId] = resolveDeviceIds(devices, [wanted]);
      if (deviceId === undefined) throw new UsageError(appError('BAD_REQUEST', `No device ${wanted}.`, 'fieldkit devices lists them.', 'device'));
      let onto: { host: string; port: number; username: string } | undefined;
      if (options.onto !== undefined) {
        const parsed = parseSshAddress(options.onto);
        if (!parsed.ok) throw new UsageError(appError('BAD_REQUEST', `--onto ${options.onto}: ${parsed.message}`, 'Give the spare as [user@]host[:port], e.g. pi@10.0.0.41.', 'onto'));
        onto = { host: parsed.address.host, port: parsed.address.port ?? 22, username: parsed.address.username ?? 'pi' };
      }
      const { jobId } = await ctx.call('recovery.replace', {
        deviceId,
        ...(options.spareHostKey === undefined ? {} : { spareHostKey: options.spareHostKey }),
        ...(options.bootWait === undefined ? {} : { bootWaitSeconds: options.bootWait }),
        rotateCredentials: options.rotateCredentials === true,
        ...(onto === undefined ? {} : { onto }),
        ...(options.drive === undefined ? {} : { drive: options.drive }),
        ...(options.agentBundle === undefined ? {} : { agentBundlePath: options.agentBundle }),
      });
      const record = await followJob(jobId, { events: services.events, jobs: services.jobs, io: ctx.io, json: ctx.json() });
      const result = ReplaceResultSchema.safeParse(record.result);
      if (!ctx.json() && result.success) ctx.io.stdout(`${describeReplace(result.data)}\n`);
      if (record.state === 'done' && result.success && result.data.ok) return;
      ctx.setExitCode(record.state === 'cancelled' ? exitCodes.cancelled : exitCodes.failed);
      if (!ctx.json() && record.state !== 'done') ctx.io.stderr(`${record.error?.message ?? 'The replace failed.'}\nwhat to do: ${record.error?.hint ?? 'fix the cause and run the same command again: done steps are skipped'}\n`);
    });
}
