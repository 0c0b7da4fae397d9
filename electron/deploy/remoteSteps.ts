/**
 * Every command a deploy runs on a device goes through here: the kernel's recorded remote
 * commands (kernel/link/recordedCommands.ts) — each transcribed the moment it ends, root work
 * as `sudo -n` — in a deploy's words. A long command over a serial console goes as a script
 * file, and a channel closed without an exit code is a dropped link.
 */
import type { TranscriptEntry } from '../../shared/deploy.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import { createRecordedCommands, type RecordedCommands, type RecordedRunOptions } from '../kernel/link/recordedCommands.ts';

export type RunOptions = RecordedRunOptions;

export type RemoteSteps = RecordedCommands;

export function cancelled(where: string): FieldkitError {
  return new FieldkitError(appError('CANCELLED', `The deploy to ${where} was cancelled.`, 'Start it again when ready; the device keeps the release it was running.'));
}

export function createRemoteSteps(
  link: Link,
  options: { signal?: AbortSignal | undefined; onTranscript?: ((entry: TranscriptEntry) => void) | undefined; transcript?: TranscriptEntry[] },
): RemoteSteps {
  return createRecordedCommands(link, {
    ...options,
    defaultTimeoutMs: 120_000,
    cancelled: () => cancelled(link.describe),
    linkLost: (step, cause) => linkLost(link, step, cause),
    failedHint: 'Read the transcript for the command and its output; fix the device, then deploy again.',
    scriptLongCommands: true,
    noExitCodeIsLost: true,
  });
}

export function linkLost(link: Link, step: string, cause?: unknown): FieldkitError {
  const detail = cause instanceof Error ? ` (${cause.message})` : '';
  return new FieldkitError(
    appError('UNAVAILABLE', `The link to ${link.describe} dropped during ${step}${detail}.`, 'Check the device is on and reachable, then deploy again: it keeps running the release it had, and files already sent are not sent again.'),
    cause === undefined ? undefined : { cause },
  );
}
