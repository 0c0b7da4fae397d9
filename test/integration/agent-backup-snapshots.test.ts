/**
 * The daemon's scheduled state snapshots: a real daemon from source with a one-second
 * interval, real SQLite, and a real full disk (a loop-mounted ext4) for the failure case.
 * Health is read as the laptop sees it: a health sample from another agent process.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentConfigInput } from '../../shared/agentConfig.ts';
import type { DeviceSnapshotStatus } from '../../shared/backupStream.ts';
import { HealthSampleSchema } from '../../shared/health.ts';
import { agentEntry, startAgentDaemon, writeAgentConfig } from '../support/agentDaemonProcess.ts';
import { syntheticEvents } from '../support/agentEvents.ts';
import { freePort } from '../support/mosquitto.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { mountTinyFilesystem } from '../support/tinyFilesystem.ts';
import { waitFor } from '../support/waitFor.ts';

function healthSnapshots(config: string): DeviceSnapshotStatus {
  const out = execFileSync(process.execPath, [agentEntry, 'status', '--json', '--config', config], { encoding: 'utf8' });
  const sample = HealthSampleSchema.parse((JSON.parse(out) as { health: unknown }).health);
  if (sample.backup_snapshots === undefined) throw new Error('no backup_snapshots in the health sample');
  return sample.backup_snapshots;
}

const stateDirs = (folder: string): string[] => (existsSync(folder) ? readdirSync(folder).filter((n) => n.startsWith('state-')).sort() : []);
const partialDirs = (folder: string): string[] => (existsSync(folder) ? readdirSync(folder).filter((n) => n.startsWith('.partial-')) : []);

describe('agent scheduled state snapshots', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  type Running = { dir: string; data: string; config: string; port: number; stop: () => Promise<void> };

  async function startDaemon(config: string, port: number): Promise<() => Promise<void>> {
    const daemon = await startAgentDaemon(config, port);
    const stop = async (): Promise<void> => {
      if (daemon.child.exitCode !== null) return;
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    };
    cleanups.push(stop);
    return stop;
  }

  async function daemonWith(backup: Record<string, unknown>, events = 2000): Promise<Running> {
    const d = makeTempDir('fieldkit-agent-snapshots-');
    cleanups.push(() => { d.remove(); });
    const port = await freePort();
    const data = join(d.path, 'data');
    const input: AgentConfigInput = { device_id: 'pi-07', data_dir: data, ingest: { port }, health: { vcgencmd: null, nvme: null }, backup: { snapshot_interval_seconds: 1, ...backup } };
    const config = writeAgentConfig(d.path, input);
    execFileSync(process.execPath, [agentEntry, 'ingest', '--config', config], { input: syntheticEvents(events, { payloadBytes: 400 }), maxBuffer: 64 << 20 });
    const stop = await startDaemon(config, port);
    return { dir: d.path, data, config, port, stop };
  }

  it('takes a snapshot each interval, integrity-checked, pruned to keep_snapshots, and health reports the newest one', async () => {
    const { data, config, stop } = await daemonWith({ keep_snapshots: 2 });
    const folder = join(data, 'snapshots');
    const first = await waitFor(() => stateDirs(folder)[0], { timeoutMs: 20_000, what: 'the first snapshot' });
    // Pruned: the first one goes once two newer ones exist, and never more than two are kept.
    await waitFor(() => !stateDirs(folder).includes(first) && stateDirs(folder).length === 2, { timeoutMs: 20_000, what: 'the first snapshot pruned' });

    // Stopped, so the folder holds still while it is compared with what health reports.
    await stop();
    const names = stateDirs(folder);
    expect(names.length).toBe(2);
    for (const name of names) {
      const dir = join(folder, name);
      const info = JSON.parse(readFileSync(join(dir, 'snapshot.json'), 'utf8')) as { takenAt: number; journalLastSeq: number; files: { name: string }[] };
      expect(info.journalLastSeq).toBe(2000);
      expect(info.files.map((f) => f.name)).toContain('journal.db');
      const db = new DatabaseSync(join(dir, 'journal.db'), { readOnly: true });
      try {
        expect(db.prepare('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }]);
        expect(db.prepare('SELECT count(*) AS n, max(seq) AS last FROM records').get()).toEqual({ n: 2000, last: 2000 });
      } finally {
        db.close();
      }
    }

    const health = healthSnapshots(config);
    expect(health).toMatchObject({ folder, intervalSeconds: 1, lastError: null });
    expect(health.count).toBe(2);
    // Age and size of the newest good snapshot: its own record and its bytes on disk.
    const newest = names.at(-1) ?? '';
    const newestInfo = JSON.parse(readFileSync(join(folder, newest, 'snapshot.json'), 'utf8')) as { takenAt: number };
    expect(health.newestGoodAt).toBe(newestInfo.takenAt);
    const bytes = readdirSync(join(folder, newest)).reduce((sum, n) => sum + statSync(join(folder, newest, n)).size, 0);
    expect(health.newestGoodBytes).toBe(bytes);
    expect(Date.now() - newestInfo.takenAt).toBeLessThan(30_000);
  }, 60_000);

  it('on a full disk records lastError and leaves no half snapshot, then succeeds once space returns; a missing USB folder is an error too', async () => {
    const fs = mountTinyFilesystem(32);
    cleanups.push(() => { fs.remove(); });
    const folder = join(fs.mountPoint, 'snapshots');
    mkdirSync(folder);
    // Full but for 1 MiB: room for the snapshot's folder and the start of its copy, not for a ~5 MB journal.
    fs.fill();
    const filler = join(fs.mountPoint, 'filler');
    truncateSync(filler, statSync(filler).size - (1 << 20));
    const { config, port, stop } = await daemonWith({ snapshot_folder: folder, keep_snapshots: 3 }, 12_000);

    const failed = await waitFor(() => {
      const h = healthSnapshots(config);
      return h.lastError !== null ? h : null;
    }, { timeoutMs: 20_000, what: 'a snapshot attempt to fail on the full disk' });
    expect(failed.lastError).toMatch(/full|space/i);
    expect(failed).toMatchObject({ count: 0, newestGoodAt: null, newestGoodBytes: null });
    // Stopped (a stop waits for an attempt in progress): nothing half-written is left, nothing looks good.
    await stop();
    expect(stateDirs(folder)).toEqual([]);
    expect(partialDirs(folder)).toEqual([]);
    // Another process still reports the failure the daemon recorded.
    expect(healthSnapshots(config).lastError).toMatch(/full|space/i);

    fs.free();
    await startDaemon(config, port);
    const recovered = await waitFor(() => {
      const h = healthSnapshots(config);
      return h.lastError === null && h.count > 0 ? h : null;
    }, { timeoutMs: 20_000, what: 'a snapshot once space returned' });
    expect(recovered.newestGoodAt).not.toBeNull();

    const gone = await daemonWith({ snapshot_folder: join(fs.mountPoint, 'usb-not-mounted') });
    const missing = await waitFor(() => {
      const h = healthSnapshots(gone.config);
      return h.lastError !== null ? h : null;
    }, { timeoutMs: 20_000, what: 'a snapshot attempt to fail without its folder' });
    expect(missing.lastError).toMatch(/is not there \(is the USB drive mounted\?\)/);
    expect(existsSync(join(fs.mountPoint, 'usb-not-mounted'))).toBe(false);
  }, 60_000);
});
