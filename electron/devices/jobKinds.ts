/** The devices domain's job kinds. */
import { jobResultSchemas } from '../../shared/jobs.ts';
import { defineJobKind } from '../kernel/jobs/jobKind.ts';
import { DiscoverParamsSchema, runDiscovery } from './discovery/discoverDevices.ts';

export const devicesJobKinds = {
  'devices.discover': defineJobKind({
    params: DiscoverParamsSchema,
    title: (p) => (p.subnet === undefined ? 'Look for devices' : `Look for devices (and SSH on ${p.subnet})`),
    run: (p, ctx) => runDiscovery(p, ctx),
    result: jobResultSchemas['devices.discover'],
  }),
};
