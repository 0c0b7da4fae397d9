/**
 * `flash.start`: everything that can be refused is refused here, before a job exists and so
 * before a byte is written — an image that is not trusted, expired or truncated; an unsigned
 * image without both the policy and the technician's consent; a drive that is gone, is a
 * system drive, holds the image or the app's data, is too small, or is not the size the
 * technician confirmed (another card in the slot). Then the `flash.write` job starts.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { FlashStartRequest } from '../../shared/flash.ts';
import { formatBytes } from '../../shared/format.ts';
import { listDrives } from '../drives/index.ts';
import type { JobRunner } from '../kernel/jobs/jobRunner.ts';
import type { flashJobKinds } from './jobKinds.ts';
import { loadOrCreateAppSshKey } from '../kernel/link/appSshKey.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { rememberRecentImage } from './recentImagesStore.ts';
import { imageKindOrRefuse, inspectImage, unsignedWarning } from './inspectImage.ts';
import { checkImageManifestTrusted, listTrustedKeys } from '../kernel/trust/trustStore.ts';
import { loadFlashSettings } from './flashSettingsStore.ts';
import { driveLabel } from '../../shared/drives.ts';

export type StartFlashDeps = { db: Store; jobs: JobRunner<typeof flashJobKinds>; dataDir: string };

export async function startFlash(deps: StartFlashDeps, request: FlashStartRequest): Promise<{ jobId: string }> {
  const { imagePath } = request;
  const name = path.basename(imagePath);
  // Inspect first: it says what the path is (missing, a folder) before judging its name.
  const summary = await inspectImage(deps.db, imagePath);
  const kind = imageKindOrRefuse(imagePath);
  const keys = listTrustedKeys(deps.db);
  let rawBytes: number | undefined;
  if (kind === 'signed') {
    // Throws the precise refusal (untrusted, revoked, altered, expired…); nothing is started.
    const verified = await checkImageManifestTrusted(keys, imagePath);
    if ((await stat(imagePath)).size < verified.payload.offset + verified.payload.size) {
      throw new FieldkitError(appError('VERIFICATION_FAILED', `${name} is shorter than its disk image member: truncated.`, 'Copy or download the image again.'));
    }
    if (verified.manifest.payload.compression === 'xz') throw new FieldkitError(appError('BAD_REQUEST', 'xz-compressed fieldkit images are not supported yet.', 'Pack the raw image with `fieldkit image pack` (zstd).'));
    rawBytes = verified.manifest.payload.raw_size;
  } else {
    if (!loadFlashSettings(deps.db).allowUnsigned) {
      throw new FieldkitError(
        appError('PERMISSION_DENIED', `${name} is an unsigned image, and flashing unsigned images is off.`, 'Use a signed .fkimg image, or allow unsigned images in Settings → Flashing if you trust where it came from.', 'imagePath'),
      );
    }
    if (!request.acceptUnsigned) {
      throw new FieldkitError(appError('BAD_REQUEST', `${unsignedWarning} Flashing ${name} needs your explicit consent.`, 'Confirm the unsigned image (acceptUnsigned, or --accept-unsigned on the command line) and start again.', 'acceptUnsigned'));
    }
    rawBytes = summary.rawBytes ?? undefined;
  }

  const drives = await listDrives({ dataDir: deps.dataDir, sourcePaths: [imagePath], imageSizeBytes: rawBytes });
  const problems: string[] = [];
  const targets = request.targets.flatMap((target) => {
    const drive = drives.find((d) => d.device === target.device || d.raw === target.device);
    if (drive === undefined) {
      problems.push(`${target.device} is not attached (unplugged?)`);
      return [];
    }
    if (!drive.flashable) {
      problems.push(`${driveLabel(drive)} may not be flashed: ${drive.refusals.map((r) => r.message).join(' ')}`);
      return [];
    }
    if (drive.sizeBytes !== target.expectSizeBytes) {
      problems.push(
        `${drive.device} is ${drive.sizeBytes === null ? 'of unknown size' : formatBytes(drive.sizeBytes)} now, not the ${formatBytes(target.expectSizeBytes)} you confirmed: the drive in the slot is not the one you confirmed`,
      );
      return [];
    }
    return [{ device: drive.device, raw: drive.raw, description: drive.description, sizeBytes: target.expectSizeBytes, ...(target.identity === undefined ? {} : { identity: target.identity }) }];
  });
  if (problems.length > 0) {
    throw new FieldkitError(
      appError('CONFLICT', `Nothing was flashed. ${problems.join('; ')}.`, 'Check the drives (fieldkit drives, or the drive list), confirm the right ones again, and start the flash again.', 'targets'),
    );
  }
  rememberRecentImage(deps.db, imagePath);
  const job = deps.jobs.start('flash.write', {
    imagePath,
    kind,
    product: summary.product,
    version: summary.version,
    trustedKeys: keys.filter((k) => k.revokedMs === null).map((k) => k.publicKey),
    targets,
    skipZeroBlocks: request.skipZeroBlocks,
    writeAll: request.writeAll,
    eject: request.eject,
    warnings: summary.warnings,
    appSshPublicKey: targets.some((t) => t.identity !== undefined) ? loadOrCreateAppSshKey(deps.dataDir).publicKey : null,
  });
  return { jobId: job.id };
}
