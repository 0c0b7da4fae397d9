/**
 * One device's part of a backup job: one link, one change probe for all its classes
 * (unchangedCheck.ts), then its classes streamed side by side (at most `classLimit` at once;
 * one at a time over a serial console, which carries one command). restic's backup lock is
 * not exclusive, and the secrets class goes to its own repository, so parallel classes do
 * not wait on each other. Each class is recorded in backup_runs as it ends: good only after
 * restic reported its snapshot, unchanged only as unchangedSince decided, failed otherwise.
 */
import type { BackupItemResult } from '../../shared/backup.ts';
import { repoKindOf } from '../../shared/backup.ts';
import type { BackupClass } from '../../shared/backupStream.ts';
import type { Device } from '../../shared/devices.ts';
import { appError, FieldkitError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import { openDeviceLink } from '../devices/index.ts';
import { JobCancelledError, type JobContext } from '../kernel/jobs/jobContext.ts';
import type { AppSshKey } from '../kernel/link/appSshKey.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import { streamClassIntoRestic } from './backupJobItem.ts';
import { backupProbeCommand, backupStreamCommand, serialSecondsFor } from './backupJobPlan.ts';
import type { BackupProgress } from './backupProgress.ts';
import type { BackupRunRow, BackupRunStore } from './backupRunStore.ts';
import type { BackupRunParams, RepoTarget } from './jobParams.ts';
import { passwordSecret } from './repositories.ts';
import { openResticSink } from './resticSink.ts';
import { probeDevice, unchangedSince } from './unchangedCheck.ts';
import { runBounded } from './runBounded.ts';

export type DeviceItem = { key: string; device: Device; backupClass: BackupClass; estimate: number | null; lastGood: BackupRunRow | null };

export type DeviceRunDeps = {
  params: BackupRunParams;
  ctx: JobContext;
  runs: BackupRunStore;
  progress: BackupProgress;
  appKey: AppSshKey;
  /** Each item's result, by its key (the job orders them). */
  results: Map<string, BackupItemResult>;
  classLimit: number;
};

export function errorOf(error: unknown): AppError {
  if (isFieldkitError(error)) return error.appError;
  return appError('INTERNAL', `The backup failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`, 'Try again; if it repeats, report it with the job log.');
}

/** The device's link, opened once and shared by its classes; a dropped one is opened again for the classes after. */
function linkHolder(device: Device, deps: DeviceRunDeps) {
  let current: Promise<Link> | null = null;
  return {
    get(): Promise<Link> {
      current ??= openDeviceLink(device, { appKey: deps.appKey, password: device.link.kind === 'serial' ? deps.ctx.secrets.password : undefined });
      return current;
    },
    async drop(): Promise<void> {
      const was = current;
      current = null;
      await was?.then((l) => l.close()).catch(() => undefined);
    },
  };
}

function targetOf(deps: DeviceRunDeps, backupClass: BackupClass): { target: RepoTarget; password: string } {
  const target = repoKindOf(backupClass) === 'secrets' ? deps.params.repos.secrets : deps.params.repos.main;
  const password = deps.ctx.secrets[passwordSecret(target)];
  if (password === undefined) throw new FieldkitError(appError('INTERNAL', `The ${target.kind} repository's password did not reach the backup job.`, 'This is a bug in fieldkit; report it.'));
  return { target, password };
}

/** Backs up one device's items; never throws but for a cancel (each failure is the item's result). */
export async function runDevice(device: Device, items: readonly DeviceItem[], deps: DeviceRunDeps): Promise<void> {
  const { ctx, params } = deps;
  const link = linkHolder(device, deps);
  try {
    const probe = await probeOnce(device, items, link, deps);
    const limit = device.link.kind === 'serial' ? 1 : deps.classLimit;
    await runBounded(items, limit, async (item) => {
      if (ctx.signal.aborted) return;
      const { target, password } = targetOf(deps, item.backupClass);
      const verdict = await unchangedSince({ probe, backupClass: item.backupClass, lastGood: item.lastGood, target, password, dataDir: params.dataDir, signal: ctx.signal });
      if (verdict.unchanged) {
        recordUnchanged(item, verdict.since, deps);
        return;
      }
      if (probe !== null && verdict.why !== 'changed' && verdict.why !== 'no good backup yet') ctx.log('info', `${device.name} ${item.backupClass}: streamed in full — ${verdict.why}.`);
      await streamItem(item, link, target, password, deps);
    });
  } finally {
    await link.drop();
  }
}

async function probeOnce(device: Device, items: readonly DeviceItem[], link: ReturnType<typeof linkHolder>, deps: DeviceRunDeps) {
  // Nothing to compare with: the probe cannot spare a stream.
  if (items.every((i) => i.lastGood?.changeToken == null)) return null;
  try {
    const answer = await probeDevice(await link.get(), backupProbeCommand(device, items.map((i) => i.backupClass), deps.params.extraPaths), deps.ctx.signal);
    if ('probe' in answer) return answer.probe;
    deps.ctx.log('info', `${device.name}: every class is streamed in full — ${answer.why}.`);
  } catch {
    // The link did not open: each class tries it again and fails with its own words.
    await link.drop();
  }
  return null;
}

function recordUnchanged(item: DeviceItem, since: BackupRunRow, deps: DeviceRunDeps): void {
  const now = Date.now();
  deps.runs.record({ ...since, jobId: deps.params.runId, deviceName: item.device.name, startedMs: now, endedMs: now, bytesAdded: 0, error: null, unchanged: true });
  deps.progress.drop(item.key);
  deps.results.set(item.key, {
    deviceId: since.deviceId,
    deviceName: item.device.name,
    class: item.backupClass,
    status: 'unchanged',
    snapshotId: since.snapshotId,
    bytesRead: 0,
    bytesAdded: 0,
    files: since.files,
    durationMs: 0,
    error: null,
  });
  deps.ctx.log('info', `${item.device.name} ${item.backupClass}: unchanged since snapshot ${since.snapshotId?.slice(0, 8) ?? ''} (${new Date(since.endedMs).toISOString()}); confirmed now, nothing streamed.`);
}

async function streamItem(item: DeviceItem, link: ReturnType<typeof linkHolder>, target: RepoTarget, password: string, deps: DeviceRunDeps): Promise<void> {
  const { device, backupClass, key } = item;
  const { ctx, params, runs, progress } = deps;
  const started = Date.now();
  if (device.link.kind === 'serial') {
    const seconds = serialSecondsFor(item.estimate, device.link.baudRate);
    ctx.log('info', `${device.name} ${backupClass} over the serial console: ${seconds === null ? 'time unknown (first backup of this class)' : `about ${String(seconds)} s at ${String(device.link.baudRate)} baud`}.`);
  }
  progress.start(key, `${device.name} ${backupClass}`);
  let bytesRead = 0;
  try {
    const streamed = await streamClassIntoRestic({
      link: await link.get(),
      command: backupStreamCommand(device, backupClass, params.extraPaths[backupClass] ?? []),
      backupClass,
      expectedDeviceId: device.agentDeviceId ?? undefined,
      openRestic: () => openResticSink({ target, password, device, backupClass, dataDir: params.dataDir }),
      signal: ctx.signal,
      onBytes: (n) => {
        bytesRead = n;
        progress.bytes(key, n);
      },
    });
    const m = streamed.verified.manifest;
    runs.record({
      jobId: params.runId, deviceRef: device.id, deviceId: m.deviceId, deviceName: device.name, site: m.site ?? device.site, class: backupClass, outcome: 'good',
      snapshotId: streamed.snapshotId, repo: target, startedMs: started, endedMs: Date.now(), streamBytes: streamed.verified.streamBytes, bytesAdded: streamed.dataAdded,
      files: streamed.verified.files, fileBytes: streamed.verified.fileBytes, agentVersion: m.agentVersion, imageVersion: m.imageVersion, modelVersion: m.modelVersion,
      journalLastSeq: m.journalLastSeq, missing: m.missing, error: null, changeToken: m.changeToken ?? null,
    });
    if (m.missing.length > 0) ctx.log('warn', `${device.name} ${backupClass}: not on the device, so not in the backup: ${m.missing.join(', ')}.`);
    deps.results.set(key, { deviceId: m.deviceId, deviceName: device.name, class: backupClass, status: 'done', snapshotId: streamed.snapshotId, bytesRead: streamed.verified.streamBytes, bytesAdded: streamed.dataAdded, files: streamed.verified.files, durationMs: Date.now() - started, error: null });
  } catch (error) {
    if (error instanceof JobCancelledError || ctx.signal.aborted) throw new JobCancelledError(ctx.signal.aborted && typeof ctx.signal.reason === 'string' ? ctx.signal.reason : 'cancelled');
    const appErr = errorOf(error);
    runs.record({ jobId: params.runId, deviceRef: device.id, deviceId: device.agentDeviceId ?? device.id, deviceName: device.name, site: device.site, class: backupClass, outcome: 'failed', snapshotId: null, repo: target, startedMs: started, endedMs: Date.now(), streamBytes: bytesRead, bytesAdded: 0, files: 0, fileBytes: 0, agentVersion: null, imageVersion: null, modelVersion: null, journalLastSeq: null, missing: [], error: appErr });
    deps.results.set(key, { deviceId: device.agentDeviceId ?? device.id, deviceName: device.name, class: backupClass, status: 'failed', snapshotId: null, bytesRead, bytesAdded: 0, files: 0, durationMs: Date.now() - started, error: appErr });
    ctx.log('warn', `${device.name} ${backupClass}: ${appErr.message}`);
    // A dropped link is opened again for the classes after.
    if (appErr.code === 'UNAVAILABLE' || appErr.code === 'TIMEOUT') await link.drop();
  } finally {
    progress.finish(key);
  }
}
