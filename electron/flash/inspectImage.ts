/**
 * `flash.inspect`: what an image is before anything is written — who signed it (and whether
 * the trust store trusts that key), what it claims to be, its sizes and layout — and every
 * reason it cannot be flashed now. A signed image's claims are read without trusting them,
 * to show them; the flash itself checks the signature again before the first byte.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { appError, FieldkitError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import type { ImageSummary, SignatureStatus } from '../../shared/flash.ts';
import { bytesToWrite, imageManifestName, imageSignatureName, type ImageManifest } from '../../shared/image.ts';
import type { TrustedKey } from '../../shared/trust.ts';
import { verifyBytes } from '../kernel/signing/minisign.ts';
import { parsePublicKey, parseSignature } from '../kernel/signing/minisignFormat.ts';
import { listUstar, readUstarMember } from '../kernel/signing/ustarArchive.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { imageKindOf } from './browseImages.ts';
import { firstBootKind } from './firstBoot.ts';
import { inspectPlainImage } from './plain/inspectPlainImage.ts';
import { checkImageManifestTrusted, listTrustedKeys } from '../kernel/trust/trustStore.ts';
import { loadFlashSettings } from './flashSettingsStore.ts';
import { readUnverifiedManifest } from '../kernel/image/verifyImage.ts';

/** Shown with every flash of an unsigned image, in the summary, the job log and the result. */
export const unsignedWarning = 'Unsigned image: fieldkit cannot tell who made it or whether it was altered.';

/** The image's kind from its name, or BAD_REQUEST saying which names fieldkit flashes. */
export function imageKindOrRefuse(imagePath: string): 'signed' | 'plain' {
  const kind = imageKindOf(path.basename(imagePath));
  if (kind === null) {
    throw new FieldkitError(appError('BAD_REQUEST', `${path.basename(imagePath)} is not an image fieldkit flashes.`, 'Pick a signed .fkimg image, or a plain .img, .img.xz, .img.gz or .img.zst (when unsigned images are allowed in Settings).', 'imagePath'));
  }
  return kind;
}

async function fileBytesOf(imagePath: string): Promise<number> {
  try {
    const info = await stat(imagePath);
    if (info.isDirectory()) {
      throw new FieldkitError(appError('BAD_REQUEST', `${imagePath} is a folder, not an image file.`, 'Pick the image inside it: Browse… opens that folder.', 'imagePath'));
    }
    if (!info.isFile()) throw new FieldkitError(appError('BAD_REQUEST', `${imagePath} is not a regular file (a device, pipe or socket).`, 'Pick an image file.', 'imagePath'));
    return info.size;
  } catch (error) {
    if (isFieldkitError(error)) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FieldkitError(appError('NOT_FOUND', `There is no file ${imagePath}.`, 'Pick the image again; it may have been moved or deleted.', 'imagePath'));
    throw new FieldkitError(appError(code === 'EACCES' ? 'PERMISSION_DENIED' : 'IO_ERROR', `Cannot read ${imagePath}: ${(error as Error).message}.`, 'Check the file and its permissions, then try again.', 'imagePath'));
  }
}

/** Whether the manifest's signature verifies with `key` — checked here only to tell "invalid" from "expired". */
async function signatureVerifies(imagePath: string, key: TrustedKey): Promise<boolean> {
  try {
    const members = await listUstar(imagePath, path.basename(imagePath));
    const manifest = members.find((m) => m.path === imageManifestName);
    const signature = members.find((m) => m.path === imageSignatureName);
    if (manifest === undefined || signature === undefined) return false;
    const bytes = await readUstarMember(imagePath, manifest);
    verifyBytes(parsePublicKey(key.publicKey), bytes, parseSignature((await readUstarMember(imagePath, signature)).toString('utf8')), imageManifestName);
    return true;
  } catch {
    return false;
  }
}

function expiredProblem(name: string, manifest: ImageManifest, now: Date): AppError | null {
  if (Date.parse(manifest.expires_at) > now.getTime()) return null;
  return appError('VERIFICATION_FAILED', `${name} (${manifest.product} ${manifest.version}) expired at ${manifest.expires_at}; the laptop clock says ${now.toISOString()}.`, 'Get the current image from the publisher. If the laptop clock is wrong, correct it first.');
}

async function inspectSigned(imagePath: string, keys: readonly TrustedKey[], fileBytes: number, now: Date): Promise<ImageSummary> {
  const name = path.basename(imagePath);
  const { manifest, keyId, payload } = await readUnverifiedManifest(imagePath);
  const known = keys.find((k) => k.keyId === keyId);
  const problems: AppError[] = [];
  let status: SignatureStatus = 'trusted';
  try {
    await checkImageManifestTrusted(keys, imagePath, { now });
  } catch (error) {
    if (!isFieldkitError(error)) throw error;
    problems.push(error.appError);
  }
  if (known === undefined) status = 'untrusted';
  else if (known.revokedMs !== null) status = 'revoked';
  else if (!(await signatureVerifies(imagePath, known))) status = 'invalid';
  // The trust check stops at the signature; the technician should also hear that it expired.
  const expired = expiredProblem(name, manifest, now);
  if (expired !== null && !problems.some((p) => p.message === expired.message)) problems.push(expired);
  if (fileBytes < payload.offset + payload.size && !problems.some((p) => p.message.includes('truncated'))) {
    problems.push(appError('VERIFICATION_FAILED', `${name} is shorter than its disk image member: truncated.`, 'Copy or download the image again.'));
  }
  return {
    path: imagePath,
    fileBytes,
    kind: 'signed',
    signature: { status, keyId, signer: known?.label ?? null, revokedReason: known?.revokedReason ?? null },
    product: manifest.product,
    version: manifest.version,
    sequence: manifest.sequence,
    issuedAt: manifest.issued_at,
    expiresAt: manifest.expires_at,
    boards: manifest.boards,
    compression: manifest.payload.compression,
    rawBytes: manifest.payload.raw_size,
    mappedBytes: bytesToWrite(manifest),
    layout: manifest.layout,
    firstBoot: firstBootKind(manifest),
    problems,
    warnings: [],
  };
}

async function inspectPlain(imagePath: string, allowUnsigned: boolean): Promise<ImageSummary> {
  const name = path.basename(imagePath);
  const { compression, rawBytes, fileBytes } = await inspectPlainImage(imagePath);
  const problems: AppError[] = allowUnsigned
    ? []
    : [appError('PERMISSION_DENIED', `${name} is an unsigned image, and flashing unsigned images is off.`, 'Use a signed .fkimg image, or allow unsigned images in Settings → Flashing (fieldkit settings flash --allow-unsigned on) if you trust where it came from.')];
  return {
    path: imagePath,
    fileBytes,
    kind: 'plain',
    signature: { status: 'unsigned', keyId: null, signer: null, revokedReason: null },
    product: null,
    version: null,
    sequence: null,
    issuedAt: null,
    expiresAt: null,
    boards: [],
    compression,
    rawBytes,
    mappedBytes: null,
    layout: null,
    firstBoot: 'none',
    problems,
    warnings: [unsignedWarning],
  };
}

/** The summary `flash.inspect` answers with; NOT_FOUND / BAD_REQUEST when the file is no image at all. */
export async function inspectImage(db: Store, imagePath: string, now: Date = new Date()): Promise<ImageSummary> {
  if (!path.isAbsolute(imagePath)) throw new FieldkitError(appError('BAD_REQUEST', `${imagePath} is not an absolute path.`, 'Give the full path of the image file.', 'imagePath'));
  // What the path is (missing, a folder) comes before what its name says: "images/" is a folder, not "not an image".
  const fileBytes = await fileBytesOf(imagePath);
  const kind = imageKindOrRefuse(imagePath);
  if (kind === 'plain') return inspectPlain(imagePath, loadFlashSettings(db).allowUnsigned);
  return inspectSigned(imagePath, listTrustedKeys(db), fileBytes, now);
}
