/**
 * How a write fails, in the technician's words: refusals before anything is written, a
 * device operation that failed (and where), a cancel, an unreadable image file, and the one
 * AppError a failed write ends with. Every message names the drive, and a drive that went
 * away mid-write is told apart from a bad image or a faulty card.
 */
import { appError, FieldkitError, isFieldkitError, type AppError } from '../../../shared/errors.ts';
import { formatBytes } from '../../../shared/format.ts';
import { driveWentAway } from './deviceSize.ts';

export const incompleteLabel = 'incomplete — do not use';

export function refuse(message: string, hint: string, code: AppError['code'] = 'BAD_REQUEST'): FieldkitError {
  return new FieldkitError(appError(code, message, hint));
}

export class Cancelled extends Error {}

/** A failed device operation, with where on the drive it failed. */
export class DriveIoError extends Error {
  readonly errno: string;
  readonly offset: number;
  readonly doing: 'writing' | 'flushing' | 'reading back';
  constructor(cause: unknown, offset: number, doing: DriveIoError['doing']) {
    super((cause as Error).message);
    this.errno = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    this.offset = offset;
    this.doing = doing;
  }
}

/** A failed read of the image file itself (not the drive): the writers word it as the image's fault. */
export class ImageReadError extends Error {}

/** Errors the writer raised itself (refusals, device I/O, cancel), as opposed to the decoder's. */
export function isWriterError(error: unknown): boolean {
  return error instanceof FieldkitError || error instanceof DriveIoError || error instanceof Cancelled;
}

export function openFailure(device: string, cause: unknown): FieldkitError {
  const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
  if (code === 'EBUSY') return refuse(`${device} is in use (mounted or opened by another program): ${code}.`, 'Unmount every partition of the drive and close programs using it, then try again.', 'CONFLICT');
  if (code === 'EACCES' || code === 'EPERM') return refuse(`No permission to write ${device}: ${code}.`, 'Flashing needs administrator rights; start the flash again and allow it.', 'PERMISSION_DENIED');
  if (code === 'ENOENT' || code === 'ENXIO' || code === 'ENODEV' || code === 'ENOMEDIUM') return refuse(`${device} is not there (${code}).`, 'Insert the drive (check the card sits in the reader), then pick it again.', 'UNAVAILABLE');
  return refuse(`Cannot open ${device}: ${(cause as Error).message}.`, 'Check that the drive is still connected, then try again.', 'IO_ERROR');
}

/** What a failed write knows of its drive. */
export type FailedDrive = { device: string; size: number; bytesWritten: number; signal: AbortSignal | undefined };

/** The AppError a failure during writing ends with; the drive is named in every one. */
export async function writeFailure(drive: FailedDrive, error: unknown): Promise<AppError> {
  const { device, signal } = drive;
  if (error instanceof Cancelled || signal?.aborted === true) {
    return appError('CANCELLED', `The flash of ${device} was cancelled after ${drive.bytesWritten} bytes; the drive is ${incompleteLabel}.`, 'Flash it again before using it.');
  }
  if (isFieldkitError(error)) return error.appError;
  if (error instanceof DriveIoError) {
    const where = `while ${error.doing} at ${formatBytes(error.offset)}`;
    if (error.errno === 'ETIMEDOUT' || (await driveWentAway(device, drive.size))) {
      return appError('UNAVAILABLE', `${device} was removed or stopped responding ${where} (${error.errno}) — reinsert it and flash again.`, `The drive is ${incompleteLabel}. Reinsert it, keep it in until the flash says done, and flash it again.`);
    }
    if (error.errno === 'ENOSPC') {
      return appError('IO_ERROR', `${device} refused to take more data ${where} (${error.errno}); it holds ${formatBytes(drive.size)}.`, 'The drive is full or smaller than it claims (counterfeit?); use another drive.');
    }
    return appError('IO_ERROR', `${device} failed ${where}: ${error.message}.`, `The drive is ${incompleteLabel}. Check that it is connected firmly and flash it again; if it keeps failing, replace the card or the card reader.`);
  }
  return appError('IO_ERROR', `Writing ${device} failed after ${drive.bytesWritten} bytes: ${(error as Error).message}.`, 'Check that the drive is still connected, then flash it again; if it keeps failing, replace the card.');
}
