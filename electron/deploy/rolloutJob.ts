/**
 * The deploy.rollout job: runs a stored rollout batch by batch. Devices of a batch deploy
 * in parallel (bounded); a finished batch is judged against the failure threshold before
 * the next starts. Every status change, outcome and transcript line goes to the store as
 * it happens, so the Deploy screen can watch and a stopped rollout can resume.
 */
import { z } from 'zod';
import type { Device } from '../../shared/devices.ts';
import type { BundleKind, Rollout, TranscriptEntry } from '../../shared/deploy.ts';
import { appError, type AppError } from '../../shared/errors.ts';
import { formatBytes, formatDuration } from '../../shared/format.ts';
import { toAppError } from '../kernel/api/dispatch.ts';
import { createDeviceStore } from '../devices/index.ts';
import { JobCancelledError, JobFailedError, type JobContext } from '../kernel/jobs/jobContext.ts';
import { openStore, type Store } from '../kernel/store/openStore.ts';
import { finishedStatuses, judgeBatch } from './rolloutPlan.ts';
import { createRolloutStore, interruptedError, type DeviceResult, type RolloutStore } from './rolloutStore.ts';
import { SlotPlatformSchema } from './slots/slotJob.ts';

export const RolloutJobParamsSchema = z.object({
  dataDir: z.string(),
  rolloutId: z.string(),
  /** For the job's title only. */
  version: z.string(),
  deviceCount: z.number().int().positive(),
  resumed: z.boolean().default(false),
  /** For an OS image: where a virtual Pi's firmware files are (tests); absent for real Pis. */
  slotPlatform: SlotPlatformSchema.optional(),
});
export type RolloutJobParams = z.infer<typeof RolloutJobParamsSchema>;

/** Devices deployed at once within a batch: enough for a site LAN, few enough for the laptop's uplink and CPU. */
export const rolloutParallelism = 8;

/** The secret carrying a serial device's login password into the worker. */
export function rolloutPasswordSecret(deviceId: string): string {
  return `password:${deviceId}`;
}

export type DeployRequest = {
  device: Device;
  bundlePath: string;
  stableSeconds: number;
  /** A serial console's login password, when the device needs one. */
  password: string | undefined;
  signal: AbortSignal;
  onTranscript(entry: TranscriptEntry): void;
  /** The version the device ran before, as soon as preflight knows it. */
  onFromVersion?(version: string | null): void;
};

/** Deploys a bundle to one device; the engine behind it is electron/deploy/deployBundle.ts. */
export type DeviceDeployer = (request: DeployRequest) => Promise<DeviceResult>;

/** Makes the deployer for one job, once the rollout (its bundle, and what kind it was inspected as) and the store are at hand. */
export type DeployerFactory = (rollout: { bundlePath: string; bundleKind: BundleKind; db: Store }) => DeviceDeployer;

export function rolloutJobTitle(p: RolloutJobParams): string {
  const what = `${p.deviceCount} device${p.deviceCount === 1 ? '' : 's'}`;
  return p.resumed ? `Resume the rollout of ${p.version} to ${what}` : `Roll out ${p.version} to ${what}`;
}

/** Runs the rollout with `deploy` for each device; resolves or throws as a job does. */
export async function runRollout(params: RolloutJobParams, ctx: JobContext, deployerFor: DeployerFactory): Promise<{ rollout: Rollout }> {
  const db = openStore(params.dataDir);
  try {
    const store = createRolloutStore(db);
    const devices = createDeviceStore(db);
    const rollout = store.get(params.rolloutId, { transcripts: false });
    const deploy = deployerFor({ bundlePath: rollout.bundlePath, bundleKind: rollout.bundleKind, db });
    const settings = store.settings(params.rolloutId);
    const rows = store.devices(params.rolloutId);
    const total = rows.length;
    const batchCount = Math.max(0, ...rows.map((r) => r.batch + 1));
    let done = rows.filter((r) => finishedStatuses.has(r.status)).length;
    const report = (phase: string) => {
      ctx.progress({ phase, bytesDone: done, bytesTotal: total, unit: 'items' });
    };
    if (done > 0) ctx.log('info', `${done} of ${total} devices already run this version; they are not deployed again.`);

    for (let batch = 0; batch < batchCount; batch++) {
      const inBatch = rows.filter((r) => r.batch === batch);
      const todo = store.devices(params.rolloutId).filter((r) => r.batch === batch && !finishedStatuses.has(r.status));
      if (todo.length > 0) {
        if (ctx.signal.aborted) return stop(store, params, ctx, cancelReason(ctx.signal));
        const label = `batch ${batch + 1} of ${batchCount}`;
        report(`${label}: ${todo.map((r) => r.deviceName).join(', ')}`);
        await runBounded(todo, rolloutParallelism, async (row) => {
          // A cancel lets the devices in flight finish (or abort safely) but starts no more.
          if (ctx.signal.aborted) return;
          const result = await deployOne(row.deviceId, row.deviceName);
          done += finishedStatuses.has(result.status) ? 1 : 0;
          report(label);
        });
      }
      if (ctx.signal.aborted) return stop(store, params, ctx, cancelReason(ctx.signal));
      const now = store.devices(params.rolloutId).filter((r) => r.batch === batch);
      const verdict = judgeBatch(batch, now.map((r) => ({ name: r.deviceName, status: r.status })), rollout.maxFailurePercent);
      if (verdict.stop && verdict.stopReason !== null) {
        const later = batch + 1 < batchCount ? ' The devices of later batches were not touched.' : '';
        const reason = `Stopped after ${verdict.stopReason}${later}`;
        store.finish(params.rolloutId, 'stopped', reason, Date.now());
        ctx.log('error', reason);
        const final = store.get(params.rolloutId, { transcripts: false });
        throw new JobFailedError(
          appError('ROLLOUT_STOPPED', reason, `Read why in each failed device's transcript, fix the bundle or the devices, then resume (fieldkit rollout resume ${params.rolloutId}).`),
          { rollout: final },
        );
      }
      if (inBatch.length > 0 && verdict.failedDevices.length > 0) {
        ctx.log('warn', `Batch ${batch + 1}: ${verdict.failedDevices.join(', ')} failed, within the ${rollout.maxFailurePercent}% allowed; carrying on.`);
      }
    }
    store.finish(params.rolloutId, 'completed', null, Date.now());
    report('done');
    return { rollout: store.get(params.rolloutId, { transcripts: false }) };

    /** The Devices screen shows what each device runs: after a deploy that is known for sure. */
    function recordVersion(deviceId: string, result: DeviceResult): void {
      const running = finishedStatuses.has(result.status) ? result.toVersion : result.status === 'rolled-back' ? result.fromVersion : null;
      // An OS image is not an agent or model version (the slot update records nothing here).
      if (running === null || rollout.bundleKind === 'os-image' || devices.find(deviceId) === null) return;
      devices.recordDeployed(deviceId, rollout.bundleKind === 'agent' ? { agentVersion: running } : { modelVersion: running }, Date.now());
    }

    async function deployOne(deviceId: string, deviceName: string): Promise<DeviceResult> {
      const attempt = store.deviceStarted(params.rolloutId, deviceId, Date.now());
      if (attempt > 1) {
        store.transcript(params.rolloutId, deviceId, { at: Date.now(), step: 'rollout', command: `deploy again (resumed rollout, attempt ${attempt})`, exitCode: null, output: '', durationMs: 0 });
      }
      const startedAt = Date.now();
      let result: DeviceResult;
      try {
        const device = devices.get(deviceId);
        result = await deploy({
          device,
          bundlePath: rollout.bundlePath,
          stableSeconds: settings.stableSeconds,
          password: ctx.secrets[rolloutPasswordSecret(deviceId)],
          signal: ctx.signal,
          onTranscript: (entry) => {
            store.transcript(params.rolloutId, deviceId, entry);
          },
          onFromVersion: (version) => {
            store.deviceVersion(params.rolloutId, deviceId, version);
          },
        });
      } catch (error) {
        result = failedResult(toAppError(error), rollout.version);
      }
      store.deviceEnded(params.rolloutId, deviceId, result, Date.now());
      recordVersion(deviceId, result);
      ctx.log(logLevel(result), describeResult(deviceName, result, Date.now() - startedAt));
      return result;
    }
  } finally {
    db.close();
  }
}

function stop(store: RolloutStore, params: RolloutJobParams, ctx: JobContext, reason: string): never {
  store.finish(params.rolloutId, 'stopped', `Stopped: ${reason}.`, Date.now(), interruptedError());
  ctx.log('warn', `Rollout stopped: ${reason}. Devices not yet deployed were left as they were; resume to carry on.`);
  throw new JobCancelledError(reason, { rollout: store.get(params.rolloutId, { transcripts: false }) });
}

function cancelReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return typeof reason === 'string' ? reason : 'cancelled';
}

function failedResult(error: AppError, toVersion: string): DeviceResult {
  return { status: 'failed', fromVersion: null, toVersion, gateFailed: null, error, unitLog: [], bytesSent: 0 };
}

function logLevel(result: DeviceResult): 'info' | 'warn' | 'error' {
  if (finishedStatuses.has(result.status)) return 'info';
  return result.status === 'rolled-back' || result.status === 'refused' ? 'warn' : 'error';
}

/** One line per device result, for the job log and the terminal. */
export function describeResult(name: string, result: DeviceResult, tookMs: number): string {
  const took = formatDuration(tookMs / 1000);
  switch (result.status) {
    case 'updated':
      return `${name}: updated ${result.fromVersion ?? '(none)'} → ${result.toVersion} (${formatBytes(result.bytesSent)} sent, ${took})`;
    case 'unchanged':
      return `${name}: already on ${result.toVersion}, nothing changed`;
    case 'rolled-back':
      return `${name}: rolled back to ${result.fromVersion ?? 'the previous release'}${result.gateFailed === null ? '' : ` (gate ${result.gateFailed} failed)`}: ${result.error?.message ?? 'no reason given'}`;
    default:
      return `${name}: ${result.status}: ${result.error?.message ?? 'no reason given'}${result.error ? ` — ${result.error.hint}` : ''}`;
  }
}

/** Runs `work` over `items` with at most `limit` at once; resolves when all have ended. */
async function runBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(lanes);
}
