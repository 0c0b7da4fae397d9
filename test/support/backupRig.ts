/**
 * What the backup tests and the bench share: a laptop's restic repositories read with the
 * passwords the app stored, the good backups the app recorded, a continuous ingest into a
 * Pi's agent, restic processes still alive on this machine, and device-side triggers that
 * act at a byte count of the device's backup-stream (so a cut lands mid-stream however fast
 * the machine is).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { BackupClass } from '../../shared/backupStream.ts';
import { createBackupRunStore } from '../../electron/backup/backupRunStore.ts';
import type { RepoTarget } from '../../electron/backup/jobParams.ts';
import { locationOf, passwordSecret, resticRepoFor } from '../../electron/backup/repositories.ts';
import { createRepositoryStore } from '../../electron/backup/repositoryStore.ts';
import { listSnapshots } from '../../electron/backup/restic/resticRepo.ts';
import type { ResticRepo } from '../../electron/backup/restic/resticProcess.ts';
import { createFileSecretStore } from '../../electron/kernel/secrets/secretStore.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import type { VirtualPi } from './virtualSite.ts';

/** The laptop repository a class goes to, opened with the password the app keeps. */
export async function laptopRepo(dataDir: string, backupClass: BackupClass): Promise<ResticRepo> {
  const kind = backupClass === 'secrets' ? 'secrets' : 'main';
  const db = openStore(dataDir);
  const settings = createRepositoryStore(db).loadSettings();
  db.close();
  const target: RepoTarget = { role: 'laptop', kind, location: locationOf('laptop', kind, settings, dataDir) ?? '' };
  const password = await createFileSecretStore(dataDir).get(passwordSecret(target));
  if (password === null) throw new Error(`no password stored for ${target.location}`);
  return resticRepoFor(target, password, dataDir);
}

/** Snapshots restic holds of one class (whatever the app recorded). */
export async function resticSnapshotsOf(dataDir: string, backupClass: BackupClass): Promise<string[]> {
  return (await listSnapshots(await laptopRepo(dataDir, backupClass), { tags: [`class=${backupClass}`] })).map((s) => s.id);
}

/** Snapshot ids the app counts as good for a class. */
export function goodSnapshotsOf(dataDir: string, backupClass: BackupClass): string[] {
  const db = openStore(dataDir);
  try {
    return createBackupRunStore(db)
      .good({ limit: 10_000 })
      .filter((r) => r.class === backupClass)
      .map((r) => r.snapshotId ?? '');
  } finally {
    db.close();
  }
}

/** `restic dump` of a snapshot's one file (the class's tar), as bytes. */
export function dumpSnapshot(repo: ResticRepo, snapshotId: string, file: string): Buffer {
  return execFileSync('restic', ['-r', repo.location, 'dump', '--no-lock', snapshotId, `/${file}`], { env: { ...process.env, RESTIC_PASSWORD: repo.password }, maxBuffer: 1024 * 1024 * 1024 });
}

/** pids of restic processes on this machine working on `location`. */
export function resticProcessesOn(location: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(path.join('/proc', entry, 'cmdline'), 'utf8').split('\0');
      if (path.basename(argv[0] ?? '') === 'restic' && argv.includes(location)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Events posted to a Pi's agent over HTTP until stopped: ingest that keeps going during a backup. */
export function startIngest(port: number): { stop(): Promise<number> } {
  // A holder: stop() writes it while the loop awaits (TypeScript sees the write).
  const state = { running: true };
  let sent = 0;
  const loop = (async () => {
    while (state.running) {
      const body = Array.from({ length: 100 }, (_, i) => JSON.stringify({ priority: 3, kind: 'load', payload: { n: sent + i, pad: 'p'.repeat(200) } })).join('\n');
      const response = await fetch(`http://127.0.0.1:${String(port)}/v1/events`, { method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body });
      if (response.ok) sent += 100;
      await response.arrayBuffer();
    }
  })();
  return {
    async stop() {
      state.running = false;
      await loop;
      return sent;
    },
  };
}

/**
 * Starts, in the background on the Pi, a watch of `fieldkit-agent backup-stream --class C`:
 * once one of its processes has read more than `afterBytes`, it runs `action` (shell, with
 * `$p` the pids) and touches `marker`. Device-side, so the moment does not depend on how fast
 * this machine relays progress.
 */
export async function onDeviceMidStream(pi: VirtualPi, options: { backupClass: BackupClass; afterBytes: number; action: string; marker: string }): Promise<void> {
  // "strea[m]": the pattern must not match this watcher's own command line.
  const pattern = `backup-strea[m] --class ${options.backupClass}`;
  const script = [
    `rm -f ${options.marker}`,
    `for i in $(seq 60000); do`,
    `  p=$(pgrep -f "${pattern}" | tr '\\n' ' ')`,
    `  for q in $p; do`,
    `    r=$(awk '/^rchar/{print $2}' /proc/$q/io 2>/dev/null || echo 0)`,
    `    if [ "\${r:-0}" -gt ${String(options.afterBytes)} ]; then ${options.action}; touch ${options.marker}; exit 0; fi`,
    `  done`,
    `  sleep 0.01`,
    `done`,
  ].join('\n');
  const result = await pi.exec(`sudo -n setsid sh -c ${shellQuoteForTest(script)} </dev/null >/dev/null 2>&1 &`);
  if (result.code !== 0) throw new Error(`could not start the device-side trigger: ${result.stderr}`);
}

function shellQuoteForTest(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
