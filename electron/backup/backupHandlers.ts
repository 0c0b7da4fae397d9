/** The backup.* and settings.backup.* methods this domain answers itself (backup.start and backup.list are in backupRunHandlers.ts). */
import { RepoRoleSchema, type RepoRole } from '../../shared/backup.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import type { JobRunner } from '../kernel/jobs/jobRunner.ts';
import { createBackupSettings, type BackupDeps } from './backupSettings.ts';
import type { backupJobKinds } from './jobKinds.ts';
import type { RepoTarget } from './jobParams.ts';
import { passwordSecret, resticRepoFor, targetsOf } from './repositories.ts';
import { createRepositoryStore } from './repositoryStore.ts';
import { forgetIn } from './retention.ts';

type Methods = 'backup.verify' | 'backup.copy' | 'backup.forget' | 'backup.history' | 'settings.backup.get' | 'settings.backup.set';

export function createBackupHandlers(deps: BackupDeps & { jobs: JobRunner<typeof backupJobKinds> }): Pick<ApiHandlers, Methods> {
  const store = createRepositoryStore(deps.db);
  /** The retention previews of this app, one after the other (see backup.forget). */
  let previews: Promise<unknown> = Promise.resolve();
  const settingsApi = createBackupSettings(deps);

  /** A role's repositories, which must have been created (settings.backup.set, or the first backup). */
  function createdTargets(role: RepoRole): RepoTarget[] {
    const targets = targetsOf(role, store.loadSettings(), deps.dataDir);
    for (const t of targets) {
      if (store.find(t.role, t.kind, t.location) === null) {
        throw new FieldkitError(
          appError('NOT_FOUND', `The ${t.kind} repository at ${t.location} was never created.`, role === 'laptop' ? 'Back up a device first, or: fieldkit backup repo --create' : 'Set it again (fieldkit backup repo) to create it.'),
        );
      }
    }
    return targets;
  }

  async function secretsFor(targets: readonly RepoTarget[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const t of targets) {
      const password = await deps.secrets.get(passwordSecret(t));
      if (password === null) {
        throw new FieldkitError(appError('AUTH_FAILED', `fieldkit no longer has the password of the repository at ${t.location} (${deps.secrets.description}).`, 'Set it with its recovery key, or create a new repository in another folder.'));
      }
      out[passwordSecret(t)] = password;
    }
    return out;
  }

  return {
    'backup.verify': async ({ repo }) => {
      const settings = store.loadSettings();
      const roles = repo === undefined ? RepoRoleSchema.options.filter((r) => settingsApi.get().repositories.some((v) => v.role === r && v.initialized)) : [repo];
      if (roles.length === 0) throw new FieldkitError(appError('NOT_FOUND', 'There is no backup repository to verify yet.', 'Back up a device first (fieldkit backup DEVICE).'));
      const repos = roles.flatMap(createdTargets);
      const job = deps.jobs.start('backup.verify', { dataDir: deps.dataDir, repos, subsetRuns: settings.verify.subsetRuns }, await secretsFor(repos));
      return { jobId: job.id };
    },
    'backup.copy': async ({ to }) => {
      const from = createdTargets('laptop');
      const targets = createdTargets(to);
      const pairs = from.map((f) => ({ from: f, to: targets.find((t) => t.kind === f.kind) ?? f }));
      const job = deps.jobs.start('backup.copy', { dataDir: deps.dataDir, to, pairs }, await secretsFor([...from, ...targets]));
      return { jobId: job.id };
    },
    'backup.forget': async (request) => {
      const settings = store.loadSettings();
      const targets = createdTargets(request.repo);
      const retention = { config: settings.policies.config.retention, state: settings.policies.state.retention, data: settings.policies.data.retention, secrets: settings.policies.secrets.retention };
      const scope = { deviceId: request.deviceId ?? null, class: request.class ?? null, retention };
      const secrets = await secretsFor(targets);
      if (!request.dryRun) {
        const job = deps.jobs.start('backup.forget', { dataDir: deps.dataDir, repos: targets, ...scope }, secrets);
        return { dryRun: false, jobId: job.id };
      }
      // A preview is `restic forget --dry-run`, which takes the repository's exclusive lock: two at
      // once (a screen asking again, the CLI beside the UI) would refuse each other as "locked".
      // They queue here instead, one after the other.
      const preview = previews.then(async () => {
        const groups = [];
        for (const t of targets) groups.push(...(await forgetIn(resticRepoFor(t, secrets[passwordSecret(t)] ?? '', deps.dataDir), t.kind, scope, true)));
        return { dryRun: true as const, preview: { groups } };
      });
      previews = preview.catch(() => undefined);
      return preview;
    },
    'backup.history': ({ repo, deviceId, limit }) => Promise.resolve({ entries: store.history({ role: repo, deviceId, limit }) }),
    'settings.backup.get': () => Promise.resolve({ settings: settingsApi.get() }),
    'settings.backup.set': (patch) => settingsApi.set(patch),
  };
}
