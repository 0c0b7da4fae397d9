import type { JobView } from './jobStore.ts';

/** The device a drive job works on (`params.device`), or null for other jobs. */
export function deviceOfJob(job: JobView): string | null {
  const params = job.params;
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return null;
  const device = params.device;
  return typeof device === 'string' ? device : null;
}
