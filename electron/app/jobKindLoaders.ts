/**
 * What the job worker loads for a job: only the module of the job kind's own domain, when
 * the job arrives. Loading every domain (app/domains.ts) costs a worker started from the
 * sources about half a second before the job can begin, which a short job (a backup of an
 * unchanged Pi) would pay in full. The app and the CLI still compose every domain
 * (domains.ts); this map is the worker's view of the same kinds, and
 * test/unit/jobs-kindLoaders.test.ts holds it equal to that composition.
 */
import type { JobKind } from '../../shared/jobs.ts';
import type { JobKindSpec } from '../kernel/jobs/jobKind.ts';

type Loader = () => Promise<JobKindSpec>;

// Typed by every JobKind: a new kind without a loader does not compile.
export const jobKindLoaders: { readonly [K in JobKind]: Loader } = {
  'drives.readCheck': async () => (await import('../drives/jobKinds.ts')).drivesJobKinds['drives.readCheck'],
  'devices.discover': async () => (await import('../devices/jobKinds.ts')).devicesJobKinds['devices.discover'],
  'devices.provision': async () => (await import('../provision/jobKinds.ts')).provisionJobKinds['devices.provision'],
  'flash.write': async () => (await import('../flash/jobKinds.ts')).flashJobKinds['flash.write'],
  'courier.pull': async () => (await import('../courier/jobKinds.ts')).courierJobKinds['courier.pull'],
  'courier.forward': async () => (await import('../courier/jobKinds.ts')).courierJobKinds['courier.forward'],
  'courier.visit': async () => (await import('../courier/jobKinds.ts')).courierJobKinds['courier.visit'],
  'deploy.rollout': async () => (await import('../deploy/jobKinds.ts')).deployJobKinds['deploy.rollout'],
  'slots.update': async () => (await import('../deploy/jobKinds.ts')).deployJobKinds['slots.update'],
  'backup.run': async () => (await import('../backup/jobKinds.ts')).backupJobKinds['backup.run'],
  'backup.verify': async () => (await import('../backup/jobKinds.ts')).backupJobKinds['backup.verify'],
  'backup.copy': async () => (await import('../backup/jobKinds.ts')).backupJobKinds['backup.copy'],
  'backup.forget': async () => (await import('../backup/jobKinds.ts')).backupJobKinds['backup.forget'],
  'recovery.restore': async () => (await import('../recovery/jobKinds.ts')).recoveryJobKinds['recovery.restore'],
  'recovery.drill': async () => (await import('../recovery/jobKinds.ts')).recoveryJobKinds['recovery.drill'],
  'recovery.replace': async () => (await import('../recovery/jobKinds.ts')).recoveryJobKinds['recovery.replace'],
};

/** The spec of `kind`, loading only its domain's job modules; undefined for a kind this build does not know. */
export async function loadJobKind(kind: JobKind): Promise<JobKindSpec | undefined> {
  const loader = (jobKindLoaders as Partial<Record<string, Loader>>)[kind];
  return loader === undefined ? undefined : loader();
}
