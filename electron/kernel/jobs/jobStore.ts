/** Job history in the laptop store: written as jobs run, read after any restart. */
import { z } from 'zod';
import { AppErrorSchema, appError, type AppError } from '../../../shared/errors.ts';
import {
  JobKindSchema,
  JobProgressSchema,
  JobStateSchema,
  type JobKind,
  type JobProgress,
  type JobRecord,
  type JobState,
} from '../../../shared/jobs.ts';
import type { Store } from '../store/openStore.ts';

const logLinesKept = 200;
const logLinesShown = 20;

const JobRowSchema = z.object({
  id: z.string(),
  kind: JobKindSchema,
  title: z.string(),
  params: z.string(),
  state: JobStateSchema,
  progress: z.string().nullable(),
  created_at: z.number(),
  ended_at: z.number().nullable(),
  result: z.string().nullable(),
  error: z.string().nullable(),
});

const OwnerRowSchema = z.object({ owner_pid: z.number().nullable() });
const RunningOwnerRowSchema = OwnerRowSchema.extend({ id: z.string() });

const LogRowSchema = z.object({ at: z.number(), level: z.enum(['info', 'warn', 'error']), message: z.string() });

export type JobStore = ReturnType<typeof createJobStore>;

/** Typed access to the jobs tables of `db`. */
export function createJobStore(db: Store) {
  const insert = db.prepare(
    `INSERT INTO jobs (id, kind, title, params, state, created_at, owner_pid) VALUES (?, ?, ?, ?, 'running', ?, ?)`,
  );
  const setProgress = db.prepare(`UPDATE jobs SET progress = ? WHERE id = ? AND state = 'running'`);
  const finish = db.prepare(
    `UPDATE jobs SET state = ?, ended_at = ?, result = ?, error = ? WHERE id = ? AND state = 'running'`,
  );
  const addLog = db.prepare(`INSERT INTO job_log (job_id, at, level, message) VALUES (?, ?, ?, ?)`);
  const trimLog = db.prepare(
    `DELETE FROM job_log WHERE job_id = ? AND rowid NOT IN
       (SELECT rowid FROM job_log WHERE job_id = ? ORDER BY rowid DESC LIMIT ${logLinesKept})`,
  );
  const selectOne = db.prepare(`SELECT * FROM jobs WHERE id = ?`);
  const selectLog = db.prepare(
    `SELECT at, level, message FROM (SELECT rowid, * FROM job_log WHERE job_id = ? ORDER BY rowid DESC LIMIT ${logLinesShown}) ORDER BY rowid`,
  );
  const selectOwner = db.prepare(`SELECT owner_pid FROM jobs WHERE id = ?`);
  const selectRunningOwners = db.prepare(`SELECT id, owner_pid FROM jobs WHERE state = 'running'`);

  function toRecord(row: unknown): JobRecord {
    const r = JobRowSchema.parse(row);
    return {
      id: r.id,
      kind: r.kind,
      title: r.title,
      params: JSON.parse(r.params) as JobRecord['params'],
      state: r.state,
      progress: r.progress === null ? null : JobProgressSchema.parse(JSON.parse(r.progress)),
      createdAt: r.created_at,
      endedAt: r.ended_at,
      result: r.result === null ? null : (JSON.parse(r.result) as JobRecord['result']),
      error: r.error === null ? null : AppErrorSchema.parse(JSON.parse(r.error)),
      log: selectLog.all(r.id).map((l) => LogRowSchema.parse(l)),
    };
  }

  return {
    create(job: { id: string; kind: JobKind; title: string; params: unknown; createdAt: number }): void {
      insert.run(job.id, job.kind, job.title, JSON.stringify(job.params), job.createdAt, process.pid);
    },
    saveProgress(id: string, progress: JobProgress): void {
      setProgress.run(JSON.stringify(progress), id);
    },
    log(id: string, at: number, level: 'info' | 'warn' | 'error', message: string): void {
      db.transaction(() => {
        addLog.run(id, at, level, message);
        trimLog.run(id, id);
      })();
    },
    /** Records the final state once; a second final for the same job is ignored. */
    finish(id: string, state: Exclude<JobState, 'running'>, at: number, result: unknown, error: AppError | null): boolean {
      const changes = finish.run(
        state,
        at,
        result === undefined || result === null ? null : JSON.stringify(result),
        error === null ? null : JSON.stringify(error),
        id,
      ).changes;
      return changes > 0;
    },
    ownerPid(id: string): number | null {
      const row = selectOwner.get(id);
      return row === undefined ? null : OwnerRowSchema.parse(row).owner_pid;
    },
    get(id: string): JobRecord | null {
      const row = selectOne.get(id);
      return row === undefined ? null : toRecord(row);
    },
    list(options: { limit: number; state?: JobState | undefined }): JobRecord[] {
      const rows =
        options.state === undefined
          ? db.prepare(`SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?`).all(options.limit)
          : db
              .prepare(`SELECT * FROM jobs WHERE state = ? ORDER BY created_at DESC, rowid DESC LIMIT ?`)
              .all(options.state, options.limit);
      return rows.map(toRecord);
    },
    /**
     * Jobs left 'running' by a process that no longer exists (the app was killed, the
     * laptop lost power) are failed as INTERRUPTED, so history never shows a job stuck.
     */
    failOrphans(now: number, isAlive: (pid: number) => boolean): string[] {
      const orphans = selectRunningOwners
        .all()
        .map((row) => RunningOwnerRowSchema.parse(row))
        .filter((row) => row.owner_pid === null || !isAlive(row.owner_pid));
      const error = appError(
        'INTERRUPTED',
        'fieldkit stopped while this job was running (the app was closed, killed or the laptop lost power).',
        'Run the job again. Work that was interrupted was not marked complete.',
      );
      for (const orphan of orphans) finish.run('failed', now, null, JSON.stringify(error), orphan.id);
      return orphans.map((o) => o.id);
    },
  };
}

/** True when a process with this pid exists (signal 0 tests without signalling). */
export function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
