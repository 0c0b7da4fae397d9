/** The jobs panel's line for backup jobs (composed by the shell, see jobs/jobSummary.ts). */
import { BackupRunResultSchema, CopyResultSchema, ForgetResultSchema, VerifyResultSchema } from '../../../shared/backup.ts';
import { formatBytes } from '../../../shared/format.ts';
import type { JobSummaries } from '../jobs/jobSummary.ts';

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export const backupJobSummaries = {
  'backup.run': (job) => {
    const parsed = BackupRunResultSchema.safeParse(job.result);
    if (!parsed.success) return null;
    const items = parsed.data.items;
    const done = items.filter((i) => i.status === 'done');
    const unchanged = items.filter((i) => i.status === 'unchanged').length;
    const failed = items.filter((i) => i.status === 'failed').length;
    const added = done.reduce((sum, i) => sum + i.bytesAdded, 0);
    return `Backed up ${plural(done.length, 'class', 'classes')} (${formatBytes(added)} added)${unchanged > 0 ? `; ${plural(unchanged, 'class', 'classes')} unchanged since the last snapshot, confirmed` : ''}${failed > 0 ? `; ${failed} failed` : ''}.`;
  },
  'backup.verify': (job) => {
    const parsed = VerifyResultSchema.safeParse(job.result);
    if (!parsed.success) return null;
    const bad = parsed.data.entries.filter((e) => !e.ok).length;
    const restored = parsed.data.entries.reduce((sum, e) => sum + e.samples.length, 0);
    if (bad === 0 && restored === 0) return 'Verified: repositories sound, but no snapshot to restore yet.';
    return bad === 0
      ? `Verified ${plural(parsed.data.entries.length, 'repository', 'repositories')}: ${plural(restored, 'snapshot')} restored and matching.`
      : `Verification found problems in ${plural(bad, 'repository', 'repositories')}: see Backups.`;
  },
  'backup.copy': (job) => {
    const parsed = CopyResultSchema.safeParse(job.result);
    if (!parsed.success) return null;
    const copied = parsed.data.repos.reduce((sum, r) => sum + r.copied, 0);
    return `Copied ${plural(copied, 'snapshot')} to the ${parsed.data.to === 'site' ? 'site drive' : 'off-site repository'}.`;
  },
  'backup.forget': (job) => {
    const parsed = ForgetResultSchema.safeParse(job.result);
    if (!parsed.success) return null;
    return `Retention applied: ${plural(parsed.data.removed, 'snapshot')} removed.`;
  },
} satisfies JobSummaries;
