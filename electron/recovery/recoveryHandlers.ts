/** The recovery.* methods: restore points, restore and drill jobs, history with drill freshness, runbooks. */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BackupClassSchema } from '../../shared/backupStream.ts';
import type { Device } from '../../shared/devices.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { defaultHealthThresholds } from '../../shared/fleetHealth.ts';
import { createBackupRunStore, createRepositoryStore, passwordSecret, prepareLaptopRepos } from '../backup/index.ts';
import type { DeviceStore } from '../devices/index.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import type { KernelServices } from '../kernel/domain.ts';
import type { JobRunner } from '../kernel/jobs/jobRunner.ts';
import { drillFreshness } from './drillFreshness.ts';
import type { PointParams } from './jobParams.ts';
import type { recoveryJobKinds } from './jobKinds.ts';
import { createRecoveryRunStore } from './recoveryRunStore.ts';
import { createReplaceHandler } from './replaceHandler.ts';
import { restorePoints, type PointWithRows } from './restorePoints.ts';
import { sourceKnown } from './sourceKnown.ts';

type Methods = 'recovery.points' | 'recovery.restore' | 'recovery.drill' | 'recovery.replace' | 'recovery.history' | 'recovery.runbook';

export function createRecoveryHandlers(kernel: KernelServices & { jobs: JobRunner<typeof recoveryJobKinds> }, devices: DeviceStore): Pick<ApiHandlers, Methods> {
  const runs = createRecoveryRunStore(kernel.db);
  const backups = createBackupRunStore(kernel.db);
  const repos = createRepositoryStore(kernel.db);

  function deviceOf(ref: string): Device {
    const device = devices.get(ref);
    return device;
  }

  function pointsOf(device: Device): PointWithRows[] {
    return restorePoints(device, backups, repos, kernel.dataDir);
  }

  /** The point asked for (its id, or a restic snapshot id of 8+ hex digits it holds), else the proposed one, else the newest. */
  function choose(device: Device, wanted: string | undefined): { chosen: PointWithRows; previous: PointWithRows | null } {
    const all = pointsOf(device);
    if (all.length === 0) throw new FieldkitError(appError('NOT_FOUND', `${device.name} has no good backup to restore from.`, `Back it up first: fieldkit backup ${device.name}`));
    const byId = wanted === undefined ? undefined : all.find((p) => p.point.id === wanted) ?? (/^[0-9a-f]{8,64}$/.test(wanted) ? all.find((p) => p.point.classes.some((c) => c.resticId.startsWith(wanted))) : undefined);
    if (wanted !== undefined && byId === undefined) throw new FieldkitError(appError('NOT_FOUND', `${device.name} has no restore point or snapshot ${wanted}.`, `List them: fieldkit restore ${device.name} --list`, 'pointId'));
    const chosen = byId ?? all.find((p) => p.point.proposed) ?? all[0];
    if (chosen === undefined) throw new FieldkitError(appError('NOT_FOUND', `${device.name} has no restore point.`, 'Back it up first.'));
    const index = all.indexOf(chosen);
    return { chosen, previous: all[index + 1] ?? null };
  }

  async function secretsOf(p: PointWithRows): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const row of p.rows) {
      const password = await kernel.secrets.get(passwordSecret(row.repo));
      if (password === null) throw new FieldkitError(appError('AUTH_FAILED', `fieldkit no longer has the password of the repository at ${row.repo.location} (${kernel.secrets.description}).`, 'Set it with its recovery key (fieldkit backup repo), then restore again.'));
      out[passwordSecret(row.repo)] = password;
    }
    return out;
  }

  function pointParams(p: PointWithRows, previous: PointWithRows | null, classes: readonly string[]): PointParams {
    return {
      id: p.point.id,
      deviceId: p.point.deviceId,
      time: p.point.time,
      classes: p.rows.filter((r) => classes.includes(r.class)).map((r) => ({ class: r.class, resticId: r.snapshotId ?? '', repo: r.repo, time: r.endedMs, journalLastSeq: r.journalLastSeq })),
      previousId: previous?.point.id ?? null,
    };
  }

  return {
    'recovery.points': ({ deviceId }) => {
      const points = pointsOf(deviceOf(deviceId)).map((p) => p.point);
      return Promise.resolve({ points, proposedId: points.find((p) => p.proposed)?.id ?? null });
    },
    'recovery.restore': async ({ deviceId, pointId, classes }) => {
      const device = deviceOf(deviceId);
      const { chosen, previous } = choose(device, pointId);
      const held = chosen.point.classes.map((c) => c.class);
      const wanted = classes ?? held;
      const missing = wanted.filter((c) => !held.includes(c));
      if (missing.length > 0) throw new FieldkitError(appError('NOT_FOUND', `Restore point ${chosen.point.id} of ${device.name} holds no ${missing.join(', ')}.`, `It holds ${held.join(', ')}.`, 'classes'));
      const laptop = await prepareLaptopRepos(kernel, repos);
      const secrets = { ...(await secretsOf(chosen)), [passwordSecret(laptop.main.target)]: laptop.main.password, [passwordSecret(laptop.secrets.target)]: laptop.secrets.password };
      const policies = repos.loadSettings().policies;
      const job = kernel.jobs.start(
        'recovery.restore',
        {
          dataDir: kernel.dataDir,
          device,
          point: pointParams(chosen, previous, wanted),
          classes: wanted,
          backupFirst: { runId: `run_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`, classes: [...BackupClassSchema.options], repos: { main: laptop.main.target, secrets: laptop.secrets.target }, extraPaths: Object.fromEntries(BackupClassSchema.options.map((c) => [c, policies[c].extraPaths])) },
          thresholds: defaultHealthThresholds,
        },
        secrets,
      );
      return { jobId: job.id };
    },
    'recovery.drill': async ({ deviceId, onto, pointId }) => {
      const device = deviceOf(deviceId);
      const spare = deviceOf(onto);
      if (spare.id === device.id) throw new FieldkitError(appError('BAD_REQUEST', 'A drill restores onto a spare, never onto the device itself.', `Name another device with --onto, or restore ${device.name} itself with fieldkit restore.`, 'onto'));
      // A serial console cannot carry a restore; a local agent shares this machine's files with the source, so a restore onto it would write over the source's own paths.
      if (spare.link.kind !== 'ssh') throw new FieldkitError(appError('BAD_REQUEST', `${spare.name} is reached ${spare.link.kind === 'serial' ? 'over a serial console, which cannot carry a restore' : 'as a local agent on this machine, whose files a restore would share with the source'}.`, 'Drill onto a spare Pi reached over SSH.', 'onto'));
      const { chosen, previous } = choose(device, pointId);
      const job = kernel.jobs.start(
        'recovery.drill',
        { dataDir: kernel.dataDir, device, spare, point: pointParams(chosen, previous, chosen.point.classes.map((c) => c.class)), source: sourceKnown(kernel.db, device), thresholds: defaultHealthThresholds },
        await secretsOf(chosen),
      );
      return { jobId: job.id };
    },
    'recovery.replace': createReplaceHandler(kernel, devices),
    'recovery.history': ({ deviceId, limit }) => Promise.resolve({ runs: runs.list({ deviceRef: deviceId, limit }), drills: drillFreshness(devices.list(), backups, runs, Date.now()) }),
    'recovery.runbook': ({ runId }) => {
      const run = runs.get(runId);
      if (run?.runbookPath == null) return Promise.reject(new FieldkitError(appError('NOT_FOUND', `Recovery run ${String(runId)} has no runbook.`, 'List the runs with: fieldkit drill --history')));
      return Promise.resolve({ path: run.runbookPath, markdown: readFileSync(run.runbookPath, 'utf8') });
    },
  };
}
