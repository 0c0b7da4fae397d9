/**
 * Entry of the flash helper: the one fieldkit process with administrator rights, started by
 * a flash job's worker (see helperChannel.ts) as `flashHelper --channel DIR`. It writes the
 * drives it is asked to — all at once, one failing never stopping the others — and relays
 * progress. It lives only as long as the worker: when the channel closes or the heartbeat
 * stops it aborts every write (the drives end "incomplete — do not use") and exits within
 * a few seconds. Never run by hand.
 */
import { parseArgs } from 'node:util';
import { appError } from '../../shared/errors.ts';
import type { FlashTargetResult } from '../../shared/flash.ts';
import { connectToWorker, type WorkerLink } from './helperChannel.ts';
import type { HelperFlashRequest, HelperTargetUpdate } from './helperMessages.ts';
import { flashTarget } from './flashTarget.ts';
import { createProgressThrottle, type ProgressThrottle } from '../kernel/jobs/progressThrottle.ts';

/** Per-target progress goes out at most this often (state changes go at once). */
const progressIntervalMs = 100;
/** After an abort, how long the writes get to mark their drives incomplete before the helper exits. */
const abortGraceMs = 2000;

const abort = new AbortController();
let exiting = false;

function exitSoon(code: number): void {
  if (exiting) return;
  exiting = true;
  setTimeout(() => process.exit(code), abortGraceMs).unref();
}

async function runFlash(link: WorkerLink, request: HelperFlashRequest): Promise<void> {
  // Per drive: a new state goes out at once, byte counts at most every progressIntervalMs.
  const throttles = request.targets.map(() =>
    createProgressThrottle(
      (update: HelperTargetUpdate) => {
        link.send({ type: 'target', update });
      },
      { intervalMs: progressIntervalMs },
    ),
  );
  try {
    await Promise.all(
      request.targets.map(async (target, index): Promise<FlashTargetResult> => {
        const throttle = throttles[index] as ProgressThrottle<HelperTargetUpdate>;
        let state: string | null = null;
        const result = await flashTarget(request, target, abort.signal, {
          update: (u) => {
            const update = { device: target.device, ...u };
            throttle.offer(update, update.state !== state);
            state = update.state;
          },
          log: (level, message) => {
            link.send({ type: 'log', level, message });
          },
        }).catch(
          (error: unknown): FlashTargetResult => ({
            device: target.device,
            description: target.description,
            status: 'incomplete',
            label: 'incomplete — do not use',
            error: appError('INTERNAL', `Flashing ${target.device} failed unexpectedly: ${String(error)}.`, 'Flash it again; if it repeats, report it with the job log.'),
            bytesWritten: 0,
            bytesVerified: 0,
            seconds: 0,
            firstBootFiles: [],
            ejected: false,
          }),
        );
        throttle.cancel();
        link.send({ type: 'result', result });
        return result;
      }),
    );
  } finally {
    for (const throttle of throttles) throttle.cancel();
  }
  link.send({ type: 'finished' });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { channel: { type: 'string' } } });
  if (values.channel === undefined) {
    process.stderr.write('flashHelper: started without --channel; it is started by fieldkit, never by hand.\n');
    process.exit(2);
  }
  const link = await connectToWorker(values.channel);
  let busy = false;
  let gone = false;
  link.onGone((why) => {
    gone = true;
    // No one is left to confirm anything: stop writing, leave the drives marked incomplete.
    abort.abort(why);
    if (!busy) process.exit(0);
    exitSoon(0);
  });
  link.onMessage((message) => {
    if (message.type === 'cancel') {
      abort.abort(message.reason);
      return;
    }
    if (message.type !== 'flash' || busy) return;
    busy = true;
    void runFlash(link, message.request).then(
      () => {
        busy = false;
        if (gone) process.exit(0);
        // The worker closes the channel once it has everything; exit if it does not.
        exitSoon(0);
      },
      (error: unknown) => {
        link.send({ type: 'refused', error: appError('INTERNAL', `The flash helper failed: ${String(error)}.`, 'Try again; if it repeats, report it with the job log.') });
        exitSoon(1);
      },
    );
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`flashHelper: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
