/** The jobs panel's line for devices jobs (composed by the shell, see jobs/jobSummary.ts). */
import { DiscoveryResultSchema } from '../../../shared/api.ts';
import type { JobSummaries } from '../jobs/jobSummary.ts';
import { summarizeProvision } from './provisionView.ts';

export const devicesJobSummaries = {
  'devices.discover': (job) => summarizeDiscovery(job.result),
  'devices.provision': (job) => summarizeProvision(job.result),
} satisfies JobSummaries;

/** "Found 3 (1 not yet added); 254 hosts probed.", or null when the result is not a discovery's. */
export function summarizeDiscovery(result: unknown): string | null {
  const found = DiscoveryResultSchema.safeParse(result);
  if (!found.success) return null;
  const fresh = found.data.found.filter((f) => !f.known).length;
  const probed = found.data.probed > 0 ? `; ${found.data.probed} hosts probed` : '';
  return `Found ${found.data.found.length} (${fresh} not yet added)${probed}.`;
}
