/**
 * Backing up a real Pi (the virtual site: systemd, sshd, the deployed agent) into real
 * restic repositories, as `fieldkit backup` does: the journal snapshot taken under continuous
 * ingest is a sound database holding a gapless prefix; a second backup of an unchanged Pi
 * adds almost nothing; a cut link and a killed CLI leave no snapshot counted as good (none
 * in restic either) and the rerun completes; no device secret lies in plaintext on the
 * laptop afterwards.
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServices } from '../../electron/app/appServices.ts';
import { createBackupRunStore } from '../../electron/backup/backupRunStore.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import { decodeOpenSshPrivateKey } from '../../electron/kernel/link/opensshEd25519.ts';
import { BackupRunResultSchema } from '../../shared/backup.ts';
import { BACKUP_MANIFEST_NAME, BackupManifestSchema } from '../../shared/backupStream.ts';
import { dumpSnapshot, goodSnapshotsOf, laptopRepo, onDeviceMidStream, resticProcessesOn, resticSnapshotsOf, startIngest } from '../support/backupRig.ts';
import { onPi } from '../support/deployRig.ts';
import { startRolloutSite, type RolloutSite } from '../support/rolloutSite.ts';
import { runCliProcess, startCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';
import type { VirtualPi } from '../support/virtualSite.ts';
import { isProcessRunning, waitFor } from '../support/waitFor.ts';

let rollout: RolloutSite;
let services: AppServices | null = null;
let pi: VirtualPi;
let ref: string;
let ingestPort: number;
const work = makeTempDir('fieldkit-backup-run-');
const startedMs = Date.now();

/** A process's parent pid (from /proc). */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** The newest backup_runs row of the Pi's class. */
function lastRunOf(backupClass: 'config' | 'state' | 'data' | 'secrets') {
  const db = openStore(rollout.dataDir);
  try {
    return createBackupRunStore(db).lastAttempt(ref, backupClass);
  } finally {
    db.close();
  }
}

function app(): AppServices {
  if (services === null) throw new Error('services closed');
  return services;
}

async function backup(classes: ('config' | 'state' | 'data' | 'secrets')[]) {
  const { jobId } = await app().handlers['backup.start']({ deviceIds: [ref], classes });
  const record = await app().jobs.whenFinished(jobId);
  return { record, result: BackupRunResultSchema.parse(record.result) };
}

beforeAll(async () => {
  rollout = await startRolloutSite({ count: 1, name: 'bpi' });
  const first = rollout.site.pis[0];
  if (first === undefined) throw new Error('no Pi');
  pi = first;
  ingestPort = (JSON.parse(await onPi(pi, 'sudo -n cat /etc/fieldkit-agent/config.json')) as { ingest: { port: number } }).ingest.port;
  // User data the technician declared: big enough that a cut lands mid-stream.
  await onPi(pi, "sudo -n sh -c 'mkdir -p /srv/app-data && head -c 83886080 /dev/urandom > /srv/app-data/blob.bin && echo v1 > /srv/app-data/settings.txt'");
  services = await rollout.open();
  await app().handlers['settings.backup.set']({ policies: { data: { extraPaths: ['/srv/app-data'] } } });
  ref = (await app().handlers['devices.list']({})).devices[0]?.id ?? '';
}, 300_000);

afterAll(async () => {
  await services?.close();
  await rollout.stop();
  work.remove();
});

describe('backing up a Pi over SSH into restic', () => {
  it('under continuous ingest, the journal snapshot passes integrity_check and holds a gapless prefix', async () => {
    const ingest = startIngest(ingestPort);
    await waitFor(async () => Number((await onPi(pi, 'sudo -n /opt/fieldkit-agent/current/bin/fieldkit-agent status --json')).match(/"last_seq":\s*(\d+)/)?.[1] ?? 0) > 2000, { timeoutMs: 30_000, what: 'the agent to journal 2,000 records' });
    const { record, result } = await backup(['state']);
    const sent = await ingest.stop();
    expect(record.state, record.error?.message).toBe('done');
    const item = result.items[0];
    expect(item).toMatchObject({ class: 'state', status: 'done' });
    const tar = dumpSnapshot(await laptopRepo(rollout.dataDir, 'state'), item?.snapshotId ?? '', 'state.tar');
    const out = path.join(work.path, 'state');
    mkdirSync(out);
    execFileSync('tar', ['-x', '-C', out], { input: tar });
    const manifest = BackupManifestSchema.parse(JSON.parse(readFileSync(path.join(out, BACKUP_MANIFEST_NAME), 'utf8')));
    const journal = manifest.files.find((f) => f.kind === 'sqlite' && f.path.endsWith('journal.db'));
    expect(journal, JSON.stringify(manifest.files)).toBeDefined();
    const db = new Database(path.join(out, journal?.path ?? ''), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const seqs = db.prepare('SELECT min(seq) AS lo, max(seq) AS hi, count(*) AS n FROM records').get() as { lo: number; hi: number; n: number };
      // A prefix: from the first seq, every seq up to the last one, none missing.
      expect(seqs.lo).toBe(1);
      expect(seqs.n).toBe(seqs.hi - seqs.lo + 1);
      expect(seqs.hi).toBe(manifest.journalLastSeq);
      expect(seqs.hi).toBeGreaterThan(2000);
      // Ingest went on while the backup ran: the device journaled past the snapshot.
      expect(sent).toBeGreaterThan(seqs.hi - 2000);
    } finally {
      db.close();
    }
  }, 120_000);

  it('a second backup after a small change streams the changed class again and adds almost nothing to the repository', async () => {
    const first = await backup(['config', 'data', 'secrets']);
    expect(first.record.state, first.record.error?.message).toBe('done');
    const firstAdded = first.result.items.reduce((n, i) => n + i.bytesAdded, 0);
    expect(first.result.items.find((i) => i.class === 'data')?.bytesRead).toBeGreaterThan(80 * 1024 * 1024);
    await onPi(pi, "sudo -n sh -c 'echo v1b > /srv/app-data/settings.txt'");
    const second = await backup(['config', 'data', 'secrets']);
    expect(second.record.state, second.record.error?.message).toBe('done');
    const secondAdded = second.result.items.reduce((n, i) => n + i.bytesAdded, 0);
    console.log(`first backup added ${String(firstAdded)} bytes, the second ${String(secondAdded)}`);
    expect(firstAdded).toBeGreaterThan(80 * 1024 * 1024);
    expect(secondAdded).toBeLessThan(firstAdded / 100);
    // The changed class is streamed whole (restic deduplicates it); the others did not change.
    expect(second.result.items.map((i) => [i.class, i.status])).toEqual([['config', 'unchanged'], ['data', 'done'], ['secrets', 'unchanged']]);
    expect(second.result.items.find((i) => i.class === 'data')?.bytesRead).toBeGreaterThan(80 * 1024 * 1024);
  }, 180_000);

  it("an unchanged Pi's next backup streams nothing and is recorded as confirmed-unchanged, pointing at the existing snapshots", async () => {
    const resticBefore = await resticSnapshotsOf(rollout.dataDir, 'data');
    const lastBefore = lastRunOf('data');
    const t0 = Date.now();
    const again = await backup(['config', 'data', 'secrets']);
    expect(again.record.state, again.record.error?.message).toBe('done');
    expect(again.result.items.map((i) => i.status)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expect(again.result.items.every((i) => i.bytesRead === 0 && i.bytesAdded === 0)).toBe(true);
    expect(again.result.items.find((i) => i.class === 'data')?.snapshotId).toBe(lastBefore?.snapshotId);
    // No new snapshot in restic; the row points at the old one, confirmed now (freshness counts it).
    expect((await resticSnapshotsOf(rollout.dataDir, 'data')).sort()).toEqual([...resticBefore].sort());
    const row = lastRunOf('data');
    expect(row).toMatchObject({ outcome: 'good', unchanged: true, snapshotId: lastBefore?.snapshotId, streamBytes: lastBefore?.streamBytes });
    expect(row?.endedMs).toBeGreaterThanOrEqual(t0);
    const { freshness } = await app().handlers['backup.list']({});
    expect(freshness.find((f) => f.class === 'data')?.lastGoodAt).toBe(row?.endedMs);
    const cli = await runCliProcess(['backup', pi.name, '--class', 'config'], { FIELDKIT_DATA_DIR: rollout.dataDir });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`${pi.name} config: unchanged since snapshot [0-9a-f]{8}, confirmed now \\(nothing streamed\\)`));
  }, 180_000);

  it('a previous snapshot that was forgotten is not trusted: the class is streamed again', async () => {
    const last = lastRunOf('data');
    const repo = await laptopRepo(rollout.dataDir, 'data');
    execFileSync('restic', ['-r', repo.location, 'forget', last?.snapshotId ?? ''], { env: { ...process.env, RESTIC_PASSWORD: repo.password } });
    const again = await backup(['data']);
    expect(again.record.state, again.record.error?.message).toBe('done');
    const item = again.result.items[0];
    expect(item).toMatchObject({ class: 'data', status: 'done' });
    expect(item?.snapshotId).not.toBe(last?.snapshotId);
    expect(item?.bytesRead).toBeGreaterThan(80 * 1024 * 1024);
    expect(await resticSnapshotsOf(rollout.dataDir, 'data')).toContain(item?.snapshotId);
  }, 180_000);

  it('a link cut mid-stream leaves no snapshot, good or in restic; the rerun takes only what did not finish', async () => {
    const goodBefore = goodSnapshotsOf(rollout.dataDir, 'data');
    const resticBefore = await resticSnapshotsOf(rollout.dataDir, 'data');
    await onPi(pi, "sudo -n sh -c 'echo v2 > /srv/app-data/settings.txt'");
    await onDeviceMidStream(pi, { backupClass: 'data', afterBytes: 20 * 1024 * 1024, action: 'pkill -KILL -f "^sshd: pi"', marker: '/run/fieldkit-test-cut' });
    const cut = await backup(['config', 'data']);
    expect(cut.record.state).toBe('failed');
    expect(cut.result.items.find((i) => i.class === 'config')?.status).toBe('unchanged');
    const data = cut.result.items.find((i) => i.class === 'data');
    expect(data?.status).toBe('failed');
    expect(data?.error?.message).toMatch(/No snapshot was kept/);
    expect((await onPi(pi, 'test -f /run/fieldkit-test-cut && echo cut')).trim()).toBe('cut');
    const repo = await laptopRepo(rollout.dataDir, 'data');
    await waitFor(() => resticProcessesOn(repo.location).length === 0, { timeoutMs: 10_000, what: 'no restic left running' });
    expect(goodSnapshotsOf(rollout.dataDir, 'data')).toEqual(goodBefore);
    expect((await resticSnapshotsOf(rollout.dataDir, 'data')).sort()).toEqual([...resticBefore].sort());
    // The rerun resumes the run: config was backed up in it already; data is taken again.
    const rerun = await backup(['config', 'data']);
    expect(rerun.record.state, rerun.record.error?.message).toBe('done');
    expect(rerun.result.items.map((i) => [i.class, i.status])).toEqual([['config', 'skipped'], ['data', 'done']]);
    expect(goodSnapshotsOf(rollout.dataDir, 'data')).toHaveLength(goodBefore.length + 1);
  }, 180_000);

  it('a CLI killed with -9 mid-backup leaves no snapshot; `fieldkit backup` again completes', async () => {
    await services?.close();
    services = null;
    const env = { FIELDKIT_DATA_DIR: rollout.dataDir };
    const goodBefore = goodSnapshotsOf(rollout.dataDir, 'data');
    const resticBefore = await resticSnapshotsOf(rollout.dataDir, 'data');
    await onPi(pi, "sudo -n sh -c 'echo v3 > /srv/app-data/settings.txt'");
    // The device's stream is frozen mid-way, so the kill lands while restic holds half of it.
    await onDeviceMidStream(pi, { backupClass: 'data', afterBytes: 20 * 1024 * 1024, action: 'kill -STOP $q', marker: '/run/fieldkit-test-frozen' });
    const cli = startCliProcess(['backup', pi.name, '--class', 'data', '--json'], env);
    await waitFor(async () => (await pi.exec('test -f /run/fieldkit-test-frozen')).code === 0, { timeoutMs: 60_000, what: 'the device stream frozen mid-way' });
    const repo = await laptopRepo(rollout.dataDir, 'data');
    expect(resticProcessesOn(repo.location).length).toBeGreaterThan(0);
    cli.kill('SIGKILL');
    await waitFor(() => cli.exitCode !== null || cli.signalCode !== null, { timeoutMs: 10_000, what: 'the CLI gone' });
    // Its job worker notices the app went away and kills restic before it can commit.
    await waitFor(() => resticProcessesOn(repo.location).length === 0, { timeoutMs: 15_000, what: 'restic killed by the orphaned worker' });
    await onPi(pi, 'sudo -n pkill -KILL -f "backup-strea[m] --class data" || true');
    expect(goodSnapshotsOf(rollout.dataDir, 'data')).toEqual(goodBefore);
    expect((await resticSnapshotsOf(rollout.dataDir, 'data')).sort()).toEqual([...resticBefore].sort());
    const again = await runCliProcess(['backup', pi.name, '--class', 'data'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`${pi.name} data: .* read, .* new in the repository \\(snapshot [0-9a-f]{8}\\)`));
    expect(goodSnapshotsOf(rollout.dataDir, 'data')).toHaveLength(goodBefore.length + 1);
    expect(isProcessRunning(cli.pid ?? 0)).toBe(false);
    services = await rollout.open();
  }, 180_000);

  it('a job worker killed with -9 mid-backup leaves no snapshot in restic, not even one the app never counted', async () => {
    await services?.close();
    services = null;
    const env = { FIELDKIT_DATA_DIR: rollout.dataDir };
    const resticBefore = await resticSnapshotsOf(rollout.dataDir, 'data');
    await onPi(pi, "sudo -n sh -c 'echo v4 > /srv/app-data/settings.txt'");
    await onDeviceMidStream(pi, { backupClass: 'data', afterBytes: 20 * 1024 * 1024, action: 'kill -STOP $q', marker: '/run/fieldkit-test-worker-frozen' });
    const cli = startCliProcess(['backup', pi.name, '--class', 'data', '--json'], env);
    await waitFor(async () => (await pi.exec('test -f /run/fieldkit-test-worker-frozen')).code === 0, { timeoutMs: 60_000, what: 'the device stream frozen mid-way' });
    const repo = await laptopRepo(rollout.dataDir, 'data');
    const restics = resticProcessesOn(repo.location);
    expect(restics).toHaveLength(1);
    // The worker is restic's parent: killed outright, it cannot kill restic itself.
    const worker = parentOf(restics[0] ?? 0);
    expect(worker).not.toBe(cli.pid);
    process.kill(worker, 'SIGKILL');
    await waitFor(() => resticProcessesOn(repo.location).length === 0, { timeoutMs: 15_000, what: 'restic gone after its worker' });
    await waitFor(() => cli.exitCode !== null || cli.signalCode !== null, { timeoutMs: 30_000, what: 'the CLI to end' });
    await onPi(pi, 'sudo -n pkill -KILL -f "backup-strea[m] --class data" || true');
    expect((await resticSnapshotsOf(rollout.dataDir, 'data')).sort()).toEqual([...resticBefore].sort());
    services = await rollout.open();
  }, 180_000);

  it('leaves no device secret in plaintext under the data folder or in temp folders', async () => {
    const keyText = await onPi(pi, 'sudo -n cat /etc/ssh/ssh_host_ed25519_key');
    // The secret part of the host key: its 32-byte seed, raw, as hex and as base64, and the key file itself.
    // (Not the file's first base64 lines: every OpenSSH key starts with the same header.)
    const { seed } = decodeOpenSshPrivateKey(keyText);
    const needles = [Buffer.from(keyText), seed, Buffer.from(seed.toString('hex')), Buffer.from(seed.toString('base64').slice(0, 40))];
    const roots = [rollout.dataDir, tmpdir(), path.join(process.env.XDG_CACHE_HOME ?? path.join(process.env.HOME ?? '/root', '.cache'), 'restic')];
    const found: string[] = [];
    let searched = 0;
    const visit = (dir: string): void => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        // The Pis' own disks hold their keys, as a Pi's SD card does.
        if (entry.isDirectory() && !entry.name.startsWith('fieldkit-site-')) visit(full);
        if (!entry.isFile()) continue;
        const stat = statSync(full, { throwIfNoEntry: false });
        // In temp folders, what appeared since these backups began (another process's files are not ours).
        if (stat === undefined || stat.size > 512 * 1024 * 1024 || (!full.startsWith(rollout.dataDir) && stat.mtimeMs < startedMs)) continue;
        let bytes: Buffer;
        try {
          bytes = readFileSync(full);
        } catch {
          continue;
        }
        searched++;
        if (needles.some((n) => bytes.includes(n))) found.push(full);
      }
    };
    for (const root of roots) visit(root);
    // The key is in the backup (read back from restic into memory): the search looks for something that exists.
    const secretsSnapshot = goodSnapshotsOf(rollout.dataDir, 'secrets')[0] ?? '';
    expect(dumpSnapshot(await laptopRepo(rollout.dataDir, 'secrets'), secretsSnapshot, 'secrets.tar').includes(Buffer.from(keyText))).toBe(true);
    expect(searched).toBeGreaterThan(10);
    expect(found).toEqual([]);
    writeFileSync(path.join(work.path, 'searched.txt'), String(searched));
  }, 120_000);
});
