/**
 * The rollout's side of the per-device deploy engine (deployBundle.ts): opens the bundle
 * once per job (verified once, each file extracted once for every device), opens each
 * device's link the way a pull does, and hands the engine's outcome back to the job.
 */
import type { TrustedKey } from '../../shared/trust.ts';
import { describeLink, openDeviceLink } from '../devices/index.ts';
import { toAppError } from '../kernel/api/dispatch.ts';
import { loadOrCreateAppSshKey } from '../kernel/link/appSshKey.ts';
import { deployBundle } from './deployBundle.ts';
import type { DeployRequest, DeviceDeployer } from './rolloutJob.ts';
import type { DeviceResult } from './rolloutStore.ts';
import { createBundleFileCache, openBundle, type BundleFileCache, type OpenedBundle } from './signedBundle.ts';

export { inspectBundle } from './signedBundle.ts';

/** A deployer for one rollout job: the bundle is opened on first use and shared by every device. */
export function createEngineDeployer(options: { dataDir: string; bundlePath: string; trustedKeys: readonly TrustedKey[] }): DeviceDeployer {
  let opened: Promise<{ bundle: OpenedBundle; cache: BundleFileCache }> | null = null;
  const appKey = loadOrCreateAppSshKey(options.dataDir);

  return async function deployWithEngine(request: DeployRequest): Promise<DeviceResult> {
    opened ??= openBundle(options.bundlePath, options.trustedKeys).then((bundle) => ({ bundle, cache: createBundleFileCache(bundle) }));
    const began = Date.now();
    const { bundle, cache } = await opened;
    const { device } = request;
    const link = await openDeviceLink(device, { appKey, password: request.password }).catch((error: unknown) => {
      // The transcript says where it stopped even when no command ever ran.
      request.onTranscript({ at: began, step: 'connect', command: `connect to ${device.name} (${device.link.kind === 'local' ? 'local' : describeLink(device.link)})`, exitCode: null, output: toAppError(error).message, durationMs: Date.now() - began });
      throw error;
    });
    try {
      const result = await deployBundle({
        link,
        bundle,
        fileCache: cache,
        ...(device.link.kind === 'local' ? {} : { prefix: device.link.agentPrefix }),
        stableSeconds: request.stableSeconds,
        // Only used when the device has no agent config yet: its identity is the name the technician gave it.
        agentConfig: { device_id: device.agentDeviceId ?? agentDeviceIdFor(device.name), site: device.site },
        signal: request.signal,
        onTranscript: (entry) => { request.onTranscript(entry); },
      });
      return result;
    } finally {
      await link.close().catch(() => undefined);
    }
  };
}

/** A device name as an agent device id (letters, digits, dot, dash, underscore). */
export function agentDeviceIdFor(name: string): string {
  const id = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 128);
  return id === '' ? 'device' : id;
}
