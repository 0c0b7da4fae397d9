/**
 * The restore primitive: classes C of restore point S (restic snapshots in repository R) put
 * back onto target T, a device reachable over SSH. Restore onto the same device, a drill onto
 * a spare and the replacement of a dead Pi all go through it:
 *
 * 1. `check-databases`: every class is `restic dump`ed into memory and checked against its
 *    manifest, every SQLite database `integrity_check`ed — BEFORE anything on T is touched.
 *    A failure throws RestoreRefusedError naming the snapshot.
 * 2. `stop-services`: T's units stopped in the order given (the agent first).
 * 3. `restore-<class>`: `restic dump` of the class's tar streamed through the link into
 *    `sudo -n fieldkit-agent backup-restore --class C` on T, which checks every member
 *    against the manifest and writes atomically (nothing of it touches the laptop's disk).
 * 4. `check-device-databases`: the restored databases opened on T (`backup-restore --check`)
 *    before the agent starts.
 * 5. `start-services`: T's units started in the reverse order (dependencies first).
 *
 * Each step and command is recorded with its timing in `steps` (the runbook and RTO split).
 * Correctness checks after start (hello, journal, ingest, health) are `verifyService.ts`.
 */
import { appError, FieldkitError, type AppError } from '../../shared/errors.ts';
import { restoreTest } from '../backup/index.ts';
import { throwIfCancelled } from '../kernel/jobs/jobContext.ts';
import { shellQuote } from '../kernel/link/shellQuote.ts';
import { streamClassOnto } from './streamClassOnto.ts';
import type { RestoredClass, RestoreOntoOptions, RestoreOntoOutcome, RestoreSource, RestoreTarget } from './restoreTypes.ts';
import type { StepRecorder } from './stepRecorder.ts';

export type { RestoredClass, RestoreOntoOptions, RestoreOntoOutcome, RestoreSource, RestoreTarget } from './restoreTypes.ts';

/** The snapshot's own check failed: nothing on the target was touched. */
export class RestoreRefusedError extends FieldkitError {
  readonly resticId: string;
  constructor(error: AppError, resticId: string) {
    super(error);
    this.name = 'RestoreRefusedError';
    this.resticId = resticId;
  }
}

function shortId(id: string): string {
  return id.slice(0, 8);
}

/** Step 1: every class dumped into memory and checked; throws RestoreRefusedError before T is touched. */
async function checkSnapshot(source: RestoreSource, chosen: RestoreSource['snapshots'], options: RestoreOntoOptions): Promise<void> {
  await options.steps.step('check-snapshot', `Check the snapshots of restore point ${source.pointId} (every file against its manifest, every database's integrity) before anything is touched`, async (cmd) => {
    const found: string[] = [];
    for (const s of chosen) {
      const startedAt = Date.now();
      const test = await restoreTest(s.repo, { id: s.resticId, deviceId: source.deviceId, class: s.class }, options.signal);
      cmd.record({ on: 'laptop', command: `restic dump --no-lock ${shortId(s.resticId)} /${s.class}.tar  (into memory: hashes against the manifest, PRAGMA integrity_check)`, startedAt, exitCode: test.ok ? 0 : 1 });
      throwIfCancelled(options.signal);
      if (!test.ok) {
        const what = test.error ?? test.failures.map((f) => `${f.path}: ${f.detail}`).join('; ');
        const databases = test.failures.some((f) => f.reason === 'sqlite');
        throw new RestoreRefusedError(
          appError('VERIFICATION_FAILED', `Snapshot ${shortId(s.resticId)} (${s.class} of restore point ${source.pointId}) is not restorable${databases ? ': a database in it fails integrity_check' : ''} — ${what.slice(0, 600)}. Nothing on the device was changed.`, 'Restore from the previous restore point, and run fieldkit backup verify.'),
          s.resticId,
        );
      }
      found.push(`${s.class}: ${String(test.filesChecked)} files, ${String(test.sqliteChecked)} databases ok`);
    }
    cmd.detail(found.join('; '));
  });
}

async function systemctl(target: RestoreTarget, verb: 'stop' | 'start' | 'daemon-reload', unit: string | null, cmd: Parameters<Parameters<StepRecorder['step']>[2]>[0], signal: AbortSignal): Promise<void> {
  const command = `sudo -n systemctl ${verb}${unit === null ? '' : ` ${shellQuote(unit)}`}`;
  const result = await cmd.exec(target.link, target.name, command, { timeoutMs: 60_000, signal });
  if (result.code !== 0) {
    throw new FieldkitError(appError('IO_ERROR', `\`${command}\` on ${target.name} exited ${String(result.code)}: ${result.stderr.toString('utf8').trim().slice(-300)}`, 'Check the unit on the device (journalctl -u), then run the restore again.'));
  }
}

async function startServices(target: RestoreTarget, reloadUnits: boolean, options: RestoreOntoOptions, title: string): Promise<void> {
  if (target.services.length === 0) return;
  await options.steps.step('start-services', title, async (cmd) => {
    if (reloadUnits) await systemctl(target, 'daemon-reload', null, cmd, options.signal);
    for (const unit of [...target.services].reverse()) await systemctl(target, 'start', unit, cmd, options.signal);
  });
}

/**
 * Restores `options.classes` of `source` onto `target` (steps 1–5 above). Throws on the first
 * failure, with the steps recorded; once the services were stopped, a failure or cancel
 * starts them again before it is thrown (the device is never left with its agent stopped).
 */
export async function restoreOnto(source: RestoreSource, target: RestoreTarget, options: RestoreOntoOptions): Promise<RestoreOntoOutcome> {
  const chosen = source.snapshots.filter((s) => options.classes.includes(s.class));
  if (chosen.length === 0) throw new FieldkitError(appError('NOT_FOUND', `Restore point ${source.pointId} holds none of ${options.classes.join(', ')}.`, 'Choose classes the point holds (fieldkit restore DEVICE --list).'));
  await checkSnapshot(source, chosen, options);
  throwIfCancelled(options.signal);
  await options.beforeChanges?.();
  throwIfCancelled(options.signal);
  if (target.services.length > 0) {
    await options.steps.step('stop-services', `Stop ${target.services.join(', ')} on ${target.name}`, async (cmd) => {
      for (const unit of target.services) await systemctl(target, 'stop', unit, cmd, options.signal);
    });
  } else options.steps.skip('stop-services', 'Stop services', `${target.name} has no systemd units fieldkit manages (a local agent)`);
  const restored: RestoredClass[] = [];
  let bytes = 0;
  try {
    await options.afterStop?.();
    for (const s of chosen) {
      throwIfCancelled(options.signal);
      restored.push(await streamClassOnto(s, target, options, (n) => options.onBytes?.((bytes += n))));
    }
    const databases = restored.flatMap((r) => r.databases);
    if (databases.length > 0) {
      await options.steps.step('check-device-databases', `Check the restored databases on ${target.name} before the agent starts`, async (cmd) => {
        const command = target.agentCommand(`backup-restore ${databases.map((d) => `--check-db ${shellQuote(d)}`).join(' ')}`);
        const result = await cmd.exec(target.link, target.name, command, { timeoutMs: 300_000, signal: options.signal });
        if (result.code !== 0) throw new FieldkitError(appError('VERIFICATION_FAILED', `A restored database on ${target.name} fails integrity_check: ${result.stdout.toString('utf8').trim().slice(0, 500)}`, 'The agent was not started on it. Restore from the previous restore point.'));
        cmd.detail(`${String(databases.length)} databases pass integrity_check`);
      });
    }
    await options.beforeStart?.();
  } catch (error) {
    // Never leave the device with its services stopped: start them again on what is there.
    await startServices(target, true, { ...options, signal: new AbortController().signal }, `Start ${target.services.join(', ')} on ${target.name} again after the failure`).catch(() => undefined);
    throw error;
  }
  await startServices(target, restored.some((r) => r.class === 'config'), options, `Start ${[...target.services].reverse().join(', ')} on ${target.name} (dependencies first)`);
  return { restored };
}
