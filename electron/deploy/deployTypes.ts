/** What the agent and model deploys share: the outcome being built and the per-device context. */
import type { BundleFile } from '../../shared/agentBundle.ts';
import type { DeviceDeployOutcome, DeviceDeployStatus } from '../../shared/deploy.ts';
import type { AppError } from '../../shared/errors.ts';
import type { Progress } from './objectStore.ts';
import type { RemoteSteps } from './remoteSteps.ts';
import type { BundleFileCache } from './signedBundle.ts';

/** One device's outcome, without the rollout's bookkeeping (device id, name, batch). */
export type DeployResult = Omit<DeviceDeployOutcome, 'deviceId' | 'deviceName' | 'batch'>;

export type DeployContext = {
  remote: RemoteSteps;
  result: DeployResult;
  /** The prefix asked for; null: the manifest's. */
  prefix: string | null;
  keepReleases: number;
  stableSeconds: number;
  /** The device-side guard's window (s); null: stability hold + gate budget + margin (deviceGuard.ts). */
  guardSeconds: number | null;
  /** Over a serial console, refuse a transfer estimated to take longer than this. */
  maxTransferSeconds: number;
  /** An upload with no progress for this long is taken as a lost link (ms). */
  stallMs: number;
  signal: AbortSignal | undefined;
  cache: BundleFileCache;
  onProgress: ((p: Progress) => void) | undefined;
  progress(step: string): void;
  readBundleFile(file: BundleFile): Promise<string>;
  sha256(text: string): string;
  finish(status: DeviceDeployStatus, error: AppError | null): DeployResult;
};
