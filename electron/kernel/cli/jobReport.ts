/** A job's record as the terminal shows it, and the exit code its final state means. */
import type { JobRecord } from '../../../shared/jobs.ts';
import { exitCodes, type CliIo } from './cliIo.ts';
import { progressText } from './jobProgress.ts';

/** Prints the record (not with --json: the events already said it) and returns the exit code of its state. */
export function reportJob(record: JobRecord, io: CliIo, json: boolean): number {
  if (!json) io.stdout(describeJob(record) + '\n');
  if (record.state === 'done') return exitCodes.ok;
  if (record.state === 'cancelled') return exitCodes.cancelled;
  return exitCodes.failed;
}

export function describeJob(job: JobRecord): string {
  const lines = [`${job.id}  ${job.title}`, `state: ${job.state}`];
  if (job.progress) {
    const p = job.progress;
    lines.push(`progress: ${progressText(p)}`);
  }
  if (job.error) lines.push(`error: ${job.error.message}`, `what to do: ${job.error.hint}`);
  if (job.result !== null) lines.push(`result: ${JSON.stringify(job.result, null, 2)}`);
  for (const line of job.log) lines.push(`  ${new Date(line.at).toISOString()} ${line.level}: ${line.message}`);
  return lines.join('\n');
}
