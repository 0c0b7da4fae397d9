/**
 * `restic backup --stdin` of one class's tar stream, for the backup job (backupJob.ts). The caller
 * holds the stream and decides whether it is a backup: `abort()` (or the signal) kills
 * restic with SIGKILL, so a stream that turned out bad never becomes a snapshot — restic
 * writes its snapshot only after stdin ends, and a killed restic writes nothing.
 */
import type { Readable } from 'node:stream';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { fullSnapshotId } from './resticRepo.ts';
import { BackupMessageSchema, type BackupSummary } from './resticJson.ts';
import { startRestic, type ResticRepo } from './resticProcess.ts';

export type StdinBackupProgress = { bytesDone: number; secondsElapsed: number };

export type StdinBackupRequest = {
  repo: ResticRepo;
  stdin: Readable;
  /** `<class>.tar`: the snapshot's one path. */
  filename: string;
  /** The device id (restic's host: retention groups by host and path). */
  host: string;
  tags: readonly string[];
  signal?: AbortSignal;
  onProgress?: (progress: StdinBackupProgress) => void;
  cacheDir?: string;
};

export type StdinBackupResult = {
  snapshotId: string;
  stats: { bytesRead: number; bytesAdded: number; files: number; durationSeconds: number };
};

export type StdinBackup = {
  /** Settles when restic has written its snapshot (and the full id is known), or failed / was killed. */
  done: Promise<StdinBackupResult>;
  /** Kills restic before it can commit; `done` then rejects with CANCELLED. */
  abort(reason: string): void;
  /** restic's pid (tests and diagnostics). */
  pid: number | undefined;
};

export function backupFromStdin(request: StdinBackupRequest): StdinBackup {
  // Written by restic's output and by abort(), read when restic exits.
  const state: { summary: BackupSummary | null; abortedBecause: string | null } = { summary: null, abortedBecause: null };
  const killer = new AbortController();
  const abort = (reason: string) => {
    state.abortedBecause ??= reason;
    killer.abort(reason);
  };
  request.signal?.addEventListener('abort', () => { abort('cancelled'); }, { once: true });
  if (request.signal?.aborted === true) abort('cancelled');
  const args = ['backup', '--stdin', '--stdin-filename', request.filename, '--host', request.host, '--json'];
  for (const tag of request.tags) args.push('--tag', tag);
  const run = startRestic({
    repo: request.repo,
    args,
    what: `back up ${request.filename} of ${request.host}`,
    signal: killer.signal,
    onAbort: 'kill',
    stdin: request.stdin,
    // A worker killed mid-stream must not look like the end of the stream to restic.
    holdStdin: true,
    ...(request.cacheDir === undefined ? {} : { cacheDir: request.cacheDir }),
    onLine: (line) => {
      const parsed = BackupMessageSchema.safeParse(safeJson(line));
      if (!parsed.success) return; // restic's plain words (a warning) are in stderr's record
      const message = parsed.data;
      if (message.message_type === 'summary') state.summary = message;
      else if (message.message_type === 'status') request.onProgress?.({ bytesDone: message.bytes_done ?? 0, secondsElapsed: message.seconds_elapsed ?? 0 });
    },
  });
  const done = (async (): Promise<StdinBackupResult> => {
    try {
      await run.done;
    } catch (error) {
      if (state.abortedBecause !== null) throw cancelled(state.abortedBecause, request);
      throw error;
    }
    if (state.abortedBecause !== null) throw cancelled(state.abortedBecause, request);
    const final = state.summary;
    if (final === null) throw new FieldkitError(appError('INTERNAL', 'restic finished the backup without reporting its snapshot.', 'Check restic is version 0.14 or later (restic version).'));
    return {
      snapshotId: await fullSnapshotId(request.repo, final.snapshot_id),
      stats: { bytesRead: final.total_bytes_processed, bytesAdded: final.data_added, files: final.total_files_processed, durationSeconds: final.total_duration },
    };
  })();
  return { done, abort, pid: run.child.pid };
}

function cancelled(reason: string, request: StdinBackupRequest): FieldkitError {
  return new FieldkitError(appError('CANCELLED', `The backup of ${request.filename} of ${request.host} was stopped before restic saved it: ${reason}.`, 'No snapshot was written; run the backup again.'));
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}
