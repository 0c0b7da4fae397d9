/**
 * The pull job: carry a device's journals to this laptop. Per journal it reads after the
 * laptop's contiguous watermark (safety events first), verifies every batch (count and
 * SHA-256), stores it with its watermark in one transaction, and only then tells the
 * agent (custody.ack). A cut link loses nothing: the next pull resumes at the watermark
 * and INSERT OR IGNORE absorbs any overlap.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { PullResult } from '../../shared/courier.ts';
import { appError, FieldkitError, type Result } from '../../shared/errors.ts';
import type { JournalInfo, Priority } from '../../shared/journal.ts';
import type { Device } from '../../shared/devices.ts';
import { agentRpcCommand, createDeviceStore, openAgentSession, openDeviceLink, type AgentSession } from '../devices/index.ts';

import { throwIfCancelled, type JobContext } from '../kernel/jobs/jobContext.ts';
import { loadOrCreateAppSshKey } from '../kernel/link/appSshKey.ts';
import { verifyJournalBatch } from '../kernel/link/verifyJournalBatch.ts';
import { openStore } from '../kernel/store/openStore.ts';
import { assertAgentIsDevice } from './agentIdentity.ts';
import { createCourierStore, type CourierStore, type JournalState } from './courierStore.ts';
import { createHealthHistoryStore, type HealthHistoryStore } from './healthHistoryStore.ts';
import { batchSizeFor, offersLines, offersZstd, openingRead, type BatchSize } from './pullReadOptions.ts';

export const PullParamsSchema = z.object({ dataDir: z.string(), deviceRef: z.string(), deviceName: z.string() });
export type PullParams = z.infer<typeof PullParamsSchema>;
// Asked for by the site visit and the tests, beside the pull itself.
export { batchSizeFor, offersLines, offersZstd, openingRead };

const reconnectAttempts = 4;

/** Custody is acknowledged at least this often, so a cut link re-sends little. */
const ackEveryRecords = 20_000;

export async function runPull(params: PullParams, ctx: JobContext): Promise<PullResult> {
  const db = openStore(params.dataDir);
  try {
    const devices = createDeviceStore(db);
    const courier = createCourierStore(db);
    const healthHistory = createHealthHistoryStore(db);
    const device = devices.get(params.deviceRef);
    const password = device.link.kind === 'serial' ? ctx.secrets.password : undefined;
    // A link that drops mid-pull (Wi-Fi at a depot, a cable knocked) is reconnected a few
    // times; every attempt resumes at the stored watermark, so nothing is pulled twice.
    for (let attempt = 1; ; attempt++) {
      ctx.progress({ phase: attempt === 1 ? 'connecting' : `reconnecting (attempt ${attempt} of ${reconnectAttempts})`, bytesDone: 0, bytesTotal: null, unit: 'items' });
      try {
        return await pullOnce(device, password);
      } catch (error) {
        const code = error instanceof FieldkitError ? error.appError.code : null;
        const transient = code === 'UNAVAILABLE' || code === 'TIMEOUT';
        if (!transient || attempt >= reconnectAttempts || ctx.signal.aborted) throw error;
        ctx.log('warn', `The link to ${device.name} dropped (${error instanceof Error ? error.message : String(error)}); reconnecting.`);
        await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
        throwIfCancelled(ctx.signal);
      }
    }

    async function pullOnce(target: typeof device, pass: string | undefined): Promise<PullResult> {
      return withAgentSession(target, params.dataDir, pass, (session, linkKind) =>
        pullWithSession(session, {
          params,
          courier,
          healthHistory,
          ctx,
          site: target.site,
          via: `courier:${linkKind}`,
          batch: batchSizeFor(linkKind),
          onContact: (c) => {
            assertAgentIsDevice(devices.get(params.deviceRef), devices.list(), c.agentDeviceId);
            devices.recordContact(params.deviceRef, c);
          },
        }),
      );
    }
  } finally {
    db.close();
  }
}

/** Opens the device's link and its agent's RPC, runs `work`, and closes both whatever happens. */
export async function withAgentSession<T>(device: Device, dataDir: string, password: string | undefined, work: (session: AgentSession, linkKind: Device['link']['kind']) => Promise<T>): Promise<T> {
  const link = await openDeviceLink(device, { appKey: loadOrCreateAppSshKey(dataDir), password }).catch((error: unknown) => {
    throw authHint(error);
  });
  try {
    const session = await openAgentSession(link, agentRpcCommand(device));
    try {
      return await work(session, link.kind);
    } finally {
      await session.close();
    }
  } finally {
    await link.close();
  }
}

function authHint(error: unknown): unknown {
  if (error instanceof FieldkitError && error.appError.code === 'AUTH_FAILED') {
    return new FieldkitError(appError('AUTH_FAILED', error.appError.message, 'Connect to the device once from Devices with its password; fieldkit then installs its own key and pulls need no password.'));
  }
  return error;
}

export async function unwrap<T>(promise: Promise<Result<T>>): Promise<T> {
  const result = await promise;
  if (!result.ok) throw new FieldkitError(result.error);
  return result.value;
}

export type PullDeps = {
  params: PullParams;
  courier: CourierStore;
  healthHistory: HealthHistoryStore;
  ctx: JobContext;
  site: string;
  via: string;
  batch: BatchSize;
  onContact: (c: { agentDeviceId: string; journalId: string; agentVersion: string; modelVersion: string; clockOffsetMs: number; atMs: number }) => void;
  /**
   * Safety events a site visit already carried, by journal, in an earlier session: those
   * journals skip the safety read, and its records are counted once.
   */
  safetyPulled?: ReadonlyMap<string, SafetyCarried>;
};

/** A journal's safety events carried by an earlier session: their seqs, and how many were new to this laptop. */
export type SafetyCarried = { seqs: ReadonlySet<number>; newRecords: number };

/** What pulling each journal of one session shares: the session, the pull's ids, and progress over all journals. */
export type SessionPull = { deps: PullDeps; session: AgentSession; courierId: string; pullId: string; progress: { done: number; total: number } };

/** Where one journal's pull stands: the watermark reached, what was counted, how much custody is owed. */
export type JournalCursor = {
  contiguous: number;
  /** Records moved past the watermark since custody was last acknowledged. */
  sinceAck: number;
  newRecords: number;
  pulled: number;
  /**
   * Safety events are read first and then again by the full read (it starts at the
   * watermark, below them): counted once, by seq.
   */
  safetySeqs: Set<number>;
  /** A custody.ack sent and not yet answered (at most one): see startCustodyAck. */
  ackInFlight?: Promise<void> | null;
  /** The seq the last custody.ack sent was through. */
  ackSentThrough?: number;
};

function report(pull: SessionPull, phase: string): void {
  const { done, total } = pull.progress;
  pull.deps.ctx.progress({ phase, bytesDone: Math.min(done, total), bytesTotal: total, unit: 'items', bytesReceived: pull.session.client.diagnostics().bytesIn });
}

/** Sends custody.ack through `through`; resolves once the agent's answer is recorded here. */
async function sendCustodyAck(pull: SessionPull, journal: JournalInfo, through: number): Promise<void> {
  const acked = await unwrap(pull.session.client.call('custody.ack', { courier_id: pull.courierId, journal_id: journal.journal_id, through_seq: through }));
  pull.deps.courier.markCustodyAcked(journal.device_id, journal.journal_id, acked.through_seq);
}

/** Waits for the custody.ack in flight, if any; its failure (a dropped link) is thrown here. */
async function settleCustodyAck(cursor: JournalCursor): Promise<void> {
  const inFlight = cursor.ackInFlight;
  cursor.ackInFlight = null;
  if (inFlight) await inFlight;
}

/**
 * Acknowledges custody through the watermark during a read without waiting for the answer:
 * awaiting it stalled the laptop once a batch (the agent answers between producing batches,
 * so the laptop sat idle for most of a batch's production time). The ack still goes out only
 * after its records were stored; one is in flight at most, so they arrive in order.
 */
async function startCustodyAck(pull: SessionPull, journal: JournalInfo, cursor: JournalCursor): Promise<void> {
  await settleCustodyAck(cursor);
  const through = cursor.contiguous;
  const sent = sendCustodyAck(pull, journal, through);
  // Observed by settleCustodyAck; until then a rejection must not count as unhandled.
  sent.catch(() => undefined);
  cursor.ackInFlight = sent;
  cursor.ackSentThrough = through;
  cursor.sinceAck = 0;
}

/** Acknowledges custody through the watermark and waits for the answer, unless nothing is owed. */
async function ackCustody(pull: SessionPull, journal: JournalInfo, state: JournalState, cursor: JournalCursor): Promise<void> {
  await settleCustodyAck(cursor);
  if (cursor.contiguous <= Math.max(state.custody_acked_seq, cursor.ackSentThrough ?? 0) && cursor.sinceAck === 0) return;
  await sendCustodyAck(pull, journal, cursor.contiguous);
  cursor.ackSentThrough = cursor.contiguous;
  cursor.sinceAck = 0;
}

/** How much one read carries: all after the watermark in full batches, or only the opening records. */
type ReadScope = 'all' | 'opening';

/**
 * One `journal.read` stream after the watermark (only `priorities`, when given): every batch
 * verified, then stored. True when the agent has more after what it sent (a limited read).
 */
async function readJournal(pull: SessionPull, journal: JournalInfo, cursor: JournalCursor, priorities: Priority[] | undefined, scope: ReadScope = 'all'): Promise<boolean> {
  const { deps, session } = pull;
  const sizes =
    scope === 'opening'
      ? { limit: openingRead.records, batch_records: Math.min(deps.batch.records, openingRead.records), batch_bytes: Math.min(deps.batch.bytes, openingRead.bytes) }
      : { batch_records: deps.batch.records, batch_bytes: deps.batch.bytes };
  const stream = session.client.stream(
    'journal.read',
    {
      journal_id: journal.journal_id,
      after_seq: cursor.contiguous,
      ...sizes,
      ...(priorities ? { priorities } : {}),
      // Offered only to an agent that lists it: an older one refuses fields it does not know.
      ...(offersZstd(session) ? { compression: ['zstd' as const] } : {}),
      ...(offersLines(session) ? { encoding: 'lines' as const } : {}),
    },
    { window: deps.batch.window, idleTimeoutMs: deps.batch.idleTimeoutMs },
  );
  for await (const item of stream) {
    if (deps.ctx.signal.aborted) {
      stream.cancel();
      break;
    }
    const verified = verifyJournalBatch(item);
    if (!verified.ok) {
      stream.cancel();
      throw new FieldkitError(verified.error);
    }
    const batch = verified.value;
    const last = batch.records.at(-1);
    if (!last) continue;
    if (batch.records.some((r) => r.device_id !== journal.device_id)) {
      stream.cancel();
      throw new FieldkitError(appError('VERIFICATION_FAILED', `Journal ${journal.journal_id} sent records of another device.`, 'Update the agent on this device; then pull again.'));
    }
    // A priority-filtered read leaves holes below its last seq: it must not move the watermark.
    const inserted = deps.courier.storeBatch({ records: batch.records, site: deps.site, via: deps.via, clockOffsetMs: session.clockOffsetMs, pullId: pull.pullId, now: Date.now(), contiguousThrough: priorities ? null : last.seq });
    cursor.newRecords += inserted;
    for (const r of batch.records) {
      if (priorities) cursor.safetySeqs.add(r.seq);
      else if (cursor.safetySeqs.has(r.seq)) continue;
      cursor.pulled++;
    }
    if (!priorities) {
      pull.progress.done += last.seq - cursor.contiguous;
      cursor.contiguous = last.seq;
      cursor.sinceAck += batch.records.length;
      if (cursor.sinceAck >= ackEveryRecords) await startCustodyAck(pull, journal, cursor);
    }
    report(pull, priorities ? 'pulling safety events' : 'pulling');
  }
  return (await unwrap(stream.result)).more;
}

/**
 * A frame damaged on the line (a serial console carries kernel messages) ends the stream
 * at the gap; what came before it is stored, so read again from there.
 */
export async function readJournalWithRetries(pull: SessionPull, journal: JournalInfo, cursor: JournalCursor, priorities: Priority[] | undefined, scope: ReadScope = 'all'): Promise<boolean> {
  const { ctx } = pull.deps;
  for (let attempt = 1; ; attempt++) {
    try {
      return await readJournal(pull, journal, cursor, priorities, scope);
    } catch (error) {
      const retryable = error instanceof FieldkitError && (error.appError.code === 'IO_ERROR' || error.appError.code === 'UNAVAILABLE') && !pull.session.client.closed;
      if (!retryable || attempt >= 10 || ctx.signal.aborted) throw error;
      ctx.log('warn', `Journal read interrupted (${error.appError.message}); reading again from seq ${cursor.contiguous}.`);
    }
  }
}

/** One journal: safety events first, then everything after the watermark; custody acknowledged; losses and forwarding exchanged. */
async function pullJournal(pull: SessionPull, journal: JournalInfo, state: JournalState): Promise<PullResult['journals'][number]> {
  const { courier, ctx, site } = pull.deps;
  const client = pull.session.client;
  const carried = pull.deps.safetyPulled?.get(journal.journal_id);
  const cursor: JournalCursor = { contiguous: state.contiguous_seq, sinceAck: 0, newRecords: carried?.newRecords ?? 0, pulled: carried?.seqs.size ?? 0, safetySeqs: new Set(carried?.seqs) };
  if (carried === undefined) {
    report(pull, 'pulling safety events');
    await readJournalWithRetries(pull, journal, cursor, [1]);
    throwIfCancelled(ctx.signal);
  }
  const more = await readJournalWithRetries(pull, journal, cursor, undefined, 'opening');
  throwIfCancelled(ctx.signal);
  if (more) await readJournalWithRetries(pull, journal, cursor, undefined);
  await ackCustody(pull, journal, state, cursor);
  throwIfCancelled(ctx.signal);
  const losses = await unwrap(client.call('loss.list', { journal_id: journal.journal_id, after_seq: 0 }));
  courier.storeLosses(losses.losses, site, Date.now());
  // Tell the agent what reached ClickHouse through this laptop, so it may prune.
  const forwarded = courier.forwardedThrough(journal.device_id, journal.journal_id);
  let forwardedReported = state.forwarded_reported_seq;
  if (forwarded > state.forwarded_reported_seq) {
    const answer = await unwrap(client.call('forwarded.ack', { by: pull.courierId, journal_id: journal.journal_id, through_seq: forwarded }));
    courier.markForwardReported(journal.device_id, journal.journal_id, answer.forwarded_seq);
    forwardedReported = answer.forwarded_seq;
  }
  return {
    journal_id: journal.journal_id,
    pulled: cursor.pulled,
    new_records: cursor.newRecords,
    contiguous_seq: cursor.contiguous,
    agent_last_seq: journal.last_seq,
    losses: losses.losses.length,
    forwarded_reported: forwardedReported,
  };
}

/**
 * The start every session's pull shares: the contact recorded, a pull row, the agent's
 * journals noted with the laptop's state of each, and the records to read in all.
 */
export async function beginSessionPull(session: AgentSession, deps: PullDeps): Promise<{ pull: SessionPull; journals: { journal: JournalInfo; state: JournalState }[] }> {
  const { courier, params } = deps;
  const { client, hello } = session;
  deps.onContact({ agentDeviceId: hello.device_id, journalId: hello.journal_id, agentVersion: hello.agent_version, modelVersion: hello.model_version, clockOffsetMs: session.clockOffsetMs, atMs: Date.now() });
  const courierId = courier.courierId();
  const pullId = `pull_${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
  courier.startPull({ id: pullId, deviceRef: params.deviceRef, deviceId: hello.device_id, now: Date.now(), clockOffsetMs: session.clockOffsetMs, roundTripMs: session.roundTripMs });
  const info = await unwrap(client.call('journal.info', {}));
  const states = info.journals.map((j) =>
    courier.noteJournal({
      device_id: j.device_id,
      journal_id: j.journal_id,
      device_ref: params.deviceRef,
      site: deps.site,
      agent_last_seq: j.last_seq,
      agent_first_seq: j.first_seq,
      clock_offset_ms: session.clockOffsetMs,
      now: Date.now(),
    }),
  );
  const total = info.journals.reduce((sum, j, i) => sum + Math.max(0, j.last_seq - (states[i]?.contiguous_seq ?? 0)), 0);
  const pull: SessionPull = { deps, session, courierId, pullId, progress: { done: 0, total } };
  return { pull, journals: info.journals.flatMap((journal, index) => (states[index] ? [{ journal, state: states[index] }] : [])) };
}

export async function pullWithSession(session: AgentSession, deps: PullDeps): Promise<PullResult> {
  const { courier, params } = deps;
  const { client, hello } = session;
  const { pull, journals: found } = await beginSessionPull(session, deps);
  const journals: PullResult['journals'] = [];
  for (const { journal, state } of found) journals.push(await pullJournal(pull, journal, state));
  await noteHeads(session, courier, journals);
  report(pull, 'health history');
  const history = await unwrap(client.call('health.history', { since_ms: deps.healthHistory.lastMinute(hello.device_id) }));
  deps.healthHistory.store(hello.device_id, history.minutes, history.events);
  courier.endPull(pull.pullId, journals.reduce((n, j) => n + j.new_records, 0), Date.now());
  const link = client.diagnostics();
  return {
    deviceRef: params.deviceRef,
    deviceId: hello.device_id,
    journals,
    clockOffsetMs: session.clockOffsetMs,
    roundTripMs: session.roundTripMs,
    healthMinutes: history.minutes.length,
    transfer: { bytesIn: link.bytesIn, compressedFrames: link.compressedFramesIn, decompressedBytes: link.decompressedBytes },
  };
}

/**
 * The agent's head now, after the last batch (records keep arriving during a pull): what
 * reconcile measures "complete" against, and what the pull reports as the device's seq.
 */
async function noteHeads(session: AgentSession, courier: CourierStore, journals: PullResult['journals']): Promise<void> {
  const after = await unwrap(session.client.call('journal.info', {}));
  const endedMs = Date.now();
  for (const j of after.journals) {
    const pulled = journals.find((p) => p.journal_id === j.journal_id);
    if (pulled === undefined) continue;
    courier.noteHead(j.device_id, j.journal_id, j, endedMs);
    pulled.agent_last_seq = Math.max(j.last_seq, pulled.contiguous_seq);
  }
}
