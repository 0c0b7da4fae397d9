/** The courier.* methods of the app API. */
import type { CourierJournal } from '../../shared/courier.ts';
import type { ApiHandlers } from '../api/dispatch.ts';
import type { DeviceStore } from '../devices/deviceStore.ts';
import type { JobRunner } from '../jobs/jobRunner.ts';
import type { Store } from '../store/openStore.ts';
import { createCourierStore } from './courierStore.ts';

type CourierMethods = 'courier.pull' | 'courier.status';

export function createCourierHandlers(deps: { db: Store; jobs: JobRunner; devices: DeviceStore; dataDir: string }): Pick<ApiHandlers, CourierMethods> {
  const courier = createCourierStore(deps.db);
  const counts = deps.db.prepare(
    `SELECT count(*) AS held, sum(forwarded_ms IS NULL) AS pending FROM courier_records WHERE device_id = ? AND journal_id = ?`,
  );
  const lossCounts = deps.db.prepare(`SELECT count(*) AS losses, coalesce(sum(count), 0) AS lost FROM courier_losses WHERE device_id = ? AND journal_id = ?`);
  return {
    'courier.pull': ({ id }) => {
      const device = deps.devices.get(id);
      const job = deps.jobs.start('courier.pull', { dataDir: deps.dataDir, deviceRef: device.id, deviceName: device.name });
      return Promise.resolve({ jobId: job.id });
    },
    'courier.status': () => {
      const journals: CourierJournal[] = courier.journals().map((j) => {
        const c = counts.get(j.device_id, j.journal_id) as { held: number; pending: number | null };
        const l = lossCounts.get(j.device_id, j.journal_id) as { losses: number; lost: number };
        return {
          device_id: j.device_id,
          journal_id: j.journal_id,
          device_ref: j.device_ref,
          site: j.site,
          held: c.held,
          pending_forward: c.pending ?? 0,
          contiguous_seq: j.contiguous_seq,
          agent_last_seq: j.agent_last_seq,
          custody_acked_seq: j.custody_acked_seq,
          forwarded_reported_seq: j.forwarded_reported_seq,
          losses: l.losses,
          lost_records: l.lost,
          last_pull_ms: j.last_pull_ms,
          last_clock_offset_ms: j.last_clock_offset_ms,
        };
      });
      return Promise.resolve({ journals });
    },
  };
}
