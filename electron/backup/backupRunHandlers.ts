/**
 * `backup.start` (one device, a selection, a site or all; every class or some) and
 * `backup.list` (freshness per device × class, the good snapshots with their copies), and
 * the freshness alerts the health domain shows, through the service key in index.ts.
 *
 * A start resumes: when the newest backup run of the same selection did not finish (cut
 * link, killed app, cancel) and began less than a day ago, the new job takes that run's
 * window, so what it already backed up good is not taken again.
 */
import { randomBytes } from 'node:crypto';
import type { BackupFreshness, BackupProblem, BackupSnapshot, RepoRole } from '../../shared/backup.ts';
import { BackupClassSchema, type BackupClass } from '../../shared/backupStream.ts';
import type { Device } from '../../shared/devices.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { HealthAlert } from '../../shared/fleetHealth.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import type { KernelServices } from '../kernel/domain.ts';
import type { JobRunner } from '../kernel/jobs/jobRunner.ts';
import type { DeviceStore } from '../devices/index.ts';
import { serialPasswordSecret } from '../devices/index.ts';
import { BackupRunParamsSchema } from './backupJob.ts';
import { createBackupRunStore, type BackupRunRow, type BackupRunStore } from './backupRunStore.ts';
import { deviceFreshness, freshnessAlerts, type FreshnessInputs } from './freshness.ts';
import type { backupJobKinds } from './jobKinds.ts';
import { locationOf, passwordSecret } from './repositories.ts';
import { prepareLaptopRepos } from './laptopRepos.ts';
import { createRepositoryStore, type RepositoryStore } from './repositoryStore.ts';

/** A previous run older than this is not resumed: a new one starts its own window. */
const RESUME_WITHIN_MS = 24 * 60 * 60_000;
/** Freshness is read from the store at most this often per device for health (it is asked every second). */
const ALERT_CACHE_MS = 5_000;

export type BackupFreshnessAlerts = (deviceRef: string) => HealthAlert[];

function sameSelection(a: { refs: string[]; classes: string[] }, b: { refs: string[]; classes: string[] }): boolean {
  return a.refs.join(',') === b.refs.join(',') && a.classes.join(',') === b.classes.join(',');
}

/** What freshness is judged with: the policies, where copies are, what verification found; read once per call. */
function freshnessInputs(runs: BackupRunStore, repos: RepositoryStore, dataDir: string): FreshnessInputs {
  const settings = repos.loadSettings();
  const held = new Map<string, Set<string>>();
  const copiesOf = (run: BackupRunRow): RepoRole[] => {
    const out: RepoRole[] = [];
    for (const role of ['site', 'offsite'] as const) {
      const location = locationOf(role, run.repo.kind, settings, dataDir);
      if (location === null || run.snapshotId === null) continue;
      const key = `${role}:${run.repo.kind}`;
      let set = held.get(key);
      if (set === undefined) {
        set = repos.copiesHeld(role, run.repo.kind, location);
        held.set(key, set);
      }
      if (set.has(run.snapshotId)) out.push(role);
    }
    return out;
  };
  const problems = newestProblems(repos);
  const problemOf = (deviceId: string, backupClass: BackupClass) => problems.find((p) => p.deviceId === deviceId && p.class === backupClass) ?? null;
  return { runs, policies: settings.policies, copiesOf, problemOf, nowMs: Date.now() };
}

/** What the newest verification of each repository found wrong (an older failure fixed since does not count). */
function newestProblems(repos: RepositoryStore): BackupProblem[] {
  const seen = new Set<string>();
  const out: BackupProblem[] = [];
  for (const entry of repos.history({ limit: 200 })) {
    const key = `${entry.role}:${entry.kind}:${entry.location}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(...entry.problems);
  }
  return out;
}

export function createRunHandlers(kernel: KernelServices & { jobs: JobRunner<typeof backupJobKinds> }, devices: DeviceStore) {
  const runs = createBackupRunStore(kernel.db);
  const repos = createRepositoryStore(kernel.db);

  const inputs = (): FreshnessInputs => freshnessInputs(runs, repos, kernel.dataDir);
  const latestProblems = (): BackupProblem[] => newestProblems(repos);

  function resolveSelection(request: { deviceIds?: string[] | undefined; site?: string | undefined; all?: boolean | undefined }): Device[] {
    const all = devices.list();
    const chosen = request.deviceIds !== undefined ? request.deviceIds.map((id) => devices.get(id)) : request.site !== undefined ? all.filter((d) => d.site === request.site) : request.all === true ? all : null;
    if (chosen === null) throw new FieldkitError(appError('BAD_REQUEST', 'Say which devices to back up: some device ids, a site, or all.', 'fieldkit backup DEVICE, --site SITE or --all.', 'deviceIds'));
    if (chosen.length === 0) throw new FieldkitError(appError('NOT_FOUND', request.site !== undefined ? `No device is registered at site ${request.site}.` : 'No device is registered.', 'Add devices first (fieldkit devices add).', 'site'));
    return chosen;
  }

  /** The window of the unfinished run this one continues, else now. */
  function windowStart(refs: string[], classes: BackupClass[]): number {
    const previous = kernel.jobs.list({ limit: 50 }).find((job) => job.kind === 'backup.run');
    if (previous === undefined || previous.state === 'done' || previous.state === 'running') return Date.now();
    const params = BackupRunParamsSchema.safeParse(previous.params);
    if (!params.success || Date.now() - params.data.windowStartMs > RESUME_WITHIN_MS) return Date.now();
    const before = { refs: params.data.devices.map((d) => d.ref), classes: params.data.classes };
    return sameSelection(before, { refs, classes }) ? params.data.windowStartMs : Date.now();
  }

  const alertCache = new Map<string, { atMs: number; alerts: HealthAlert[] }>();
  // Settings, copies and verification problems are read once per cache period for the whole fleet.
  let sharedInputs: { atMs: number; inputs: FreshnessInputs } | null = null;
  const freshnessAlertsOf: BackupFreshnessAlerts = (ref) => {
    const now = Date.now();
    const cached = alertCache.get(ref);
    if (cached !== undefined && now - cached.atMs < ALERT_CACHE_MS) return cached.alerts;
    if (sharedInputs === null || now - sharedInputs.atMs >= ALERT_CACHE_MS) sharedInputs = { atMs: now, inputs: inputs() };
    const device = devices.find(ref);
    const alerts = device === null ? [] : freshnessAlerts(device, deviceFreshness(device, { ...sharedInputs.inputs, nowMs: now }), now);
    alertCache.set(ref, { atMs: Date.now(), alerts });
    return alerts;
  };

  const handlers: Pick<ApiHandlers, 'backup.start' | 'backup.list'> = {
    'backup.start': async (request) => {
      const chosen = resolveSelection(request);
      const classes = request.classes ?? [...BackupClassSchema.options];
      const refs = chosen.map((d) => d.id);
      const prepared = await prepareLaptopRepos(kernel, repos);
      const secrets: Record<string, string> = {
        [passwordSecret(prepared.main.target)]: prepared.main.password,
        [passwordSecret(prepared.secrets.target)]: prepared.secrets.password,
      };
      const serial = chosen.find((d) => d.link.kind === 'serial');
      if (serial !== undefined) {
        const password = await kernel.secrets.get(serialPasswordSecret(serial.id));
        if (password !== null) secrets.password = password;
      }
      alertCache.clear();
      sharedInputs = null;
      const job = kernel.jobs.start(
        'backup.run',
        {
          dataDir: kernel.dataDir,
          runId: `run_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`,
          devices: chosen.map((d) => ({ ref: d.id, name: d.name })),
          classes,
          windowStartMs: windowStart(refs, classes),
          repos: { main: prepared.main.target, secrets: prepared.secrets.target },
          extraPaths: Object.fromEntries(classes.map((c) => [c, repos.loadSettings().policies[c].extraPaths])),
        },
        secrets,
      );
      return { jobId: job.id };
    },
    'backup.list': ({ deviceId }) => {
      const shown = devices.list().filter((d) => deviceId === undefined || d.id === deviceId || d.agentDeviceId === deviceId || d.name === deviceId);
      const given = inputs();
      const freshness: BackupFreshness[] = shown.flatMap((d) => deviceFreshness(d, given));
      const snapshots: BackupSnapshot[] = runs.good({ device: shown.length === 1 ? shown[0]?.id : deviceId, limit: 1000 }).map((run) => ({
        repo: run.repo.role,
        resticId: run.snapshotId ?? '',
        deviceId: run.deviceId,
        deviceRef: run.deviceRef,
        site: run.site,
        class: run.class,
        time: run.endedMs,
        sizeBytes: run.streamBytes,
        files: run.files,
        agentVersion: run.agentVersion,
        imageVersion: run.imageVersion,
        modelVersion: run.modelVersion,
        copies: ['laptop', ...given.copiesOf(run)],
      }));
      return Promise.resolve({ freshness, snapshots, problems: latestProblems() });
    },
  };
  return { handlers, freshnessAlerts: freshnessAlertsOf };
}
