/**
 * `fieldkit-agent backup-restore` from source: a class's stream as backup-stream wrote it is
 * put back in place only when every member matched the manifest; a damaged stream replaces
 * nothing; a restored database comes back without its old WAL and passes --check-db.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentEntry, writeAgentConfig } from '../support/agentDaemonProcess.ts';
import { syntheticEvents } from '../support/agentEvents.ts';
import { runBackupStream } from '../support/backupStreamRun.ts';
import { freePort } from '../support/mosquitto.ts';
import { makeTempDir } from '../support/tempDir.ts';

function agent(config: string, args: readonly string[], input?: Buffer) {
  const run = spawnSync(process.execPath, [agentEntry, '--config', config, ...args], { input, maxBuffer: 256 << 20 });
  return { code: run.status, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

describe('fieldkit-agent backup-restore', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  async function setup() {
    const d = makeTempDir('fieldkit-agent-restore-');
    cleanups.push(() => { d.remove(); });
    const etc = join(d.path, 'etc');
    const app = join(d.path, 'app');
    mkdirSync(etc);
    mkdirSync(app);
    writeFileSync(join(app, 'settings.txt'), 'threshold=7\n', { mode: 0o640 });
    writeFileSync(join(app, 'model.bin'), Buffer.alloc(300_000, 3));
    const data = join(d.path, 'data');
    const config = writeAgentConfig(d.path, { device_id: 'pi-07', data_dir: data, ingest: { port: await freePort() }, health: { vcgencmd: null, nvme: null }, backup: { etc_root: etc, data_paths: [app], snapshot_interval_seconds: 86_400 } });
    return { dir: d.path, app, data, config };
  }

  it('puts a deleted and a changed file back, with their modes, and leaves no temporary file', async () => {
    const s = await setup();
    const run = await runBackupStream(s.config, ['--class', 'data'], join(s.dir, 'data.tar'));
    expect(run.code).toBe(0);
    rmSync(join(s.app, 'settings.txt'));
    writeFileSync(join(s.app, 'model.bin'), 'broken');
    const restored = agent(s.config, ['backup-restore', '--class', 'data', '--expect-device', 'pi-07'], readFileSync(run.tarPath));
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ class: 'data', device_id: 'pi-07', files: 2 });
    expect(readFileSync(join(s.app, 'settings.txt'), 'utf8')).toBe('threshold=7\n');
    expect(statSync(join(s.app, 'settings.txt')).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(s.app, 'model.bin')).equals(Buffer.alloc(300_000, 3))).toBe(true);
    expect(readdirSync(s.app).filter((n) => n.startsWith('.fieldkit-restore-'))).toEqual([]);
  });

  it('replaces nothing when a byte of the stream is flipped, when the stream is cut, or when it is another device or class', async () => {
    const s = await setup();
    const run = await runBackupStream(s.config, ['--class', 'data'], join(s.dir, 'data.tar'));
    const tar = readFileSync(run.tarPath);
    writeFileSync(join(s.app, 'settings.txt'), 'threshold=9\n');
    const flipped = Buffer.from(tar);
    // A byte inside settings.txt or model.bin's contents (after the first header).
    const at = tar.indexOf(Buffer.from('threshold=7'));
    const index = at >= 0 ? at + 10 : 2000;
    flipped[index] = (flipped[index] ?? 0) ^ 0x01;
    const bad = agent(s.config, ['backup-restore', '--class', 'data'], flipped);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/does not match the manifest|checksum.*damaged/);
    expect(bad.stderr).toMatch(/nothing was replaced/);
    const cut = agent(s.config, ['backup-restore', '--class', 'data'], tar.subarray(0, 150_000));
    expect(cut.code).toBe(1);
    const otherDevice = agent(s.config, ['backup-restore', '--class', 'data', '--expect-device', 'pi-08'], tar);
    expect(otherDevice.stderr).toMatch(/a backup of pi-07, not pi-08/);
    const otherClass = agent(s.config, ['backup-restore', '--class', 'config'], tar);
    expect(otherClass.stderr).toMatch(/holds the data class, not config/);
    expect(readFileSync(join(s.app, 'settings.txt'), 'utf8')).toBe('threshold=9\n');
    expect(readdirSync(s.app).filter((n) => n.startsWith('.fieldkit-restore-'))).toEqual([]);
  });

  it('restores the journal without the WAL that was beside it, and --check-db passes on it and fails on garbage', async () => {
    const s = await setup();
    agent(s.config, ['ingest'], Buffer.from(syntheticEvents(2000, { payloadBytes: 100 })));
    const run = await runBackupStream(s.config, ['--class', 'state'], join(s.dir, 'state.tar'));
    expect(run.code).toBe(0);
    const journal = join(s.data, 'journal.db');
    writeFileSync(`${journal}-wal`, 'stale wal');
    const restored = agent(s.config, ['backup-restore', '--class', 'state'], readFileSync(run.tarPath));
    expect(restored.code).toBe(0);
    const report = JSON.parse(restored.stdout) as { databases: string[]; journal_last_seq: number };
    expect(report.journal_last_seq).toBe(2000);
    expect(report.databases).toContain(journal);
    expect(existsSync(`${journal}-wal`)).toBe(false);
    const ok = agent(s.config, ['backup-restore', '--check-db', ...report.databases]);
    expect(ok.code).toBe(0);
    writeFileSync(join(s.dir, 'garbage.db'), Buffer.alloc(8192, 0x41));
    const broken = agent(s.config, ['backup-restore', '--check-db', join(s.dir, 'garbage.db')]);
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.stdout)).toMatchObject({ databases: [{ ok: false }] });
  });
});
