/** One line for what any finished job did, from its kind and result. */
import { DiscoveryResultSchema } from '../../../shared/api.ts';
import type { JobRecord } from '../../../shared/jobs.ts';
import { SlotUpdateOutcomeSchema, summarizeSlotUpdate } from '../../../shared/slots.ts';
import { forwardOutcome, pullOutcome } from '../courier/courierOutcomes.ts';
import { summarizeFlash } from '../flash/flashJobView.ts';
import { summarizeRollout } from '../deploy/rolloutView.ts';
import { summarizeProvision } from '../devices/provisionView.ts';
import { summarizeReadCheck } from './readCheckSummary.ts';

export function summarizeJob(job: Pick<JobRecord, 'kind' | 'result' | 'title'>): string {
  switch (job.kind) {
    case 'drives.readCheck':
      return summarizeReadCheck(job.result) ?? 'Finished.';
    case 'courier.pull':
      return pullOutcome(job.result, job.title.replace(/^Pull journals from /, ''));
    case 'courier.forward':
      return forwardOutcome(job.result).text;
    case 'flash.write':
      return summarizeFlash(job.result) ?? 'Finished.';
    case 'deploy.rollout':
      return summarizeRollout(job.result) ?? 'Finished.';
    case 'devices.provision':
      return summarizeProvision(job.result) ?? 'Finished.';
    case 'slots.update': {
      const outcome = SlotUpdateOutcomeSchema.safeParse(job.result);
      return outcome.success ? summarizeSlotUpdate(outcome.data) : 'Finished.';
    }
    case 'devices.discover': {
      const found = DiscoveryResultSchema.safeParse(job.result);
      if (!found.success) return 'Finished.';
      const fresh = found.data.found.filter((f) => !f.known).length;
      const probed = found.data.probed > 0 ? `; ${found.data.probed} hosts probed` : '';
      return `Found ${found.data.found.length} (${fresh} not yet added)${probed}.`;
    }
  }
}
