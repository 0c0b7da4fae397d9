/**
 * The devices domain's job kinds. Discovery loads its module (mDNS, serial listing, the
 * subnet probe) when a discovery job runs: a worker that loads this domain for another job
 * (a backup's link to the device) does not pay for it.
 */
import { jobResultSchemas } from '../../shared/jobs.ts';
import { defineJobKind } from '../kernel/jobs/jobKind.ts';
import { DiscoverParamsSchema } from './discovery/discoverParams.ts';

export const devicesJobKinds = {
  'devices.discover': defineJobKind({
    params: DiscoverParamsSchema,
    title: (p) => (p.subnet === undefined ? 'Look for devices' : `Look for devices (and SSH on ${p.subnet})`),
    run: async (p, ctx) => (await import('./discovery/discoverDevices.ts')).runDiscovery(p, ctx),
    result: jobResultSchemas['devices.discover'],
  }),
};
