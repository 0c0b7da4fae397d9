/** The provision domain's job kinds. */
import { jobResultSchemas, jobStoppedResultSchemas } from '../../shared/jobs.ts';
import { defineJobKind } from '../kernel/jobs/jobKind.ts';
import { ProvisionJobParamsSchema, provisionJobTitle, runProvision } from './provisionJob.ts';

export const provisionJobKinds = {
  'devices.provision': defineJobKind({
    params: ProvisionJobParamsSchema,
    title: provisionJobTitle,
    run: runProvision,
    result: jobResultSchemas['devices.provision'],
    // Stopped half-way, it has the steps it took and the transcript, but no device.
    stoppedResult: jobStoppedResultSchemas['devices.provision'],
  }),
};
