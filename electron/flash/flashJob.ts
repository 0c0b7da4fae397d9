/**
 * The `flash.write` job, as its worker runs it: start the flash helper (with administrator
 * rights), hand it the image and the drives, turn what it reports into per-drive progress
 * (state, bytes, MB/s, ETA) and one result per drive. The job is 'done' only when every
 * drive succeeded; otherwise it fails with a summary naming each failed drive, and the
 * per-drive results still travel with the failure (JobFailedError → the failed event's
 * `result`), so the screen and the CLI show every drive. A cancel marks every unfinished
 * drive incomplete.
 */
import { z } from 'zod';
import { appError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import { FlashIdentitySchema, type FlashResult, type FlashTargetProgress, type FlashTargetResult } from '../../shared/flash.ts';
import { JobCancelledError, JobFailedError, type JobContext } from '../kernel/jobs/jobContext.ts';
import { createProgressMeter, type ProgressMeter } from '../kernel/jobs/progressMeter.ts';
import { createProgressThrottle } from '../kernel/jobs/progressThrottle.ts';
import { startFlashHelper } from './helperChannel.ts';
import type { HelperFlashRequest, HelperTargetUpdate } from './helperMessages.ts';
import { incompleteLabel } from './writeImage.ts';

export const FlashJobParamsSchema = z.object({
  imagePath: z.string().min(1),
  kind: z.enum(['signed', 'plain']),
  product: z.string().nullable(),
  version: z.string().nullable(),
  /** Base64 public keys of the unrevoked trust-store keys when the flash was started. */
  trustedKeys: z.array(z.string()),
  targets: z
    .array(
      z.object({
        device: z.string().min(1),
        raw: z.string().min(1),
        description: z.string(),
        sizeBytes: z.number().int().positive(),
        identity: FlashIdentitySchema.optional(),
      }),
    )
    .min(1),
  skipZeroBlocks: z.boolean(),
  writeAll: z.boolean().default(false),
  eject: z.boolean(),
  warnings: z.array(z.string()),
  /** fieldkit's own SSH key line, for the first-boot identity (null when no drive gets one). */
  appSshPublicKey: z.string().nullable(),
});
export type FlashJobParams = z.infer<typeof FlashJobParamsSchema>;

const progressIntervalMs = 100;
const finalStates = new Set(['success', 'incomplete', 'refused']);

/** "2 of 3 drives failed: /dev/sdb (…), /dev/sdc (…)" — or null when every drive succeeded. */
export function summarizeFlashFailures(targets: readonly FlashTargetResult[]): string | null {
  const failed = targets.filter((t) => t.status !== 'success');
  if (failed.length === 0) return null;
  const what = failed.map((t) => `${t.device} ${t.status === 'refused' ? 'refused' : incompleteLabel}: ${t.error?.message ?? 'no reason given'}`).join('; ');
  return `${failed.length} of ${targets.length} drive${targets.length === 1 ? '' : 's'} failed: ${what}`;
}

/** Bytes of write + read-back work a drive has done (its total is twice the bytes it writes). */
function workDone(t: FlashTargetProgress): number {
  const total = t.bytesTotal ?? 0;
  switch (t.state) {
    case 'checking':
      // The image's bytes, not the drive's: shown per drive, not counted as write work.
      return 0;
    case 'writing':
    case 'incomplete':
      return t.bytesDone;
    case 'verifying':
      return total + t.bytesDone;
    case 'customising':
    case 'ejecting':
    case 'success':
      return 2 * total;
    default:
      return 0;
  }
}

export function flashJobTitle(params: FlashJobParams): string {
  const image = params.product === null ? (params.imagePath.split(/[\\/]/).at(-1) ?? params.imagePath) : `${params.product} ${params.version ?? ''}`.trim();
  return `Flash ${image} to ${params.targets.map((t) => t.device).join(', ')}`;
}

/**
 * Every drive's progress as the job shows it: updated from the helper's per-drive updates and
 * results, each drive's rate measured on its own, and the combined progress (write and
 * read-back work of every drive) emitted — a drive's new state at once, byte counts at most
 * every progressIntervalMs.
 */
function driveBoard(params: FlashJobParams, ctx: JobContext) {
  const progress = new Map<string, FlashTargetProgress>(
    params.targets.map((t) => [t.device, { device: t.device, description: t.description, state: 'queued', bytesDone: 0, bytesTotal: null, rateBytesPerSec: null, etaSeconds: null }]),
  );
  const meters = new Map<string, ProgressMeter>(params.targets.map((t) => [t.device, createProgressMeter()]));
  const emitNow = (): void => {
    const targets = [...progress.values()];
    const active = targets.filter((t) => !finalStates.has(t.state));
    const phase = active.some((t) => t.state === 'writing') ? 'writing' : active.some((t) => t.state === 'verifying') ? 'verifying' : (active[0]?.state ?? 'finished');
    // Totals count write and read-back work: each drive's written bytes twice (unknown while a drive still checks the image).
    const counted = targets.filter((t) => t.state !== 'refused');
    const done = counted.reduce((sum, t) => sum + workDone(t), 0);
    const known = counted.length > 0 && counted.every((t) => t.bytesTotal !== null && t.state !== 'checking');
    ctx.progress({ phase, bytesDone: done, bytesTotal: known ? counted.reduce((sum, t) => sum + 2 * (t.bytesTotal ?? 0), 0) : null, targets });
  };
  const emits = createProgressThrottle<undefined>(emitNow, { intervalMs: progressIntervalMs });
  return {
    /** How far a drive got (undefined for one the job does not flash). */
    reached: (device: string): FlashTargetProgress | undefined => progress.get(device),
    update(update: HelperTargetUpdate): void {
      const current = progress.get(update.device);
      const meter = meters.get(update.device);
      if (current === undefined || meter === undefined) return;
      // Customising and ejecting report no bytes of their own: keep the image's.
      const keep = update.bytesTotal === null && (update.state === 'customising' || update.state === 'ejecting');
      const bytesDone = keep ? current.bytesDone : update.bytesDone;
      const bytesTotal = keep ? current.bytesTotal : update.bytesTotal;
      const measured = meter.update({ phase: update.state, bytesDone, bytesTotal }, Date.now());
      progress.set(update.device, { ...current, state: update.state, bytesDone, bytesTotal, rateBytesPerSec: keep ? null : measured.rateBytesPerSec, etaSeconds: keep ? null : measured.etaSeconds });
      emits.offer(undefined, update.state !== current.state);
    },
    /** A drive ended in `state` (its result's status). */
    ended(device: string, state: FlashTargetProgress['state']): void {
      const current = progress.get(device);
      if (current !== undefined) progress.set(device, { ...current, state, rateBytesPerSec: null, etaSeconds: null });
    },
    /** Emits the progress now. */
    emitNow: (): void => {
      emits.offer(undefined, true);
    },
    stop: (): void => {
      emits.cancel();
    },
    /** The final progress, after every drive has its result. */
    emitFinal: emitNow,
  };
}

/** The result of a drive the helper ended without reporting on: refused if it was never touched, else incomplete. */
function unreported(target: FlashJobParams['targets'][number], reached: FlashTargetProgress | undefined, cancelled: boolean, lostWhy: string | null): FlashTargetResult {
  const untouched = reached === undefined || reached.state === 'queued' || reached.state === 'preparing';
  return {
    device: target.device,
    description: target.description,
    status: untouched ? 'refused' : 'incomplete',
    label: untouched ? null : incompleteLabel,
    error: cancelled
      ? appError('CANCELLED', `The flash of ${target.device} was cancelled${untouched ? ' before anything was written' : `; the drive is ${incompleteLabel}`}.`, untouched ? 'The drive is unchanged.' : 'Flash it again before using it.')
      : appError('WORKER_DIED', `The flash of ${target.device} stopped: ${lostWhy ?? 'the flash helper ended without a result'}.`, untouched ? 'Nothing was written; flash it again.' : 'Flash it again before using it.'),
    bytesWritten: 0,
    bytesVerified: 0,
    seconds: 0,
    firstBootFiles: [],
    ejected: false,
  };
}

/** What the helper is asked to do: the job's image onto each of its drives. */
function helperRequest(params: FlashJobParams): HelperFlashRequest {
  return {
    imagePath: params.imagePath,
    kind: params.kind,
    trustedKeys: params.trustedKeys,
    targets: params.targets.map((t) => ({ device: t.device, raw: t.raw, description: t.description, ...(t.identity === undefined ? {} : { identity: t.identity }) })),
    skipZeroBlocks: params.skipZeroBlocks,
    writeAll: params.writeAll,
    eject: params.eject,
    appSshPublicKey: params.appSshPublicKey,
  };
}

export async function runFlashJob(params: FlashJobParams, ctx: JobContext): Promise<FlashResult> {
  for (const warning of params.warnings) ctx.log('warn', warning);
  const board = driveBoard(params, ctx);
  const results = new Map<string, FlashTargetResult>();
  board.emitNow();

  const untouched = (error: AppError): FlashResult => ({
    image: { path: params.imagePath, kind: params.kind, product: params.product, version: params.version },
    targets: params.targets.map((t) => ({ device: t.device, description: t.description, status: 'refused', label: null, error, bytesWritten: 0, bytesVerified: 0, seconds: 0, firstBootFiles: [], ejected: false })),
    warnings: params.warnings,
  });
  const helper = await startFlashHelper({ signal: ctx.signal }).catch((error: unknown) => {
    const failure = isFieldkitError(error) ? error.appError : appError('INTERNAL', `The flash helper could not be started: ${String(error)}.`, 'Try again; if it repeats, report it with the job log.');
    // Every drive is as it was: say so per drive, as the screen and the CLI show drives.
    if (ctx.signal.aborted) throw new JobCancelledError('cancelled before anything was written', untouched(failure));
    throw new JobFailedError(failure, untouched(failure));
  });
  ctx.log('info', `Flash helper started (pid ${helper.pid}).`);
  try {
    const finished = new Promise<string | null>((resolve) => {
      helper.onMessage((message) => {
        switch (message.type) {
          case 'target':
            board.update(message.update);
            return;
          case 'log':
            ctx.log(message.level, message.message);
            return;
          case 'result': {
            const r = message.result;
            results.set(r.device, r);
            board.ended(r.device, r.status);
            ctx.log(
              r.status === 'success' ? 'info' : 'error',
              r.status === 'success'
                ? `${r.device}: written and verified (${r.bytesVerified} bytes read back) in ${r.seconds.toFixed(1)} s${r.ejected ? ', ejected' : ''}.`
                : `${r.device}: ${r.status === 'refused' ? 'refused, nothing written' : incompleteLabel} — ${r.error?.message ?? ''}`,
            );
            board.emitNow();
            return;
          }
          case 'finished':
            resolve(null);
            return;
          case 'refused':
            resolve(message.error.message);
            return;
          case 'hello':
          case 'heartbeat':
            return;
        }
      });
      helper.onLost(resolve);
    });
    const onAbort = (): void => {
      helper.send({ type: 'cancel', reason: typeof ctx.signal.reason === 'string' ? ctx.signal.reason : 'cancelled' });
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    helper.send({ type: 'flash', request: helperRequest(params) });
    const lostWhy = await finished;
    ctx.signal.removeEventListener('abort', onAbort);

    // Any drive the helper did not report on ended with it: it may hold a partial image.
    for (const target of params.targets) {
      if (results.has(target.device)) continue;
      const result = unreported(target, board.reached(target.device), ctx.signal.aborted, lostWhy);
      results.set(target.device, result);
      board.ended(target.device, result.status);
    }
  } finally {
    board.stop();
    await helper.close();
  }
  board.emitFinal();

  const result: FlashResult = {
    image: { path: params.imagePath, kind: params.kind, product: params.product, version: params.version },
    targets: params.targets.map((t) => results.get(t.device)).filter((r) => r !== undefined),
    warnings: params.warnings,
  };
  if (ctx.signal.aborted && result.targets.some((t) => t.status !== 'success')) {
    throw new JobCancelledError(typeof ctx.signal.reason === 'string' ? ctx.signal.reason : 'cancelled', result);
  }
  const failures = summarizeFlashFailures(result.targets);
  if (failures !== null) {
    throw new JobFailedError(appError(result.targets.every((t) => t.status === 'refused') ? 'CONFLICT' : 'IO_ERROR', `${failures}.`, 'Flash the failed drives again; a drive marked incomplete must not be used until it is.'), result);
  }
  return result;
}
