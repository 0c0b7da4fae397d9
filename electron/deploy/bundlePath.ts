/**
 * What is at a bundle path before any signature is looked at: nothing, something this user
 * may not read, a folder that is not an unpacked bundle, a file that is not a tar archive —
 * each said as what it is. Only a bundle that was read and failed its signature or file
 * hashes is "altered"; a typo in the path must never raise a tamper alarm.
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { looksLikeUstarHeader } from '../kernel/signing/ustarArchive.ts';
import { manifestName } from '../kernel/signing/verifyBundle.ts';

const pickHint = 'Pick the signed .tar the build made (fieldkit-agent-…-linux-….tar or a model bundle), or an unpacked bundle folder.';

/** A file-system error at `target` as what it means to the technician (a FieldkitError). */
export function bundleFileError(error: unknown, target: string): FieldkitError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new FieldkitError(appError('NOT_FOUND', `There is no file at ${target}.`, 'Check the path for a typo, or whether the USB stick or share holding it is mounted.', 'bundlePath'), { cause: error });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new FieldkitError(appError('PERMISSION_DENIED', `${target} cannot be read: this user has no permission.`, `Give your user read access to ${target} (and its folders), or copy the bundle somewhere you can read.`, 'bundlePath'), { cause: error });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new FieldkitError(appError('IO_ERROR', `Reading ${target} failed: ${detail}.`, 'Check the disk or share it is on and try again.', 'bundlePath'), { cause: error });
}

function notABundle(message: string): FieldkitError {
  return new FieldkitError(appError('BAD_REQUEST', message, pickHint, 'bundlePath'));
}

/**
 * Says whether `bundlePath` is an unpacked bundle folder or a tar archive, or throws what it
 * is instead: NOT_FOUND, PERMISSION_DENIED, IO_ERROR, or BAD_REQUEST (a folder without a
 * manifest, an empty file, a file that is not a tar archive, a device or pipe).
 */
export async function bundleLayout(bundlePath: string): Promise<'folder' | 'archive'> {
  const info = await stat(bundlePath).catch((error: unknown) => {
    throw bundleFileError(error, bundlePath);
  });
  if (info.isDirectory()) {
    const manifest = await stat(path.join(bundlePath, manifestName)).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw bundleFileError(error, path.join(bundlePath, manifestName));
    });
    if (manifest === null) throw notABundle(`${bundlePath} is a folder without ${manifestName}: not an unpacked bundle.`);
    return 'folder';
  }
  if (!info.isFile()) throw notABundle(`${bundlePath} is not a regular file (a device, pipe or socket): not a bundle.`);
  if (info.size === 0) throw notABundle(`${bundlePath} is empty (0 bytes): not a bundle. An interrupted copy leaves such files.`);
  const header = Buffer.alloc(512);
  try {
    const handle = await open(bundlePath, 'r');
    try {
      await handle.read(header, 0, header.length, 0);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw bundleFileError(error, bundlePath);
  }
  if (!looksLikeUstarHeader(header)) {
    // The magic without a matching checksum: a tar whose first header was damaged in transit.
    if (header.toString('latin1', 257, 262) === 'ustar') throw notABundle(`${path.basename(bundlePath)} is a damaged tar archive: its first header fails its checksum.`);
    throw notABundle(`${path.basename(bundlePath)} is not a tar archive, so not a signed fieldkit bundle.`);
  }
  return 'archive';
}
