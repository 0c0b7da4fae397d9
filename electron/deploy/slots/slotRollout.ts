/**
 * OS slot updates as a rollout: a signed fieldkit image (.fkimg) given to deploy.start is
 * rolled out with the same batches, failure threshold, resume and transcripts as an agent
 * bundle. The rollout engine is unchanged; it gets this module's `inspect` (the image's
 * manifest and signature as a BundleSummary of kind 'os-image') and its per-device
 * deployer (slotUpdate on each device, its outcome mapped to a rollout device result).
 */
import path from 'node:path';
import type { BundleSummary } from '../../../shared/deploy.ts';
import { appError, isFieldkitError } from '../../../shared/errors.ts';
import type { SlotUpdateOutcome } from '../../../shared/slots.ts';
import type { TrustedKey } from '../../../shared/trust.ts';
import { toAppError } from '../../kernel/api/dispatch.ts';
import type { DeviceDeployer } from '../rolloutJob.ts';
import type { DeviceResult } from '../rolloutStore.ts';
import { openDeviceLink } from '../../devices/index.ts';
import { checkImageManifestTrusted } from '../../kernel/trust/trustStore.ts';
import { readUnverifiedManifest } from '../../kernel/image/verifyImage.ts';
import { loadOrCreateAppSshKey } from '../../kernel/link/appSshKey.ts';
import { parsePublicKey } from '../../kernel/signing/minisignFormat.ts';
import { slotUpdate, type SlotPlatform } from './slotUpdate.ts';

/** How long each reboot of a device in a slot rollout may take. */
export const rolloutBootTimeoutMs = 180_000;

/** The image as the Deploy screen shows a bundle: its version, signer, and why it may not go out. */
export async function inspectOsImage(imagePath: string, keys: readonly TrustedKey[]): Promise<BundleSummary> {
  // `unread` until the manifest is read: a missing or foreign file says nothing about a signature.
  const base: BundleSummary = { path: imagePath, kind: 'os-image', product: '', version: '', arch: null, signature: { status: 'unread', keyId: null, signer: null }, files: [], totalBytes: 0, problems: [] };
  try {
    const unverified = await readUnverifiedManifest(imagePath);
    const summary: BundleSummary = {
      ...base,
      product: unverified.manifest.product,
      version: unverified.manifest.version,
      signature: { status: 'untrusted', keyId: unverified.keyId, signer: null },
      totalBytes: unverified.payload.size,
    };
    try {
      await checkImageManifestTrusted(keys, imagePath);
      const signer = keys.find((k) => k.keyId === unverified.keyId);
      return { ...summary, signature: { status: 'trusted', keyId: unverified.keyId, signer: signer?.label ?? null } };
    } catch (error) {
      const revoked = keys.some((k) => k.keyId === unverified.keyId && k.revokedMs !== null);
      return { ...summary, signature: { ...summary.signature, status: revoked ? 'revoked' : 'untrusted' }, problems: [toAppError(error)] };
    }
  } catch (error) {
    return { ...base, product: path.basename(imagePath), problems: [isFieldkitError(error) ? error.appError : toAppError(error)] };
  }
}

/** A rollout device result from a slot update's outcome: the device "version" before is its slot. */
export function slotDeviceResult(outcome: SlotUpdateOutcome, fallbackVersion: string): DeviceResult {
  const toVersion = outcome.imageVersion ?? fallbackVersion;
  const fromVersion = outcome.fromSlot === null ? null : `slot ${outcome.fromSlot.toUpperCase()}`;
  const error = outcome.error ?? null;
  const base = { fromVersion, toVersion, gateFailed: null, unitLog: [], bytesSent: outcome.bytesSent };
  switch (outcome.status) {
    case 'committed':
      return { ...base, status: 'updated', error: null };
    case 'rehearsed':
      // A rollout never rehearses; if it ever did, the device did not change.
      return { ...base, status: 'unchanged', error: null };
    case 'rolled-back':
      return { ...base, status: 'rolled-back', error };
    case 'refused':
      return { ...base, status: 'refused', error };
    case 'not-returned':
    case 'failed':
      return { ...base, status: 'failed', error };
  }
}

/** The per-device half of an OS slot rollout. */
export function createSlotDeployer(options: { dataDir: string; trustedKeys: readonly TrustedKey[]; platform?: SlotPlatform | undefined }): DeviceDeployer {
  const appKey = loadOrCreateAppSshKey(options.dataDir);
  const trustedKeys = options.trustedKeys.filter((k) => k.revokedMs === null).map((k) => parsePublicKey(k.publicKey));
  const { platform } = options;
  return async function updateSlot(request) {
    const { device } = request;
    if (device.link.kind !== 'ssh') {
      const error = appError('BAD_REQUEST', `${device.name} is not reached over SSH; an OS slot update needs the network.`, 'Leave it out of the rollout, or flash its card.');
      return { status: 'refused', fromVersion: null, toVersion: '', gateFailed: null, unitLog: [], bytesSent: 0, error };
    }
    const outcome = await slotUpdate({
      openLink: () => openDeviceLink(device, { appKey, password: request.password }),
      imagePath: request.bundlePath,
      trustedKeys,
      bootTimeoutMs: rolloutBootTimeoutMs,
      ...(platform === undefined ? {} : { platform }),
      signal: request.signal,
      onTranscript: (entry) => { request.onTranscript(entry); },
    });
    request.onFromVersion?.(outcome.fromSlot === null ? null : `slot ${outcome.fromSlot.toUpperCase()}`);
    return slotDeviceResult(outcome, '');
  };
}
