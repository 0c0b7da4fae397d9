/** What the laptop knows of a drill's source from its own store (pulled journal and health minutes): a drill never asks the source. */
import type { Device } from '../../shared/devices.ts';
import { createCourierStore, createHealthHistoryStore } from '../courier/index.ts';
import type { Store } from '../kernel/store/openStore.ts';
import type { SourceKnown } from './jobParams.ts';

export function sourceKnown(db: Store, device: Device): SourceKnown {
  const agentId = device.agentDeviceId ?? device.name;
  const journal = createCourierStore(db).journals().filter((j) => j.device_id === agentId).sort((a, b) => b.last_pull_ms - a.last_pull_ms)[0];
  const history = createHealthHistoryStore(db);
  const last = history.read(agentId, 0, 1).minutes.at(-1) ?? null;
  return {
    agentVersion: device.agentVersion,
    modelVersion: device.modelVersion,
    lastMinute: last === null ? null : { minute_ms: last.minute_ms, temp_c_max: last.temp_c_max, cpu_pct_avg: last.cpu_pct_avg, disk_free_min_bytes: last.disk_free_min_bytes, mem_available_min_bytes: last.mem_available_min_bytes },
    laptopHeldSeq: journal === undefined ? null : createCourierStore(db).maxHeldSeq(journal.device_id, journal.journal_id),
    deviceLastSeq: journal?.agent_last_seq ?? null,
  };
}

