/**
 * What a write ended as, for signed and plain images alike: the flash job handles one type.
 * A success carries the signed manifest (null for a plain image) and the raw image's size and
 * SHA-256 (the plain writer hashes the whole image; the signed one relies on its range hashes).
 */
import type { AppError } from '../../../shared/errors.ts';
import type { ImageManifest } from '../../../shared/image.ts';
import type { SkippedFreeSpace } from '../discardFree.ts';
import type { incompleteLabel } from './writerErrors.ts';

export type DriveWriteSuccess = {
  status: 'success';
  device: string;
  manifest: ImageManifest | null;
  rawBytes: number;
  /** SHA-256 of the whole raw image as streamed; null for signed images (the manifest has raw_sha256). */
  imageSha256: string | null;
  bytesWritten: number;
  bytesVerified: number;
  directIo: boolean;
  /** Signed images: the free filesystem space left unwritten, and whether the drive discarded it. */
  freeSpace?: SkippedFreeSpace;
};
export type DriveWriteIncomplete = { status: 'incomplete'; label: typeof incompleteLabel; device: string; error: AppError; bytesWritten: number; directIo: boolean };
export type DriveWriteResult = DriveWriteSuccess | DriveWriteIncomplete;
