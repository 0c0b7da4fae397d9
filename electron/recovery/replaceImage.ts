/**
 * Which image a replacement's drive gets: the one the dead device last ran, found in the image
 * library (the signed images this laptop has inspected or flashed, `recent_images`) by its
 * version, and still trusted. Every way it cannot be had is refused before a job exists,
 * saying why and what to do — an image missing from the library, or signed by a key revoked
 * since, is never flashed "close enough".
 */
import { appError, FieldkitError, isFieldkitError } from '../../shared/errors.ts';
import { recentImages } from '../flash/index.ts';
import { readUnverifiedManifest } from '../kernel/image/verifyImage.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { checkImageManifestTrusted, listTrustedKeys } from '../kernel/trust/trustStore.ts';

export type ReplaceImage = { path: string; product: string; version: string; /** The signed payload's SHA-256: what "the same image" means. */ sha256: string; rawBytes: number };

async function versionOf(file: string): Promise<{ product: string; version: string } | null> {
  try {
    const { manifest } = await readUnverifiedManifest(file);
    return { product: manifest.product, version: manifest.version };
  } catch {
    return null; // not a readable signed image: not a candidate
  }
}

/** The library's signed image of `version` (newest used first), checked against the trust store; refused with the reason otherwise. */
export async function findReplaceImage(db: Store, deviceName: string, version: string | null): Promise<ReplaceImage> {
  if (version === null) {
    throw new FieldkitError(appError('NOT_FOUND', `The laptop has no record of which image ${deviceName} ran (no backup or slot update named it).`, 'Flash the image it ran from Drives & Flash, boot the spare, then replace onto it: fieldkit replace DEVICE --onto ADDRESS.', 'drive'));
  }
  const candidates = recentImages(db).filter((p) => p.endsWith('.fkimg'));
  let found: string | null = null;
  for (const file of candidates) {
    const claims = await versionOf(file);
    if (claims?.version === version) {
      found = file;
      break;
    }
  }
  if (found === null) {
    throw new FieldkitError(
      appError('NOT_FOUND', `Image ${version}, the one ${deviceName} last ran, is not in the image library (${String(candidates.length)} signed image${candidates.length === 1 ? '' : 's'} known, none of that version).`, `Get the signed image ${version}, add it to the library (fieldkit image inspect FILE, or pick it in Drives & Flash), then replace again.`, 'drive'),
    );
  }
  try {
    const verified = await checkImageManifestTrusted(listTrustedKeys(db), found);
    return { path: found, product: verified.manifest.product, version: verified.manifest.version, sha256: verified.manifest.payload.sha256, rawBytes: verified.manifest.payload.raw_size };
  } catch (error) {
    const why = isFieldkitError(error) ? error.appError : appError('VERIFICATION_FAILED', String(error), '');
    throw new FieldkitError(appError('VERIFICATION_FAILED', `Image ${version}, the one ${deviceName} last ran, is no longer trusted: ${why.message}`, `Nothing was flashed. ${why.hint} A replacement must run an image you still trust: get ${version} re-signed by a trusted key, or replace onto a spare running a trusted image (--onto).`, 'drive'));
  }
}
