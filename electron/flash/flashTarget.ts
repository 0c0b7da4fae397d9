/**
 * One drive of a flash, from start to "safe to remove", as the flash helper runs it:
 * unmount every partition, write and read back the image, give the Pi its first-boot
 * identity, eject. Never throws: every way it can end is a FlashTargetResult — "refused"
 * when nothing was written, "incomplete — do not use" once writing began and did not finish.
 */
import { appError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import type { FlashTargetResult, FlashTargetState } from '../../shared/flash.ts';
import { parsePublicKey } from '../signing/minisignFormat.ts';
import { ejectDrive, unmountDrive } from './driveMounts.ts';
import type { HelperFlashRequest, HelperTargetUpdate } from './helperChannel.ts';
import { incompleteLabel, writeImageToDrive } from './writeImage.ts';

export type FlashTargetSpec = HelperFlashRequest['targets'][number];

export type TargetReporter = {
  update(update: Omit<HelperTargetUpdate, 'device'>): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
};

function cancelledError(device: string): AppError {
  return appError('CANCELLED', `The flash of ${device} was cancelled; the drive is ${incompleteLabel}.`, 'Flash it again before using it.');
}

/** Runs the whole pipeline for one target; `signal` aborts it (cancel, or the app went away). */
export async function flashTarget(request: HelperFlashRequest, target: FlashTargetSpec, signal: AbortSignal, report: TargetReporter): Promise<FlashTargetResult> {
  const started = performance.now();
  const base = { device: target.device, description: target.description, firstBootFiles: [], ejected: false };
  const seconds = (): number => Math.round(performance.now() - started) / 1000;
  const state = (next: FlashTargetState, bytesDone = 0, bytesTotal: number | null = null): void => {
    report.update({ state: next, bytesDone, bytesTotal });
  };
  // A function, not a narrowed property: the signal may abort at any await below.
  const aborted = (): boolean => signal.aborted;
  const refused = (error: AppError): FlashTargetResult => {
    state('refused');
    return { ...base, status: 'refused', label: null, error, bytesWritten: 0, bytesVerified: 0, seconds: seconds() };
  };

  state('preparing');
  if (aborted()) return refused(appError('CANCELLED', `The flash of ${target.device} was cancelled before anything was written.`, 'The drive is unchanged.'));
  try {
    const unmounted = await unmountDrive(target.device);
    if (unmounted.length > 0) report.log('info', `${target.device}: unmounted ${unmounted.join(', ')}.`);
  } catch (error) {
    return refused(isFieldkitError(error) ? error.appError : appError('IO_ERROR', `${target.device} could not be unmounted: ${String(error)}.`, 'Close programs using the drive, then flash again.'));
  }

  if (request.kind === 'plain') {
    return refused(appError('UNAVAILABLE', 'Plain (unsigned) images cannot be written by this build yet.', 'Use a signed .fkimg image.'));
  }

  let written;
  try {
    written = await writeImageToDrive({
      imagePath: request.imagePath,
      device: target.raw,
      trustedKeys: request.trustedKeys.map((k) => parsePublicKey(k)),
      signal,
      onProgress: (p) => {
        state(p.phase, p.bytesDone, p.bytesTotal);
      },
    });
  } catch (error) {
    // Thrown only before the drive was opened for writing: nothing was written.
    return refused(isFieldkitError(error) ? error.appError : appError('INTERNAL', `Flashing ${target.device} failed before writing: ${String(error)}.`, 'Try again; if it repeats, report it with the job log.'));
  }
  if (written.status === 'incomplete') {
    state('incomplete', written.bytesWritten);
    return { ...base, status: 'incomplete', label: incompleteLabel, error: aborted() ? cancelledError(target.device) : written.error, bytesWritten: written.bytesWritten, bytesVerified: 0, seconds: seconds() };
  }

  let ejected = false;
  if (request.eject) {
    state('ejecting');
    ejected = await ejectDrive(target.device).catch(() => false);
    if (!ejected) report.log('info', `${target.device} was flushed but could not be ejected here; it is safe to remove.`);
  }
  state('success', written.bytesVerified, written.bytesVerified);
  return { ...base, status: 'success', label: null, error: null, bytesWritten: written.bytesWritten, bytesVerified: written.bytesVerified, seconds: seconds(), ejected };
}
