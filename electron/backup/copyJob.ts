/**
 * The backup.copy job: `restic copy` of the laptop's repositories (main, then secrets) to the
 * site drive or off-site, then a listing of what the target holds, so "copies" in freshness
 * is what is there (matched by the `original` id restic copy keeps), not what we hoped.
 */
import type { CopyResult } from '../../shared/backup.ts';
import { repoRoleLabels } from '../../shared/backup.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { throwIfCancelled, type JobContext } from '../kernel/jobs/jobContext.ts';
import { openStore } from '../kernel/store/openStore.ts';
import type { CopyParams, RepoTarget } from './jobParams.ts';
import { passwordSecret, resticRepoFor } from './repositories.ts';
import { createRepositoryStore } from './repositoryStore.ts';
import { listSnapshots, withStaleLockCleared } from './restic/resticRepo.ts';
import { runRestic } from './restic/resticProcess.ts';

function passwordOf(target: RepoTarget, ctx: JobContext): string {
  const password = ctx.secrets[passwordSecret(target)];
  if (password === undefined) throw new FieldkitError(appError('INTERNAL', `No password came with the job for ${target.location}.`, 'Start the copy again.'));
  return password;
}

export async function runCopy(params: CopyParams, ctx: JobContext): Promise<CopyResult> {
  const started = performance.now();
  const db = openStore(params.dataDir);
  try {
    const store = createRepositoryStore(db);
    const repos: CopyResult['repos'] = [];
    for (const pair of params.pairs) {
      throwIfCancelled(ctx.signal);
      const from = resticRepoFor(pair.from, passwordOf(pair.from, ctx), params.dataDir);
      const to = resticRepoFor(pair.to, passwordOf(pair.to, ctx), params.dataDir);
      const phase = `copying ${pair.to.kind} to ${repoRoleLabels[params.to]}`;
      ctx.progress({ phase, bytesDone: 0, bytesTotal: null, unit: 'items' });
      const before = new Set((await listSnapshots(to, {}, ctx.signal)).map((s) => s.original ?? s.id));
      await withStaleLockCleared(
        to,
        () =>
          runRestic({
            repo: to,
            fromRepo: from,
            args: ['copy'],
            what: `copy snapshots to the ${to.label}`,
            signal: ctx.signal,
            graceMs: 8000,
            onLine: (line) => {
              const m = /(\d+) \/ (\d+) packs copied/.exec(line);
              if (m) ctx.progress({ phase, bytesDone: Number(m[1]), bytesTotal: Number(m[2]), unit: 'items' });
            },
          }),
        (m) => { ctx.log('warn', m); },
      );
      const laptopIds = new Set((await listSnapshots(from, {}, ctx.signal)).map((s) => s.id));
      const held = (await listSnapshots(to, {}, ctx.signal)).flatMap((s) => {
        const originalId = s.original ?? s.id;
        return laptopIds.has(originalId) ? [{ originalId, copyId: s.id }] : [];
      });
      store.recordCopy(pair.to.role, pair.to.kind, pair.to.location, held, Date.now());
      const copied = held.filter((h) => !before.has(h.originalId)).length;
      ctx.log('info', `${to.label}: ${copied} snapshot(s) copied; it holds ${held.length} of this laptop's.`);
      repos.push({ kind: pair.to.kind, location: pair.to.location, copied, held: held.length });
    }
    return { to: params.to, repos, durationMs: performance.now() - started };
  } finally {
    db.close();
  }
}
