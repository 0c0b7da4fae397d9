/** One line for what a finished pull or forward did, from its job result. */
import { ForwardResultSchema, PullResultSchema } from '../../../shared/courier.ts';
import type { AppError } from '../../../shared/errors.ts';
import type { FinalJobEvent } from '../../../shared/jobs.ts';
import { resultNotReadable } from '../jobs/jobSummary.ts';
import type { JobView } from '../jobs/jobStore.ts';
import { count, records } from './courierText.ts';
import { visitOutcome } from './visitOutcome.ts';

/** What a pull brought, or null when its result is not a pull's (the caller says so). */
export function pullOutcome(result: unknown, deviceName: string): string | null {
  const pull = PullResultSchema.safeParse(result);
  if (!pull.success) return null;
  const fresh = pull.data.journals.reduce((n, j) => n + j.new_records, 0);
  const through = pull.data.journals.map((j) => count(j.contiguous_seq)).join(', ');
  const what = fresh === 0 ? 'nothing new' : `${count(fresh)} new record${fresh === 1 ? '' : 's'}`;
  const who = pull.data.deviceId === deviceName ? deviceName : `${deviceName} (${pull.data.deviceId})`;
  return `${who}: pulled ${what}; held here through seq ${through}.`;
}

/** What a forward did and whether it needs a look, or null when its result is not a forward's. */
export function forwardOutcome(result: unknown): { text: string; tone: 'ok' | 'warn' } | null {
  const forward = ForwardResultSchema.safeParse(result);
  if (!forward.success) return null;
  const f = forward.data;
  if (f.forwarded === 0 && f.lossesForwarded === 0 && f.quarantined === 0) {
    return { text: `Nothing to forward: ClickHouse ${f.serverVersion} already has everything this laptop holds.`, tone: 'ok' };
  }
  const losses = f.lossesForwarded > 0 ? ` and ${count(f.lossesForwarded)} loss record${f.lossesForwarded === 1 ? '' : 's'}` : '';
  const rate = f.rowsPerSec > 0 ? `, ${count(Math.round(f.rowsPerSec))} rows/s` : '';
  const batches = `${count(f.batches)} batch${f.batches === 1 ? '' : 'es'}`;
  let text = `Forwarded ${records(f.forwarded)}${losses} to ClickHouse ${f.serverVersion} in ${batches}${rate}.`;
  if (f.quarantined > 0) text += ` ${count(f.quarantined)} row${f.quarantined === 1 ? ' was' : 's were'} refused by the server and set aside: see Quarantine.`;
  if (f.pending > 0) text += ` ${records(f.pending)} still wait for the next forward.`;
  return { text, tone: f.quarantined > 0 || f.pending > 0 ? 'warn' : 'ok' };
}

/** The parameter `key` of a job as a string, or null (the job was started without it). */
export function jobParam(job: Pick<JobView, 'params'>, key: string): string | null {
  const params = job.params;
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return null;
  const value = params[key];
  return typeof value === 'string' ? value : null;
}

/** What the technician's last courier actions came to; one per subject (a device, the forward, …). */
export type CourierNotice =
  | { key: string; kind: 'info'; tone: 'ok' | 'warn' | 'neutral'; text: string }
  | { key: string; kind: 'failed'; title: string; error: AppError };

/** The notice above the table for a courier job that just ended: one per device pulled, one for the forward. */
export function courierJobNotice(job: Pick<JobView, 'id' | 'kind' | 'params'>, event: FinalJobEvent): CourierNotice {
  const name = jobParam(job, 'deviceName') ?? jobParam(job, 'deviceRef') ?? 'the device';
  const visit = job.kind === 'courier.visit';
  const key = job.kind === 'courier.pull' ? `pull:${jobParam(job, 'deviceRef') ?? job.id}` : visit ? 'visit' : 'forward';
  const what = job.kind === 'courier.pull' ? `Pull from ${name}` : visit ? `Visit of ${jobParam(job, 'scope') ?? 'the devices'}` : 'Forward to ClickHouse';
  if (event.type === 'failed') return { key, kind: 'failed', title: `${what} failed`, error: event.error };
  if (event.type === 'cancelled') {
    return { key, kind: 'info', tone: 'neutral', text: `${what} cancelled (${event.reason}). What was already stored stays; the next run resumes from there.` };
  }
  const outcome = job.kind === 'courier.pull' ? pullOutcome(event.result, name) : visit ? visitOutcome(event.result) : forwardOutcome(event.result);
  if (outcome === null) return { key, kind: 'info', tone: 'warn', text: resultNotReadable(what) };
  if (typeof outcome === 'string') return { key, kind: 'info', tone: 'ok', text: outcome };
  return { key, kind: 'info', tone: outcome.tone, text: outcome.text };
}
