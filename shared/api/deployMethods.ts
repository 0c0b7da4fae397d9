/** Deploying signed bundles to devices, and OS updates of A/B Pis. */
import { z } from 'zod';
import { JobIdSchema, type JobKindContract } from '../jobId.ts';
import { BundleSummarySchema, RolloutIdSchema, RolloutJobResultSchema, RolloutSchema, RolloutStartRequestSchema } from '../deploy.ts';
import { SlotUpdateOutcomeSchema, SlotUpdateRequestSchema } from '../slots.ts';
import type { MethodSpec } from './methodSpec.ts';

export const deployMethods = {
  'deploy.inspect': {
    summary: 'What a signed agent or model bundle is before it is sent: signer, version, architecture, files, and why it may not be deployed.',
    request: z.strictObject({ bundlePath: z.string().min(1, 'name a signed bundle (.tar)') }),
    response: z.object({ bundle: BundleSummarySchema }),
  },
  'deploy.start': {
    summary: 'Deploy a signed bundle to devices in batches (a canary first), stopping when a batch fails too often (a job).',
    request: RolloutStartRequestSchema,
    response: z.object({ rolloutId: RolloutIdSchema, jobId: JobIdSchema }),
  },
  'deploy.list': {
    summary: 'Rollouts, newest first, with each device\'s outcome (transcripts left out; deploy.get has them).',
    request: z.strictObject({ limit: z.number().int().min(1).max(500).default(50) }),
    response: z.object({ rollouts: z.array(RolloutSchema) }),
  },
  'deploy.get': {
    summary: 'One rollout in full: every device\'s outcome, rollback reason, unit log and transcript.',
    request: z.strictObject({ rolloutId: RolloutIdSchema }),
    response: z.object({ rollout: RolloutSchema }),
  },
  'deploy.resume': {
    summary: 'Carry on a stopped rollout with the same plan: every device not yet updated is deployed again (a job).',
    request: z.strictObject({ rolloutId: RolloutIdSchema }),
    response: z.object({ jobId: JobIdSchema }),
  },
  'slots.update': {
    summary: 'OS update of one A/B Pi over SSH: write the inactive slot from a signed image, boot it on trial, commit only when healthy; or rehearse the rollback (a job).',
    request: SlotUpdateRequestSchema,
    response: z.object({ jobId: JobIdSchema }),
  },
} as const satisfies Record<string, MethodSpec>;

/** The deploy domain's job kinds (rollouts; one Pi's OS slot update) and what each returns. */
export const deployJobs = {
  'deploy.rollout': { result: RolloutJobResultSchema },
  'slots.update': { result: SlotUpdateOutcomeSchema },
} as const satisfies Record<string, JobKindContract>;
