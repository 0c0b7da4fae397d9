/**
 * The backup domain's history of backup runs (owner of `backup_runs`): one row per device ×
 * class a backup job finished. A row is 'good' only when restic reported the snapshot (its
 * id from the `--json` summary) after the stream was verified whole; anything else is
 * 'failed' with the error. Freshness, `backup list`, size estimates and a resumed run read it.
 */
import { AppErrorSchema, type AppError } from '../../shared/errors.ts';
import { BackupClassSchema, type BackupClass } from '../../shared/backupStream.ts';
import { RepoKindSchema, RepoRoleSchema, type RepoKind, type RepoRole } from '../../shared/backup.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { rowReader } from '../kernel/store/storeRows.ts';
import { z } from 'zod';

export type BackupRunRow = {
  id: number;
  jobId: string;
  deviceRef: string;
  /** The agent's device id (the restic host of the snapshot). */
  deviceId: string;
  deviceName: string;
  site: string | null;
  class: BackupClass;
  outcome: 'good' | 'failed';
  snapshotId: string | null;
  repo: { role: RepoRole; kind: RepoKind; location: string };
  startedMs: number;
  endedMs: number;
  streamBytes: number;
  bytesAdded: number;
  files: number;
  fileBytes: number;
  agentVersion: string | null;
  imageVersion: string | null;
  modelVersion: string | null;
  journalLastSeq: number | null;
  missing: string[];
  error: AppError | null;
  /** The device's change token the snapshot's stream carried (null: an agent without probes). */
  changeToken: string | null;
  /** No new snapshot: the device was unchanged since `snapshotId`, confirmed at `endedMs`. */
  unchanged: boolean;
};

export type NewBackupRun = Omit<BackupRunRow, 'id' | 'changeToken' | 'unchanged'> & { changeToken?: string | null; unchanged?: boolean };

const runs = rowReader('backup_runs');
const StringListSchema = z.array(z.string());

function runRow(value: unknown): BackupRunRow {
  const r = runs.row(value);
  const error = runs.textOrNull(r, 'error');
  return {
    id: runs.int(r, 'id'),
    jobId: runs.text(r, 'job_id'),
    deviceRef: runs.text(r, 'device_ref'),
    deviceId: runs.text(r, 'device_id'),
    deviceName: runs.text(r, 'device_name'),
    site: runs.textOrNull(r, 'site'),
    class: runs.oneOf(r, 'class', BackupClassSchema.options),
    outcome: runs.oneOf(r, 'outcome', ['good', 'failed'] as const),
    snapshotId: runs.textOrNull(r, 'snapshot_id'),
    repo: { role: runs.oneOf(r, 'repo_role', RepoRoleSchema.options), kind: runs.oneOf(r, 'repo_kind', RepoKindSchema.options), location: runs.text(r, 'repo_location') },
    startedMs: runs.int(r, 'started_ms'),
    endedMs: runs.int(r, 'ended_ms'),
    streamBytes: runs.int(r, 'stream_bytes'),
    bytesAdded: runs.int(r, 'bytes_added'),
    files: runs.int(r, 'files'),
    fileBytes: runs.int(r, 'file_bytes'),
    agentVersion: runs.textOrNull(r, 'agent_version'),
    imageVersion: runs.textOrNull(r, 'image_version'),
    modelVersion: runs.textOrNull(r, 'model_version'),
    journalLastSeq: runs.intOrNull(r, 'journal_last_seq'),
    missing: runs.json(r, 'missing', StringListSchema),
    error: error === null ? null : runs.json(r, 'error', AppErrorSchema),
    changeToken: runs.textOrNull(r, 'change_token'),
    unchanged: runs.int(r, 'unchanged') === 1,
  };
}

export type BackupRunStore = ReturnType<typeof createBackupRunStore>;

export function createBackupRunStore(db: Store) {
  const insert = db.prepare(
    `INSERT INTO backup_runs (job_id, device_ref, device_id, device_name, site, class, outcome, snapshot_id, repo_role, repo_kind, repo_location,
       started_ms, ended_ms, stream_bytes, bytes_added, files, file_bytes, agent_version, image_version, model_version, journal_last_seq, missing, error, change_token, unchanged)
     VALUES (@jobId, @deviceRef, @deviceId, @deviceName, @site, @class, @outcome, @snapshotId, @repoRole, @repoKind, @repoLocation,
       @startedMs, @endedMs, @streamBytes, @bytesAdded, @files, @fileBytes, @agentVersion, @imageVersion, @modelVersion, @journalLastSeq, @missing, @error, @changeToken, @unchanged)`,
  );
  const lastGoodByRef = db.prepare(`SELECT * FROM backup_runs WHERE device_ref = ? AND class = ? AND outcome = 'good' ORDER BY ended_ms DESC, id DESC LIMIT 1`);
  const lastByRef = db.prepare(`SELECT * FROM backup_runs WHERE device_ref = ? AND class = ? ORDER BY ended_ms DESC, id DESC LIMIT 1`);
  return {
    /** Records one finished device × class. A good row must carry restic's snapshot id. */
    record(run: NewBackupRun): number {
      const info = insert.run({
        ...run,
        repoRole: run.repo.role,
        repoKind: run.repo.kind,
        repoLocation: run.repo.location,
        missing: JSON.stringify(run.missing),
        error: run.error === null ? null : JSON.stringify(run.error),
        changeToken: run.changeToken ?? null,
        unchanged: run.unchanged === true ? 1 : 0,
      });
      return Number(info.lastInsertRowid);
    },
    /** The newest good backup of a device (the laptop's ref) and class. */
    lastGood(deviceRef: string, backupClass: BackupClass): BackupRunRow | null {
      const row = lastGoodByRef.get(deviceRef, backupClass);
      return row === undefined ? null : runRow(row);
    },
    /** The newest attempt, good or not. */
    lastAttempt(deviceRef: string, backupClass: BackupClass): BackupRunRow | null {
      const row = lastByRef.get(deviceRef, backupClass);
      return row === undefined ? null : runRow(row);
    },
    /** Good backups of a device (its ref or agent id) or of all, newest first. */
    good(filter: { device?: string | undefined; limit: number }): BackupRunRow[] {
      const rows = filter.device === undefined
        ? db.prepare(`SELECT * FROM backup_runs WHERE outcome = 'good' ORDER BY ended_ms DESC, id DESC LIMIT ?`).all(filter.limit)
        : db.prepare(`SELECT * FROM backup_runs WHERE outcome = 'good' AND (device_ref = ? OR device_id = ?) ORDER BY ended_ms DESC, id DESC LIMIT ?`).all(filter.device, filter.device, filter.limit);
      return rows.map(runRow);
    },
    /** The device refs that have any row (devices removed since still show their history). */
    deviceRefs(): { deviceRef: string; deviceId: string; deviceName: string; site: string | null }[] {
      return db
        .prepare(`SELECT device_ref, device_id, device_name, site FROM backup_runs WHERE id IN (SELECT max(id) FROM backup_runs GROUP BY device_ref)`)
        .all()
        .map((raw) => {
          const r = runs.row(raw);
          return { deviceRef: runs.text(r, 'device_ref'), deviceId: runs.text(r, 'device_id'), deviceName: runs.text(r, 'device_name'), site: runs.textOrNull(r, 'site') };
        });
    },
  };
}
