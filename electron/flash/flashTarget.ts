/**
 * One drive of a flash, from start to "safe to remove", as the flash helper runs it:
 * unmount every partition, write and read back the image, give the Pi its first-boot
 * identity, eject. Never throws: every way it can end is a FlashTargetResult — "refused"
 * when nothing was written, "incomplete — do not use" once writing began and did not finish.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { appError, FieldkitError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import type { FlashTargetResult, FlashTargetState } from '../../shared/flash.ts';
import { parsePublicKey } from '../kernel/signing/minisignFormat.ts';
import { ejectDrive, unmountDrive } from './driveMounts.ts';
import { applyFirstBoot, firstBootKind, readDeviceLayout, type FirstBootFile } from './firstBoot.ts';
import type { HelperFlashRequest, HelperTargetUpdate } from './helperMessages.ts';
import { writePlainImageToDrive, type PlainWriteResult } from './plainImage.ts';
import { incompleteLabel, writeImageToDrive, type WriteImageResult, type WriteProgress } from './writeImage.ts';

const run = promisify(execFile);
const busyRetries = 20;
const busyRetryMs = 250;

export type FlashTargetSpec = HelperFlashRequest['targets'][number];

export type TargetReporter = {
  update(update: Omit<HelperTargetUpdate, 'device'>): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
};

function cancelledError(device: string): AppError {
  return appError('CANCELLED', `The flash of ${device} was cancelled; the drive is ${incompleteLabel}.`, 'Flash it again before using it.');
}

/**
 * Zeroes the first MiB (partition table, boot selector) so a drive whose flash did not finish
 * cannot boot as though it were good. Best effort: a drive that went away cannot be marked.
 */
async function zeroFirstMiB(device: string): Promise<void> {
  try {
    const handle = await open(device, constants.O_WRONLY);
    try {
      await handle.write(Buffer.alloc(1 << 20), 0, 1 << 20, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if ((await stat(device)).isBlockDevice() && process.platform === 'linux') await run('blockdev', ['--flushbufs', device]);
  } catch {
    // The result already says incomplete.
  }
}

/**
 * The writer's exclusive open is refused (CONFLICT, EBUSY) while anything else holds the
 * drive exclusively — right after an unmount, or while a disk prober (lsblk/blkid, a desktop's
 * udisks) looks at it: seen under load as a flash refused a moment after a clean unmount. A
 * refusal means nothing was written, so retrying for a few seconds is safe.
 */
async function retryWhileBusy<T>(write: () => Promise<T>, aborted: () => boolean): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      const busy = isFieldkitError(error) && error.appError.code === 'CONFLICT';
      if (!busy || attempt >= busyRetries || aborted()) throw error;
      await new Promise((resolve) => setTimeout(resolve, busyRetryMs));
    }
  }
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

  let written: WriteImageResult | PlainWriteResult;
  try {
    const onProgress = (p: WriteProgress): void => {
      state(p.phase, p.bytesDone, p.bytesTotal);
    };
    const write = (): Promise<WriteImageResult | PlainWriteResult> =>
      request.kind === 'signed'
        ? writeImageToDrive({ imagePath: request.imagePath, device: target.raw, trustedKeys: request.trustedKeys.map((k) => parsePublicKey(k)), writeAll: request.writeAll, signal, onProgress })
        : writePlainImageToDrive({ imagePath: request.imagePath, device: target.raw, skipZeroBlocks: request.skipZeroBlocks, signal, onProgress });
    written = await retryWhileBusy(write, aborted);
  } catch (error) {
    // Thrown only before the drive was opened for writing: nothing was written.
    return refused(isFieldkitError(error) ? error.appError : appError('INTERNAL', `Flashing ${target.device} failed before writing: ${String(error)}.`, 'Try again; if it repeats, report it with the job log.'));
  }
  if (written.status === 'incomplete') {
    state('incomplete', written.bytesWritten);
    return { ...base, status: 'incomplete', label: incompleteLabel, error: aborted() ? cancelledError(target.device) : written.error, bytesWritten: written.bytesWritten, bytesVerified: 0, seconds: seconds() };
  }

  const freeSpace = written.freeSpace !== undefined && written.freeSpace.bytes > 0 ? written.freeSpace : undefined;
  if (freeSpace !== undefined) {
    report.log('info', `${target.device}: ${freeSpace.bytes} bytes of free filesystem space left unwritten (no file reads them)${freeSpace.discarded ? ' and discarded' : `; ${freeSpace.note ?? 'not discarded'}`}.`);
  }

  let firstBootFiles: FirstBootFile[] = [];
  if (target.identity !== undefined) {
    state('customising');
    try {
      if (request.appSshPublicKey === null) throw new FieldkitError(appError('INTERNAL', "The flash was started without fieldkit's SSH key, so the Pi could not be reached afterwards.", 'Start the flash again.'));
      const manifest = written.manifest;
      firstBootFiles = await applyFirstBoot({
        device: target.raw,
        layout: manifest === null ? await readDeviceLayout(target.raw) : manifest.layout,
        customisation: firstBootKind(manifest),
        identity: target.identity,
        appSshPublicKey: request.appSshPublicKey,
        ...(manifest?.first_boot?.user === undefined ? {} : { user: manifest.first_boot.user }),
        signal,
      });
      report.log('info', `${target.device}: first-boot identity ${target.identity.deviceId} (${target.identity.hostname}) written and read back: ${firstBootFiles.map((f) => f.name).join(', ')}.`);
    } catch (error) {
      // The image is good but the Pi would boot without (or with half) its identity: not usable as flashed.
      await zeroFirstMiB(target.raw);
      state('incomplete', written.bytesWritten);
      const failure = aborted() ? cancelledError(target.device) : isFieldkitError(error) ? error.appError : appError('IO_ERROR', `Writing the first-boot identity to ${target.device} failed: ${String(error)}.`, 'Flash the drive again.');
      return { ...base, status: 'incomplete', label: incompleteLabel, error: failure, bytesWritten: written.bytesWritten, bytesVerified: written.bytesVerified, seconds: seconds() };
    }
  }

  let ejected = false;
  if (request.eject) {
    state('ejecting');
    ejected = await ejectDrive(target.device).catch(() => false);
    if (!ejected) report.log('info', `${target.device} was flushed but could not be ejected here; it is safe to remove.`);
  }
  state('success', written.bytesVerified, written.bytesVerified);
  return { ...base, status: 'success', label: null, error: null, bytesWritten: written.bytesWritten, bytesVerified: written.bytesVerified, seconds: seconds(), ejected, firstBootFiles, ...(freeSpace === undefined ? {} : { freeSpace }) };
}
