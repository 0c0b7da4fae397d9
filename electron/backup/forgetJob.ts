/** The backup.forget job: apply retention (restic forget --prune) per device × class in each repository asked. */
import type { ForgetResult } from '../../shared/backup.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { throwIfCancelled, type JobContext } from '../kernel/jobs/jobContext.ts';
import type { ForgetParams } from './jobParams.ts';
import { passwordSecret, resticRepoFor } from './repositories.ts';
import { forgetIn } from './retention.ts';

export async function runForget(params: ForgetParams, ctx: JobContext): Promise<ForgetResult> {
  const groups: ForgetResult['groups'] = [];
  for (const [i, target] of params.repos.entries()) {
    throwIfCancelled(ctx.signal);
    const password = ctx.secrets[passwordSecret(target)];
    if (password === undefined) throw new FieldkitError(appError('INTERNAL', `No password came with the job for ${target.location}.`, 'Start it again.'));
    ctx.progress({ phase: `retention in ${target.kind}`, bytesDone: i, bytesTotal: params.repos.length, unit: 'items' });
    const repo = resticRepoFor(target, password, params.dataDir);
    groups.push(...(await forgetIn(repo, target.kind, { deviceId: params.deviceId, class: params.class, retention: params.retention }, false, ctx.signal, (m) => { ctx.log('warn', m); })));
  }
  const removed = groups.reduce((sum, g) => sum + g.remove.length, 0);
  ctx.log('info', `Removed ${removed} snapshot(s) and pruned the data only they held.`);
  return { groups, removed };
}
