/**
 * What a rollout carries: an agent or model bundle, or a signed OS image rolled out as
 * slot updates. The file's extension decides it here and nowhere else: inspection says
 * which kind the file is (BundleSummary.kind), the rollout stores that kind, and the job
 * picks the per-device deployer from the stored kind.
 */
import type { BundleKind, BundleSummary } from '../../shared/deploy.ts';
import type { TrustedKey } from '../../shared/trust.ts';
import { listTrustedKeys } from '../kernel/trust/trustStore.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { createEngineDeployer, inspectBundle } from './rolloutEngine.ts';
import type { DeviceDeployer } from './rolloutJob.ts';
import { createSlotDeployer, inspectOsImage } from './slots/slotRollout.ts';
import type { SlotPlatform } from './slots/slotUpdate.ts';

/** A signed fieldkit image (.fkimg) rather than a bundle. */
function isOsImagePath(file: string): boolean {
  return file.toLowerCase().endsWith('.fkimg');
}

/** The file as the Deploy screen shows it, its kind included, judged against `keys`. */
export function inspectArtifact(file: string, keys: readonly TrustedKey[]): Promise<BundleSummary> {
  return isOsImagePath(file) ? inspectOsImage(file, keys) : inspectBundle(file, keys);
}

/** The per-device half of a rollout of the kind it was inspected as. */
export function deployerFor(rollout: { bundlePath: string; bundleKind: BundleKind; db: Store }, options: { dataDir: string; slotPlatform?: SlotPlatform | undefined }): DeviceDeployer {
  const trustedKeys = listTrustedKeys(rollout.db);
  return rollout.bundleKind === 'os-image'
    ? createSlotDeployer({ dataDir: options.dataDir, trustedKeys, platform: options.slotPlatform })
    : createEngineDeployer({ dataDir: options.dataDir, bundlePath: rollout.bundlePath, trustedKeys });
}
