/**
 * The `backup.run` job: for each device of the selection and each class, stream the class
 * from the device into restic (backupJobItem.ts) and record the snapshot in backup_runs
 * only after restic reported it. Progress is the bytes read from the devices; the total
 * (and so the ETA) comes from each device × class's previous good snapshot, unknown until
 * every item has one.
 *
 * Resumable: the job carries `windowStartMs`, the start of the run it continues (the
 * handler finds it). A device × class with a good snapshot recorded since then is not
 * taken again, so a rerun after a cut link or a killed app redoes only what did not finish.
 */
import { z } from 'zod';
import type { BackupItemResult, BackupRunResult } from '../../shared/backup.ts';
import { repoKindOf } from '../../shared/backup.ts';
import { BackupClassSchema, type BackupClass } from '../../shared/backupStream.ts';
import type { Device } from '../../shared/devices.ts';
import { appError, FieldkitError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import { createDeviceStore, openDeviceLink } from '../devices/index.ts';
import { JobCancelledError, JobFailedError, type JobContext } from '../kernel/jobs/jobContext.ts';
import { loadOrCreateAppSshKey } from '../kernel/link/appSshKey.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import { openStore } from '../kernel/store/openStore.ts';
import { streamClassIntoRestic } from './backupJobItem.ts';
import { backupStreamCommand, serialSecondsFor, skipReason } from './backupJobPlan.ts';
import { createBackupRunStore, type BackupRunStore } from './backupRunStore.ts';
import { RepoTargetSchema, type RepoTarget } from './jobParams.ts';
import { passwordSecret } from './repositories.ts';
import { openResticSink } from './resticSink.ts';

export const BackupRunParamsSchema = z.object({
  dataDir: z.string(),
  /** This run's id (kept with each device × class it records). */
  runId: z.string(),
  devices: z.array(z.object({ ref: z.string(), name: z.string() })).min(1),
  classes: z.array(BackupClassSchema).min(1),
  /** A device × class backed up good since then is done already (the run this one resumes). */
  windowStartMs: z.number().int(),
  repos: z.object({ main: RepoTargetSchema, secrets: RepoTargetSchema }),
  /** Paths the policy adds to each class (`--path` of backup-stream). */
  extraPaths: z.partialRecord(BackupClassSchema, z.array(z.string())).default({}),
});
export type BackupRunParams = z.infer<typeof BackupRunParamsSchema>;

type Item = { device: Device; backupClass: BackupClass; estimate: number | null };

function errorOf(error: unknown): AppError {
  if (isFieldkitError(error)) return error.appError;
  return appError('INTERNAL', `The backup failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`, 'Try again; if it repeats, report it with the job log.');
}

export async function runBackup(params: BackupRunParams, ctx: JobContext): Promise<BackupRunResult> {
  const db = openStore(params.dataDir);
  try {
    const devices = createDeviceStore(db);
    const runs = createBackupRunStore(db);
    const results: BackupItemResult[] = [];
    const planned: Item[] = [];
    for (const wanted of params.devices) {
      const device = devices.find(wanted.ref);
      for (const backupClass of params.classes) {
        const base = { deviceId: device?.agentDeviceId ?? wanted.ref, deviceName: wanted.name, class: backupClass, bytesRead: 0, bytesAdded: 0, files: 0, durationMs: 0 };
        if (device === null) {
          results.push({ ...base, status: 'failed', snapshotId: null, error: appError('NOT_FOUND', `${wanted.name} is no longer a registered device.`, 'Add it again in Devices, then back it up.') });
          continue;
        }
        const good = runs.lastGood(device.id, backupClass);
        if (good !== null && good.endedMs >= params.windowStartMs) {
          results.push({ ...base, deviceId: good.deviceId, status: 'skipped', snapshotId: good.snapshotId, bytesRead: good.streamBytes, files: good.files, error: null });
          ctx.log('info', `${device.name} ${backupClass}: backed up already in this run (snapshot ${good.snapshotId?.slice(0, 8) ?? ''}); not taken again.`);
          continue;
        }
        const skip = skipReason(device, backupClass);
        if (skip !== null) {
          results.push({ ...base, status: 'skipped', snapshotId: null, error: appError('UNAVAILABLE', `Not backed up: ${skip}.`, 'Back it up over the network.') });
          ctx.log('warn', `${device.name} ${backupClass}: skipped — ${skip}.`);
          continue;
        }
        planned.push({ device, backupClass, estimate: good?.streamBytes ?? null });
      }
    }
    await runPlanned(planned, { params, ctx, runs, results });
    const failed = results.filter((r) => r.status === 'failed');
    const result = { items: results };
    if (failed.length > 0) {
      const first = failed[0]?.error;
      throw new JobFailedError(
        appError(
          first?.code ?? 'IO_ERROR',
          `${String(failed.length)} of ${String(results.length)} backups did not complete (no snapshot of them counts): ${failed.map((f) => `${f.deviceName} ${f.class}`).join(', ')}. ${first?.message ?? ''}`,
          first?.hint ?? 'Run the backup again; it redoes only what did not finish.',
        ),
        result,
      );
    }
    return result;
  } finally {
    db.close();
  }
}

async function runPlanned(planned: Item[], deps: { params: BackupRunParams; ctx: JobContext; runs: BackupRunStore; results: BackupItemResult[] }): Promise<void> {
  const { ctx, params, runs, results } = deps;
  const total = planned.every((i) => i.estimate !== null) ? planned.reduce((n, i) => n + (i.estimate ?? 0), 0) : null;
  let doneBefore = 0;
  let link: Link | null = null;
  let linkOf: string | null = null;
  const appKey = loadOrCreateAppSshKey(params.dataDir);
  try {
    for (const [index, item] of planned.entries()) {
      const { device, backupClass } = item;
      const started = Date.now();
      const target: RepoTarget = repoKindOf(backupClass) === 'secrets' ? params.repos.secrets : params.repos.main;
      const phase = `${device.name} ${backupClass} (${String(index + 1)} of ${String(planned.length)})`;
      ctx.progress({ phase, bytesDone: doneBefore, bytesTotal: total, unit: 'bytes' });
      if (device.link.kind === 'serial') {
        const seconds = serialSecondsFor(item.estimate, device.link.baudRate);
        ctx.log('info', `${device.name} ${backupClass} over the serial console: ${seconds === null ? 'time unknown (first backup of this class)' : `about ${String(seconds)} s at ${String(device.link.baudRate)} baud`}.`);
      }
      let bytesRead = 0;
      try {
        if (link === null || linkOf !== device.id) {
          await link?.close();
          link = null;
          const password = device.link.kind === 'serial' ? ctx.secrets.password : undefined;
          link = await openDeviceLink(device, { appKey, password });
          linkOf = device.id;
        }
        const password = ctx.secrets[passwordSecret(target)];
        if (password === undefined) throw new FieldkitError(appError('INTERNAL', `The ${target.kind} repository's password did not reach the backup job.`, 'This is a bug in fieldkit; report it.'));
        const streamed = await streamClassIntoRestic({
          link,
          command: backupStreamCommand(device, backupClass, params.extraPaths[backupClass] ?? []),
          backupClass,
          expectedDeviceId: device.agentDeviceId ?? undefined,
          openRestic: () => openResticSink({ target, password, device, backupClass, dataDir: params.dataDir }),
          signal: ctx.signal,
          onBytes: (n) => {
            bytesRead = n;
            ctx.progress({ phase, bytesDone: doneBefore + n, bytesTotal: total === null ? null : Math.max(total, doneBefore + n), unit: 'bytes' });
          },
        });
        const m = streamed.verified.manifest;
        runs.record({
          jobId: params.runId,
          deviceRef: device.id,
          deviceId: m.deviceId,
          deviceName: device.name,
          site: m.site ?? device.site,
          class: backupClass,
          outcome: 'good',
          snapshotId: streamed.snapshotId,
          repo: target,
          startedMs: started,
          endedMs: Date.now(),
          streamBytes: streamed.verified.streamBytes,
          bytesAdded: streamed.dataAdded,
          files: streamed.verified.files,
          fileBytes: streamed.verified.fileBytes,
          agentVersion: m.agentVersion,
          imageVersion: m.imageVersion,
          modelVersion: m.modelVersion,
          journalLastSeq: m.journalLastSeq,
          missing: m.missing,
          error: null,
        });
        if (m.missing.length > 0) ctx.log('warn', `${device.name} ${backupClass}: not on the device, so not in the backup: ${m.missing.join(', ')}.`);
        results.push({ deviceId: m.deviceId, deviceName: device.name, class: backupClass, status: 'done', snapshotId: streamed.snapshotId, bytesRead: streamed.verified.streamBytes, bytesAdded: streamed.dataAdded, files: streamed.verified.files, durationMs: Date.now() - started, error: null });
      } catch (error) {
        if (error instanceof JobCancelledError || ctx.signal.aborted) {
          throw new JobCancelledError(ctx.signal.aborted && typeof ctx.signal.reason === 'string' ? ctx.signal.reason : 'cancelled', { items: results });
        }
        const appErr = errorOf(error);
        runs.record({ jobId: params.runId, deviceRef: device.id, deviceId: device.agentDeviceId ?? device.id, deviceName: device.name, site: device.site, class: backupClass, outcome: 'failed', snapshotId: null, repo: target, startedMs: started, endedMs: Date.now(), streamBytes: bytesRead, bytesAdded: 0, files: 0, fileBytes: 0, agentVersion: null, imageVersion: null, modelVersion: null, journalLastSeq: null, missing: [], error: appErr });
        results.push({ deviceId: device.agentDeviceId ?? device.id, deviceName: device.name, class: backupClass, status: 'failed', snapshotId: null, bytesRead, bytesAdded: 0, files: 0, durationMs: Date.now() - started, error: appErr });
        ctx.log('warn', `${device.name} ${backupClass}: ${appErr.message}`);
        // A dropped link is opened again for the next class.
        if (appErr.code === 'UNAVAILABLE' || appErr.code === 'TIMEOUT') {
          await link?.close().catch(() => undefined);
          link = null;
        }
      }
      doneBefore += bytesRead;
    }
  } finally {
    await link?.close().catch(() => undefined);
  }
}
