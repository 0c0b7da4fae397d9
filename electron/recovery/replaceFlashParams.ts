/**
 * The drive part of a replace's parameters, checked before the job exists: the image the
 * device last ran (replaceImage.ts: in the library and still trusted), the drive (attached,
 * flashable for that image, its size and serial as seen now — what the step store records),
 * and the first-boot identity the card carries: the dead device's id, hostname and site, and
 * fieldkit's SSH key so the replace can reach it once it boots.
 */
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { Device } from '../../shared/devices.ts';
import { driveLabel } from '../../shared/drives.ts';
import { FlashIdentitySchema } from '../../shared/flash.ts';
import { listDrives } from '../drives/index.ts';
import type { KernelServices } from '../kernel/domain.ts';
import { loadOrCreateAppSshKey } from '../kernel/link/appSshKey.ts';
import { listTrustedKeys } from '../kernel/trust/trustStore.ts';
import { driveSerial, type ReplaceFlash } from './replaceDrive.ts';
import { findReplaceImage } from './replaceImage.ts';

/** Long enough for a Pi's first boot (cloud-init, a filesystem resize and a reboot), short enough that a wrong address is said. */
export const defaultBootWaitSeconds = 600;

/** A hostname from the device's name (the restored /etc/hostname is put in force later anyway). */
export function hostnameFor(name: string): string {
  const cleaned = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return cleaned === '' ? 'fieldkit-pi' : cleaned;
}

export async function replaceFlashFor(kernel: KernelServices, what: { device: Device; deviceId: string; imageVersion: string | null; drive: string; bootWaitSeconds: number }): Promise<ReplaceFlash> {
  const { device } = what;
  const image = await findReplaceImage(kernel.db, device.name, what.imageVersion);
  const drives = await listDrives({ dataDir: kernel.dataDir, sourcePaths: [image.path], imageSizeBytes: image.rawBytes });
  const drive = drives.find((d) => d.device === what.drive || d.raw === what.drive);
  if (drive === undefined) throw new FieldkitError(appError('NOT_FOUND', `${what.drive} is not attached (unplugged?). Nothing was flashed.`, "Insert the spare's card and give its drive (fieldkit drives lists them).", 'drive'));
  if (!drive.flashable || drive.sizeBytes === null) {
    throw new FieldkitError(appError('CONFLICT', `${driveLabel(drive)} may not be flashed: ${drive.refusals.map((r) => r.message).join(' ')} Nothing was flashed.`, "Give the spare's card (fieldkit drives lists the drives that may be flashed).", 'drive'));
  }
  const identity = FlashIdentitySchema.parse({ deviceId: what.deviceId, hostname: hostnameFor(device.name), site: device.site, sshPublicKeys: [] });
  return {
    image: { path: image.path, product: image.product, version: image.version, sha256: image.sha256 },
    trustedKeys: listTrustedKeys(kernel.db).filter((k) => k.revokedMs === null).map((k) => k.publicKey),
    drive: { device: drive.device, raw: drive.raw, description: drive.description, sizeBytes: drive.sizeBytes, serial: driveSerial(drive.device) },
    identity,
    appSshPublicKey: loadOrCreateAppSshKey(kernel.dataDir).publicKey,
    bootWaitSeconds: what.bootWaitSeconds,
  };
}
