/**
 * Rollouts in the laptop store. The rollout job (in its worker) writes each device's
 * status, outcome and transcript as they happen; the app reads them for deploy.get and
 * resumes from them after a restart. Every write is its own transaction, so a kill -9 at
 * any moment leaves the last finished step recorded.
 *
 * Three tables, one owner each: `rollouts` here, `rollout_devices` in
 * rolloutDeviceStore.ts, `rollout_transcript` in rolloutTranscriptStore.ts. This factory
 * composes them and holds the transactions that span a rollout and its devices.
 */
import { z } from 'zod';
import { BatchSizeSchema, BundleKindSchema, RolloutStateSchema, type BatchSize, type BundleKind, type DeviceDeployOutcome, type DeviceDeployStatus, type Rollout, type TranscriptEntry } from '../../shared/deploy.ts';
import { appError, FieldkitError, type AppError } from '../../shared/errors.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { createRolloutDeviceStore, type DeviceResult, type RolloutDeviceRow, type RolloutPlan } from './rolloutDeviceStore.ts';
import { finishedStatuses } from './rolloutPlan.ts';
import { createRolloutTranscriptStore } from './rolloutTranscriptStore.ts';

export type { DeviceResult, RolloutDeviceRow } from './rolloutDeviceStore.ts';

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

type RolloutRow = z.infer<typeof RolloutRowSchema>;

/** What the job needs beyond the contract's Rollout: how it was asked to run. */
export type RolloutSettings = { order: 'given' | 'shuffle'; seed: number; stableSeconds: number };

/** A rollout as deploy.start records it, before any device is attempted. */
export type NewRollout = {
  id: string;
  bundlePath: string;
  bundleKind: BundleKind;
  version: string;
  batches: readonly BatchSize[];
  maxFailurePercent: number;
  settings: RolloutSettings;
  plan: RolloutPlan;
  now: number;
};

export type RolloutStore = ReturnType<typeof createRolloutStore>;

export function createRolloutStore(db: Store) {
  const transcripts = createRolloutTranscriptStore(db);
  const devices = createRolloutDeviceStore(db, transcripts);
  const insertRollout = db.prepare(
    `INSERT INTO rollouts (id, bundle_path, bundle_kind, version, batches, max_failure_percent, order_mode, seed, stable_seconds, state, created_ms, updated_ms)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)`,
  );
  const selectRollout = db.prepare(`SELECT * FROM rollouts WHERE id = ?`);
  const selectRollouts = db.prepare(`SELECT * FROM rollouts ORDER BY created_ms DESC, rowid DESC LIMIT ?`);
  const setJob = db.prepare(`UPDATE rollouts SET job_id = ?, state = 'running', stop_reason = NULL, updated_ms = ? WHERE id = ?`);
  const setState = db.prepare(`UPDATE rollouts SET state = ?, stop_reason = ?, updated_ms = ? WHERE id = ?`);
  const touch = db.prepare(`UPDATE rollouts SET updated_ms = ? WHERE id = ?`);
  const runningRollouts = db.prepare(`SELECT id, job_id FROM rollouts WHERE state = 'running'`);

  function running(): { id: string; job_id: string | null }[] {
    return runningRollouts.all().map((row) => RolloutRowSchema.pick({ id: true, job_id: true }).parse(row));
  }

  function require(id: string): RolloutRow {
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
      if (interrupted) devices.interruptRunning(id, interrupted, now);
      if (state !== 'completed') devices.skipUnfinished(id);
      setState.run(state, stopReason, now, id);
    })();
  }

  return {
    /** Records a new rollout with its plan: every device pending in its batch. */
    create(rollout: NewRollout): void {
      const { id, settings, now } = rollout;
      db.transaction(() => {
        insertRollout.run(id, rollout.bundlePath, rollout.bundleKind, rollout.version, JSON.stringify(rollout.batches), rollout.maxFailurePercent, settings.order, settings.seed, settings.stableSeconds, now, now);
        devices.insertPlan(id, rollout.plan, rollout.version);
      })();
    },
    get(id: string, options: { transcripts: boolean } = { transcripts: true }): Rollout {
      return toRollout(require(id), devices.outcomes(id, options.transcripts));
    },
    settings(id: string): RolloutSettings {
      const row = require(id);
      return { order: row.order_mode, seed: row.seed, stableSeconds: row.stable_seconds };
    },
    list(limit = 100): Rollout[] {
      return selectRollouts.all(limit).map((raw) => {
        const row = RolloutRowSchema.parse(raw);
        return toRollout(row, devices.outcomes(row.id, false));
      });
    },
    /** The plan and each device's state, cheaply (no outcomes, no transcripts). */
    devices(id: string): RolloutDeviceRow[] {
      return devices.rows(id);
    },
    /** A job takes the rollout on: running again, every unfinished device pending again. */
    attachJob(id: string, jobId: string, now: number): void {
      db.transaction(() => {
        setJob.run(jobId, now, id);
        devices.reopenUnfinished(id);
      })();
    },
    /** Marks a device running; returns which attempt this is (1 the first time, more after a resume). */
    deviceStarted(id: string, deviceId: string, now: number): number {
      devices.started(id, deviceId, now);
      touch.run(now, id);
      return devices.attempts(id, deviceId);
    },
    deviceVersion(id: string, deviceId: string, fromVersion: string | null): void {
      devices.fromVersion(id, deviceId, fromVersion);
    },
    transcript(id: string, deviceId: string, entry: TranscriptEntry): void {
      transcripts.append(id, deviceId, entry);
    },
    deviceEnded(id: string, deviceId: string, result: DeviceResult, now: number): void {
      devices.ended(id, deviceId, result, now);
      touch.run(now, id);
    },
    finish,
    /** Rollouts whose job is no longer running anywhere (the app was killed): stopped, resumable. */
    stopOrphans(isJobRunning: (jobId: string) => boolean, now: number): string[] {
      const orphans = running().filter((row) => row.job_id === null || !isJobRunning(row.job_id));
      for (const orphan of orphans) {
        finish(orphan.id, 'stopped', interruptedReason, now, interruptedError());
      }
      return orphans.map((o) => o.id);
    },
    /** Devices already in another running rollout (two deploys to one Pi at once would fight). */
    busyDevices(exceptRolloutId: string): Map<string, { name: string; rolloutId: string }> {
      // One read transaction: the running rollouts and their devices as of one moment.
      return db.transaction(() => devices.inRollouts(running().map((r) => r.id).filter((id) => id !== exceptRolloutId)))();
    },
    isFinished(status: DeviceDeployStatus): boolean {
      return finishedStatuses.has(status);
    },
  };
}

function toRollout(row: RolloutRow, devices: DeviceDeployOutcome[]): Rollout {
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
    devices,
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
