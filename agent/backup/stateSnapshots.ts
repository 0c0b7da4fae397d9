/**
 * The daemon's scheduled snapshots of its state databases (issue 14, item 2): every
 * `backup.snapshot_interval_seconds` a consistent copy of each state database
 * (backupClasses.ts `stateClassDatabases`) into the snapshot folder, so the recovery point
 * between a technician's visits is the interval, not the last visit.
 *
 * One attempt: remove leftovers of a crash, copy each database into `.partial-<time>/`
 * (online backup, integrity_check, fsync: sqliteSnapshot.ts), write snapshot.json and fsync
 * it, fsync the folder, rename it to `state-<time>`, fsync the parent, then keep the newest
 * `keep_snapshots`. Any failure (disk full, a USB drive gone) removes the partial folder,
 * is kept as `lastError` (health reports it) and is retried at the next tick; it never
 * stops the daemon. Attempts never overlap.
 *
 * The first attempt runs at start when the newest good snapshot is older than the interval
 * (or there is none), else when it becomes so: a restart does not reset the clock.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import type { DeviceSnapshotStatus } from '../../shared/backupStream.ts';
import { writeFileAtomic } from '../config/loadConfig.ts';
import type { Logger } from '../jsonLog.ts';
import { stateClassDatabases } from './backupClasses.ts';
import { listGoodSnapshots, pruneSnapshots, removePartials, SNAPSHOT_INFO_FILE, SNAPSHOT_STATE_FILE, snapshotFolder, snapshotName, snapshotStatus, type SnapshotInfo } from './snapshotFolder.ts';
import { fsyncFile, snapshotDatabase } from './sqliteSnapshot.ts';

export type StateSnapshots = {
  status(): DeviceSnapshotStatus;
  /** One attempt now (tests; the timer calls the same). Resolves when it is done, good or not. */
  runOnce(): Promise<void>;
  /** Stops the timer and waits for an attempt in progress. */
  stop(): Promise<void>;
};

function fsyncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The folder must be there: the default one is made; a configured one (a USB drive's mount point) is not, or a missing drive would fill the root filesystem instead. */
function ensureFolder(config: AgentConfig, folder: string): void {
  if (config.backup.snapshot_folder === null) {
    mkdirSync(folder, { recursive: true, mode: 0o750 });
    return;
  }
  if (!existsSync(folder)) throw new Error(`the snapshot folder ${folder} is not there (is the USB drive mounted?)`);
}

/** One snapshot of the state databases into `folder`; returns its folder. */
export async function takeStateSnapshot(config: AgentConfig, takenAt: number): Promise<string> {
  const folder = snapshotFolder(config);
  ensureFolder(config, folder);
  removePartials(folder);
  const name = snapshotName(takenAt);
  const partial = join(folder, `.partial-${name.slice('state-'.length)}`);
  const final = join(folder, name);
  try {
    mkdirSync(partial, { mode: 0o750 });
    const info: SnapshotInfo = { formatVersion: 1, deviceId: config.device_id, takenAt, journalLastSeq: null, files: [] };
    for (const db of stateClassDatabases) {
      const source = db.file(config.data_dir);
      if (!existsSync(source)) continue;
      const facts = await snapshotDatabase(source, join(partial, basename(source)));
      info.files.push({ name: basename(source), source, bytes: facts.bytes });
      if (facts.journalLastSeq !== null) info.journalLastSeq = facts.journalLastSeq;
    }
    const infoPath = join(partial, SNAPSHOT_INFO_FILE);
    writeFileSync(infoPath, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o640 });
    fsyncFile(infoPath);
    fsyncDir(partial);
    renameSync(partial, final);
    fsyncDir(folder);
    return final;
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  }
}

export function startStateSnapshots(options: { config: AgentConfig; log: Logger; now?: () => number }): StateSnapshots {
  const { config, log } = options;
  const now = options.now ?? Date.now;
  const intervalMs = config.backup.snapshot_interval_seconds * 1000;
  const folder = snapshotFolder(config);
  let lastError: string | null = null;
  let running: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  const record = (at: number): void => {
    try {
      writeFileAtomic(join(config.data_dir, SNAPSHOT_STATE_FILE), `${JSON.stringify({ at, error: lastError })}\n`, 0o640);
    } catch {
      // The data partition may be the full disk itself; the daemon's own samples still say it.
    }
  };

  async function attempt(): Promise<void> {
    const at = now();
    try {
      const dir = await takeStateSnapshot(config, at);
      const removed = pruneSnapshots(folder, config.backup.keep_snapshots);
      lastError = null;
      log('info', 'state snapshot taken', { part: 'backup', dir, pruned: removed.length });
    } catch (error) {
      lastError = message(error);
      log('warn', 'state snapshot failed; retrying at the next tick', { part: 'backup', folder, error: lastError });
    }
    record(at);
  }

  function runOnce(): Promise<void> {
    running ??= attempt().finally(() => {
      running = null;
    });
    return running;
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      void runOnce().then(() => {
        schedule(intervalMs);
      });
    }, Math.max(0, delayMs));
    timer.unref();
  }

  let newest: number | null = null;
  try {
    newest = listGoodSnapshots(folder).at(-1)?.info.takenAt ?? null;
  } catch (error) {
    lastError = message(error);
  }
  schedule(newest === null ? 0 : newest + intervalMs - now());

  return {
    status: () => snapshotStatus(config, lastError),
    runOnce,
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await running;
    },
  };
}
