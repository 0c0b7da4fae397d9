/**
 * The site visit job: pull many devices in one job, at most `parallel` connected at once.
 * Two passes: the safety events of every device, then (only when every safety pass has
 * ended, done or given up) the rest of each device, as a single pull does. A device that
 * fails is retried with backoff (a slot is given back while it waits), then reported with
 * the reason and what to do; the others carry on. Cancel stops every device at its next
 * safe point: what was stored stays stored with its custody, nothing else is acknowledged.
 */
import { z } from 'zod';
import { appError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import { formatBytes } from '../../shared/format.ts';
import { VisitParallelSchema, type SiteVisitResult, type VisitDeviceOutcome } from '../../shared/siteVisit.ts';
import type { PullResult } from '../../shared/courier.ts';
import { createDeviceStore } from '../devices/index.ts';
import { JobCancelledError, JobFailedError, type JobContext } from '../kernel/jobs/jobContext.ts';
import { openStore } from '../kernel/store/openStore.ts';
import { createCourierStore } from './courierStore.ts';
import { createHealthHistoryStore } from './healthHistoryStore.ts';
import { bulkPass, safetyPass, type VisitEnv, type VisitedDevice } from './siteVisitDevice.ts';
import { createVisitTracker } from './siteVisitProgress.ts';
import { backOff, createVisitSlots, type VisitSlots } from './siteVisitSlots.ts';

export const SiteVisitParamsSchema = z.object({
  dataDir: z.string(),
  /** "site north-field", "all devices", "3 devices": for the title and the result. */
  scope: z.string(),
  parallel: VisitParallelSchema,
  devices: z.array(z.object({ deviceRef: z.string(), deviceName: z.string() })).min(1),
});
export type SiteVisitParams = z.infer<typeof SiteVisitParamsSchema>;

/** The secret that carries a serial device's console password to the visit's worker. */
export const visitPasswordSecret = (deviceRef: string): string => `password:${deviceRef}`;

/** Tries per pass before a device is reported failed; the waits between them double from `backoffMs`. */
export const visitAttempts = 3;
const backoffMs = 1000;

/** Failures that may pass by themselves (a link that dropped, a device still booting): worth another try. */
const transientCodes: ReadonlySet<AppError['code']> = new Set(['UNAVAILABLE', 'TIMEOUT', 'IO_ERROR']);

type DeviceRun = { visited: VisitedDevice | null; ref: string; name: string; site: string; attempts: number; retries: number; status: VisitDeviceOutcome['status']; error: AppError | null; pull: PullResult | null; startedMs: number | null; endedMs: number | null };

export async function runSiteVisit(params: SiteVisitParams, ctx: JobContext): Promise<SiteVisitResult> {
  const startedMs = Date.now();
  const db = openStore(params.dataDir);
  try {
    const devices = createDeviceStore(db);
    const runs: DeviceRun[] = params.devices.map(({ deviceRef, deviceName }) => {
      const device = devices.find(deviceRef);
      const password = ctx.secrets[visitPasswordSecret(deviceRef)];
      return {
        visited: device === null ? null : { device, password, bytesBefore: 0, safety: null, safetyRecords: 0 },
        ref: deviceRef,
        name: device?.name ?? deviceName,
        site: device?.site ?? '',
        attempts: 0,
        retries: 0,
        status: 'not_started',
        error: null,
        pull: null,
        startedMs: null,
        endedMs: null,
      };
    });
    const slots = createVisitSlots(params.parallel, ctx.signal);
    const tracker = createVisitTracker(
      runs.map((r) => ({ deviceRef: r.ref, name: r.name, site: r.site })),
      { parallel: params.parallel, inFlight: () => slots.inFlight, ctx },
    );
    const env: VisitEnv = { dataDir: params.dataDir, courier: createCourierStore(db), healthHistory: createHealthHistoryStore(db), devices, ctx, tracker };
    for (const run of runs) if (run.visited === null) fail(env, run, appError('NOT_FOUND', `${run.name} was removed from this laptop after the visit started.`, 'Add it again on Devices if it is still in the field, then pull it.'));
    ctx.log('info', `Visiting ${params.scope}: ${runs.length} device${runs.length === 1 ? '' : 's'}, ${params.parallel} at a time; safety events of every device first.`);

    await Promise.all(runs.map((run) => runPass(env, slots, run, 'safety')));
    let bulkStartedMs: number | null = null;
    const ready = runs.filter((run) => run.visited?.safety != null && run.status === 'not_started');
    if (!ctx.signal.aborted && ready.length > 0) {
      bulkStartedMs = Date.now();
      tracker.setPhase('records of every device');
      await Promise.all(ready.map((run) => runPass(env, slots, run, 'bulk')));
    }

    const result = visitResult(params, runs, slots, startedMs, bulkStartedMs, tracker.lines());
    return finish(ctx, result);
  } finally {
    db.close();
  }
}

/** The job's end: cancelled, failed with the devices that could not be pulled, or done. */
function finish(ctx: JobContext, result: SiteVisitResult): SiteVisitResult {
  if (ctx.signal.aborted) {
    const reason = typeof ctx.signal.reason === 'string' ? ctx.signal.reason : 'cancelled';
    throw new JobCancelledError(reason, result);
  }
  const failed = result.devices.filter((d) => d.status === 'failed');
  if (failed.length === 0) return result;
  const names = failed.map((d) => `${d.name} (${sentence(d.error?.message ?? 'failed')})`).join('; ');
  throw new JobFailedError(
    appError(
      'UNAVAILABLE',
      `${failed.length} of ${result.devices.length} devices could not be pulled: ${names}.${failed.length < result.devices.length ? ` The other ${result.devices.length - failed.length} were pulled.` : ''}`,
      failed.length === 1 ? (failed[0]?.error?.hint ?? 'Pull it again when it can be reached.') : 'See each device’s line for what to do; pull those devices again when they can be reached.',
    ),
    result,
  );
}

/** One pass of one device: a slot per attempt, backoff between attempts without a slot, then done or failed with the reason. */
async function runPass(env: VisitEnv, slots: VisitSlots, run: DeviceRun, pass: 'safety' | 'bulk'): Promise<void> {
  const visited = run.visited;
  if (visited === null || run.status !== 'not_started') return;
  const { ctx, tracker } = env;
  for (let attempt = 1; ; attempt++) {
    let failure: AppError;
    try {
      await slots.acquire();
    } catch {
      cancel(env, run);
      return;
    }
    try {
      run.attempts++;
      if (attempt > 1) run.retries++;
      run.startedMs ??= Date.now();
      tracker.update(run.ref, { state: 'connecting', attempt: run.attempts, note: null });
      if (pass === 'safety') {
        await safetyPass(env, visited);
        tracker.update(run.ref, { state: 'safety_done', records: visited.safetyRecords, bytes: visited.bytesBefore, note: 'safety events carried; the rest follows once every device has sent its own' });
        ctx.log('info', `${run.name}: ${visited.safetyRecords.toLocaleString('en-US')} safety events carried.`);
      } else {
        run.pull = await bulkPass(env, visited);
        done(env, run, visited);
      }
      return;
    } catch (error) {
      if (error instanceof JobCancelledError || ctx.signal.aborted) {
        cancel(env, run);
        return;
      }
      failure = isFieldkitError(error) ? error.appError : appError('INTERNAL', `Pulling ${run.name} failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`, 'Pull it alone to see the error; report it if it repeats.');
    } finally {
      slots.release();
    }
    if (!transientCodes.has(failure.code) || attempt >= visitAttempts) {
      fail(env, run, attempt > 1 ? { ...failure, message: `${sentence(failure.message)} (after ${attempt} tries).` } : failure);
      return;
    }
    const waitMs = backoffMs * 2 ** (attempt - 1);
    const note = `${sentence(failure.message)}; trying again in ${waitMs / 1000} s (try ${attempt + 1} of ${visitAttempts})`;
    tracker.update(run.ref, { state: 'retrying', bytes: visited.bytesBefore, note });
    ctx.log('warn', `${run.name}: ${note}`);
    try {
      await backOff(waitMs, ctx.signal);
    } catch {
      cancel(env, run);
      return;
    }
  }
}

/** A message without its closing period, to go on with more words. */
function sentence(message: string): string {
  return message.replace(/\.$/, '');
}

function done(env: VisitEnv, run: DeviceRun, visited: VisitedDevice): void {
  run.status = 'done';
  run.endedMs = Date.now();
  const pulled = run.pull?.journals.reduce((n, j) => n + j.pulled, 0) ?? 0;
  const fresh = run.pull?.journals.reduce((n, j) => n + j.new_records, 0) ?? 0;
  const note = `${pulled.toLocaleString('en-US')} records (${fresh.toLocaleString('en-US')} new), ${formatBytes(visited.bytesBefore)}`;
  env.tracker.update(run.ref, { state: 'done', records: Math.max(pulled, env.tracker.line(run.ref).records), bytes: visited.bytesBefore, note });
  env.ctx.log('info', `${run.name}: done, ${note}.`);
}

function fail(env: VisitEnv, run: DeviceRun, error: AppError): void {
  run.status = 'failed';
  run.error = error;
  run.endedMs = Date.now();
  env.tracker.update(run.ref, { state: 'failed', bytes: run.visited?.bytesBefore ?? 0, note: `${error.message} — ${error.hint}` });
  env.ctx.log('warn', `${run.name}: FAILED: ${error.message} What to do: ${error.hint}`);
}

function cancel(env: VisitEnv, run: DeviceRun): void {
  run.status = 'cancelled';
  run.endedMs = Date.now();
  env.tracker.update(run.ref, { state: 'cancelled', bytes: run.visited?.bytesBefore ?? 0, note: 'cancelled: what was stored stays (with its custody); the next pull resumes there' });
}

function visitResult(params: SiteVisitParams, runs: readonly DeviceRun[], slots: VisitSlots, startedMs: number, bulkStartedMs: number | null, lines: ReturnType<ReturnType<typeof createVisitTracker>['lines']>): SiteVisitResult {
  const devices: VisitDeviceOutcome[] = runs.map((run) => {
    const line = lines.find((l) => l.deviceRef === run.ref);
    return {
      deviceRef: run.ref,
      name: run.name,
      site: run.site,
      status: run.status,
      attempts: run.attempts,
      retries: run.retries,
      safetyRecords: run.visited?.safetyRecords ?? 0,
      pull: run.pull,
      bytes: line?.bytes ?? 0,
      seconds: run.startedMs === null ? 0 : ((run.endedMs ?? Date.now()) - run.startedMs) / 1000,
      error: run.error,
    };
  });
  return {
    scope: params.scope,
    parallel: params.parallel,
    maxInFlight: slots.maxInFlight,
    devices,
    records: devices.reduce((n, d) => n + (d.pull?.journals.reduce((m, j) => m + j.pulled, 0) ?? d.safetyRecords), 0),
    newRecords: runs.reduce((n, run) => n + (run.pull?.journals.reduce((m, j) => m + j.new_records, 0) ?? [...(run.visited?.safety?.values() ?? [])].reduce((m, c) => m + c.newRecords, 0)), 0),
    bytes: devices.reduce((n, d) => n + d.bytes, 0),
    seconds: (Date.now() - startedMs) / 1000,
    bulkStartedMs,
  };
}

export function visitTitle(params: Pick<SiteVisitParams, 'scope' | 'parallel'>): string {
  return `Visit ${params.scope} (${params.parallel} at a time)`;
}
