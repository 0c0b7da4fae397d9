/** The courier.* methods of the app API. */
import type { CourierJournal } from '../../shared/courier.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import { serialPasswordSecret, type DeviceStore } from '../devices/index.ts';
import type { JobRunner } from '../kernel/jobs/jobRunner.ts';
import type { courierJobKinds } from './jobKinds.ts';
import { isProcessAlive } from '../kernel/jobs/jobStore.ts';
import { CLICKHOUSE_PASSWORD_SECRET } from './clickhouseSettingsStore.ts';
import type { SecretStore } from '../kernel/secrets/secretStore.ts';
import { requireClickHouseTarget } from './clickhouseSettingsHandlers.ts';
import type { Store } from '../kernel/store/openStore.ts';
import type { DeviceHead } from '../../shared/courierVerdict.ts';
import { createCourierStore, type JournalState } from './courierStore.ts';
import { createQuarantineStore } from './quarantineStore.ts';
import { headFromBacklog, reconcileWithClickHouse } from './reconcile.ts';
import { createVisitHandler } from './siteVisitHandler.ts';

type CourierMethods =
  | 'courier.pull'
  | 'courier.visit'
  | 'courier.status'
  | 'courier.forward'
  | 'courier.reconcile'
  | 'courier.quarantine.list'
  | 'courier.quarantine.retry'
  | 'courier.quarantine.discard';

/** The newest live health sample of a device (its laptop ref), if this process has one. */
export type LiveJournalSample = (deviceRef: string) => { agentDeviceId: string; backlogRecords: number; atMs: number } | null;

export function createCourierHandlers(deps: {
  db: Store;
  jobs: JobRunner<typeof courierJobKinds>;
  devices: DeviceStore;
  dataDir: string;
  secrets: SecretStore;
  liveSample?: LiveJournalSample;
}): Pick<ApiHandlers, CourierMethods> {
  const courier = createCourierStore(deps.db);
  const quarantine = createQuarantineStore(deps.db);

  /** Two forwards at once would send the same rows twice (harmless, but wasted): one at a time. */
  function refuseIfForwarding(): void {
    const running = deps.jobs.list({ limit: 50, state: 'running' }).find((job) => job.kind === 'courier.forward');
    if (running !== undefined && (deps.jobs.workerPid(running.id) !== undefined || isProcessAlive(deps.jobs.ownerPid(running.id) ?? -1))) {
      throw new FieldkitError(appError('CONFLICT', `A forward is already running (${running.id}).`, `Wait for it to finish, or cancel it (fieldkit jobs cancel ${running.id}).`));
    }
  }

  /** A device's head heard after its pull, from a live health sample of the journal it writes now. */
  function liveHead(journal: JournalState): DeviceHead | null {
    if (journal.device_ref === null || deps.liveSample === undefined) return null;
    if (deps.devices.find(journal.device_ref)?.journalId !== journal.journal_id) return null;
    const live = deps.liveSample(journal.device_ref);
    if (live === null || live.agentDeviceId !== journal.device_id) return null;
    return { seq: headFromBacklog(journal, live.backlogRecords), atMs: live.atMs, source: 'health' };
  }

  async function startForward(request: { batchRows?: number | undefined; retryForSeconds: number }): Promise<string> {
    refuseIfForwarding();
    const target = await requireClickHouseTarget(deps.db, deps.secrets);
    const job = deps.jobs.start(
      'courier.forward',
      { dataDir: deps.dataDir, retryForMs: request.retryForSeconds * 1000, ...(request.batchRows === undefined ? {} : { batchRows: request.batchRows }) },
      { [CLICKHOUSE_PASSWORD_SECRET]: target.password },
    );
    return job.id;
  }

  return {
    'courier.pull': async ({ id }) => {
      const device = deps.devices.get(id);
      // A serial console may ask for a login each time: the password it was given at
      // connect travels to the worker as a secret, never in job history.
      const password = device.link.kind === 'serial' ? await deps.secrets.get(serialPasswordSecret(device.id)) : null;
      const job = deps.jobs.start('courier.pull', { dataDir: deps.dataDir, deviceRef: device.id, deviceName: device.name }, password ? { password } : undefined);
      return { jobId: job.id };
    },
    'courier.visit': createVisitHandler(deps),
    'courier.status': () => {
      const journals: CourierJournal[] = courier.journals().map((j) => {
        const c = courier.recordCounts(j.device_id, j.journal_id);
        const l = courier.lossCounts(j.device_id, j.journal_id);
        return {
          device_id: j.device_id,
          journal_id: j.journal_id,
          device_ref: j.device_ref,
          site: j.site,
          held: c.held,
          pending_forward: c.pending,
          contiguous_seq: j.contiguous_seq,
          // A pull reads on past the head it saw first: the device's side is at least what is held.
          agent_last_seq: Math.max(j.agent_last_seq, j.contiguous_seq),
          custody_acked_seq: j.custody_acked_seq,
          forwarded_reported_seq: j.forwarded_reported_seq,
          losses: l.losses,
          lost_records: l.lost,
          last_pull_ms: j.last_pull_ms,
          last_clock_offset_ms: j.last_clock_offset_ms,
          quarantined: quarantine.countFor(j.device_id, j.journal_id),
          last_forward_ms: courier.lastForwardMs(j.device_id, j.journal_id),
        };
      });
      return Promise.resolve({ journals });
    },
    'courier.forward': async (request) => ({ jobId: await startForward(request) }),
    'courier.reconcile': async ({ deviceId, maxRanges }) => {
      const target = await requireClickHouseTarget(deps.db, deps.secrets);
      return reconcileWithClickHouse(deps.db, target, { maxRanges, liveHead, ...(deviceId === undefined ? {} : { deviceId }) });
    },
    'courier.quarantine.list': (request) => Promise.resolve(quarantine.list(request)),
    'courier.quarantine.retry': async ({ ids }) => {
      refuseIfForwarding();
      await requireClickHouseTarget(deps.db, deps.secrets);
      const requeued = quarantine.requeue(ids);
      if (requeued === 0) return { requeued, jobId: null };
      return { requeued, jobId: await startForward({ retryForSeconds: 60 }) };
    },
    'courier.quarantine.discard': ({ ids, reason }) => {
      const missing = ids.filter((id) => quarantine.get(id)?.state !== 'quarantined');
      if (missing.length > 0) {
        throw new FieldkitError(appError('NOT_FOUND', `No quarantined row has id ${missing.join(', ')}.`, 'List them with `fieldkit quarantine list` and use their ids.', 'ids'));
      }
      return Promise.resolve({ discarded: quarantine.discard(ids, reason, Date.now()) });
    },
  };
}
