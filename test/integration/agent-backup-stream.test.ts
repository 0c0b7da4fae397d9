/**
 * `fieldkit-agent backup-stream` from source against real SQLite journals and a real daemon
 * ingesting over HTTP; GNU tar and sha256sum read the streams back.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentConfigInput } from '../../shared/agentConfig.ts';
import { BACKUP_MANIFEST_NAME } from '../../shared/backupStream.ts';
import { installedModelManifestPath, type ModelBundleManifest } from '../../shared/modelBundle.ts';
import { agentEntry, startAgentDaemon, writeAgentConfig } from '../support/agentDaemonProcess.ts';
import { syntheticEvents } from '../support/agentEvents.ts';
import { extractedHashes, extractStream, runBackupStream, tarList } from '../support/backupStreamRun.ts';
import { freePort } from '../support/mosquitto.ts';
import { makeTempDir } from '../support/tempDir.ts';

type Setup = { dir: string; etc: string; data: string; config: string; port: number };

describe('fieldkit-agent backup-stream', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(extra: Partial<AgentConfigInput> = {}, backup: Record<string, unknown> = {}): Promise<Setup> {
    const d = makeTempDir('fieldkit-agent-backup-');
    cleanups.push(() => { d.remove(); });
    const etc = join(d.path, 'etc');
    mkdirSync(etc);
    writeFileSync(join(etc, 'os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\n');
    const port = await freePort();
    const data = join(d.path, 'data');
    const config = writeAgentConfig(d.path, {
      device_id: 'pi-07',
      site: 'north-field',
      data_dir: data,
      ingest: { port },
      health: { vcgencmd: null, nvme: null },
      // The daemon's own snapshots stay out of the way of these tests (a day apart).
      backup: { etc_root: etc, snapshot_interval_seconds: 86_400, ...backup },
      ...extra,
    });
    return { dir: d.path, etc, data, config, port };
  }

  function ingestCli(config: string, ndjson: string): void {
    execFileSync(process.execPath, [agentEntry, 'ingest', '--config', config], { input: ndjson, maxBuffer: 64 << 20 });
  }

  it('streams a consistent journal snapshot while events are ingested: tar reads it, hashes match, integrity_check passes, seqs 1..journalLastSeq without a gap', async () => {
    const s = await setup();
    // A journal of some size first, so the stream takes a while, then continuous HTTP ingest.
    ingestCli(s.config, syntheticEvents(20_000, { payloadBytes: 400 }));
    const daemon = await startAgentDaemon(s.config, s.port);
    cleanups.push(() => { daemon.child.kill('SIGKILL'); });

    const acked: number[] = [];
    const load = { ingesting: true };
    const producer = (async () => {
      let n = 0;
      while (load.ingesting) {
        const body = Array.from({ length: 50 }, (_, i) => JSON.stringify({ priority: 2, kind: 'live', payload: { n, i } })).join('\n');
        const res = await fetch(`${daemon.url}/v1/events`, { method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body });
        const answer = (await res.json()) as { last_seq?: number };
        if (res.status === 200 && answer.last_seq !== undefined) acked.push(answer.last_seq);
        n++;
      }
    })();
    cleanups.push(async () => { load.ingesting = false; await producer; });

    // Let ingest get going, then back up while it goes on.
    while (acked.length < 5) await new Promise((resolve) => setImmediate(resolve));
    const ackedBefore = acked.length;
    const run = await runBackupStream(s.config, ['--class', 'state'], join(s.dir, 'state.tar'));
    const ackedDuring = acked.length - ackedBefore;
    load.ingesting = false;
    await producer;

    expect(run.stderr).toMatch(/backup-stream: state: \d+ files/);
    expect(run.code).toBe(0);
    expect(ackedDuring).toBeGreaterThan(0);

    const list = tarList(run.tarPath);
    expect(list.names.at(-1)).toBe(BACKUP_MANIFEST_NAME);
    expect(list.names).toContain(join(s.data, 'journal.db').slice(1));
    const into = join(s.dir, 'restored');
    const manifest = extractStream(run.tarPath, into);
    expect(manifest).toMatchObject({ formatVersion: 1, deviceId: 'pi-07', site: 'north-field', class: 'state', imageVersion: '12' });
    const hashes = extractedHashes(manifest, into);
    for (const file of manifest.files) {
      expect(hashes.get(file.path), file.path).toBe(file.sha256);
      expect(statSync(join(into, file.path.slice(1))).size).toBe(file.size);
    }
    const journalEntry = manifest.files.find((f) => f.path === join(s.data, 'journal.db'));
    expect(journalEntry?.kind).toBe('sqlite');

    const lastSeq = manifest.journalLastSeq ?? 0;
    // The snapshot holds the preload and live batches acknowledged before the stream started.
    expect(lastSeq).toBeGreaterThanOrEqual(Math.min(...acked.slice(0, ackedBefore)));
    const db = new DatabaseSync(join(into, s.data.slice(1), 'journal.db'), { readOnly: true });
    try {
      expect(db.prepare('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }]);
      const seqs = db.prepare('SELECT seq FROM records ORDER BY seq').all().map((r) => Number(r.seq));
      expect(seqs.length).toBe(lastSeq);
      expect(seqs[0]).toBe(1);
      expect(seqs.at(-1)).toBe(lastSeq);
      expect(seqs.every((seq, i) => seq === i + 1)).toBe(true);
      // A self-contained file: not in WAL mode, nothing left in a -wal beside it.
      expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'delete' });
    } finally {
      db.close();
    }
    // The temp copy beside the journal is gone.
    expect(readdirSync(s.data).filter((n) => n.startsWith('.fieldkit-backup-'))).toEqual([]);
  }, 120_000);

  it('keeps key modes in the stream and the manifest; the uplink password is only in the secrets class', async () => {
    const s = await setup({ uplink: { url: 'http://clickhouse.example:8123', password: 'hunter2-uplink' } });
    mkdirSync(join(s.etc, 'ssh'));
    mkdirSync(join(s.etc, 'fieldkit-agent'));
    writeFileSync(join(s.etc, 'ssh', 'ssh_host_ed25519_key'), '-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n', { mode: 0o600 });
    writeFileSync(join(s.etc, 'ssh', 'ssh_host_ed25519_key.pub'), 'ssh-ed25519 AAAA pi-07\n', { mode: 0o644 });
    writeFileSync(join(s.etc, 'fieldkit-agent', 'identity.json'), '{"device_id":"pi-07"}\n', { mode: 0o644 });
    chmodSync(join(s.etc, 'ssh', 'ssh_host_ed25519_key'), 0o600);
    chmodSync(s.config, 0o640);

    const secrets = await runBackupStream(s.config, ['--class', 'secrets'], join(s.dir, 'secrets.tar'));
    expect(secrets.code).toBe(0);
    const key = join(s.etc, 'ssh', 'ssh_host_ed25519_key').slice(1);
    expect(tarList(secrets.tarPath).verbose.find((l) => l.endsWith(` ${key}`))).toMatch(/^-rw------- /);
    const into = join(s.dir, 'secrets');
    const manifest = extractStream(secrets.tarPath, into);
    const modes = new Map(manifest.files.map((f) => [f.path, f.mode]));
    expect(modes.get(`/${key}`)).toBe(0o600);
    expect(modes.get(`/${key}.pub`)).toBe(0o644);
    expect(modes.get(join(s.etc, 'fieldkit-agent', 'identity.json'))).toBe(0o644);
    expect(modes.get(s.config)).toBe(0o640);
    expect(statSync(join(into, key)).mode & 0o7777).toBe(0o600);
    expect(readFileSync(join(into, s.config.slice(1)), 'utf8')).toContain('hunter2-uplink');
    // The ECDSA/RSA keys this fake /etc lacks are not "missing": the pattern matched one key.
    expect(manifest.missing).toEqual([]);

    const config = await runBackupStream(s.config, ['--class', 'config'], join(s.dir, 'config.tar'));
    expect(config.code).toBe(0);
    const bytes = readFileSync(config.tarPath);
    expect(bytes.includes('hunter2-uplink')).toBe(false);
    const configManifest = extractStream(config.tarPath, join(s.dir, 'config'));
    const redacted = JSON.parse(readFileSync(join(s.dir, 'config', s.config.slice(1)), 'utf8')) as { uplink: { password: string; url: string } };
    expect(redacted.uplink).toEqual({ url: 'http://clickhouse.example:8123', password: '***' });
    // No agent unit in this /etc: named, not silently absent.
    expect(configManifest.missing).toEqual([join(s.etc, 'systemd/system/fieldkit-agent.service')]);
  });

  it("holds the active model's signed manifest and only the model files no signed bundle holds", async () => {
    const s = await setup({ model_version: 'from-config' });
    const models = join(s.dir, 'models');
    const writeModel = (version: string, files: Record<string, string>) => {
      mkdirSync(join(models, version), { recursive: true });
      for (const [name, text] of Object.entries(files)) writeFileSync(join(models, version, name), text);
    };
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    writeModel('v2', { 'model.bin': 'FKMODEL v2 weights', 'labels.txt': 'person\n', 'calibration.json': '{"local":true}' });
    writeModel('v1', { 'model.bin': 'hand-copied weights' });
    mkdirSync(join(models, '.manifests'));
    // What deploy keeps of the signed bundle (shared/modelBundle.ts): calibration.json is not in it.
    const signed: ModelBundleManifest = {
      manifest_version: 1,
      product: 'fieldkit-model',
      name: 'people-detector',
      version: 'v2',
      created_at: '2026-12-01T10:00:00.000Z',
      install: { prefix: '/opt/fieldkit-agent', service: 'inference.service', health_command: null },
      files: [
        { path: 'model.bin', sha256: sha('FKMODEL v2 weights'), size: 18, mode: 0o644 },
        { path: 'labels.txt', sha256: sha('person\n'), size: 7, mode: 0o644 },
      ],
    };
    writeFileSync(installedModelManifestPath(models, 'v2'), JSON.stringify(signed));
    symlinkSync('v2', join(models, 'active'));
    const config = JSON.parse(readFileSync(s.config, 'utf8')) as { backup: Record<string, unknown> };
    writeFileSync(s.config, JSON.stringify({ ...config, backup: { ...config.backup, models_dir: models } }));

    const fromBundle = await runBackupStream(s.config, ['--class', 'state'], join(s.dir, 'v2.tar'));
    expect(fromBundle.code).toBe(0);
    const v2 = extractStream(fromBundle.tarPath, join(s.dir, 'v2'));
    expect(v2.modelVersion).toBe('v2');
    const paths = v2.files.map((f) => f.path);
    // The manifest names every file with its size and SHA-256 and the bundle (name, version) it came from.
    expect(paths).toContain(installedModelManifestPath(models, 'v2'));
    expect(JSON.parse(readFileSync(join(s.dir, 'v2', installedModelManifestPath(models, 'v2').slice(1)), 'utf8'))).toEqual(signed);
    expect(paths).toContain(join(models, 'v2', 'calibration.json'));
    expect(paths).not.toContain(join(models, 'v2', 'model.bin'));
    expect(paths).not.toContain(join(models, 'v2', 'labels.txt'));

    // A file that is not what the bundle installed (another size) is backed up.
    writeFileSync(join(models, 'v2', 'labels.txt'), 'person\nbicycle\n');
    const changed = await runBackupStream(s.config, ['--class', 'state'], join(s.dir, 'v2b.tar'));
    expect(extractStream(changed.tarPath, join(s.dir, 'v2b')).files.map((f) => f.path)).toContain(join(models, 'v2', 'labels.txt'));

    // An active model no signed bundle names: all its files.
    rmSync(join(models, 'active'));
    symlinkSync('v1', join(models, 'active'));
    const byHand = await runBackupStream(s.config, ['--class', 'state'], join(s.dir, 'v1.tar'));
    const v1 = extractStream(byHand.tarPath, join(s.dir, 'v1'));
    expect(v1.modelVersion).toBe('v1');
    expect(v1.files.filter((f) => f.path.startsWith(models)).map((f) => f.path)).toEqual([join(models, 'v1', 'model.bin')]);
  });

  it('walks data folders (long and non-ASCII names via pax), names a missing path, and skips a symlink inside a folder', async () => {
    const s = await setup({}, {});
    const app = join(s.dir, 'app-data');
    const deep = join(app, 'a'.repeat(60), 'b'.repeat(60));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'long-name-file.bin'), Buffer.alloc(70_000, 7));
    writeFileSync(join(app, 'café-é.txt'), 'accents\n');
    writeFileSync(join(app, 'empty'), '');
    symlinkSync('/etc/passwd', join(app, 'link-out'));
    const missing = join(s.dir, 'not-created-yet');
    writeAgentConfig(s.dir, { device_id: 'pi-07', data_dir: s.data, ingest: { port: s.port }, backup: { etc_root: s.etc, data_paths: [app, missing] } });
    const run = await runBackupStream(s.config, ['--class', 'data'], join(s.dir, 'data.tar'));
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`skipped ${join(app, 'link-out')}: a symlink`);
    const into = join(s.dir, 'out');
    const manifest = extractStream(run.tarPath, into);
    expect(manifest.missing).toEqual([missing]);
    expect(manifest.files.map((f) => f.path).sort()).toEqual([join(deep, 'long-name-file.bin'), join(app, 'café-é.txt'), join(app, 'empty')].sort());
    const hashes = extractedHashes(manifest, into);
    for (const file of manifest.files) expect(hashes.get(file.path), file.path).toBe(file.sha256);
    expect(tarList(run.tarPath).names).toContain(join(deep, 'long-name-file.bin').slice(1));
  });

  it('exits non-zero when its reader goes away mid-stream, and leaves no snapshot temp file', async () => {
    const s = await setup();
    ingestCli(s.config, syntheticEvents(20_000, { payloadBytes: 400 }));
    const child = spawn(process.execPath, [agentEntry, 'backup-stream', '--config', s.config, '--class', 'state'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    // The first bytes arrive, then the reader closes (a cut ssh session).
    await new Promise<void>((resolve) => child.stdout.once('data', () => { resolve(); }));
    child.stdout.destroy();
    const code = await exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/went away before its end.*not a backup/);
    expect(readdirSync(s.data).filter((n) => n.startsWith('.fieldkit-backup-'))).toEqual([]);
  });

  it('sends a database copy while its integrity_check runs, and a copy that fails the check ends the stream with no manifest (exit 1)', async () => {
    const s = await setup();
    // A database whose pages copy fine but whose index disagrees with its table: the online
    // backup copies it as it is, and only integrity_check can tell.
    mkdirSync(s.data, { recursive: true });
    const damaged = join(s.data, 'health.db');
    const db = new DatabaseSync(damaged);
    db.exec('CREATE TABLE t (k TEXT); CREATE INDEX t_k ON t (k)');
    for (let i = 0; i < 50; i++) db.prepare('INSERT INTO t (k) VALUES (?)').run(`key-${String(i).padStart(4, '0')}`);
    const root = (db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 't_k'").get() as { rootpage: number }).rootpage;
    const pageSize = (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
    db.close();
    const bytes = readFileSync(damaged);
    const page = bytes.subarray((root - 1) * pageSize, root * pageSize);
    const at = page.indexOf('key-0007');
    expect(at).toBeGreaterThan(0);
    page.write('kez-0007', at, 'latin1');
    writeFileSync(damaged, bytes);

    const run = await runBackupStream(s.config, ['--class', 'state'], join(s.dir, 'state.tar'));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/fails integrity_check/);
    const sent = readFileSync(run.tarPath);
    // The copy went out while it was checked (its member header is in the stream) ...
    expect(sent.includes(Buffer.from(damaged.slice(1)))).toBe(true);
    // ... but the stream never got its manifest or end blocks: the laptop keeps nothing of it.
    expect(sent.includes(Buffer.from(BACKUP_MANIFEST_NAME))).toBe(false);
    expect(readdirSync(s.data).filter((n) => n.startsWith('.fieldkit-backup-'))).toEqual([]);
  });

  it('refuses a command line without a class or with a relative --path', async () => {
    const s = await setup();
    const noClass = await runBackupStream(s.config, [], join(s.dir, 'x.tar'));
    expect(noClass.code).toBe(2);
    expect(noClass.stderr).toMatch(/backup-stream needs --class config, state, data or secrets/);
    const relative = await runBackupStream(s.config, ['--class', 'data', '--path', 'relative/dir'], join(s.dir, 'y.tar'));
    expect(relative.code).toBe(1);
    expect(relative.stderr).toMatch(/--path relative\/dir is not an absolute path\nhint: /);
    // A big sparse file shows the stream is not held in memory: it finishes within the test's memory.
    const big = join(s.dir, 'big.img');
    writeFileSync(big, '');
    truncateSync(big, 64 << 20);
    const run = await runBackupStream(s.config, ['--class', 'data', '--path', big], join(s.dir, 'big.tar'));
    expect(run.code).toBe(0);
    expect(extractStream(run.tarPath, join(s.dir, 'big')).files).toMatchObject([{ path: big, size: 64 << 20 }]);
  });
});
