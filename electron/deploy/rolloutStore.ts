/**
 * Rollouts in the laptop store. The rollout job (in its worker) writes each device's
 * status, outcome and transcript as they happen; the app reads them for deploy.get and
 * resumes from them after a restart. Every write is its own transaction, so a kill -9 at
 * any moment leaves the last finished step recorded.
 */
import { z } from 'zod';
import {
  BatchSizeSchema,
  BundleKindSchema,
  DeviceDeployStatusSchema,
  HealthGateNameSchema,
  RolloutStateSchema,
  TranscriptEntrySchema,
  type BatchSize,
  type BundleKind,
  type DeviceDeployOutcome,
  type DeviceDeployStatus,
  type Rollout,
  type TranscriptEntry,
} from '../../shared/deploy.ts';
import { AppErrorSchema, appError, FieldkitError, type AppError } from '../../shared/errors.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { finishedStatuses } from './rolloutPlan.ts';

/** A device's transcript keeps at most this many entries (a runaway loop cannot fill the disk). */
const transcriptEntriesKept = 2000;

const RolloutRowSchema = z.object({
  id: z.string(),
  bundle_path: z.string(),
  bundle_kind: BundleKindSchema,
  version: z.string(),
  batches: z.string(),
  max_failure_percent: z.number(),
  order_mode: z.enum(['given', 'shuffle']),
  seed: z.number(),
  stable_seconds: z.number(),
  state: RolloutStateSchema,
  stop_reason: z.string().nullable(),
  job_id: z.string().nullable(),
  created_ms: z.number(),
  updated_ms: z.number(),
});

const DeviceRowSchema = z.object({
  device_id: z.string(),
  device_name: z.string(),
  position: z.number(),
  batch: z.number(),
  status: DeviceDeployStatusSchema,
  attempts: z.number(),
  from_version: z.string().nullable(),
  to_version: z.string(),
  gate_failed: HealthGateNameSchema.nullable(),
  error: z.string().nullable(),
  unit_log: z.string(),
  bytes_sent: z.number(),
  started_ms: z.number().nullable(),
  ended_ms: z.number().nullable(),
});

const TranscriptRowSchema = z.object({ entry: z.string() });
const BusyRowSchema = z.object({ device_id: z.string(), device_name: z.string(), id: z.string() });

/** What the job needs beyond the contract's Rollout: how it was asked to run. */
export type RolloutSettings = { order: 'given' | 'shuffle'; seed: number; stableSeconds: number };

export type RolloutDeviceRow = { deviceId: string; deviceName: string; batch: number; status: DeviceDeployStatus; attempts: number };

/** What the engine reports about one device once its deploy has ended. */
export type DeviceResult = Pick<DeviceDeployOutcome, 'status' | 'fromVersion' | 'toVersion' | 'gateFailed' | 'error' | 'unitLog' | 'bytesSent'>;

export type RolloutStore = ReturnType<typeof createRolloutStore>;

export function createRolloutStore(db: Store) {
  const insertRollout = db.prepare(
    `INSERT INTO rollouts (id, bundle_path, bundle_kind, version, batches, max_failure_percent, order_mode, seed, stable_seconds, state, created_ms, updated_ms)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)`,
  );
  const insertDevice = db.prepare(
    `INSERT INTO rollout_devices (rollout_id, device_id, device_name, position, batch, status, to_version) VALUES (?, ?, ?, ?, ?, 'pending', ?)`,
  );
  const selectRollout = db.prepare(`SELECT * FROM rollouts WHERE id = ?`);
  const selectRollouts = db.prepare(`SELECT * FROM rollouts ORDER BY created_ms DESC, rowid DESC LIMIT ?`);
  const selectDevices = db.prepare(`SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY position`);
  const selectTranscript = db.prepare(`SELECT entry FROM rollout_transcript WHERE rollout_id = ? AND device_id = ? ORDER BY rowid`);
  const setJob = db.prepare(`UPDATE rollouts SET job_id = ?, state = 'running', stop_reason = NULL, updated_ms = ? WHERE id = ?`);
  const setState = db.prepare(`UPDATE rollouts SET state = ?, stop_reason = ?, updated_ms = ? WHERE id = ?`);
  const touch = db.prepare(`UPDATE rollouts SET updated_ms = ? WHERE id = ?`);
  const startDevice = db.prepare(
    `UPDATE rollout_devices SET status = 'running', attempts = attempts + 1, started_ms = ?, ended_ms = NULL, gate_failed = NULL, error = NULL, unit_log = '[]', bytes_sent = 0
     WHERE rollout_id = ? AND device_id = ?`,
  );
  const endDevice = db.prepare(
    `UPDATE rollout_devices SET status = ?, from_version = ?, to_version = ?, gate_failed = ?, error = ?, unit_log = ?, bytes_sent = ?, ended_ms = ?
     WHERE rollout_id = ? AND device_id = ?`,
  );
  const setFromVersion = db.prepare(`UPDATE rollout_devices SET from_version = ? WHERE rollout_id = ? AND device_id = ?`);
  const skipUnfinished = db.prepare(
    `UPDATE rollout_devices SET status = 'skipped' WHERE rollout_id = ? AND status IN ('pending', 'skipped')`,
  );
  const interruptRunning = db.prepare(
    `UPDATE rollout_devices SET status = 'failed', error = ?, ended_ms = ? WHERE rollout_id = ? AND status = 'running'`,
  );
  const reopenUnfinished = db.prepare(
    `UPDATE rollout_devices SET status = 'pending' WHERE rollout_id = ? AND status NOT IN ('updated', 'unchanged')`,
  );
  const addEntry = db.prepare(`INSERT INTO rollout_transcript (rollout_id, device_id, entry) VALUES (?, ?, ?)`);
  const trimEntries = db.prepare(
    `DELETE FROM rollout_transcript WHERE rollout_id = ? AND device_id = ? AND rowid NOT IN
       (SELECT rowid FROM rollout_transcript WHERE rollout_id = ? AND device_id = ? ORDER BY rowid DESC LIMIT ${transcriptEntriesKept})`,
  );
  const selectAttempts = db.prepare(`SELECT attempts FROM rollout_devices WHERE rollout_id = ? AND device_id = ?`);
  const runningRollouts = db.prepare(`SELECT id, job_id FROM rollouts WHERE state = 'running'`);
  const devicesInRunning = db.prepare(
    `SELECT d.device_id, d.device_name, r.id FROM rollout_devices d JOIN rollouts r ON r.id = d.rollout_id WHERE r.state = 'running' AND r.id != ?`,
  );

  function settingsOf(row: z.infer<typeof RolloutRowSchema>): RolloutSettings {
    return { order: row.order_mode, seed: row.seed, stableSeconds: row.stable_seconds };
  }

  function toOutcome(rolloutId: string, row: z.infer<typeof DeviceRowSchema>, withTranscript: boolean): DeviceDeployOutcome {
    return {
      deviceId: row.device_id,
      deviceName: row.device_name,
      status: row.status,
      batch: row.batch,
      fromVersion: row.from_version,
      toVersion: row.to_version,
      gateFailed: row.gate_failed,
      error: row.error === null ? null : AppErrorSchema.parse(JSON.parse(row.error)),
      unitLog: z.array(z.string()).parse(JSON.parse(row.unit_log)),
      bytesSent: row.bytes_sent,
      startedAt: row.started_ms,
      endedAt: row.ended_ms,
      transcript: withTranscript
        ? selectTranscript.all(rolloutId, row.device_id).map((r) => TranscriptEntrySchema.parse(JSON.parse(TranscriptRowSchema.parse(r).entry)))
        : [],
    };
  }

  function toRollout(raw: unknown, withTranscripts: boolean): Rollout {
    const row = RolloutRowSchema.parse(raw);
    return {
      id: row.id,
      bundlePath: row.bundle_path,
      bundleKind: row.bundle_kind,
      version: row.version,
      batches: z.array(BatchSizeSchema).parse(JSON.parse(row.batches)),
      maxFailurePercent: row.max_failure_percent,
      state: row.state,
      stopReason: row.stop_reason,
      jobId: row.job_id,
      createdAt: row.created_ms,
      updatedAt: row.updated_ms,
      devices: selectDevices.all(row.id).map((d) => toOutcome(row.id, DeviceRowSchema.parse(d), withTranscripts)),
    };
  }

  function require(id: string): z.infer<typeof RolloutRowSchema> {
    const raw = selectRollout.get(id);
    if (raw === undefined) {
      throw new FieldkitError(appError('NOT_FOUND', `There is no rollout ${id}.`, 'List rollouts with `fieldkit rollout list` and use one of their ids.', 'rolloutId'));
    }
    return RolloutRowSchema.parse(raw);
  }

  /**
   * Ends the rollout: `completed`, or `stopped` with the reason (resumable). Devices not
   * yet attempted become `skipped`; a device caught mid-deploy becomes `failed` with
   * `interrupted` as its error, and is deployed again on resume.
   */
  function finish(id: string, state: 'completed' | 'stopped' | 'cancelled', stopReason: string | null, now: number, interrupted?: AppError): void {
    db.transaction(() => {
      if (interrupted) interruptRunning.run(JSON.stringify(interrupted), now, id);
      if (state !== 'completed') skipUnfinished.run(id);
      setState.run(state, stopReason, now, id);
    })();
  }

  return {
    /** Records a new rollout with its plan: every device pending in its batch. */
    create(rollout: {
      id: string;
      bundlePath: string;
      bundleKind: BundleKind;
      version: string;
      batches: readonly BatchSize[];
      maxFailurePercent: number;
      settings: RolloutSettings;
      plan: readonly (readonly { deviceId: string; deviceName: string }[])[];
      now: number;
    }): void {
      db.transaction(() => {
        insertRollout.run(
          rollout.id,
          rollout.bundlePath,
          rollout.bundleKind,
          rollout.version,
          JSON.stringify(rollout.batches),
          rollout.maxFailurePercent,
          rollout.settings.order,
          rollout.settings.seed,
          rollout.settings.stableSeconds,
          rollout.now,
          rollout.now,
        );
        let position = 0;
        rollout.plan.forEach((batch, index) => {
          for (const device of batch) insertDevice.run(rollout.id, device.deviceId, device.deviceName, position++, index, rollout.version);
        });
      })();
    },
    get(id: string, options: { transcripts: boolean } = { transcripts: true }): Rollout {
      require(id);
      return toRollout(selectRollout.get(id), options.transcripts);
    },
    settings(id: string): RolloutSettings {
      return settingsOf(require(id));
    },
    list(limit = 100): Rollout[] {
      return selectRollouts.all(limit).map((row) => toRollout(row, false));
    },
    /** The plan and each device's state, cheaply (no outcomes, no transcripts). */
    devices(id: string): RolloutDeviceRow[] {
      return selectDevices.all(id).map((raw) => {
        const row = DeviceRowSchema.parse(raw);
        return { deviceId: row.device_id, deviceName: row.device_name, batch: row.batch, status: row.status, attempts: row.attempts };
      });
    },
    /** A job takes the rollout on: running again, every unfinished device pending again. */
    attachJob(id: string, jobId: string, now: number): void {
      db.transaction(() => {
        setJob.run(jobId, now, id);
        reopenUnfinished.run(id);
      })();
    },
    /** Marks a device running; returns which attempt this is (1 the first time, more after a resume). */
    deviceStarted(id: string, deviceId: string, now: number): number {
      startDevice.run(now, id, deviceId);
      touch.run(now, id);
      const row = selectAttempts.get(id, deviceId);
      return row === undefined ? 1 : DeviceRowSchema.pick({ attempts: true }).parse(row).attempts;
    },
    deviceVersion(id: string, deviceId: string, fromVersion: string | null): void {
      setFromVersion.run(fromVersion, id, deviceId);
    },
    transcript(id: string, deviceId: string, entry: TranscriptEntry): void {
      db.transaction(() => {
        addEntry.run(id, deviceId, JSON.stringify(entry));
        trimEntries.run(id, deviceId, id, deviceId);
      })();
    },
    deviceEnded(id: string, deviceId: string, result: DeviceResult, now: number): void {
      endDevice.run(
        result.status,
        result.fromVersion,
        result.toVersion,
        result.gateFailed,
        result.error === null ? null : JSON.stringify(result.error),
        JSON.stringify(result.unitLog),
        result.bytesSent,
        now,
        id,
        deviceId,
      );
      touch.run(now, id);
    },
    finish,
    /** Rollouts whose job is no longer running anywhere (the app was killed): stopped, resumable. */
    stopOrphans(isJobRunning: (jobId: string) => boolean, now: number): string[] {
      const orphans = runningRollouts
        .all()
        .map((row) => RolloutRowSchema.pick({ id: true, job_id: true }).parse(row))
        .filter((row) => row.job_id === null || !isJobRunning(row.job_id));
      for (const orphan of orphans) {
        finish(orphan.id, 'stopped', interruptedReason, now, interruptedError());
      }
      return orphans.map((o) => o.id);
    },
    /** Devices already in another running rollout (two deploys to one Pi at once would fight). */
    busyDevices(exceptRolloutId: string): Map<string, { name: string; rolloutId: string }> {
      return new Map(
        devicesInRunning
          .all(exceptRolloutId)
          .map((r) => BusyRowSchema.parse(r))
          .map((r) => [r.device_id, { name: r.device_name, rolloutId: r.id }]),
      );
    },
    isFinished(status: DeviceDeployStatus): boolean {
      return finishedStatuses.has(status);
    },
  };
}

export const interruptedReason = 'fieldkit stopped while this rollout was running (the app was closed, killed or the laptop lost power).';

export function interruptedError(): AppError {
  return appError(
    'INTERRUPTED',
    'The deploy to this device was interrupted before it finished.',
    'Resume the rollout: the device is deployed again (a deploy is safe to repeat; a half-switched release is put right).',
  );
}
