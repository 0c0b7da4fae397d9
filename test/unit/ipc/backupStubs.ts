/** The backup methods' samples and stubs (spread into stubHandlers.ts, which is near its size limit). */
import type { MethodName, RequestOf } from '../../../shared/api.ts';
import { defaultBackupPolicies, defaultVerifySettings, type BackupSettingsView, type VerificationEntry } from '../../../shared/backup.ts';
import type { ApiHandlers } from '../../../electron/kernel/api/dispatch.ts';

type BackupMethod = Extract<MethodName, `backup.${string}` | 'settings.backup.get' | 'settings.backup.set'>;

export const sampleBackupRequests: { [M in BackupMethod]: RequestOf<M> } = {
  'backup.start': { deviceIds: ['dev_abc123'], classes: ['config', 'state'] },
  'backup.list': { deviceId: 'pi-07' },
  'backup.verify': { repo: 'laptop' },
  'backup.copy': { to: 'offsite' },
  'backup.forget': { dryRun: true, deviceId: 'pi-07', class: 'state' },
  'backup.history': { repo: 'laptop', limit: 20 },
  'settings.backup.get': {},
  'settings.backup.set': { offsiteUrl: 'sftp:backup@vault.example.com:/srv/fieldkit', policies: { state: { freshnessDays: 3 } } },
};

const snapshotId = 'a'.repeat(64);

export const sampleBackupSettings: BackupSettingsView = {
  repositories: [
    { role: 'laptop', kind: 'main', location: '/tmp/fieldkit/backups/main', initialized: true, createdAt: 1_700_000_000_000, recoveryKeyShown: true, nextSubset: 3, lastVerifiedAt: 1_700_000_100_000, lastVerifyOk: true, lastCopyAt: null },
  ],
  siteDrivePath: null,
  offsiteUrl: null,
  policies: defaultBackupPolicies,
  verify: defaultVerifySettings,
  warnings: [],
  passwordStore: 'a file only you can read',
};

export const sampleVerification: VerificationEntry = {
  id: 1,
  at: 1_700_000_100_000,
  role: 'laptop',
  kind: 'main',
  location: '/tmp/fieldkit/backups/main',
  subset: { k: 2, n: 10 },
  checkOk: true,
  checkErrors: [],
  damagedPacks: [],
  samples: [{ deviceId: 'pi-07', class: 'state', resticId: snapshotId, filesChecked: 5, sqliteChecked: 1, failures: [], error: null, ok: true }],
  ok: true,
  problems: [],
  durationMs: 1200,
};

export function createBackupStubs(record: (method: MethodName, params: unknown) => void): Pick<ApiHandlers, BackupMethod> {
  return {
    'backup.start': (params) => {
      record('backup.start', params);
      return Promise.resolve({ jobId: 'job_backup01' });
    },
    'backup.list': (params) => {
      record('backup.list', params);
      return Promise.resolve({ freshness: [], snapshots: [], problems: [] });
    },
    'backup.verify': (params) => {
      record('backup.verify', params);
      return Promise.resolve({ jobId: 'job_verify01' });
    },
    'backup.copy': (params) => {
      record('backup.copy', params);
      return Promise.resolve({ jobId: 'job_copy01' });
    },
    'backup.forget': (params) => {
      record('backup.forget', params);
      return Promise.resolve(params.dryRun ? { dryRun: true as const, preview: { groups: [] } } : { dryRun: false as const, jobId: 'job_forget01' });
    },
    'backup.history': (params) => {
      record('backup.history', params);
      return Promise.resolve({ entries: [sampleVerification] });
    },
    'settings.backup.get': (params) => {
      record('settings.backup.get', params);
      return Promise.resolve({ settings: sampleBackupSettings });
    },
    'settings.backup.set': (params) => {
      record('settings.backup.set', params);
      return Promise.resolve({ settings: sampleBackupSettings, recoveryKeys: [] });
    },
  };
}
