/**
 * Owner of `rollout_devices`: each device of a rollout, in plan order, with its batch,
 * status, attempts and outcome. rolloutStore.ts composes it with the rollouts themselves
 * and wraps the writes that span both in one transaction.
 */
import { z } from 'zod';
import { DeviceDeployStatusSchema, HealthGateNameSchema, type DeviceDeployOutcome, type DeviceDeployStatus, type TranscriptEntry } from '../../shared/deploy.ts';
import { AppErrorSchema, type AppError } from '../../shared/errors.ts';
import type { Store } from '../kernel/store/openStore.ts';
import type { RolloutTranscriptStore } from './rolloutTranscriptStore.ts';

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

const BusyRowSchema = z.object({ device_id: z.string(), device_name: z.string(), rollout_id: z.string() });

export type RolloutDeviceRow = { deviceId: string; deviceName: string; batch: number; status: DeviceDeployStatus; attempts: number };

/** What the engine reports about one device once its deploy has ended. */
export type DeviceResult = Pick<DeviceDeployOutcome, 'status' | 'fromVersion' | 'toVersion' | 'gateFailed' | 'error' | 'unitLog' | 'bytesSent'>;

/** A rollout's plan: its batches in order, each device with the name it had when planned. */
export type RolloutPlan = readonly (readonly { deviceId: string; deviceName: string }[])[];

export type RolloutDeviceStore = ReturnType<typeof createRolloutDeviceStore>;

export function createRolloutDeviceStore(db: Store, transcripts: RolloutTranscriptStore) {
  const insertDevice = db.prepare(
    `INSERT INTO rollout_devices (rollout_id, device_id, device_name, position, batch, status, to_version) VALUES (?, ?, ?, ?, ?, 'pending', ?)`,
  );
  const selectDevices = db.prepare(`SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY position`);
  const selectBusy = db.prepare(`SELECT device_id, device_name, rollout_id FROM rollout_devices WHERE rollout_id = ?`);
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
  const selectAttempts = db.prepare(`SELECT attempts FROM rollout_devices WHERE rollout_id = ? AND device_id = ?`);

  return {
    /** Every device of the plan, pending in its batch (the caller's transaction holds it with the rollout). */
    insertPlan(rolloutId: string, plan: RolloutPlan, version: string): void {
      let position = 0;
      plan.forEach((batch, index) => {
        for (const device of batch) insertDevice.run(rolloutId, device.deviceId, device.deviceName, position++, index, version);
      });
    },
    outcomes(rolloutId: string, withTranscripts: boolean): DeviceDeployOutcome[] {
      return selectDevices.all(rolloutId).map((raw) => {
        const row = DeviceRowSchema.parse(raw);
        return toOutcome(row, withTranscripts ? transcripts.read(rolloutId, row.device_id) : []);
      });
    },
    /** The plan and each device's state, cheaply (no outcomes, no transcripts). */
    rows(rolloutId: string): RolloutDeviceRow[] {
      return selectDevices.all(rolloutId).map((raw) => {
        const row = DeviceRowSchema.parse(raw);
        return { deviceId: row.device_id, deviceName: row.device_name, batch: row.batch, status: row.status, attempts: row.attempts };
      });
    },
    started(rolloutId: string, deviceId: string, now: number): void {
      startDevice.run(now, rolloutId, deviceId);
    },
    /** Which attempt the device is on (1 the first time, more after a resume). */
    attempts(rolloutId: string, deviceId: string): number {
      const row = selectAttempts.get(rolloutId, deviceId);
      return row === undefined ? 1 : DeviceRowSchema.pick({ attempts: true }).parse(row).attempts;
    },
    fromVersion(rolloutId: string, deviceId: string, fromVersion: string | null): void {
      setFromVersion.run(fromVersion, rolloutId, deviceId);
    },
    ended(rolloutId: string, deviceId: string, result: DeviceResult, now: number): void {
      endDevice.run(
        result.status,
        result.fromVersion,
        result.toVersion,
        result.gateFailed,
        result.error === null ? null : JSON.stringify(result.error),
        JSON.stringify(result.unitLog),
        result.bytesSent,
        now,
        rolloutId,
        deviceId,
      );
    },
    /** A rollout ends short: devices not yet attempted become `skipped`. */
    skipUnfinished(rolloutId: string): void {
      skipUnfinished.run(rolloutId);
    },
    /** A device caught mid-deploy becomes `failed` with `error`. */
    interruptRunning(rolloutId: string, error: AppError, now: number): void {
      interruptRunning.run(JSON.stringify(error), now, rolloutId);
    },
    /** A job takes the rollout on again: every device not updated or unchanged is pending again. */
    reopenUnfinished(rolloutId: string): void {
      reopenUnfinished.run(rolloutId);
    },
    /** The devices of these rollouts, by device id. */
    inRollouts(rolloutIds: readonly string[]): Map<string, { name: string; rolloutId: string }> {
      return new Map(
        rolloutIds
          .flatMap((id) => selectBusy.all(id))
          .map((r) => BusyRowSchema.parse(r))
          .map((r) => [r.device_id, { name: r.device_name, rolloutId: r.rollout_id }]),
      );
    },
  };
}

function toOutcome(row: z.infer<typeof DeviceRowSchema>, transcript: TranscriptEntry[]): DeviceDeployOutcome {
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
    transcript,
  };
}
