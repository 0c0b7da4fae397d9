/**
 * Drills are never silently missing: a device with a good backup and no passed drill within
 * 30 days raises `drill-stale` with what to run (health.fleet, the grid's view, and `fieldkit
 * health`), a failed drill does not restart the window, a device drilled last week does not
 * raise it, and `fieldkit drill --history` says the same.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { createBackupRunStore } from '../../electron/backup/backupRunStore.ts';
import { createRecoveryRunStore } from '../../electron/recovery/recoveryRunStore.ts';
import { openStore, storeFileName } from '../../electron/kernel/store/openStore.ts';
import { runCliProcess } from '../support/runCliProcess.ts';
import { makeTempDir } from '../support/tempDir.ts';

const DAY = 24 * 60 * 60_000;
const dir = makeTempDir('fieldkit-drill-stale-');
const dataDir = path.join(dir.path, 'data');
let services: AppServices | null = null;
const refs: Record<string, string> = {};

beforeAll(async () => {
  services = await createAppServices({ dataDir, version: 'test', demo: false });
  for (const [i, name] of ['undrilled-pi', 'drilled-pi', 'failed-pi', 'spare-pi'].entries()) {
    const { device } = await services.handlers['devices.add']({ name, site: 'depot', link: { kind: 'ssh', host: '127.0.0.1', port: 9 + i, username: 'pi', agentPrefix: '/opt/fieldkit-agent' } });
    refs[name] = device.id;
  }
  await services.close();
  services = null;
  const raw = new Database(path.join(dataDir, storeFileName));
  raw.prepare(`UPDATE devices SET added_ms = ? WHERE name != 'spare-pi'`).run(Date.now() - 40 * DAY);
  raw.close();
  const db = openStore(dataDir);
  const now = Date.now();
  const backups = createBackupRunStore(db);
  for (const name of ['undrilled-pi', 'drilled-pi', 'failed-pi']) {
    for (const c of ['config', 'state', 'data', 'secrets'] as const) {
      backups.record({ jobId: 'run_a', deviceRef: refs[name] ?? '', deviceId: name, deviceName: name, site: 'depot', class: c, outcome: 'good', snapshotId: 'a'.repeat(64), repo: { role: 'laptop', kind: c === 'secrets' ? 'secrets' : 'main', location: '/x' }, startedMs: now - DAY, endedMs: now - DAY, streamBytes: 1, bytesAdded: 1, files: 1, fileBytes: 1, agentVersion: '0.1.0', imageVersion: null, modelVersion: null, journalLastSeq: null, missing: [], error: null });
    }
  }
  const drills = createRecoveryRunStore(db);
  const drill = (name: string, ok: boolean, daysAgo: number) =>
    drills.record({ kind: 'drill', jobId: null, deviceRef: refs[name] ?? '', deviceName: name, targetRef: refs['spare-pi'] ?? '', targetName: 'spare-pi', pointId: 'run_a', startedMs: now - daysAgo * DAY, endedMs: now - daysAgo * DAY, ok, rtoMs: 9000, rpoAgeSeconds: 60, error: ok ? null : { code: 'VERIFICATION_FAILED', message: 'ingest failed', hint: 'x' }, result: null, runbookPath: null });
  drill('drilled-pi', true, 7);
  drill('failed-pi', true, 35);
  drill('failed-pi', false, 2);
  db.close();
  services = await createAppServices({ dataDir, version: 'test', demo: false });
}, 60_000);

afterAll(async () => {
  await services?.close();
  dir.remove();
});

describe('drill freshness', () => {
  it('raises drill-stale for a device never drilled or whose last passed drill is older than 30 days, with what to run', async () => {
    const app = services;
    if (app === null) throw new Error('services closed');
    const { views } = await app.handlers['health.fleet']({});
    const alertOf = (name: string) => views.find((v) => v.deviceName === name)?.alerts.find((a) => a.code === 'drill-stale');
    expect(alertOf('undrilled-pi')).toMatchObject({ title: 'Never drilled', severity: 'warning' });
    expect(alertOf('undrilled-pi')?.action).toContain('fieldkit drill undrilled-pi --onto SPARE');
    // A failed drill two days ago does not count; the last passed one is 35 days old.
    expect(alertOf('failed-pi')?.title).toBe('No passed drill for 35 days');
    expect(alertOf('failed-pi')?.explanation).toContain('the last drill failed');
    expect(alertOf('drilled-pi')).toBeUndefined();
    // Nothing to drill without a backup: the spare raises no drill alert.
    expect(alertOf('spare-pi')).toBeUndefined();
  });

  it('`fieldkit health` and `fieldkit drill --history` say the same', async () => {
    await services?.close();
    services = null;
    const env = { FIELDKIT_DATA_DIR: dataDir };
    const health = await runCliProcess(['health'], env);
    expect(health.code, health.stderr).toBe(0);
    expect(health.stdout).toMatch(/undrilled-pi.*Never drilled/);
    const history = await runCliProcess(['drill', '--history'], env);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toMatch(/undrilled-pi: never drilled — DRILL OVERDUE \(window 30 d\)/);
    expect(history.stdout).toMatch(/drilled-pi: last drilled .* \(passed\)\n/);
    expect(history.stdout).toMatch(/failed-pi → spare-pi .* NO/);
  }, 60_000);
});
