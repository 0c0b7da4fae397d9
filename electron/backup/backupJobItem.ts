/**
 * One device × class of a backup: the device's `backup-stream` command over its link, its
 * stdout through the stream verifier into restic's stdin. restic sees the end of its input
 * only after the verifier proved the stream whole and the device command exited 0; on any
 * failure or cancel restic is killed (SIGKILL, before it can write a snapshot), so a
 * half-finished backup never exists as a snapshot.
 */
import type { Writable } from 'node:stream';
import type { BackupClass } from '../../shared/backupStream.ts';
import { appError, FieldkitError, isFieldkitError } from '../../shared/errors.ts';
import { JobCancelledError } from '../kernel/jobs/jobContext.ts';
import type { Link, LinkStream } from '../kernel/link/linkApi.ts';
import { createTarStreamVerifier, type VerifiedStream } from './tarStreamVerifier.ts';

/** A running `restic backup --stdin`, as this file needs it. */
export type ResticSink = {
  stdin: Writable;
  /** SIGKILL: no snapshot is written. */
  kill(): void;
  /** restic's summary once it wrote the snapshot (after stdin ended). */
  done: Promise<{ snapshotId: string; dataAdded: number; totalBytesProcessed: number }>;
};

export type StreamedClass = { verified: VerifiedStream; snapshotId: string; dataAdded: number };

/** Writes with backpressure; rejects when the sink is destroyed (restic died or was killed) instead of waiting forever. */
function write(stdin: Writable, chunk: Buffer): Promise<void> | null {
  if (stdin.destroyed) return Promise.reject(new Error('restic stopped reading'));
  if (stdin.write(chunk)) return null;
  return new Promise((resolve, reject) => {
    const settle = (error: Error | null) => {
      stdin.off('drain', onDrain);
      stdin.off('close', onClose);
      if (error === null) resolve();
      else reject(error);
    };
    const onDrain = () => { settle(null); };
    const onClose = () => { settle(new Error('restic stopped reading')); };
    stdin.once('drain', onDrain);
    stdin.once('close', onClose);
  });
}

function deviceCommandFailed(link: Link, backupClass: BackupClass, exit: { code: number | null; signal: string | null }, stderr: string): FieldkitError {
  const said = stderr.trim().split('\n').slice(-3).join(' ');
  if (exit.code === null) {
    return new FieldkitError(
      appError('UNAVAILABLE', `The link to ${link.describe} dropped while it sent its ${backupClass} backup${said ? ` (${said})` : ''}. No snapshot was kept.`, 'Check the Pi is reachable and run the backup again: it redoes only what did not finish.'),
    );
  }
  const missing = /not found|No such file|unknown command|Unknown command/i.test(said);
  return new FieldkitError(
    appError(
      'IO_ERROR',
      `\`fieldkit-agent backup-stream --class ${backupClass}\` on ${link.describe} exited ${String(exit.code)}${said ? `: ${said}` : ''}. No snapshot was kept.`,
      missing ? 'The agent on this device is too old for backups: deploy the current agent (fieldkit deploy), then back up again.' : 'Check free space and the agent on the device, then run the backup again.',
    ),
  );
}

/**
 * Streams one class into restic. `openRestic` starts restic only once the device command
 * runs, so a device that cannot be reached never leaves a restic process behind.
 */
export async function streamClassIntoRestic(options: {
  link: Link;
  command: string;
  backupClass: BackupClass;
  expectedDeviceId: string | undefined;
  openRestic: () => ResticSink;
  signal: AbortSignal;
  onBytes: (bytesRead: number) => void;
}): Promise<StreamedClass> {
  const { link, backupClass, signal } = options;
  const source: LinkStream = await link.openStream(options.command);
  const restic = options.openRestic();
  // A holder: written by restic's callback (TypeScript sees the write).
  const resticFailure: { error: Error | null } = { error: null };
  // restic failing early (a locked or wrong-password repository) ends the stream at once.
  restic.done.catch((error: unknown) => {
    resticFailure.error = error instanceof Error ? error : new Error(String(error));
    restic.stdin.destroy();
    source.close();
  });
  restic.stdin.on('error', () => undefined);
  const onAbort = () => {
    restic.kill();
    restic.stdin.destroy();
    source.close();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const verifier = createTarStreamVerifier({ ...(options.expectedDeviceId === undefined ? {} : { deviceId: options.expectedDeviceId }), class: backupClass });
    source.writable.end();
    for await (const chunk of source.readable as AsyncIterable<Buffer>) {
      if (signal.aborted) break;
      for (const piece of verifier.feed(chunk)) await write(restic.stdin, piece);
      options.onBytes(verifier.bytesRead());
    }
    if (signal.aborted) throw new JobCancelledError(typeof signal.reason === 'string' ? signal.reason : 'cancelled');
    if (resticFailure.error !== null) throw resticFailure.error;
    const exit = await source.exit;
    if (exit.code !== 0) throw deviceCommandFailed(link, backupClass, exit, source.stderrTail());
    const { tail, verified } = verifier.finish();
    await write(restic.stdin, tail);
    restic.stdin.end();
    const summary = await restic.done;
    return { verified, snapshotId: summary.snapshotId, dataAdded: summary.dataAdded };
  } catch (error) {
    restic.kill();
    restic.stdin.destroy();
    source.close();
    if (resticFailure.error !== null && !isFieldkitError(error)) throw resticFailure.error;
    if (error instanceof JobCancelledError || isFieldkitError(error)) throw error;
    if (signal.aborted) throw new JobCancelledError(typeof signal.reason === 'string' ? signal.reason : 'cancelled');
    throw new FieldkitError(appError('IO_ERROR', `The ${backupClass} backup from ${link.describe} failed: ${error instanceof Error ? error.message : String(error)}. No snapshot was kept.`, 'Run the backup again.'), { cause: error });
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
