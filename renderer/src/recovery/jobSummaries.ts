/** The jobs panel's line for recovery jobs (composed by the shell, see jobs/jobSummary.ts). */
import { DrillResultSchema, RestoreResultSchema } from '../../../shared/recovery.ts';
import { ReplaceResultSchema } from '../../../shared/recoveryReplace.ts';
import type { JobSummaries } from '../jobs/jobSummary.ts';

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export const recoveryJobSummaries = {
  'recovery.restore': (job) => {
    const parsed = RestoreResultSchema.safeParse(job.result);
    if (!parsed.success) return null;
    const r = parsed.data;
    return r.ok
      ? `Restored ${r.classes.join(', ')} onto ${r.deviceName} in ${seconds(r.durationMs)}; checks passed.`
      : `Restore of ${r.deviceName} finished but checks failed: ${r.checks.filter((c) => !c.ok).map((c) => c.name).join(', ')}.`;
  },
  'recovery.drill': (job) => {
    const parsed = DrillResultSchema.safeParse(job.result);
    if (!parsed.success) return null;
    const d = parsed.data;
    return `Drill of ${d.deviceName} onto ${d.spareName}: ${d.ok ? 'passed' : 'FAILED'}; RTO ${seconds(d.rtoMs)}, RPO ${seconds(d.rpo.ageSeconds * 1000)}.`;
  },
  'recovery.replace': (job) => {
    const parsed = ReplaceResultSchema.safeParse(job.result);
    if (!parsed.success) return null;
    const r = parsed.data;
    return r.ok && r.rtoMs !== null
      ? `${r.spare} is now ${r.deviceName}: healthy, RTO ${seconds(r.rtoMs)}.`
      : `Replace of ${r.deviceName} not finished: ${r.checks.filter((c) => !c.ok).map((c) => c.name).join(', ') || (r.steps.find((s) => s.status === 'failed')?.title ?? 'stopped')}; run it again to finish.`;
  },
} satisfies JobSummaries;
