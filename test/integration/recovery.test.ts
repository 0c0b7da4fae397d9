/**
 * Restore and drills on the virtual site (real systemd Pis, sshd, the deployed agent, restic):
 * a drill restores the latest backup onto a spare, reports RTO and RPO and never touches the
 * source (its journal unchanged, no SSH login on it in its sshd log); a restore point whose
 * database fails integrity_check is refused before anything changes, naming the snapshot and
 * offering the previous point; a restore onto the same device brings a deleted config file
 * back, backs the device up first (undo), and leaves the agent healthy.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServices } from '../../electron/app/appServices.ts';
import { createBackupRunStore } from '../../electron/backup/backupRunStore.ts';
import { openStore } from '../../electron/kernel/store/openStore.ts';
import { BACKUP_MANIFEST_NAME, BackupManifestSchema } from '../../shared/backupStream.ts';
import { DrillResultSchema, RestoreResultSchema } from '../../shared/recovery.ts';
import { BackupRunResultSchema } from '../../shared/backup.ts';
import { dumpSnapshot, laptopRepo, startIngest } from '../support/backupRig.ts';
import { onPi } from '../support/deployRig.ts';
import { startRolloutSite, type RolloutSite } from '../support/rolloutSite.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';
import type { VirtualPi } from '../support/virtualSite.ts';
import { waitFor } from '../support/waitFor.ts';

let rollout: RolloutSite;
let services: AppServices | null = null;
let source: VirtualPi;
let spare: VirtualPi;
let sourceRef: string;
let spareRef: string;
const work = makeTempDir('fieldkit-recovery-');
const agent = 'sudo -n /opt/fieldkit-agent/current/bin/fieldkit-agent';
const asAgent = 'sudo -n -u fieldkit-agent /opt/fieldkit-agent/current/bin/fieldkit-agent';

type Held = { journal_id: string; seq: number; payload: string };

function app(): AppServices {
  if (services === null) throw new Error('services closed');
  return services;
}

async function backupSource() {
  const { jobId } = await app().handlers['backup.start']({ deviceIds: [sourceRef] });
  const record = await app().jobs.whenFinished(jobId);
  expect(record.state, record.error?.message).toBe('done');
  return BackupRunResultSchema.parse(record.result);
}

async function pullDevice(deviceRef: string) {
  return app().jobs.whenFinished((await app().handlers['courier.pull']({ id: deviceRef })).jobId);
}

/** What the laptop holds under an agent device id, every journal. */
function laptopRecords(deviceId: string): Held[] {
  const db = openStore(rollout.dataDir);
  try {
    return db.prepare('SELECT journal_id, seq, payload FROM courier_records WHERE device_id = ? ORDER BY journal_id, seq').all(deviceId) as Held[];
  } finally {
    db.close();
  }
}

async function journalOf(pi: VirtualPi): Promise<{ journal_id: string; last_seq: number }> {
  return (JSON.parse(await onPi(pi, `${agent} status --json`)) as { journal: { journal_id: string; last_seq: number } }).journal;
}

/** SSH logins sshd accepted on a Pi so far (this read's own login included). */
async function sshLogins(pi: VirtualPi): Promise<number> {
  return Number((await onPi(pi, "sudo -n journalctl -u ssh.service --no-pager -o cat | grep -c '^Accepted ' || true")).trim());
}

beforeAll(async () => {
  rollout = await startRolloutSite({ count: 2, name: 'rpi' });
  const [a, b] = rollout.site.pis;
  if (a === undefined || b === undefined) throw new Error('no Pis');
  source = a;
  spare = b;
  // A file the technician declared in the config class (an inference app's settings).
  await onPi(source, "sudo -n sh -c 'mkdir -p /etc/inference-app && echo threshold=0.7 > /etc/inference-app/app.conf'");
  const port = (JSON.parse(await onPi(source, 'sudo -n cat /etc/fieldkit-agent/config.json')) as { ingest: { port: number } }).ingest.port;
  const ingest = startIngest(port);
  await waitFor(async () => (await journalOf(source)).last_seq > 3000, { timeoutMs: 60_000, what: 'the source to journal 3,000 records' });
  await ingest.stop();
  services = await rollout.open();
  await app().handlers['settings.backup.set']({ policies: { config: { extraPaths: ['/etc/inference-app'] } } });
  const devices = (await app().handlers['devices.list']({})).devices;
  sourceRef = devices.find((d) => d.name === source.name)?.id ?? '';
  spareRef = devices.find((d) => d.name === spare.name)?.id ?? '';
  await backupSource();
}, 600_000);

afterAll(async () => {
  await services?.close();
  await rollout.stop();
  work.remove();
});

describe('recovery on the virtual site', () => {
  it('a drill restores the latest backup onto a spare, reports RTO and RPO per step, and never touches the source', async () => {
    // The laptop knows the source as it would in the field: pulled, registered with its agent's device id.
    expect((await pullDevice(sourceRef)).state).toBe('done');
    const journalBefore = await journalOf(source);
    const loginsBefore = await sshLogins(source);
    const { jobId } = await app().handlers['recovery.drill']({ deviceId: sourceRef, onto: spareRef });
    const record = await app().jobs.whenFinished(jobId);
    const drill = DrillResultSchema.parse(record.result);
    expect(record.state, `${record.error?.message ?? ''}\n${JSON.stringify(drill.checks)}\n${JSON.stringify(drill.steps.map((s) => [s.name, s.status, s.detail]))}`).toBe('done');
    // Nothing reached the source: the only logins since are this test's own two reads.
    expect(await sshLogins(source)).toBe(loginsBefore + 1);
    expect(await journalOf(source)).toEqual(journalBefore);
    // The spare answered as the source (hello), but never wrote the source's journal: a drill journal of its own.
    expect(drill.checks.map((c) => [c.name, c.ok])).toEqual([['hello', true], ['journal', true], ['ingest', true], ['health', true]]);
    expect(drill.ok).toBe(true);
    const spareJournal = await journalOf(spare);
    expect(spareJournal.journal_id).not.toBe(journalBefore.journal_id);
    // Its agent is stopped and disabled at the end: it must not go on answering as the source.
    expect((await rollout.state(spare)).active).toBe('inactive');
    expect((await onPi(spare, 'systemctl is-enabled fieldkit-agent || true')).trim()).toBe('disabled');
    // RTO split per step, RPO from the restored state.
    expect(drill.steps.map((s) => s.name)).toEqual(['connect', 'check-snapshot', 'stop-services', 'restore-config', 'restore-state', 'restore-data', 'restore-secrets', 'check-device-databases', 'journal-aside', 'start-services', 'verify-service', 'retire-spare']);
    expect(drill.rtoMs).toBeGreaterThan(0);
    expect(drill.rtoMs).toBeLessThan(120_000);
    expect(drill.rpo.restoredJournalSeq).toBeGreaterThan(3000);
    expect(drill.rpo.ageSeconds).toBeGreaterThanOrEqual(0);
    // The spare kept its own SSH host key: the laptop's pinned key for it still works.
    expect(drill.steps.find((s) => s.name === 'restore-secrets')?.detail).toMatch(/kept as they were/);
    // The runbook holds what ran, and the history has the drill.
    const runbook = readFileSync(drill.runbookPath ?? '', 'utf8');
    expect(runbook).toContain(`# Restore drill: ${source.name} onto ${spare.name}`);
    expect(runbook).toContain('backup-restore --class state');
    expect(runbook).toMatch(/RTO \(start to healthy\): \d+\.\d s/);
    // The runbook says what was left on the spare and how to clean it up.
    expect(runbook).toContain(`kept aside as journal.${journalBefore.journal_id}.db`);
    expect(runbook).toContain(`agent stopped and disabled (it will not start on boot); ${spare.name} holds ${source.name}'s configuration`);
    expect(runbook).toMatch(/to use \S+ again, re-flash it/);
    const history = await app().handlers['recovery.history']({ deviceId: sourceRef, limit: 50 });
    expect(history.runs[0]).toMatchObject({ kind: 'drill', ok: true, targetName: spare.name });
    expect(history.drills.find((d) => d.deviceRef === sourceRef)).toMatchObject({ stale: false, lastDrillOk: true });

    // Someone pulls the spare (it is a registered device), then the source journals on and is pulled.
    const sparePull = await pullDevice(spareRef);
    await onPi(source, `for i in $(seq 1 50); do printf '{"priority":2,"kind":"drill.test","payload":{"after_drill":%d}}\\n' "$i"; done | ${asAgent} ingest`);
    expect((await pullDevice(sourceRef)).state).toBe('done');
    // Every record the laptop holds under the source's keys is the source's own record with that key.
    const sourceDeviceId = source.name;
    const own = new Map((await onPi(source, `${asAgent} export --limit 100000`)).trim().split('\n').map((l) => JSON.parse(l) as Held).map((r) => [r.seq, r.payload]));
    const held = laptopRecords(sourceDeviceId);
    expect(held.filter((r) => r.journal_id === journalBefore.journal_id).length).toBeGreaterThan(3000);
    for (const r of held) expect(r.journal_id === journalBefore.journal_id ? own.get(r.seq) : 'a journal the source never wrote', `${r.journal_id} seq ${String(r.seq)}`).toBe(r.payload);
    // The pull of the spare was refused, saying why and what to do; the spare is not shown as the source.
    expect(sparePull.state).toBe('failed');
    expect(sparePull.error?.message).toContain(`answers as device ${sourceDeviceId}, which is ${source.name}. Nothing was pulled`);
    expect(sparePull.error?.hint).toMatch(/re-flash/);
    const spareNow = (await app().handlers['devices.list']({})).devices.find((d) => d.id === spareRef);
    expect(spareNow?.agentDeviceId).not.toBe(sourceDeviceId);
    console.log(`drill RTO ${String(drill.rtoMs)} ms: ${drill.steps.map((s) => `${s.name} ${String(s.durationMs)}`).join(', ')}; RPO ${String(drill.rpo.ageSeconds)} s`);
  }, 300_000);

  it('a restore point whose database fails integrity_check is refused before anything changes, naming the snapshot and offering the previous point', async () => {
    const points = (await app().handlers['recovery.points']({ deviceId: sourceRef })).points;
    const good = points[0];
    const state = good?.classes.find((c) => c.class === 'state');
    if (good === undefined || state === undefined) throw new Error('no state snapshot');
    // A snapshot whose journal is damaged but whose manifest matches its bytes: what a
    // device with silently corrupted storage would have sent.
    const repo = await laptopRepo(rollout.dataDir, 'state');
    const dir = path.join(work.path, 'bad-state');
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-x', '-C', dir], { input: dumpSnapshot(repo, state.resticId, 'state.tar') });
    const manifest = BackupManifestSchema.parse(JSON.parse(readFileSync(path.join(dir, BACKUP_MANIFEST_NAME), 'utf8')));
    const journalFile = manifest.files.find((f) => f.path.endsWith('journal.db'));
    if (journalFile === undefined) throw new Error('no journal in the snapshot');
    const bytes = readFileSync(path.join(dir, journalFile.path));
    bytes.fill(0xa5, 4096 * 2, 4096 * 6);
    writeFileSync(path.join(dir, journalFile.path), bytes);
    const sha = execFileSync('sha256sum', [path.join(dir, journalFile.path)], { encoding: 'utf8' }).split(' ')[0] ?? '';
    const forged = { ...manifest, files: manifest.files.map((f) => (f === journalFile ? { ...f, sha256: sha } : f)) };
    writeFileSync(path.join(dir, BACKUP_MANIFEST_NAME), JSON.stringify(forged));
    const members = [...manifest.files.map((f) => f.path.slice(1)), BACKUP_MANIFEST_NAME];
    const tar = execFileSync('tar', ['--format=pax', '-c', '-C', dir, ...members], { maxBuffer: 1 << 30 });
    const summary = execFileSync('restic', ['-r', repo.location, 'backup', '--stdin', '--stdin-filename', 'state.tar', '--host', manifest.deviceId, '--tag', 'class=state', '--json'], { input: tar, env: { ...process.env, RESTIC_PASSWORD: repo.password }, encoding: 'utf8' });
    const shortId = (summary.trim().split('\n').map((l) => JSON.parse(l) as { message_type: string; snapshot_id?: string }).find((m) => m.message_type === 'summary')?.snapshot_id ?? '');
    const fullId = execFileSync('restic', ['-r', repo.location, 'snapshots', '--json', shortId], { env: { ...process.env, RESTIC_PASSWORD: repo.password }, encoding: 'utf8' });
    const resticId = (JSON.parse(fullId) as { id: string }[])[0]?.id ?? '';
    const db = openStore(rollout.dataDir);
    try {
      const runs = createBackupRunStore(db);
      const last = runs.lastGood(sourceRef, 'state');
      if (last === null) throw new Error('no good state run');
      runs.record({ ...last, jobId: 'run_corrupted01', snapshotId: resticId, startedMs: Date.now(), endedMs: Date.now() });
    } finally {
      db.close();
    }
    const newest = (await app().handlers['recovery.points']({ deviceId: sourceRef })).points[0];
    expect(newest?.id).toBe('run_corrupted01');

    const journalBefore = await journalOf(source);
    const since = (await onPi(source, 'systemctl show fieldkit-agent -p ActiveEnterTimestampMonotonic --value')).trim();
    const runsBefore = (await app().handlers['backup.list']({})).snapshots.length;
    const { jobId } = await app().handlers['recovery.restore']({ deviceId: sourceRef });
    const record = await app().jobs.whenFinished(jobId);
    expect(record.state).toBe('failed');
    expect(record.error?.message).toContain(resticId.slice(0, 8));
    expect(record.error?.message).toMatch(/integrity_check/);
    expect(record.error?.message).toMatch(/Nothing on the device was changed/);
    expect(record.error?.hint).toContain(`--snapshot ${good.id}`);
    const result = RestoreResultSchema.parse(record.result);
    expect(result.steps.map((s) => [s.name, s.status])).toEqual([['connect', 'done'], ['check-snapshot', 'failed']]);
    expect(result.undoPointId).toBeNull();
    // Nothing changed: the agent was never stopped, the journal is as it was, no backup was taken.
    expect((await onPi(source, 'systemctl show fieldkit-agent -p ActiveEnterTimestampMonotonic --value')).trim()).toBe(since);
    expect(await journalOf(source)).toEqual(journalBefore);
    expect((await app().handlers['backup.list']({})).snapshots.length).toBe(runsBefore);
  }, 300_000);

  it('a restore onto the same device brings a deleted config file back, backs it up first, and leaves the agent healthy', async () => {
    await onPi(source, 'sudo -n rm /etc/inference-app/app.conf');
    const good = (await app().handlers['recovery.points']({ deviceId: sourceRef })).points.find((p) => p.id !== 'run_corrupted01');
    if (good === undefined) throw new Error('no good point');
    const cli = await runCliProcess(['--data-dir', rollout.dataDir, 'restore', source.name, '--snapshot', good.id, '--class', 'config']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/ok +hello: agent .* answers as rpi-1/);
    expect(cli.stdout).toMatch(/Undo this restore: fieldkit restore rpi-1 --snapshot run_/);
    expect(await onPi(source, 'cat /etc/inference-app/app.conf')).toBe('threshold=0.7\n');
    expect((await rollout.state(source)).active).toBe('active');
    const history = await app().handlers['recovery.history']({ deviceId: sourceRef, limit: 50 });
    const restore = history.runs.find((r) => r.kind === 'restore' && r.ok);
    expect(restore).toBeDefined();
    const runbook = await app().handlers['recovery.runbook']({ runId: restore?.id ?? 0 });
    expect(runbook.markdown).toMatch(/sudo -n systemctl stop '?fieldkit-agent\.service'?[\s\S]*backup-restore --class config[\s\S]*sudo -n systemctl start '?fieldkit-agent\.service/);
    // The undo point exists: the backup taken first is a restore point of its own.
    const undo = /--snapshot (run_[0-9a-z]+)/.exec(cli.stdout)?.[1];
    expect((await app().handlers['recovery.points']({ deviceId: sourceRef })).points.some((p) => p.id === undo)).toBe(true);
  }, 300_000);
});
