/** The courier's reconcile reads a device's backlog from live health, when this process watches it. */
import type { LiveJournalSample } from '../courier/index.ts';
import type { HealthService } from './healthService.ts';

/** The health service's newest sample of a device, as reconcile needs it (null: none in this process, or the device is gone). */
export function liveJournalSample(health: Pick<HealthService, 'device'>, deviceRef: string): ReturnType<LiveJournalSample> {
  try {
    const { view } = health.device(deviceRef);
    if (view.sample === null || view.lastSampleMs === null) return null;
    return { agentDeviceId: view.sample.device_id, backlogRecords: view.sample.journal.backlog_records, atMs: view.lastSampleMs };
  } catch {
    return null;
  }
}
