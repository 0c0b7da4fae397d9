/**
 * One line for what a finished job did, in the jobs panel. Each domain knows its own job
 * kinds' results: it exports a `JobSummaries` map (its `jobSummaries.ts`), and the shell
 * composes them into the one list `JobsProvider` is given. This folder imports no domain.
 */
import type { JobKind, JobRecord } from '../../../shared/jobs.ts';

export type SummarizedJob = Pick<JobRecord, 'kind' | 'result' | 'title'>;

/**
 * The line for a finished job of one kind, or null when its result is not one this window
 * can read (then the panel says so, never a made-up "Finished.").
 */
export type JobSummarizer = (job: SummarizedJob) => string | null;

/** What a domain contributes: a summarizer per job kind it owns. */
export type JobSummaries = Partial<Record<JobKind, JobSummarizer>>;

/** Every job kind has its summarizer; the shell's list is checked against this type. */
export type AllJobSummaries = Readonly<Record<JobKind, JobSummarizer>>;

/** What a window says when a job's result does not parse: the job ended, its outcome is unknown here. */
export function resultNotReadable(what: string): string {
  return `${what} finished, but its result could not be read: it is not in the form this fieldkit window expects.`;
}

export function summarizeJob(job: SummarizedJob, summaries: AllJobSummaries): string {
  return summaries[job.kind](job) ?? resultNotReadable('The job');
}
