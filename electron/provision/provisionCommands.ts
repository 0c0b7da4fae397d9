/**
 * Every command provisioning runs on the Pi goes through here: the kernel's recorded remote
 * commands (kernel/link/recordedCommands.ts) in provisioning's words, with every secret (the
 * Wi-Fi passphrase) blanked out of what is recorded. File contents travel as stdin, never in
 * the command, so a transcript shows which file was written but not what it holds.
 */
import type { TranscriptEntry } from '../../shared/deploy.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import { createRecordedCommands, type RecordedCommands } from '../kernel/link/recordedCommands.ts';

export type ProvisionCommands = RecordedCommands;

export function createProvisionCommands(link: Link, options: { secrets: readonly string[]; signal?: AbortSignal | undefined; onTranscript?: ((entry: TranscriptEntry) => void) | undefined }): ProvisionCommands {
  return createRecordedCommands(link, {
    ...options,
    defaultTimeoutMs: 60_000,
    cancelled: () => cancelled(link),
    linkLost: (step, cause) =>
      new FieldkitError(appError('UNAVAILABLE', `The console ${link.describe} stopped answering during ${step}.`, 'Check the cable and that the Pi is powered, then provision again: steps already done are kept and not redone.'), { cause }),
    failedHint: 'Read the transcript for the command and its output; fix the Pi, then provision again (finished steps are not redone).',
  });
}

export function cancelled(link: Link): FieldkitError {
  return new FieldkitError(appError('CANCELLED', `Provisioning over ${link.describe} was cancelled.`, 'Start it again when ready: finished steps are kept and not redone.'));
}
