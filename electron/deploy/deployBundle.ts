/**
 * Deploys one signed bundle (the agent or a model) to one device over its link: one call
 * per device, never throwing for what happens on the device — the outcome says updated,
 * unchanged, rolled-back, refused or failed, with the transcript of every command. The
 * bundle is verified on the laptop (trusted signer, every file's SHA-256) before anything
 * is sent; a rollout opens it once and passes the opened bundle to every device.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AgentConfigInput } from '../../shared/agentConfig.ts';
import type { TranscriptEntry } from '../../shared/deploy.ts';
import { appError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import type { TrustedKey } from '../../shared/trust.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import { deployAgentBundle } from './deployAgent.ts';
import { deployModelBundle } from './deployModel.ts';
import type { DeployContext, DeployResult } from './deployTypes.ts';
import type { Progress } from './objectStore.ts';
import { createRemoteSteps } from './remoteSteps.ts';
import { createBundleFileCache, openBundle, type BundleFileCache, type OpenedBundle } from './signedBundle.ts';

export type { DeployResult } from './deployTypes.ts';
export type { Progress as DeployProgress } from './objectStore.ts';

export type DeployOptions = {
  link: Link;
  /** A bundle opened (and verified) by openBundle — or a path and the trust store's keys, verified here. */
  bundle: OpenedBundle | { path: string; trustedKeys: readonly TrustedKey[] };
  /** Where releases go; default the manifest's install.prefix (/opt/fieldkit-agent). */
  prefix?: string;
  /** Releases (or models) kept on the device, counting the new one; current and previous always stay. Default 3. */
  keepReleases?: number;
  /** How long the service must run without restarting to count as healthy. */
  stableSeconds: number;
  /**
   * The agent's device-side guard: seconds after the switch at which the device goes back
   * to the previous release by itself unless the laptop confirmed the new one (default:
   * stableSeconds + the gates' budget + a margin, see deviceGuard.ts).
   */
  guardSeconds?: number;
  /** Over a serial console: refuse a transfer estimated to take longer (default 900 s), offering the network. */
  maxTransferSeconds?: number;
  /** An upload without progress for this long counts as a lost link (default 20 s): a dropped connection does not always fail the transfer by itself. */
  stallSeconds?: number;
  /** The agent config written when the device has none (its identity); an existing config is never replaced. */
  agentConfig?: AgentConfigInput;
  /** Shared by the devices of a rollout so each file is extracted once; else one per call. */
  fileCache?: BundleFileCache;
  signal?: AbortSignal;
  onTranscript?: (entry: TranscriptEntry) => void;
  onProgress?: (progress: Progress) => void;
};

function versionOf(bundle: DeployOptions['bundle']): string {
  return 'manifest' in bundle ? bundle.manifest.version : '';
}

export async function deployBundle(options: DeployOptions): Promise<DeployResult> {
  const remote = createRemoteSteps(options.link, { signal: options.signal, onTranscript: options.onTranscript });
  const result: DeployResult = {
    status: 'running',
    fromVersion: null,
    toVersion: versionOf(options.bundle),
    gateFailed: null,
    error: null,
    unitLog: [],
    bytesSent: 0,
    startedAt: Date.now(),
    endedAt: null,
    transcript: remote.transcript,
  };
  const finish = (status: DeployResult['status'], error: AppError | null): DeployResult => {
    result.status = status;
    result.error = error;
    result.endedAt = Date.now();
    return result;
  };

  // On the laptop, before anything is sent.
  let bundle: OpenedBundle;
  if ('manifest' in options.bundle) {
    bundle = options.bundle;
  } else {
    const began = performance.now();
    try {
      bundle = await openBundle(options.bundle.path, options.bundle.trustedKeys);
    } catch (error) {
      const appErr = isFieldkitError(error) ? error.appError : appError('INTERNAL', String(error), 'Report this.');
      remote.note('verify', `verify ${options.bundle.path} (signature, SHA-256 of every file)`, appErr.message, performance.now() - began, 1);
      return finish('refused', appErr);
    }
    result.toVersion = bundle.manifest.version;
    remote.note('verify', `verify ${options.bundle.path} (signature, SHA-256 of every file)`, `signed by ${bundle.signer.keyId} (${bundle.signer.label}); ${String(bundle.files.length)} files, ${String(bundle.totalBytes)} bytes`, performance.now() - began);
  }

  const cache = options.fileCache ?? createBundleFileCache(bundle);
  const ctx: DeployContext = {
    remote,
    result,
    prefix: options.prefix ?? null,
    keepReleases: Math.max(2, options.keepReleases ?? 3),
    stableSeconds: options.stableSeconds,
    guardSeconds: options.guardSeconds ?? null,
    maxTransferSeconds: options.maxTransferSeconds ?? 900,
    stallMs: (options.stallSeconds ?? 20) * 1000,
    signal: options.signal,
    cache,
    onProgress: options.onProgress,
    progress: (step) => options.onProgress?.({ step, bytesDone: result.bytesSent, bytesTotal: null }),
    readBundleFile: async (file) => readFile(await cache.localPath(file), 'utf8'),
    sha256: (text) => createHash('sha256').update(text).digest('hex'),
    finish,
  };
  try {
    return bundle.kind === 'agent' ? await deployAgentBundle(ctx, bundle.manifest, { config: options.agentConfig }) : await deployModelBundle(ctx, bundle.manifest);
  } catch (error) {
    // A dropped link, a cancel, a command that failed before the switch: the device still
    // runs what it ran (nothing switches before the release is complete and verified).
    const appErr = isFieldkitError(error) ? error.appError : appError('INTERNAL', error instanceof Error ? error.message : String(error), 'Read the transcript; report this if it repeats.');
    return finish('failed', appErr);
  } finally {
    if (options.fileCache === undefined) await cache.close();
  }
}
