/**
 * What the Courier screen shows, kept current: the laptop's holdings (refetched when a
 * courier job ends and when devices change), the devices, the running courier jobs.
 */
import { useMemo } from 'react';
import type { CourierJournal } from '../../../shared/courier.ts';
import type { Device } from '../../../shared/devices.ts';
import { isFinalJobEvent } from '../../../shared/jobs.ts';
import { useApi, useEvent, type ApiQuery } from '../api/hooks.ts';
import { useDevices } from '../devices/index.ts';
import type { JobView } from '../jobs/jobStore.ts';
import { useJobStore, useJobs } from '../jobs/useJobs.ts';
import { jobParam } from './courierOutcomes.ts';

export type CourierData = {
  journals: ApiQuery<CourierJournal[]>;
  devices: ApiQuery<Device[]>;
  reloadAll: () => void;
};

/** Holdings and devices; both refetch after every courier job and on `devices.changed`. */
export function useCourierData(): CourierData {
  const status = useApi('courier.status', {});
  const devices = useDevices();
  const store = useJobStore();
  const { reload } = status;
  useEvent('devices.changed', () => {
    reload();
  });
  useEvent('job.event', (event) => {
    if (!isFinalJobEvent(event)) return;
    const kind = store.get(event.jobId)?.kind;
    // A job this window never saw may be a courier job started elsewhere: refetch.
    if (kind === undefined || kind.startsWith('courier.')) reload();
  });
  const journals = useMemo(() => ({ ...status, value: status.value?.journals ?? null }), [status]);
  return {
    journals,
    devices,
    reloadAll: () => {
      reload();
      devices.reload();
    },
  };
}

/** A string field of a job's params (courier jobs carry `deviceRef` and `deviceName`). */
export type RunningCourierJobs = {
  /** Running pulls by the laptop's device id. */
  pulls: ReadonlyMap<string, JobView>;
  forward: JobView | null;
  /** A running site visit (one at a time). */
  visit: JobView | null;
};

/** The courier jobs running now, wherever they were started. */
export function useRunningCourierJobs(): RunningCourierJobs {
  const jobs = useJobs();
  return useMemo(() => {
    const pulls = new Map<string, JobView>();
    let forward: JobView | null = null;
    let visit: JobView | null = null;
    for (const job of jobs) {
      if (job.state !== 'running') continue;
      if (job.kind === 'courier.pull') {
        const ref = jobParam(job, 'deviceRef');
        if (ref !== null && !pulls.has(ref)) pulls.set(ref, job);
      } else if (job.kind === 'courier.forward' && forward === null) {
        forward = job;
      } else if (job.kind === 'courier.visit' && visit === null) {
        visit = job;
      }
    }
    return { pulls, forward, visit };
  }, [jobs]);
}
