/** The drives domain's job kinds. */
import { jobResultSchemas } from '../../shared/jobs.ts';
import { defineJobKind } from '../kernel/jobs/jobKind.ts';
import { ReadCheckParamsSchema, runReadCheck } from './readCheck.ts';

export const drivesJobKinds = {
  'drives.readCheck': defineJobKind({
    params: ReadCheckParamsSchema,
    title: (p) => `Read check of ${p.device}`,
    run: runReadCheck,
    result: jobResultSchemas['drives.readCheck'],
  }),
};
