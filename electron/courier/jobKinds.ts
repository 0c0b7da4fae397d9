/** The courier domain's job kinds. */
import { jobResultSchemas } from '../../shared/jobs.ts';
import { defineJobKind } from '../kernel/jobs/jobKind.ts';
import { ForwardParamsSchema, runForward } from './forwardJob.ts';
import { PullParamsSchema, runPull } from './pullDevice.ts';
import { runSiteVisit, SiteVisitParamsSchema, visitTitle } from './siteVisitJob.ts';

export const courierJobKinds = {
  'courier.pull': defineJobKind({
    params: PullParamsSchema,
    title: (p) => `Pull journals from ${p.deviceName}`,
    run: runPull,
    result: jobResultSchemas['courier.pull'],
  }),
  'courier.forward': defineJobKind({
    params: ForwardParamsSchema,
    title: () => 'Forward journals to ClickHouse',
    run: runForward,
    result: jobResultSchemas['courier.forward'],
  }),
  'courier.visit': defineJobKind({
    params: SiteVisitParamsSchema,
    title: (p) => visitTitle(p),
    run: runSiteVisit,
    result: jobResultSchemas['courier.visit'],
    // Every device in flight stops at its next batch and acknowledges what it stored.
    cancelGraceMs: 30_000,
  }),
};
