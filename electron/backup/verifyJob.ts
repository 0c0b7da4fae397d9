/**
 * The backup.verify job: for each repository, restic check of the next rolling slice, then a
 * restore test of the latest snapshot of each device × class; recorded as a history entry
 * per repository, and what failed becomes a problem (the alert) that says what to do.
 */
import type { BackupProblem, SampleRestore, VerificationEntry, VerifyResult } from '../../shared/backup.ts';
import { repoRoleLabels } from '../../shared/backup.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { throwIfCancelled, type JobContext } from '../kernel/jobs/jobContext.ts';
import { openStore } from '../kernel/store/openStore.ts';
import type { RepoTarget, VerifyParams } from './jobParams.ts';
import { passwordSecret, resticRepoFor } from './repositories.ts';
import { createRepositoryStore } from './repositoryStore.ts';
import { listSnapshots, withStaleLockCleared } from './restic/resticRepo.ts';
import { resticTimeMs, type SnapshotJson } from './restic/resticJson.ts';
import type { ResticRepo } from './restic/resticProcess.ts';
import { checkRepo, classOfPaths, type CheckOutcome } from './verify/checkRepo.ts';
import { restoreTest } from './verify/sampleRestore.ts';

/** The newest fieldkit snapshot of each device × class. */
function latestPerDeviceClass(snapshots: readonly SnapshotJson[]): { id: string; deviceId: string; class: NonNullable<ReturnType<typeof classOfPaths>> }[] {
  const latest = new Map<string, SnapshotJson>();
  for (const s of snapshots) {
    if (classOfPaths(s.paths) === null) continue;
    const key = `${s.hostname}\0${s.paths[0] ?? ''}`;
    const seen = latest.get(key);
    if (seen === undefined || resticTimeMs(s.time) > resticTimeMs(seen.time)) latest.set(key, s);
  }
  return [...latest.values()].flatMap((s) => {
    const cls = classOfPaths(s.paths);
    return cls === null ? [] : [{ id: s.id, deviceId: s.hostname, class: cls }];
  });
}

function problemsOf(target: RepoTarget, label: string, check: CheckOutcome, samples: readonly SampleRestore[], at: number): BackupProblem[] {
  const problems: BackupProblem[] = [];
  const base = { at, role: target.role, kind: target.kind };
  if (!check.ok) {
    const packs = check.damagedPacks.map((p) => p.slice(0, 12)).join(', ');
    problems.push({
      ...base,
      deviceId: null,
      class: null,
      message:
        `restic check found damage in the ${label}` +
        (check.damagedPacks.length > 0 ? `: pack${check.damagedPacks.length === 1 ? '' : 's'} ${packs}` : '') +
        (check.affectedSnapshots.length > 0 ? `, holding data of snapshot${check.affectedSnapshots.length === 1 ? '' : 's'} ${check.affectedSnapshots.map((s) => s.slice(0, 8)).join(', ')}` : '') +
        (check.errors[0] === undefined ? '.' : ` (${check.errors[0]}).`),
      hint:
        'Back up the affected devices again now. Restore what you need from another copy (site drive or off-site) — fieldkit backup verify --repo site|offsite checks them. ' +
        'Then repair this repository: move the damaged pack files out of it, run restic rebuild-index, and forget the snapshots named here. Check the drive itself (SMART, fsck): damage does not come from nowhere.',
    });
  }
  for (const sample of samples) {
    if (sample.ok) continue;
    const first = sample.failures[0];
    problems.push({
      ...base,
      deviceId: sample.deviceId,
      class: sample.class,
      message:
        sample.error ??
        `The latest ${sample.class} backup of ${sample.deviceId} (${sample.resticId.slice(0, 8)}) does not restore as the device sent it: ${sample.failures.length} file(s) failed` +
          (first === undefined ? '.' : `, e.g. ${first.path} (${first.detail}).`),
      hint: `Back up ${sample.deviceId} again now and verify once more; until one verifies, do not rely on this snapshot (an older one, or another copy, may still be good).`,
    });
  }
  return problems;
}

async function verifyRepo(target: RepoTarget, repo: ResticRepo, params: VerifyParams, ctx: JobContext, store: ReturnType<typeof createRepositoryStore>): Promise<VerificationEntry> {
  const started = performance.now();
  const at = Date.now();
  const n = params.subsetRuns;
  const k = store.takeSubset(target.role, target.kind, target.location, n);
  ctx.log('info', `Checking ${repo.label}: data slice ${k} of ${n}.`);
  const check = await withStaleLockCleared(repo, () => checkRepo(repo, { k, n }, ctx.signal, (done, total) => { ctx.progress({ phase: `checking ${repoRoleLabels[target.role]}`, bytesDone: done, bytesTotal: total, unit: 'items' }); }), (m) => { ctx.log('warn', m); });
  throwIfCancelled(ctx.signal);
  const latest = latestPerDeviceClass(await listSnapshots(repo, { tags: ['fieldkit'] }, ctx.signal));
  const samples: SampleRestore[] = [];
  for (const [i, snapshot] of latest.entries()) {
    throwIfCancelled(ctx.signal);
    ctx.progress({ phase: `restore test ${repoRoleLabels[target.role]}`, bytesDone: i, bytesTotal: latest.length, unit: 'items' });
    samples.push(await restoreTest(repo, snapshot, ctx.signal));
  }
  throwIfCancelled(ctx.signal);
  const problems = problemsOf(target, repo.label, check, samples, at);
  for (const p of problems) ctx.log('error', `${p.message} What to do: ${p.hint}`);
  return store.recordVerification({
    at,
    role: target.role,
    kind: target.kind,
    location: target.location,
    subset: { k, n },
    checkOk: check.ok,
    checkErrors: check.errors,
    damagedPacks: check.damagedPacks,
    samples,
    ok: problems.length === 0,
    problems,
    durationMs: performance.now() - started,
  });
}

export async function runVerify(params: VerifyParams, ctx: JobContext): Promise<VerifyResult> {
  const db = openStore(params.dataDir);
  try {
    const store = createRepositoryStore(db);
    const entries: VerificationEntry[] = [];
    for (const target of params.repos) {
      const password = ctx.secrets[passwordSecret(target)];
      if (password === undefined) throw new FieldkitError(appError('INTERNAL', `No password came with the job for ${target.location}.`, 'Start the verification again.'));
      entries.push(await verifyRepo(target, resticRepoFor(target, password, params.dataDir), params, ctx, store));
    }
    return { entries, ok: entries.every((e) => e.ok) };
  } finally {
    db.close();
  }
}

