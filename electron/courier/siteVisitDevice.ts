/**
 * One device in a site visit, in two passes over two sessions: the safety pass carries
 * only its safety events (stored without moving the watermark, as a single pull's first
 * read does), and the bulk pass, which starts only after every device's safety pass,
 * carries the rest with custody, losses, heads and health history exactly as a single pull.
 */
import type { PullResult } from '../../shared/courier.ts';
import type { Device } from '../../shared/devices.ts';
import type { AgentSession, DeviceStore } from '../devices/index.ts';
import { throwIfCancelled, type JobContext } from '../kernel/jobs/jobContext.ts';
import type { WorkerProgress } from '../kernel/jobs/jobProtocol.ts';
import { assertAgentIsDevice } from './agentIdentity.ts';
import type { CourierStore } from './courierStore.ts';
import type { HealthHistoryStore } from './healthHistoryStore.ts';
import { batchSizeFor, beginSessionPull, pullWithSession, readJournalWithRetries, withAgentSession, type JournalCursor, type PullDeps, type SafetyCarried } from './pullDevice.ts';
import type { VisitTracker } from './siteVisitProgress.ts';

export type VisitEnv = {
  dataDir: string;
  courier: CourierStore;
  healthHistory: HealthHistoryStore;
  devices: DeviceStore;
  ctx: JobContext;
  tracker: VisitTracker;
};

/** What the visit keeps of one device between attempts and passes. */
export type VisitedDevice = {
  device: Device;
  password: string | undefined;
  /** Bytes received in sessions already closed. */
  bytesBefore: number;
  /** Safety events carried, by journal; null until the safety pass succeeded. */
  safety: Map<string, SafetyCarried> | null;
  safetyRecords: number;
};

/** The device's safety events (priority 1) of every journal, after the laptop's watermark. */
export async function safetyPass(env: VisitEnv, visited: VisitedDevice): Promise<void> {
  const ref = visited.device.id;
  await inSession(env, visited, async (session, deps) => {
    const cursors: JournalCursor[] = [];
    const counted = (): number => cursors.reduce((n, c) => n + c.safetySeqs.size, 0);
    let total: number | null = null;
    deps.ctx = deviceContext(env, visited, () => {
      env.tracker.update(ref, { state: 'safety', records: counted(), recordsTotal: total, bytes: visited.bytesBefore + session.client.diagnostics().bytesIn });
    });
    const { pull, journals } = await beginSessionPull(session, deps);
    total = pull.progress.total;
    env.tracker.update(ref, { state: 'safety', recordsTotal: total });
    const carried = new Map<string, SafetyCarried>();
    for (const { journal, state } of journals) {
      const cursor: JournalCursor = { contiguous: state.contiguous_seq, sinceAck: 0, newRecords: 0, pulled: 0, safetySeqs: new Set() };
      cursors.push(cursor);
      await readJournalWithRetries(pull, journal, cursor, [1]);
      throwIfCancelled(env.ctx.signal);
      carried.set(journal.journal_id, { seqs: cursor.safetySeqs, newRecords: cursor.newRecords });
    }
    env.courier.endPull(pull.pullId, cursors.reduce((n, c) => n + c.newRecords, 0), Date.now());
    visited.safety = carried;
    visited.safetyRecords = counted();
  });
}

/** Everything else, as a single pull does, counting the safety events already carried once. */
export async function bulkPass(env: VisitEnv, visited: VisitedDevice): Promise<PullResult> {
  const ref = visited.device.id;
  return inSession(env, visited, (session, deps) => {
    deps.ctx = deviceContext(env, visited, (progress) => {
      env.tracker.update(ref, {
        state: 'bulk',
        records: Math.max(visited.safetyRecords, progress.bytesDone),
        recordsTotal: progress.bytesTotal,
        bytes: visited.bytesBefore + session.client.diagnostics().bytesIn,
      });
    });
    return pullWithSession(session, { ...deps, ...(visited.safety === null ? {} : { safetyPulled: visited.safety }) });
  });
}

async function inSession<T>(env: VisitEnv, visited: VisitedDevice, work: (session: AgentSession, deps: PullDeps) => Promise<T>): Promise<T> {
  const { device } = visited;
  const opened: { session: AgentSession | null } = { session: null };
  try {
    return await withAgentSession(device, env.dataDir, visited.password, (session, linkKind) => {
      opened.session = session;
      return work(session, {
        params: { dataDir: env.dataDir, deviceRef: device.id, deviceName: device.name },
        courier: env.courier,
        healthHistory: env.healthHistory,
        ctx: env.ctx,
        site: device.site,
        via: `courier:${linkKind}`,
        batch: batchSizeFor(linkKind),
        onContact: (c) => {
          assertAgentIsDevice(env.devices.get(device.id), env.devices.list(), c.agentDeviceId);
          env.devices.recordContact(device.id, c);
        },
      });
    });
  } finally {
    // What crossed the link counts whether or not the session ended well.
    if (opened.session !== null) visited.bytesBefore += opened.session.client.diagnostics().bytesIn;
  }
}

/** The job's context as one device's pull sees it: its progress goes to the device's line, its log lines carry its name. */
function deviceContext(env: VisitEnv, visited: VisitedDevice, onProgress: (progress: WorkerProgress) => void): JobContext {
  return {
    signal: env.ctx.signal,
    secrets: env.ctx.secrets,
    progress: onProgress,
    log: (level, message) => {
      env.ctx.log(level, `${visited.device.name}: ${message}`);
    },
  };
}
