/**
 * One class streamed onto a device: `restic dump` of the class's tar (as the device sent it)
 * piped through the link into `fieldkit-agent backup-restore --class C` on the device, with
 * back-pressure. Nothing of it touches the laptop's disk; the agent replaces nothing until the
 * whole stream matched its manifest. A restic failure or cancel closes the device's stdin
 * early, so the agent sees a cut stream and keeps every file as it was.
 */
import { z } from 'zod';
import type { BackupClass } from '../../shared/backupStream.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { startRestic, type ResticRepo } from '../backup/index.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import type { RestoredClass, RestoreOntoOptions, RestoreTarget } from './restoreTypes.ts';

const ReportSchema = z.object({
  class: z.string(),
  device_id: z.string(),
  files: z.number().int(),
  bytes: z.number().int(),
  written: z.array(z.string()),
  kept: z.array(z.string()),
  databases: z.array(z.string()),
  journal_last_seq: z.number().int().nullable(),
});

function restoreArgs(cls: BackupClass, target: RestoreTarget): string {
  return [
    `backup-restore --class ${cls}`,
    ...(target.expectedDeviceId === null ? [] : [`--expect-device ${shellQuote(target.expectedDeviceId)}`]),
    ...(target.keepPaths ?? []).map((p) => `--keep ${shellQuote(p)}`),
    ...(target.keepConfig ?? []).map((k) => `--keep-config ${shellQuote(k)}`),
  ].join(' ');
}

function collect(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
    stream.on('end', () => { resolve(text); });
    stream.on('close', () => { resolve(text); });
  });
}

export async function streamClassOnto(snapshot: { class: BackupClass; resticId: string; repo: ResticRepo }, target: RestoreTarget, options: RestoreOntoOptions, onBytes: (n: number) => void): Promise<RestoredClass> {
  const cls = snapshot.class;
  return options.steps.step(`restore-${cls}`, `Put the ${cls} class back on ${target.name}`, async (cmd) => {
    const deviceCommand = target.agentCommand(restoreArgs(cls, target));
    const startedAt = Date.now();
    const remote = await target.link.openStream(deviceCommand);
    const output = collect(remote.readable);
    const restic = startRestic({
      repo: snapshot.repo,
      args: ['dump', '--no-lock', snapshot.resticId, `/${cls}.tar`],
      what: `read ${cls}.tar of snapshot ${snapshot.resticId.slice(0, 8)}`,
      signal: options.signal,
      onAbort: 'kill',
      onStdout: (chunk) => {
        onBytes(chunk.length);
        if (!remote.writable.write(chunk)) {
          restic.child.stdout?.pause();
          remote.writable.once('drain', () => restic.child.stdout?.resume());
        }
      },
    });
    try {
      await restic.done;
    } catch (error) {
      // The device sees a cut stream: it replaces nothing.
      remote.close();
      throw error;
    } finally {
      cmd.record({ on: 'laptop', command: `restic dump --no-lock ${snapshot.resticId.slice(0, 8)} /${cls}.tar  | ssh ${target.name} …`, startedAt, exitCode: restic.child.exitCode });
    }
    remote.writable.end();
    const exit = await remote.exit;
    const stdout = await output;
    cmd.record({ on: target.name, command: deviceCommand, startedAt, exitCode: exit.code });
    if (exit.code !== 0) {
      const said = remote.stderrTail().trim().split('\n').slice(-3).join(' ');
      throw new FieldkitError(appError(exit.code === null ? 'UNAVAILABLE' : 'IO_ERROR', `Restoring ${cls} on ${target.name} failed${said === '' ? '' : `: ${said}`}.`, /unknown command|not found/i.test(said) ? 'The agent on the device is too old to restore: deploy the current agent, then restore again.' : 'Nothing of this class was replaced on the device; check it is reachable and run the restore again.'));
    }
    const report = ReportSchema.parse(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}'));
    cmd.detail(`${String(report.written.length)} files written${report.kept.length > 0 ? `, ${String(report.kept.length)} kept as they were on ${target.name}` : ''}`);
    return { class: cls, files: report.files, bytes: report.bytes, written: report.written.length, kept: report.kept.length, databases: report.databases, journalLastSeq: report.journal_last_seq };
  });
}
