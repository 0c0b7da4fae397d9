import { describe, expect, it } from 'vitest';
import type { BackupFreshness, BackupProblem, BackupSnapshot } from '../../shared/backup.ts';
import type { Device } from '../../shared/devices.ts';
import { backupJobNotice } from '../../renderer/src/backup/backupOutcomes.ts';
import { backupRows, backupSummary, rowTone } from '../../renderer/src/backup/backupRows.ts';
import { copiesWords, freshnessWords } from '../../renderer/src/backup/backupText.ts';

/** The Backups screen's pure logic, run in Node (the screen itself is covered by test/e2e/backup.e2e.test.ts). */
const device = (id: string, name: string, agentDeviceId: string | null): Device => ({
  id,
  name,
  site: 'depot',
  link: { kind: 'ssh', host: '10.0.0.7', port: 22, username: 'pi', agentPrefix: '/opt/fieldkit-agent' },
  hostKeyFingerprint: null,
  agentDeviceId,
  journalId: null,
  agentVersion: null,
  modelVersion: null,
  clockOffsetMs: null,
  lastSeenMs: null,
  lastError: null,
  addedMs: 0,
});

const fresh = (deviceId: string, cls: BackupFreshness['class'], over: Partial<BackupFreshness> = {}): BackupFreshness => ({
  deviceId,
  deviceName: deviceId,
  site: 'depot',
  class: cls,
  lastGoodAt: 1_700_000_000_000,
  ageSeconds: 2 * 3600,
  sizeBytes: 1_200_000,
  resticId: 'a'.repeat(64),
  copies: ['laptop'],
  windowDays: 7,
  stale: false,
  lastError: null,
  problem: null,
  ...over,
});

const snapshot = (deviceId: string, time: number): BackupSnapshot => ({
  repo: 'laptop',
  resticId: 'b'.repeat(64),
  deviceId,
  site: 'depot',
  class: 'state',
  time,
  sizeBytes: 10,
  files: 2,
  agentVersion: '1.0.0',
  imageVersion: null,
  modelVersion: null,
  copies: ['laptop'],
});

describe('backup rows', () => {
  const devices = [device('dev_aaaaaa', 'pi-1', 'pi-1'), device('dev_bbbbbb', 'pi-2', null)];
  const all = (id: string, over: Partial<BackupFreshness> = {}) => (['config', 'state', 'data', 'secrets'] as const).map((c) => fresh(id, c, over));

  it('shows every registered device, one never backed up as stale in every class, never as fine', () => {
    const rows = backupRows(devices, { freshness: all('pi-1'), snapshots: [], problems: [] });
    expect(rows.map((r) => r.name)).toEqual(['pi-1', 'pi-2']);
    expect(rows[0]?.staleClasses).toEqual([]);
    expect(rows[1]?.staleClasses).toEqual(['config', 'state', 'data', 'secrets']);
    expect(rows[1] === undefined ? null : rowTone(rows[1])).toBe('idle');
    expect(backupSummary(rows)).toBe('2 devices · 1 never backed up');
  });

  it('keeps backups of a device removed from this laptop, and gives each device only its own snapshots and problems', () => {
    const problem: BackupProblem = { at: 1, role: 'laptop', kind: 'main', deviceId: 'gone', class: 'state', message: 'sample restore failed', hint: 'back it up again' };
    const rows = backupRows(devices, { freshness: [...all('pi-1'), ...all('gone')], snapshots: [snapshot('pi-1', 1), snapshot('gone', 2), snapshot('pi-1', 3)], problems: [problem] });
    expect(rows.map((r) => r.key)).toEqual(['dev_aaaaaa', 'dev_bbbbbb', 'agent:gone']);
    expect(rows[0]?.snapshots.map((s) => s.time)).toEqual([3, 1]);
    expect(rows[2]?.device).toBeNull();
    expect(rows[2]?.problems).toEqual([problem]);
    expect(rows[2] === undefined ? null : rowTone(rows[2])).toBe('danger');
    expect(rows[0]?.problems).toEqual([]);
  });

  it("joins on the laptop's id the service gives, even when the device entry does not know its agent's id yet", () => {
    const rows = backupRows(devices, { freshness: [...all('pi-1'), ...all('pi-2-agent', { deviceRef: 'dev_bbbbbb' })], snapshots: [{ ...snapshot('pi-2-agent', 5), deviceRef: 'dev_bbbbbb' }], problems: [] });
    expect(rows.map((r) => r.key)).toEqual(['dev_aaaaaa', 'dev_bbbbbb']);
    expect(rows[1]?.staleClasses).toEqual([]);
    expect(rows[1]?.snapshots).toHaveLength(1);
    expect(rows[1]?.agentDeviceId).toBe('pi-2-agent');
  });

  it('names overdue classes in the summary', () => {
    const rows = backupRows(devices.slice(0, 1), { freshness: [...all('pi-1').slice(1), fresh('pi-1', 'config', { stale: true, ageSeconds: 40 * 86_400 })], snapshots: [], problems: [] });
    expect(rows[0]?.staleClasses).toEqual(['config']);
    expect(backupSummary(rows)).toBe('1 device · 1 with an overdue class');
  });
});

describe('freshness words', () => {
  it('says overdue in words with the window, and never calls a missing backup fine', () => {
    expect(freshnessWords(fresh('pi', 'state'))).toMatchObject({ state: 'ok', verdict: 'within 7 d', latest: '2 h ago · 1.2 MB' });
    expect(freshnessWords(fresh('pi', 'state', { stale: true, ageSeconds: 9 * 86_400 }))).toMatchObject({ state: 'stale', verdict: 'overdue (window 7 d)', latest: '9 d ago · 1.2 MB' });
    expect(freshnessWords(null)).toMatchObject({ state: 'never', verdict: 'never backed up', latest: null });
    expect(freshnessWords(fresh('pi', 'state', { lastGoodAt: null, ageSeconds: null, stale: true })).state).toBe('never');
  });

  it('lists copies in the order laptop, site drive, off-site', () => {
    expect(copiesWords(['offsite', 'laptop', 'site'])).toBe('laptop, site drive, off-site');
    expect(copiesWords([])).toBe('nowhere');
  });
});

describe('backup job notices', () => {
  const at = 1;
  it('lists each failed class with the error and what to do, as a warning', () => {
    const error = { code: 'IO_ERROR' as const, message: 'The link to pi-2 dropped.', hint: 'Reconnect and back up again.' };
    const result = {
      items: [
        { deviceId: 'pi-1', deviceName: 'pi-1', class: 'config', status: 'done', snapshotId: 'c'.repeat(64), bytesRead: 10, bytesAdded: 2000, files: 1, durationMs: 5, error: null },
        { deviceId: 'pi-2', deviceName: 'pi-2', class: 'state', status: 'failed', snapshotId: null, bytesRead: 0, bytesAdded: 0, files: 0, durationMs: 5, error },
      ],
    };
    const notice = backupJobNotice({ kind: 'backup.run', title: 'Back up devices', result }, { type: 'done', jobId: 'j', at, result });
    expect(notice).toMatchObject({ kind: 'info', tone: 'warn', text: 'Backed up 1 class (2.0 kB added); 1 failed.', details: ['pi-2 · State: The link to pi-2 dropped. Reconnect and back up again.'] });
  });

  it('never sums up a result it cannot read', () => {
    const notice = backupJobNotice({ kind: 'backup.verify', title: 'Verify', result: null }, { type: 'done', jobId: 'j', at, result: { what: 1 } });
    expect(notice).toMatchObject({ kind: 'info', tone: 'warn' });
    expect(notice.kind === 'info' ? notice.text : '').toMatch(/could not be read/);
  });
});
