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
import type { BackupClass } from '../../shared/backupStream.ts';
import { appError, FieldkitError, type AppError } from '../../shared/errors.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import type { ResticRepo } from '../backup/index.ts';
import type { StepRecorder } from './stepRecorder.ts';

/** Repository R and snapshot S: per class, the restic snapshot and the repository holding it. */
export type RestoreSource = {
  pointId: string;
  snapshots: readonly { class: BackupClass; resticId: string; repo: ResticRepo }[];
};

/** Target T: a device reachable over its link (SSH), and how to run its agent and services. */
export type RestoreTarget = {
  name: string;
  link: Link;
  /** `sudo -n <prefix>/current/bin/fieldkit-agent` (or the local agent command): the agent as root. */
  agentCommand: string;
  /** systemd units, in stop order (the agent first); started in the reverse order. Empty: none to manage. */
  services: readonly string[];
  /** The device id the restored identity must carry (checked against every class's manifest). */
  expectedDeviceId: string | null;
};

export type RestoreOntoOptions = {
  classes: readonly BackupClass[];
  signal: AbortSignal;
  steps: StepRecorder;
  /** Bytes streamed onto the device so far. */
  onBytes?: (bytes: number) => void;
};

export type RestoreOntoOutcome = {
  /** Per class: files written, and the journal seq a state class holds. */
  restored: { class: BackupClass; files: number; bytes: number; journalLastSeq: number | null }[];
};

/** The snapshot's own check failed: nothing on the target was touched. */
export class RestoreRefusedError extends FieldkitError {
  readonly resticId: string;
  constructor(error: AppError, resticId: string) {
    super(error);
    this.name = 'RestoreRefusedError';
    this.resticId = resticId;
  }
}

/** Restores `options.classes` of `source` onto `target` (steps 1–5 above); throws on the first failure, with the steps recorded. */
export function restoreOnto(_source: RestoreSource, _target: RestoreTarget, _options: RestoreOntoOptions): Promise<RestoreOntoOutcome> {
  return Promise.reject(new FieldkitError(appError('UNAVAILABLE', 'Restore is being written.', 'Use a build with issue 15.')));
}
