/**
 * The backup repositories with real restic (issue 14): creation with separate
 * passwords and recovery keys shown once, verification that finds a flipped byte in a pack,
 * restic copy to an sftp repository on the loopback sshd then verified there, retention
 * preview equal to restic's own dry run and applied exactly, and clear errors for a wrong
 * password or missing restic.
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { backupFromStdin, findRestic, passwordSecret, resticRepoFor } from '../../electron/backup/index.ts';
import { createFileSecretStore } from '../../electron/kernel/secrets/secretStore.ts';
import { ustarHeader } from '../../electron/kernel/signing/ustarArchive.ts';
import { loadOrCreateAppSshKey } from '../../electron/kernel/link/appSshKey.ts';
import { CopyResultSchema, ForgetResultSchema, VerifyResultSchema } from '../../shared/backup.ts';
import { BACKUP_MANIFEST_NAME, type BackupClass, type BackupManifest } from '../../shared/backupStream.ts';
import { startSshd, testUser, type Sshd } from '../support/sshd.ts';
import { makeTempDir } from '../support/tempDir.ts';

const tmp = makeTempDir('fieldkit-backup-repo-');
const dataDir = join(tmp.path, 'data');
let services: AppServices;
let sshd: Sshd;
const remoteDir = `/home/${testUser}/fk-restic-${randomBytes(4).toString('hex')}`;

function tarOf(files: { path: string; bytes: Buffer; kind?: 'file' | 'sqlite' }[], deviceId: string, cls: BackupClass): Buffer {
  const parts: Buffer[] = [];
  const add = (name: string, bytes: Buffer) => {
    parts.push(ustarHeader(name, 0o644, bytes.length, 1_700_000_000), bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512));
  };
  for (const f of files) add(f.path.slice(1), f.bytes);
  const manifest: BackupManifest = {
    formatVersion: 1, deviceId, site: 'north', class: cls, takenAt: Date.now(), agentVersion: '1.4.0', imageVersion: null, modelVersion: null,
    files: files.map((f) => ({ path: f.path, size: f.bytes.length, mode: 0o644, mtimeMs: 0, sha256: createHash('sha256').update(f.bytes).digest('hex'), kind: f.kind ?? 'file' })),
    missing: [], journalLastSeq: null,
  };
  add(BACKUP_MANIFEST_NAME, Buffer.from(JSON.stringify(manifest)));
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function sqliteBytes(rows: number): Buffer {
  const path = join(tmp.path, `db-${randomBytes(4).toString('hex')}.sqlite`);
  const db = new Database(path);
  db.exec('CREATE TABLE journal (seq INTEGER PRIMARY KEY, payload TEXT)');
  const insert = db.prepare('INSERT INTO journal (payload) VALUES (?)');
  for (let i = 0; i < rows; i++) insert.run(randomBytes(40).toString('hex'));
  db.close();
  return readFileSync(path);
}

async function secret(role: 'laptop' | 'site' | 'offsite', kind: 'main' | 'secrets', location: string): Promise<string> {
  return (await createFileSecretStore(dataDir).get(passwordSecret({ role, kind, location }))) ?? '';
}

const laptopMain = () => ({ role: 'laptop' as const, kind: 'main' as const, location: join(dataDir, 'backups', 'main') });
const laptopSecrets = () => ({ role: 'laptop' as const, kind: 'secrets' as const, location: join(dataDir, 'backups', 'secrets') });

async function backUp(cls: BackupClass, deviceId: string, tar: Buffer): Promise<string> {
  const target = cls === 'secrets' ? laptopSecrets() : laptopMain();
  const repo = resticRepoFor(target, await secret('laptop', target.kind, target.location), dataDir);
  const run = backupFromStdin({ repo, stdin: Readable.from([tar]), filename: `${cls}.tar`, host: deviceId, tags: ['fieldkit', `device=${deviceId}`, `class=${cls}`] });
  return (await run.done).snapshotId;
}

function restic(location: string, password: string, args: string[]): string {
  return execFileSync('restic', ['--repo', location, ...args], { env: { ...process.env, RESTIC_PASSWORD: password }, encoding: 'utf8' });
}

async function finished(jobId: string) {
  return services.jobs.whenFinished(jobId);
}

beforeAll(async () => {
  services = await createAppServices({ dataDir, version: 'test' });
  sshd = await startSshd();
  const home = `/home/${testUser}`;
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  appendFileSync(join(home, '.ssh', 'authorized_keys'), `${loadOrCreateAppSshKey(dataDir).publicKey}\n`);
  execFileSync('chown', ['-R', `${testUser}:${testUser}`, join(home, '.ssh')]);
});
afterAll(async () => {
  await services.close();
  await sshd.stop();
  execFileSync('rm', ['-rf', remoteDir]);
  tmp.remove();
});

describe('backup repositories', () => {
  it('creates the laptop repositories with different passwords and answers each recovery key once', async () => {
    const created = await services.handlers['settings.backup.set']({ createLaptop: true });
    expect(created.recoveryKeys.map((k) => k.kind).sort()).toEqual(['main', 'secrets']);
    const [main, secrets] = [created.recoveryKeys.find((k) => k.kind === 'main'), created.recoveryKeys.find((k) => k.kind === 'secrets')];
    expect(main?.recoveryKey).toBe(await secret('laptop', 'main', laptopMain().location));
    expect(secrets?.recoveryKey).not.toBe(main?.recoveryKey);
    expect(main?.warning).toMatch(/will not show it again/);
    // The secrets repository opens with its own password only.
    expect(() => restic(laptopSecrets().location, main?.recoveryKey ?? '', ['cat', 'config'])).toThrow(/wrong password/);
    const again = await services.handlers['settings.backup.set']({ createLaptop: true, revealRecoveryKeys: true });
    expect(again.recoveryKeys).toEqual([]);
    expect(again.settings.repositories.filter((r) => r.role === 'laptop').every((r) => r.initialized && r.recoveryKeyShown)).toBe(true);
  });

  it('verifies snapshots by restoring them in memory against the device manifest and checking SQLite', async () => {
    await backUp('state', 'pi-a', tarOf([{ path: '/var/lib/fieldkit/journal.db', bytes: sqliteBytes(500), kind: 'sqlite' }, { path: '/var/lib/fieldkit/model.json', bytes: Buffer.from('{"v":1}') }], 'pi-a', 'state'));
    await backUp('config', 'pi-a', tarOf([{ path: '/etc/fieldkit/agent.json', bytes: Buffer.from('{"site":"north"}') }], 'pi-a', 'config'));
    await backUp('secrets', 'pi-a', tarOf([{ path: '/etc/fieldkit/identity.key', bytes: randomBytes(64) }], 'pi-a', 'secrets'));
    const { jobId } = await services.handlers['backup.verify']({ repo: 'laptop' });
    const record = await finished(jobId);
    expect(record.error).toBeNull();
    const result = VerifyResultSchema.parse(record.result);
    expect(result.ok).toBe(true);
    const samples = result.entries.flatMap((e) => e.samples);
    expect(samples.map((s) => `${s.deviceId}/${s.class}`).sort()).toEqual(['pi-a/config', 'pi-a/secrets', 'pi-a/state']);
    expect(samples.find((s) => s.class === 'state')).toMatchObject({ filesChecked: 2, sqliteChecked: 1, ok: true });
    expect(result.entries.map((e) => e.subset)).toEqual([{ k: 1, n: 10 }, { k: 1, n: 10 }]);
    const history = await services.handlers['backup.history']({ deviceId: 'pi-a', limit: 10 });
    expect(history.entries).toHaveLength(2);
  });

  it('copies to an sftp repository on the loopback sshd, records the copies, and verifies that copy', async () => {
    const offsiteUrl = `sftp://${testUser}@127.0.0.1:${sshd.port}/${remoteDir}`;
    const set = await services.handlers['settings.backup.set']({ offsiteUrl });
    expect(set.recoveryKeys.map((k) => k.role)).toEqual(['offsite', 'offsite']);
    const { jobId } = await services.handlers['backup.copy']({ to: 'offsite' });
    const record = await finished(jobId);
    expect(record.error).toBeNull();
    const copy = CopyResultSchema.parse(record.result);
    expect(copy.repos.map((r) => [r.kind, r.copied, r.held])).toEqual([['main', 2, 2], ['secrets', 1, 1]]);
    const verify = await finished((await services.handlers['backup.verify']({ repo: 'offsite' })).jobId);
    expect(verify.error).toBeNull();
    const verified = VerifyResultSchema.parse(verify.result);
    expect(verified.ok).toBe(true);
    expect(verified.entries.flatMap((e) => e.samples)).toHaveLength(3);
    // A second copy carries nothing new.
    const again = CopyResultSchema.parse((await finished((await services.handlers['backup.copy']({ to: 'offsite' })).jobId)).result);
    expect(again.repos.map((r) => r.copied)).toEqual([0, 0]);
  });

  it('previews retention exactly as restic forget --dry-run says, and applying it keeps exactly those', async () => {
    for (let i = 0; i < 3; i++) await backUp('state', 'pi-a', tarOf([{ path: '/var/lib/fieldkit/model.json', bytes: Buffer.from(`{"v":${i + 2}}`) }], 'pi-a', 'state'));
    await backUp('state', 'pi-b', tarOf([{ path: '/var/lib/fieldkit/model.json', bytes: Buffer.from('{"v":9}') }], 'pi-b', 'state'));
    const none = { keepHourly: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 };
    await services.handlers['settings.backup.set']({ policies: { state: { retention: { keepLast: 2, ...none } } } });
    const preview = await services.handlers['backup.forget']({ dryRun: true, class: 'state', repo: 'laptop' });
    if (!preview.dryRun) throw new Error('expected a preview');
    const main = laptopMain();
    const oracle = JSON.parse(restic(main.location, await secret('laptop', 'main', main.location), ['forget', '--dry-run', '--json', '--group-by', 'host,paths', '--path', '/state.tar', '--keep-last', '2'])) as { host: string; keep: { id: string }[]; remove: { id: string }[] | null }[];
    type Ids = { keep: (string | undefined)[]; remove: (string | undefined)[] };
    const byHost = (groups: { deviceId?: string; host?: string; keep: { id?: string; resticId?: string }[]; remove: { id?: string; resticId?: string }[] | null }[]): Record<string, Ids> =>
      Object.fromEntries(groups.map((g) => [g.deviceId ?? g.host ?? '', { keep: g.keep.map((s) => s.resticId ?? s.id).sort(), remove: (g.remove ?? []).map((s) => s.resticId ?? s.id).sort() }]));
    expect(byHost(preview.preview.groups)).toEqual(byHost(oracle));
    expect(byHost(preview.preview.groups)['pi-a']?.remove).toHaveLength(2);
    // Previews asked at once (a screen asking again, the CLI beside it) queue instead of refusing each other as locked.
    const together = await Promise.all([0, 1, 2].map(() => services.handlers['backup.forget']({ dryRun: true, repo: 'laptop' })));
    for (const p of together) expect(p.dryRun && byHost(p.preview.groups.filter((g) => g.class === 'state'))).toEqual(byHost(oracle));
    const started = await services.handlers['backup.forget']({ dryRun: false, class: 'state', repo: 'laptop' });
    if (started.dryRun) throw new Error('expected a job');
    const applied = await finished(started.jobId);
    expect(applied.error).toBeNull();
    expect(ForgetResultSchema.parse(applied.result).removed).toBe(2);
    const left = JSON.parse(restic(main.location, await secret('laptop', 'main', main.location), ['snapshots', '--json', '--path', '/state.tar'])) as { id: string }[];
    const kept = preview.preview.groups.flatMap((g) => g.keep.map((s) => s.resticId));
    expect(left.map((s) => s.id).sort()).toEqual(kept.sort());
  });

  it('finds a flipped byte in a pack file and says which pack, which snapshots, and what to do', async () => {
    await services.handlers['settings.backup.set']({ verify: { subsetRuns: 1 } });
    const dataRoot = join(laptopMain().location, 'data');
    const packs = readdirSync(dataRoot).flatMap((d) => readdirSync(join(dataRoot, d)).map((f) => join(dataRoot, d, f)));
    const biggest = packs.sort((a, b) => statSync(b).size - statSync(a).size)[0] ?? '';
    chmodSync(biggest, 0o600);
    const bytes = readFileSync(biggest);
    bytes[100] = (bytes[100] ?? 0) ^ 0xff;
    writeFileSync(biggest, bytes);
    const record = await finished((await services.handlers['backup.verify']({ repo: 'laptop' })).jobId);
    const result = VerifyResultSchema.parse(record.result);
    expect(result.ok).toBe(false);
    const main = result.entries.find((e) => e.kind === 'main');
    const packId = biggest.split('/').at(-1) ?? '';
    expect(main?.checkOk).toBe(false);
    expect(main?.damagedPacks).toContain(packId);
    const problem = main?.problems.find((p) => p.deviceId === null);
    expect(problem?.message).toContain(packId.slice(0, 12));
    expect(problem?.message).toMatch(/snapshots? [0-9a-f]{8}/);
    expect(problem?.hint).toMatch(/Back up the affected devices again/);
    // The secrets repository is its own and still good.
    expect(result.entries.find((e) => e.kind === 'secrets')?.ok).toBe(true);
  });

  it('says clearly when the password is wrong or restic is missing', async () => {
    const store = createFileSecretStore(dataDir);
    const name = passwordSecret(laptopSecrets());
    const good = (await store.get(name)) ?? '';
    await store.set(name, 'not-the-password');
    try {
      await expect(services.handlers['backup.forget']({ dryRun: true, class: 'secrets', repo: 'laptop' })).rejects.toMatchObject({ appError: { code: 'AUTH_FAILED', hint: expect.stringMatching(/recovery key/) as unknown } });
    } finally {
      await store.set(name, good);
    }
    expect(() => findRestic({ PATH: '/nonexistent' })).toThrow(/not found/);
    try {
      findRestic({ PATH: '/nonexistent' });
    } catch (error) {
      expect(error).toMatchObject({ appError: { code: 'UNAVAILABLE', hint: expect.stringMatching(/apt install restic/) as unknown } });
    }
    expect(findRestic({ PATH: process.env['PATH'] ?? '' })).toMatch(/restic$/);
  });
});
