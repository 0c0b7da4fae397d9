/** What a finished backup job came to, as the notice above the Backups table says it. */
import { BackupRunResultSchema, VerifyResultSchema } from '../../../shared/backup.ts';
import type { AppError } from '../../../shared/errors.ts';
import type { FinalJobEvent } from '../../../shared/jobs.ts';
import { resultNotReadable, type JobSummaries } from '../jobs/jobSummary.ts';
import type { JobView } from '../jobs/jobStore.ts';
import { classLabels } from './backupText.ts';
import { backupJobSummaries } from './jobSummaries.ts';

export type BackupNotice =
  | { key: string; kind: 'info'; tone: 'ok' | 'warn' | 'neutral'; text: string; details: readonly string[] }
  | { key: string; kind: 'failed'; title: string; error: AppError };

const what: Record<string, string> = {
  'backup.run': 'The backup',
  'backup.verify': 'Verification',
  'backup.copy': 'The copy',
  'backup.forget': 'Retention',
};

/** One notice per kind of job (the newest replaces the last of its kind). */
export function backupJobNotice(job: Pick<JobView, 'kind' | 'title' | 'result'>, event: FinalJobEvent): BackupNotice {
  const key = job.kind;
  const name = what[job.kind] ?? job.title;
  if (event.type === 'failed') return { key, kind: 'failed', title: `${job.title} failed`, error: event.error };
  if (event.type === 'cancelled') {
    const after =
      job.kind === 'backup.run'
        ? ' Classes finished before the cancel are kept; the one in flight left no snapshot and counts as not backed up.'
        : '';
    return { key, kind: 'info', tone: 'neutral', text: `${name} was cancelled (${event.reason}).${after}`, details: [] };
  }
  const summaries: JobSummaries = backupJobSummaries;
  const text = summaries[job.kind]?.({ ...job, result: event.result }) ?? null;
  if (text === null) return { key, kind: 'info', tone: 'warn', text: resultNotReadable(name), details: [] };
  const { tone, details } = outcomeDetails(job.kind, event.result);
  return { key, kind: 'info', tone, text, details };
}

/** Failed classes of a backup, failed repositories of a verification: each with what to do. */
function outcomeDetails(kind: string, result: unknown): { tone: 'ok' | 'warn'; details: string[] } {
  if (kind === 'backup.run') {
    const run = BackupRunResultSchema.safeParse(result);
    if (!run.success) return { tone: 'ok', details: [] };
    const failed = run.data.items.filter((i) => i.status === 'failed');
    return {
      tone: failed.length > 0 ? 'warn' : 'ok',
      details: failed.map((i) => `${i.deviceName} · ${classLabels[i.class]}: ${i.error === null ? 'failed' : `${i.error.message} ${i.error.hint}`}`),
    };
  }
  if (kind === 'backup.verify') {
    const verify = VerifyResultSchema.safeParse(result);
    if (!verify.success) return { tone: 'ok', details: [] };
    const problems = verify.data.entries.flatMap((e) => e.problems);
    return { tone: verify.data.ok ? 'ok' : 'warn', details: problems.map((p) => `${p.message} ${p.hint}`) };
  }
  return { tone: 'ok', details: [] };
}
