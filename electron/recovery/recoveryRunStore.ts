/**
 * The recovery domain's history (owner of `recovery_runs`): one row per restore, drill or
 * replace that ended, with its full result (steps, commands, timings) and its runbook's path.
 * Drill freshness and `fieldkit drill --history` read it.
 */
import { z } from 'zod';
import { AppErrorSchema, type AppError } from '../../shared/errors.ts';
import { RecoveryKindSchema, type RecoveryKind, type RecoveryRun } from '../../shared/recovery.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { rowReader } from '../kernel/store/storeRows.ts';

export type NewRecoveryRun = {
  kind: RecoveryKind;
  jobId: string | null;
  deviceRef: string;
  deviceName: string;
  targetRef: string;
  targetName: string;
  pointId: string | null;
  startedMs: number;
  endedMs: number;
  ok: boolean;
  rtoMs: number | null;
  rpoAgeSeconds: number | null;
  error: AppError | null;
  /** The job's result (JSON), kept whole for the runbook and the UI. */
  result: unknown;
  runbookPath: string | null;
};

const rows = rowReader('recovery_runs');

function runOf(value: unknown): RecoveryRun {
  const r = rows.row(value);
  const error = rows.textOrNull(r, 'error');
  return {
    id: rows.int(r, 'id'),
    kind: rows.oneOf(r, 'kind', RecoveryKindSchema.options),
    deviceRef: rows.text(r, 'device_ref'),
    deviceName: rows.text(r, 'device_name'),
    targetRef: rows.text(r, 'target_ref'),
    targetName: rows.text(r, 'target_name'),
    pointId: rows.textOrNull(r, 'point_id'),
    startedAt: rows.int(r, 'started_ms'),
    endedAt: rows.int(r, 'ended_ms'),
    ok: rows.int(r, 'ok') === 1,
    rtoMs: rows.intOrNull(r, 'rto_ms'),
    rpoAgeSeconds: rows.intOrNull(r, 'rpo_age_s'),
    error: error === null ? null : rows.json(r, 'error', AppErrorSchema),
    runbookPath: rows.textOrNull(r, 'runbook_path'),
  };
}

export type RecoveryRunStore = ReturnType<typeof createRecoveryRunStore>;

export function createRecoveryRunStore(db: Store) {
  const insert = db.prepare(
    `INSERT INTO recovery_runs (kind, job_id, device_ref, device_name, target_ref, target_name, point_id, started_ms, ended_ms, ok, rto_ms, rpo_age_s, error, result, runbook_path)
     VALUES (@kind, @jobId, @deviceRef, @deviceName, @targetRef, @targetName, @pointId, @startedMs, @endedMs, @ok, @rtoMs, @rpoAgeSeconds, @error, @result, @runbookPath)`,
  );
  return {
    record(run: NewRecoveryRun): number {
      const info = insert.run({
        ...run,
        ok: run.ok ? 1 : 0,
        rtoMs: run.rtoMs === null ? null : Math.round(run.rtoMs),
        rpoAgeSeconds: run.rpoAgeSeconds === null ? null : Math.round(run.rpoAgeSeconds),
        error: run.error === null ? null : JSON.stringify(run.error),
        result: JSON.stringify(run.result ?? null),
      });
      return Number(info.lastInsertRowid);
    },
    setRunbook(id: number, path: string): void {
      db.prepare('UPDATE recovery_runs SET runbook_path = ? WHERE id = ?').run(path, id);
    },
    /** Newest first; of one device (as source or target) or all. */
    list(filter: { deviceRef?: string | undefined; limit: number }): RecoveryRun[] {
      const all = filter.deviceRef === undefined
        ? db.prepare('SELECT * FROM recovery_runs ORDER BY ended_ms DESC, id DESC LIMIT ?').all(filter.limit)
        : db.prepare('SELECT * FROM recovery_runs WHERE device_ref = ? OR target_ref = ? ORDER BY ended_ms DESC, id DESC LIMIT ?').all(filter.deviceRef, filter.deviceRef, filter.limit);
      return all.map(runOf);
    },
    get(id: number): RecoveryRun | null {
      const row = db.prepare('SELECT * FROM recovery_runs WHERE id = ?').get(id);
      return row === undefined ? null : runOf(row);
    },
    /** The stored result of a run (parsed by the caller with its kind's schema). */
    resultOf(id: number): unknown {
      const row = rows.rowOrNull(db.prepare('SELECT result FROM recovery_runs WHERE id = ?').get(id));
      return row === null ? null : rows.json(row, 'result', z.json());
    },
    /** The newest drill (or newest passed drill) of each device that was drilled (its source). */
    lastDrills(filter: { passedOnly?: boolean } = {}): Map<string, RecoveryRun> {
      const passed = filter.passedOnly === true ? 'AND ok = 1' : '';
      const latest = db.prepare(`SELECT * FROM recovery_runs WHERE id IN (SELECT max(id) FROM recovery_runs WHERE kind = 'drill' ${passed} GROUP BY device_ref)`).all();
      return new Map(latest.map(runOf).map((r) => [r.deviceRef, r]));
    },
  };
}
