/**
 * Freshness is never silent: a device with no good backup within its class's window raises
 * the health alert (health.fleet, the fleet grid's view) with what to do, `fieldkit health`
 * shows it, and `fieldkit backup list` marks the class overdue. A device added today is not
 * overdue, and a failed attempt never counts as a good backup.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { createBackupRunStore, type NewBackupRun } from '../../electron/backup/backupRunStore.ts';
import { openStore, storeFileName } from '../../electron/kernel/store/openStore.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';

const DAY = 24 * 60 * 60_000;
const dir = makeTempDir('fieldkit-backup-freshness-');
const dataDir = path.join(dir.path, 'data');
let services: AppServices | null = null;
const refs: Record<string, string> = {};

function run(over: Partial<NewBackupRun> & Pick<NewBackupRun, 'deviceRef' | 'class' | 'endedMs'>): NewBackupRun {
  return {
    jobId: 'run_test',
    deviceId: over.deviceRef,
    deviceName: 'x',
    site: 'depot',
    outcome: 'good',
    snapshotId: 'a'.repeat(64),
    repo: { role: 'laptop', kind: over.class === 'secrets' ? 'secrets' : 'main', location: path.join(dataDir, 'backups', 'main') },
    startedMs: over.endedMs - 1000,
    streamBytes: 4096,
    bytesAdded: 100,
    files: 3,
    fileBytes: 2000,
    agentVersion: '0.1.0',
    imageVersion: null,
    modelVersion: null,
    journalLastSeq: null,
    missing: [],
    error: null,
    ...over,
  };
}

beforeAll(async () => {
  services = await createAppServices({ dataDir, version: 'test', demo: false });
  // No agent answers here: freshness must show for a device that cannot be reached too.
  for (const [i, name] of ['old-pi', 'never-pi', 'new-pi'].entries()) {
    const { device } = await services.handlers['devices.add']({ name, site: 'depot', link: { kind: 'ssh', host: '127.0.0.1', port: 9 + i, username: 'pi', agentPrefix: '/opt/fieldkit-agent' } });
    refs[name] = device.id;
  }
  await services.close();
  services = null;
  // Two Pis registered 40 days ago (the store as it would be): one backed up 9 days ago, one never.
  const raw = new Database(path.join(dataDir, storeFileName));
  raw.prepare('UPDATE devices SET added_ms = ? WHERE name IN (?, ?)').run(Date.now() - 40 * DAY, 'old-pi', 'never-pi');
  raw.close();
  const db = openStore(dataDir);
  const runs = createBackupRunStore(db);
  const now = Date.now();
  const oldRef = refs['old-pi'] ?? '';
  for (const c of ['config', 'state', 'data', 'secrets'] as const) runs.record(run({ deviceRef: oldRef, deviceName: 'old-pi', class: c, endedMs: now - 9 * DAY }));
  // A failed attempt since: never good, and named in the alert.
  runs.record(run({ deviceRef: oldRef, deviceName: 'old-pi', class: 'state', endedMs: now - DAY, outcome: 'failed', snapshotId: null, error: { code: 'UNAVAILABLE', message: 'The link to old-pi dropped.', hint: 'retry' } }));
  db.close();
  services = await createAppServices({ dataDir, version: 'test', demo: false });
}, 60_000);

afterAll(async () => {
  await services?.close();
  dir.remove();
});

describe('backup freshness', () => {
  it('raises the alert for a device whose state backup is older than its 7-day window, saying what to run', async () => {
    const app = services;
    if (app === null) throw new Error('services closed');
    const { views } = await app.handlers['health.fleet']({});
    const old = views.find((v) => v.deviceName === 'old-pi');
    const alert = old?.alerts.find((a) => a.code === 'backup-stale');
    expect(alert?.title).toBe('No good backup of state for 9 days');
    expect(alert?.severity).toBe('warning');
    expect(alert?.explanation).toContain('The last attempt failed: The link to old-pi dropped.');
    expect(alert?.action).toContain('fieldkit backup old-pi --class state');
    // config (30 days) is still within its window.
    expect(alert?.explanation).not.toContain('config');
    const never = views.find((v) => v.deviceName === 'never-pi')?.alerts.find((a) => a.code === 'backup-stale');
    expect(never?.title).toBe('Never backed up (state)');
    expect(never?.explanation).toMatch(/no good backup of config ever \(added 40 days ago; window 30 days\)/);
    // Added today: not overdue yet.
    expect(views.find((v) => v.deviceName === 'new-pi')?.alerts.some((a) => a.code === 'backup-stale')).toBe(false);
  });

  it('backup list marks the overdue classes with their age, size and last error', async () => {
    const app = services;
    if (app === null) throw new Error('services closed');
    const { freshness } = await app.handlers['backup.list']({ deviceId: refs['old-pi'] ?? '' });
    const state = freshness.find((f) => f.class === 'state');
    expect(state).toMatchObject({ stale: true, windowDays: 7, sizeBytes: 4096, copies: ['laptop'], lastError: { code: 'UNAVAILABLE' } });
    expect(state?.ageSeconds).toBeGreaterThan(9 * 24 * 3600 - 60);
    expect(freshness.find((f) => f.class === 'config')).toMatchObject({ stale: false, lastError: null });
  });

  it('`fieldkit health` and `fieldkit backup list` say the same', async () => {
    await services?.close();
    services = null;
    const env = { FIELDKIT_DATA_DIR: dataDir };
    const health = await runCliProcess(['health'], env);
    expect(health.code, health.stderr).toBe(0);
    expect(health.stdout).toMatch(/old-pi.*No good backup of state for 9 days/);
    expect(health.stdout).toMatch(/never-pi.*Never backed up \(state\)/);
    const list = await runCliProcess(['backup', 'list', 'old-pi'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/old-pi\s+state\s+.*OVERDUE \(window 7 d\); last attempt failed: The link to old-pi dropped\./);
    expect(list.stdout).toMatch(/run `fieldkit backup old-pi`/);
  }, 60_000);
});
